//! How this compares: this study's headline estimates beside published evaluations of social
//! prescribing (`comparators`), each with its design, population, follow-up and source, as a
//! table and a forest chart of the rate ratios. The design is the point: uncontrolled
//! before/after studies compare people with themselves after a peak in need and are flattered
//! by regression to the mean; matched and controlled studies compare them with similar people.

use serde_json::{Value, json};

use super::table::{Cell, ESTIMATE, Precision, TEXT};
use super::{Content, SOURCE, Table};
use crate::comparators::{Comparator, published};
use crate::outcomes;
use crate::report::charts::{Chart, DotRow, Kind};
use crate::report::disclosure::Disclosure;
use crate::report::format::{change_words, ci};
use crate::results::{Did, Results, interval};

/// The measures of this study shown beside the published ones.
const COMPARED: [&str; 4] = [
    "gp_demand",
    "ae_attendances",
    "emergency_admissions",
    "total_cost",
];

const INTRO: &str = "Published evaluations of social prescribing, with their designs. Uncontrolled before/after studies compare people with themselves after the peak in need that led to their referral, so part of the fall they report would have happened anyway (regression to the mean); matched and controlled studies compare people with similar people who were not referred. Read this study's estimates beside studies of the same kind of design.";

pub(super) fn comparison_section(
    results: &Results,
    rule: Disclosure,
    content: &mut Content,
) -> Value {
    let published = match published() {
        Ok(rows) => rows,
        Err(error) => return json!({"not_estimated": error.to_string()}),
    };
    let mut table = Table::new(
        "comparison",
        "This study beside published evaluations of social prescribing",
        &[
            ("study", "Study", TEXT),
            ("design", "Design", TEXT),
            ("population", "Population", TEXT),
            ("follow_up", "Follow-up", TEXT),
            ("finding", "Finding", TEXT),
            ("rate_ratio", "Rate ratio (95% CI)", ESTIMATE),
        ],
    );
    let mut sources = Table::new(
        "comparison_sources",
        "Sources of the published evaluations",
        &[
            ("study", "Study", TEXT),
            ("citation", "Citation", TEXT),
            ("source", "Where", TEXT),
        ],
    );
    let mut forest = Vec::new();
    for (measure, estimate) in this_study(results) {
        let label = outcomes::label(measure);
        let (ratio, band) = (estimate.rate_ratio, interval(estimate.ci95));
        let Some(ratio) = ratio else { continue };
        table.rows.push(vec![
            Cell::text("This study"),
            Cell::text(results.design.kind.method()),
            Cell::text(population(results, rule)),
            Cell::text(format!("{} months", results.study.post_months)),
            Cell::text(format!(
                "{label} {} than expected from the {}{}",
                change_words(ratio),
                results.design.label,
                match band {
                    Some((low, high)) if low <= 1.0 && 1.0 <= high => {
                        "; the interval includes no change"
                    }
                    _ => "",
                }
            )),
            Cell::estimate(
                Some(ratio),
                band,
                format!("{ratio:.2} ({})", ci(band, 2)),
                Precision::Decimals(2),
            ),
        ]);
        forest.push(DotRow {
            label: format!("This study: {label}"),
            points: vec![Some((ratio, band)), None],
        });
    }
    let mut cited = std::collections::BTreeSet::new();
    for row in &published {
        table.rows.push(published_row(row));
        if cited.insert(row.study.clone()) {
            sources.rows.push(vec![
                Cell::text(&row.study),
                Cell::text(&row.citation),
                Cell::text(&row.source),
            ]);
        }
        if let Some(ratio) = row.rate_ratio {
            forest.push(DotRow {
                label: format!("{}: {}", row.study, outcomes::label(&row.measure)),
                points: vec![None, Some((ratio, row.interval()))],
            });
        }
    }
    content.charts.push(Chart {
        name: "comparison_forest".into(),
        title: "This study beside published evaluations: rate ratios".into(),
        note: format!(
            "{SOURCE}; published figures as their authors report them (a fall of 28% drawn at 0.72), with their intervals where given. 1 = no change."
        ),
        kind: Kind::Dots {
            rows: forest,
            series: vec![
                format!("this study ({})", results.design.label),
                published_series(&published),
            ],
            x_label: "Rate ratio (1 = no change)".into(),
            references: vec![1.0],
        },
    });
    let section = json!({"intro": INTRO, "table": table.clone(), "sources": sources.clone()});
    content.tables.extend([table, sources]);
    section
}

/// The published dots' legend: their design when they share one (today every published
/// ratio is from an uncontrolled before/after), else a pointer to the table.
fn published_series(published: &[Comparator]) -> String {
    let designs: std::collections::BTreeSet<&str> = published
        .iter()
        .filter(|row| row.rate_ratio.is_some())
        .map(|row| row.design.as_str())
        .collect();
    let uncontrolled = designs.iter().all(|design| design.contains("uncontrolled"));
    if uncontrolled {
        "published (uncontrolled before/after)".into()
    } else {
        "published (designs in the table)".into()
    }
}

/// This study's DiD estimate of each compared measure, in `COMPARED` order.
fn this_study(results: &Results) -> Vec<(&'static str, &Did)> {
    COMPARED
        .iter()
        .filter_map(|measure| Some((*measure, results.service_use_row(measure)?.did.done()?)))
        .collect()
}

/// The matched sample in words, counts under the disclosure rule.
fn population(results: &Results, rule: Disclosure) -> String {
    let matched = &results.cohort.matched;
    format!(
        "{} people referred, matched to {} {}",
        rule.count(matched.treated()),
        rule.count(matched.matched_comparison.unwrap_or(0)),
        results.design.kind.who_briefly()
    )
}

fn published_row(row: &Comparator) -> Vec<Cell> {
    let ratio = match row.rate_ratio {
        Some(ratio) => Cell::estimate(
            Some(ratio),
            row.interval(),
            match row.interval() {
                Some(band) => format!("{ratio:.2} ({})", ci(Some(band), 2)),
                None => format!("{ratio:.2}"),
            },
            Precision::Decimals(2),
        ),
        None => Cell::missing(""),
    };
    vec![
        Cell::text(&row.study),
        Cell::text(&row.design),
        Cell::text(&row.population),
        Cell::text(&row.follow_up),
        Cell::text(&row.finding),
        ratio,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::for_tests;

    #[test]
    fn this_study_sits_first_and_an_interval_through_one_is_said() {
        let results = json!({
            "study": {"post_months": 24},
            "cohort": {"matched_treated": 381, "matched_comparison": 379},
            "service_use": [
                {"measure": "gp_demand", "did": {"rate_ratio": 0.9, "ci95": [0.83, 0.97]}},
                {"measure": "total_cost", "did": {"rate_ratio": 0.96, "ci95": [0.78, 1.19]}},
            ],
        });
        let mut content = Content {
            context: json!({}),
            tables: Vec::new(),
            charts: Vec::new(),
        };
        comparison_section(&for_tests(results), Disclosure::new(7, 5), &mut content);
        let text = |row: &[Cell]| -> Vec<String> {
            row.iter().map(|cell| cell.shown().to_string()).collect()
        };
        let table = &content.tables[0];
        let first = text(&table.rows[0]);
        assert_eq!(first[0], "This study");
        assert_eq!(
            first[2],
            "380 people referred, matched to 380 who were not (yet)"
        );
        assert_eq!(
            first[4],
            "GP demand 10% lower than expected from the matched comparison"
        );
        let cost = text(&table.rows[1]);
        assert!(
            cost[4].ends_with("; the interval includes no change"),
            "{}",
            cost[4]
        );
        // Then every published finding, and one source row per study.
        let published = published().unwrap();
        assert_eq!(table.rows.len(), 2 + published.len());
        let studies: std::collections::BTreeSet<&str> =
            published.iter().map(|row| row.study.as_str()).collect();
        assert_eq!(content.tables[1].rows.len(), studies.len());
        // The chart has a dot for each of this study's measures and each published ratio.
        let Kind::Dots { rows, .. } = &content.charts[0].kind else {
            panic!("a forest chart")
        };
        let ratios = published
            .iter()
            .filter(|row| row.rate_ratio.is_some())
            .count();
        assert_eq!(rows.len(), 2 + ratios);
    }
}
