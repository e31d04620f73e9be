//! Service use: the matched difference-in-differences beside the uncontrolled before/after,
//! event studies, the smallest detectable change, and the design-sensitivity table.

use serde_json::{Value, json};

use super::table::{COUNT, Cell, ESTIMATE, INTERVAL, NUMBER, POUNDS, Precision, Shape, TEST, TEXT};
use super::{Content, SOURCE, Table, estimated_section, parts};
use crate::outcomes;
use crate::report::charts::{Chart, DotRow, Kind, Line, Stroke};
use crate::report::disclosure::Disclosure;
use crate::report::format::{ci, decimals, gbp, gbp_ci, ratio_or_reason};
use crate::results::{
    BalanceRow, DesignSensitivity, DesignVerdict, Estimated, EventStudyRegression,
    MinimumDetectable, PlaceboIndex, PlaceboReading, RateRatio, Results, interval,
};
use crate::stats::matching::{SMD_TARGET, largest_abs_smd};

const SERVICE_USE_INTRO: [(&str, bool); 3] = [
    (
        "The matched difference-in-differences compares the change in the referred group with the change in similar people not yet referred. The before/after ratio of the referred group alone is shown for contrast: it is ",
        false,
    ),
    ("uncontrolled and subject to regression to the mean", true),
    (
        ". The placebo repeats the analysis inside the baseline, the second half against the first, before anyone was referred: a ratio near 1 there means the two groups' use was on parallel paths before referral (it cannot show regression to the mean from the referral peak itself).",
        false,
    ),
];

pub(super) fn service_use_section(
    results: &Results,
    rule: Disclosure,
    matched: u64,
    content: &mut Content,
) -> Value {
    let rows = match estimated_section(&results.service_use) {
        Ok(rows) => rows,
        Err(reason) => return reason,
    };
    let mut table = Table::new(
        "service_use",
        "Service use: matched difference-in-differences beside the uncontrolled before/after",
        &[
            ("measure", "Measure", TEXT),
            (
                "before_after_rate_ratio",
                "Before/after ratio (uncontrolled)",
                NUMBER,
            ),
            (
                "comparison_before_after_rate_ratio",
                "Comparison group's own before/after",
                NUMBER,
            ),
            ("did_rate_ratio", "DiD rate ratio", NUMBER),
            ("did_ci", "95% CI", INTERVAL),
            ("did_p", "p", NUMBER),
            ("did_p_holm", "p (Holm, secondary measures)", NUMBER),
            (
                "did_detectable_rate_ratio",
                "Smallest change it could detect (80% power)",
                INTERVAL,
            ),
            ("change_per_person_year", "Change per person-year", NUMBER),
            ("change_ci", "95% CI (bootstrap)", INTERVAL),
            (
                "ancova_rate_ratio",
                "ANCOVA on the baseline (sensitivity)",
                NUMBER,
            ),
            (
                "placebo_rate_ratio",
                "Placebo within the baseline (95% CI)",
                ESTIMATE,
            ),
        ],
    );
    let mut forest = Vec::new();
    let mut pre_trends = Table::new(
        "event_study_pre_trends",
        "Did the groups' use follow parallel paths before referral? Joint test of the baseline months in the event-study regression",
        &[
            ("measure", "Measure", TEXT),
            ("month", "Months tested", MONTHS_TESTED),
            ("chi2", "Chi-squared (df)", TEST),
            ("p", "p", NUMBER),
        ],
    );
    let mut events = Table::new(
        "event_study",
        "Monthly rates per person-year, treated and comparison",
        &[
            ("measure", "Measure", TEXT),
            ("month", "Month from index", NUMBER),
            ("treated_rate", "Treated", NUMBER.suppressible()),
            ("comparison_rate", "Comparison", NUMBER.suppressible()),
        ],
    );
    let rates_allowed = rule.allows_statistic_of(matched);
    let mut event_charts = Vec::new();
    for row in rows {
        let measure = row.measure.as_str();
        let label = outcomes::label(measure).to_string();
        let primary = row.is_primary();
        let did = row.did.done();
        let before_after = row.before_after.done();
        let cost = crate::outcomes::by_code(measure).is_some_and(|measure| measure.is_cost());
        let change = |value: Option<f64>| {
            if cost { gbp(value) } else { decimals(value, 2) }
        };
        let change_precision = if cost { POUNDS } else { RATIO };
        let change_ci = did.and_then(|did| did.change_ci95).and_then(interval);
        let placebo = row.placebo_did.as_ref().and_then(Estimated::done);
        let placebo_ratio = placebo.and_then(|placebo| placebo.rate_ratio);
        let placebo_ci = placebo.and_then(|placebo| interval(placebo.ci95));
        let mde = did.map(|did| &did.minimum_detectable_rate_ratio);
        let did_ci = did.and_then(|did| interval(did.ci95));
        let change_per_person_year = did.and_then(|did| did.change_per_person_year);
        table.rows.push(vec![
            Cell::text(if primary {
                format!("{label} (primary outcome)")
            } else {
                label.clone()
            }),
            ratio_cell(
                row.before_after.reason(),
                before_after.and_then(|estimate| estimate.rate_ratio),
            ),
            Cell::decimals(row.comparison_before_after_rate_ratio, 2),
            ratio_cell(row.did.reason(), did.and_then(|did| did.rate_ratio)),
            Cell::interval(did_ci, ci(did_ci, 2), RATIO),
            Cell::p_value(did.and_then(|did| did.p)),
            if primary {
                Cell::missing("not adjusted")
            } else {
                Cell::p_value(did.and_then(|did| did.p_holm))
            },
            Cell::interval(
                mde.and_then(|mde| mde.lower.zip(mde.higher)),
                mde.map_or("n/a".into(), detectable),
                RATIO,
            ),
            Cell::number(
                change_per_person_year,
                change(change_per_person_year),
                change_precision,
            ),
            Cell::interval(
                change_ci,
                change_ci.map_or("n/a".into(), |(low, high)| {
                    format!("{} to {}", change(Some(low)), change(Some(high)))
                }),
                change_precision,
            ),
            Cell::decimals(
                row.ancova_sensitivity
                    .done()
                    .and_then(|ancova| ancova.rate_ratio),
                2,
            ),
            Cell::estimate(
                placebo_ratio,
                placebo_ci,
                placebo_ratio.map_or("n/a".into(), |placebo_ratio| {
                    format!("{placebo_ratio:.2} ({})", ci(placebo_ci, 2))
                }),
                RATIO,
            ),
        ]);
        forest.push(DotRow {
            label: label.clone(),
            points: vec![
                did.and_then(|did| did.rate_ratio.map(|value| (value, did_ci))),
                before_after.and_then(|estimate| {
                    estimate
                        .rate_ratio
                        .map(|value| (value, interval(estimate.ci95)))
                }),
            ],
        });
        let mut treated = Line {
            name: "referred (treated)".into(),
            colour: 0,
            points: Vec::new(),
            band: Vec::new(),
            stroke: Stroke::Solid,
        };
        let mut comparison = Line {
            name: results.design.label.clone(),
            colour: 1,
            points: Vec::new(),
            band: Vec::new(),
            stroke: Stroke::Solid,
        };
        for month in &row.event_study {
            let m = f64::from(month.month);
            let (t, c) = (month.treated_rate, month.comparison_rate);
            let rate =
                |value: Option<f64>| Cell::statistic(rule, matched, Cell::decimals(value, 3));
            events.rows.push(vec![
                Cell::text(label.clone()),
                Cell::decimals(Some(m), 0),
                rate(t),
                rate(c),
            ]);
            if !rates_allowed {
                continue;
            }
            if let Some(t) = t {
                treated.points.push((m, t));
            }
            if let Some(c) = c {
                comparison.points.push((m, c));
            }
            if let Some((low, high)) = month.treated_ci95.and_then(interval) {
                treated.band.push((m, low, high));
            }
            if let Some((low, high)) = month.comparison_ci95.and_then(interval) {
                comparison.band.push((m, low, high));
            }
        }
        let regression = row.event_study_regression.done();
        if let Some(regression) = regression
            && let Some(test) = &regression.pre_trend
        {
            let [first, last] = test.months;
            let reference = regression.reference_month;
            pre_trends.rows.push(vec![
                Cell::text(label.clone()),
                Cell::numbers(
                    format!("{first} to {last} (against month {reference})"),
                    &[
                        Some(first as f64),
                        Some(last as f64),
                        Some(reference as f64),
                    ],
                    Precision::Decimals(0),
                ),
                Cell::numbers(
                    format!("{} ({})", decimals(test.chi2, 2), test.df),
                    &[test.chi2, Some(test.df as f64)],
                    Precision::Decimals(2),
                ),
                Cell::p_value(test.p),
            ]);
        }
        if rates_allowed
            && measure == "gp_demand"
            && let Some(regression) = regression
        {
            event_charts.extend(contrast_chart(&label, regression));
        }
        if rates_allowed && !treated.points.is_empty() {
            let unit = if cost {
                "£ per person-year"
            } else {
                "events per person-year"
            };
            event_charts.push(Chart {
                name: format!("event_study_{measure}"),
                title: format!("{label}: monthly rate before and after referral"),
                note: format!("{SOURCE}. Bands: exact Poisson 95% CI (none for cost). Month 0 starts at the referral (index) date."),
                kind: Kind::Lines {
                    series: vec![treated, comparison],
                    x_label: "Month relative to referral".into(),
                    y_label: format!("Rate ({unit})"),
                    vertical: vec![(0.0, "referral".into())],
                    horizontal: None,
                    markers: Vec::new(),
                    y_range: None,
                },
            });
        }
    }
    content.charts.push(Chart {
        name: "forest_rate_ratios".into(),
        title: "Effect on NHS use: matched DiD against the uncontrolled before/after".into(),
        note: format!("{SOURCE}. Rate ratio with 95% CI; 1 = no change. The before/after is biased by regression to the mean."),
        kind: Kind::Dots {
            rows: forest,
            series: vec!["matched difference-in-differences".into(), "uncontrolled before/after".into()],
            x_label: "Rate ratio (after vs before, relative to comparison)".into(),
            references: vec![1.0],
        },
    });
    content.charts.extend(event_charts);
    let (designs, verdict) = match results.designs() {
        Some(sensitivity) => design_sensitivity(sensitivity, rule, content),
        None => (Value::Null, String::new()),
    };
    let (placebo, placebo_text) = match results.designs() {
        Some(sensitivity) => placebo_index(&sensitivity.placebo_index, rule, content),
        None => (Value::Null, String::new()),
    };
    let section = json!({
        "intro": parts(&SERVICE_USE_INTRO.map(|(text, strong)| (text.to_string(), strong))),
        "table": table.clone(), "events": events.clone(), "pre_trends": pre_trends.clone(), "designs": designs, "design_verdict": verdict,
        "placebo_index": placebo, "placebo_text": placebo_text,
    });
    content.tables.extend([table, pre_trends, events]);
    section
}

/// The rate ratios and saving under every candidate comparison design, the verdict (do the
/// designs agree?) and a forest chart of the ratios by design.
fn design_sensitivity(
    sensitivity: &DesignSensitivity,
    rule: Disclosure,
    content: &mut Content,
) -> (Value, String) {
    // How many referred people each design matched: a design that matches exactly on bands
    // of prior use can leave some without a comparison person, and then answers for the rest.
    let mut columns = vec![
        ("design", "Comparison design", TEXT),
        ("matched_treated", "Referred people matched", COUNT),
    ];
    let headers: Vec<(String, String)> = outcomes::compared_across_designs()
        .map(|measure| {
            (
                format!("{}_rate_ratio", measure.code),
                format!("{} (95% CI)", measure.label),
            )
        })
        .collect();
    columns.extend(
        headers
            .iter()
            .map(|(key, header)| (key.as_str(), header.as_str(), ESTIMATE)),
    );
    columns.push((
        "saving_24m",
        "Saving per person, 24 months (95% CI)",
        ESTIMATE,
    ));
    let mut table = Table::new(
        "design_sensitivity",
        "The estimates under each comparison design",
        &columns,
    );
    let mut forest = Vec::new();
    for row in &sensitivity.designs {
        let mut label = row.design.description.clone();
        if row.headline {
            label = format!("{label} (headline)");
        }
        let estimates = row.estimates.done();
        let matched = estimates.map_or_else(
            || Cell::missing("not matched"),
            |estimates| Cell::count(rule, estimates.matched_treated),
        );
        let ratio_of = |code: &str| estimates.and_then(|e| e.rate_ratios.get(code));
        let mut cells = vec![Cell::text(label), matched];
        for measure in outcomes::compared_across_designs() {
            cells.push(rate_ratio_cell(ratio_of(measure.code)));
        }
        let saving = estimates.and_then(|estimates| estimates.saving.done());
        let saving_ci = saving.and_then(|saving| saving.ci95).and_then(interval);
        cells.push(match saving.and_then(|saving| saving.savings_per_person) {
            Some(value) => Cell::estimate(
                Some(value),
                saving_ci,
                format!("{} ({})", gbp(Some(value)), gbp_ci(saving_ci)),
                POUNDS,
            ),
            None => Cell::missing("not estimated"),
        });
        table.rows.push(cells);
        forest.push(DotRow {
            label: row.design.name.clone(),
            points: outcomes::compared_across_designs()
                .filter(|measure| !measure.is_cost())
                .map(|measure| {
                    let estimate = ratio_of(measure.code).and_then(Estimated::done)?;
                    estimate
                        .rate_ratio
                        .map(|value| (value, interval(estimate.ci95)))
                })
                .collect(),
        });
    }
    content.charts.push(Chart {
        name: "forest_designs".into(),
        title: "Does the answer depend on the comparison design?".into(),
        note: format!(
            "{SOURCE}. Rate ratio with 95% CI under each candidate design; 1 = no change."
        ),
        kind: Kind::Dots {
            rows: forest,
            series: outcomes::compared_across_designs()
                .filter(|measure| !measure.is_cost())
                .map(|measure| measure.label.to_string())
                .collect(),
            x_label: "Rate ratio (after vs before, relative to comparison)".into(),
            references: vec![1.0],
        },
    });
    let verdict = if sensitivity.verdict == DesignVerdict::Agree {
        "The candidate comparison designs agree: no two give rate ratios whose intervals do not overlap or that differ materially beyond their uncertainty.".to_string()
    } else {
        let measures: std::collections::BTreeSet<&str> = sensitivity
            .disagreements
            .iter()
            .map(|row| outcomes::label(&row.measure))
            .collect();
        format!(
            "The candidate comparison designs disagree on {}: which one is right depends on how people came to be referred, which the data cannot tell. The headline design is the one that recovered the truth best across the simulated referral processes of the validation study; read it with the other designs' estimates beside it.",
            measures.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let section = json!(table.clone());
    content.tables.push(table);
    (section, verdict)
}

/// A rate ratio with its interval, or why there is none.
fn rate_ratio_cell(estimate: Option<&Estimated<RateRatio>>) -> Cell {
    let done = estimate.and_then(Estimated::done);
    match (
        done.and_then(|r| r.rate_ratio),
        done.and_then(|r| interval(r.ci95)),
    ) {
        (Some(value), Some((low, high))) => Cell::estimate(
            Some(value),
            Some((low, high)),
            format!("{value:.2} ({low:.2} to {high:.2})"),
            RATIO,
        ),
        _ => Cell::missing(ratio_or_reason(
            estimate.and_then(Estimated::reason),
            done.and_then(|r| r.rate_ratio),
        )),
    }
}

/// The headline design a year before referral (`results::PlaceboIndex`): what it reads, how
/// many it matched, each measure's rate ratio and reading against the margin.
fn placebo_index(
    placebo: &Estimated<PlaceboIndex>,
    rule: Disclosure,
    content: &mut Content,
) -> (Value, String) {
    let placebo = match placebo {
        Estimated::Done(placebo) => placebo,
        Estimated::Not(reason) => {
            return (
                Value::Null,
                format!(
                    "The headline design could not be run before anyone was referred: {}.",
                    reason.not_estimated
                ),
            );
        }
    };
    let margin = 100.0 * (placebo.equivalence_margin - 1.0);
    let text = format!(
        "{} At the placebo index date {} referred people were matched; {} A reading \"no bias over {margin:.0}%\" means the whole 95% interval lies between {:.2} and {:.2}.",
        placebo.reads,
        rule.count(placebo.matched_treated),
        placebo_balance(&placebo.balance),
        1.0 / placebo.equivalence_margin,
        placebo.equivalence_margin
    );
    let mut table = Table::new(
        "placebo_index",
        &format!(
            "The headline design at a placebo index date {} months before referral (true effect nil)",
            placebo.shift_months
        ),
        &[
            ("measure", "Measure", TEXT),
            ("rate_ratio", "Placebo rate ratio (95% CI)", ESTIMATE),
            ("reading", "Reading", TEXT),
        ],
    );
    // In the registry's order, as the design table.
    for (measure, row) in outcomes::compared_across_designs()
        .filter_map(|measure| Some((measure.code, placebo.measures.get(measure.code)?)))
    {
        let ratio = rate_ratio_cell(Some(&row.rate_ratio));
        let reading = match row.reading {
            Some(PlaceboReading::WithinMargin) => format!("no bias over {margin:.0}%"),
            Some(PlaceboReading::Bias) => "bias: a change where there was none".into(),
            Some(PlaceboReading::Inconclusive) => {
                format!("too uncertain to rule out a bias of {margin:.0}%")
            }
            None => "not read".into(),
        };
        table.rows.push(vec![
            Cell::text(outcomes::label(measure)),
            ratio,
            Cell::text(reading),
        ]);
    }
    content.tables.push(table.clone());
    (json!(table), text)
}

/// The matching's balance at the placebo index in a sentence: the largest standardised mean
/// difference after matching, and the covariates outside the target, which the placebo's
/// ratios then partly reflect.
fn placebo_balance(balance: &[BalanceRow]) -> String {
    let smds: Vec<(&str, f64)> = balance
        .iter()
        .filter_map(|row| Some((row.covariate.as_str(), row.balance.done()?.smd_after?)))
        .collect();
    let Some((worst, smd)) = largest_abs_smd(&smds) else {
        return "their balance could not be measured.".into();
    };
    let outside: Vec<String> = smds
        .iter()
        .filter(|(_, smd)| smd.abs() >= SMD_TARGET)
        .map(|(covariate, _)| covariate.replace('_', " "))
        .collect();
    if outside.is_empty() {
        format!(
            "every covariate was balanced (largest standardised mean difference {smd:.3}, {}; target under {SMD_TARGET}).",
            worst.replace('_', " ")
        )
    } else {
        format!(
            "{} of {} covariates were not balanced (a standardised mean difference of {SMD_TARGET} or more: {}; largest {smd:.3}), so the placebo's ratios partly reflect that difference.",
            outside.len(),
            smds.len(),
            outside.join(", ")
        )
    }
}

/// The months a pre-trend test covers and the reference month: `month_first`, `month_last`,
/// `month_reference`.
/// Rate ratios and their intervals: two decimals, as the report shows them.
const RATIO: Precision = Precision::Decimals(2);

const MONTHS_TESTED: Shape = Shape::numbers(&["_first", "_last", "_reference"]);

/// An estimate's rate ratio, or why there is none ("no data", "not estimable").
fn ratio_cell(not_estimated: Option<&str>, rate_ratio: Option<f64>) -> Cell {
    match not_estimated {
        Some(_) => Cell::missing(ratio_or_reason(not_estimated, rate_ratio)),
        None => Cell::decimals(rate_ratio, 2),
    }
}

/// A rate ratio's minimum detectable change either side of 1, as "12% lower / 14% higher".
fn detectable(mde: &MinimumDetectable) -> String {
    match (mde.lower, mde.higher) {
        (Some(lower), Some(higher)) => format!(
            "{:.0}% lower / {:.0}% higher",
            100.0 * (1.0 - lower),
            100.0 * (higher - 1.0)
        ),
        _ => "n/a".into(),
    }
}

/// Below this rate ratio, a study that can only detect a change this large (a halving) is
/// described as too small to tell, rather than as evidence of no effect.
const TOO_SMALL_TO_TELL_BELOW: f64 = 0.5;

/// What an interval that includes no change means, given what the study could have seen.
pub(super) fn power_sentence(mde: &MinimumDetectable) -> Option<String> {
    let (lower, higher) = (mde.lower?, mde.higher?);
    let down = 100.0 * (1.0 - lower);
    Some(if lower <= TOO_SMALL_TO_TELL_BELOW {
        format!(
            "The interval includes no change, but the study was too small to tell: with 80% power it could only have detected a change of {down:.0}% or more."
        )
    } else {
        format!(
            "The interval includes no change. With 80% power the study could have detected a change of {down:.0}% lower or {:.0}% higher, so no evidence of a change here is not just too few people.",
            100.0 * (higher - 1.0)
        )
    })
}

/// The event-study regression of one measure as a chart: per month, the treated-comparison
/// rate ratio relative to the reference month with its 95% CI; None without contrasts.
fn contrast_chart(label: &str, regression: &EventStudyRegression) -> Option<Chart> {
    let mut line = Line {
        name: "rate ratio against the reference month".into(),
        colour: 0,
        points: Vec::new(),
        band: Vec::new(),
        stroke: Stroke::Solid,
    };
    for month in &regression.contrasts {
        let (m, Some(value)) = (month.month as f64, month.rate_ratio) else {
            continue;
        };
        line.points.push((m, value));
        if let Some((low, high)) = month.ci95.and_then(interval) {
            line.band.push((m, low, high));
        }
    }
    let reference = regression.reference_month as f64;
    Some(Chart {
        name: format!(
            "event_study_contrast_{}",
            label.to_lowercase().replace(' ', "_")
        ),
        title: format!(
            "{label}: referred against comparison, month by month, relative to month {reference}"
        ),
        note: format!(
            "{SOURCE}. Saturated Poisson event study; band: 95% CI, cluster-robust by matched set. 1 = the same gap between the groups as in month {reference}."
        ),
        kind: Kind::Lines {
            series: vec![line],
            x_label: "Month relative to referral".into(),
            y_label: "Rate ratio (treated / comparison, relative)".into(),
            vertical: vec![(0.0, "referral".into()), (reference, "reference".into())],
            horizontal: Some(1.0),
            markers: Vec::new(),
            y_range: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_including_no_change_is_read_with_the_studys_power() {
        let mde = |lower, higher| MinimumDetectable {
            lower,
            higher,
            basis: String::new(),
        };
        let small = mde(Some(0.4), Some(2.5));
        assert!(power_sentence(&small).unwrap().contains(
            "too small to tell: with 80% power it could only have detected a change of 60% or more"
        ));
        let large = mde(Some(0.9), Some(1.11));
        assert!(
            power_sentence(&large)
                .unwrap()
                .contains("could have detected a change of 10% lower or 11% higher")
        );
        assert_eq!(detectable(&large), "10% lower / 11% higher");
        assert_eq!(power_sentence(&mde(None, None)), None);
        assert_eq!(detectable(&mde(None, None)), "n/a");
    }
}
