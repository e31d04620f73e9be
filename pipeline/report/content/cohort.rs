//! Cohort and balance: the cohort flow from referral to the matched sample, and covariate
//! balance before and after matching.

use serde_json::{Value, json};

use super::table::{COUNT, Cell, NUMBER, TEXT};
use super::{Content, SOURCE, Table};
use crate::report::charts::{Bar, Chart, DotRow, Kind};
use crate::report::disclosure::Disclosure;
use crate::results::{CovariateBalance, Estimated, Results};
use crate::stats::matching::SMD_TARGET;

pub(super) fn cohort_section(results: &Results, rule: Disclosure, content: &mut Content) -> Value {
    let mut flow = Table::new(
        "cohort_flow",
        "Cohort flow",
        &[("step", "Step", TEXT), ("persons_count", "People", COUNT)],
    );
    let mut bars = Vec::new();
    for step in &results.cohort.flow {
        let label = step.step.replace('_', " ");
        let persons = step.persons;
        flow.rows
            .push(vec![Cell::text(label.clone()), Cell::count(rule, persons)]);
        bars.push(Bar {
            label,
            start: 0.0,
            end: rule.rounded(persons).unwrap_or(0) as f64,
            text: rule.count(persons),
            colour: 0,
        });
    }
    let matched = &results.cohort.matched;
    let comparison = results.design.label.as_str();
    for (step, persons) in [
        ("matched treated", matched.matched_treated),
        (comparison, matched.matched_comparison),
        ("treated not matched", matched.unmatched_treated),
    ] {
        if let Some(persons) = persons {
            flow.rows
                .push(vec![Cell::text(step), Cell::count(rule, persons)]);
            bars.push(Bar {
                label: step.into(),
                start: 0.0,
                end: rule.rounded(persons).unwrap_or(0) as f64,
                text: rule.count(persons),
                colour: 1,
            });
        }
    }
    // The registered population dwarfs the rest; the chart shows the referral side.
    let bars: Vec<Bar> = bars
        .into_iter()
        .filter(|bar| {
            !bar.label.starts_with("registered")
                && !bar.label.starts_with("comparison")
                && !bar.label.contains("candidates")
                && bar.label != comparison
        })
        .collect();
    content.charts.push(Chart {
        name: "cohort_flow".into(),
        title: "Cohort flow: from referral to the matched sample".into(),
        note: format!(
            "{SOURCE}. Counts rounded to {}; * = 1 to {}.",
            rule.round_to, rule.suppress_at_or_below
        ),
        kind: Kind::Bars {
            rows: bars,
            x_label: "People".into(),
            reference: None,
        },
    });

    let mut balance = Table::new(
        "balance",
        &format!(
            "Balance of the matched sample (standardised mean differences; target |SMD| < {SMD_TARGET})"
        ),
        &[
            ("covariate", "Covariate", TEXT),
            ("smd_before", "SMD before matching", NUMBER),
            ("smd_after", "SMD after matching", NUMBER),
            ("variance_ratio_after", "Variance ratio after", NUMBER),
        ],
    );
    let mut dots = Vec::new();
    let rows = results.balance.as_ref().and_then(Estimated::done);
    for row in rows.map(Vec::as_slice).unwrap_or_default() {
        let estimate = row.balance.done();
        let number = |value: fn(&CovariateBalance) -> Option<f64>, places: usize| {
            Cell::decimals(estimate.and_then(value), places)
        };
        balance.rows.push(vec![
            Cell::text(row.covariate.clone()),
            number(|b| b.smd_before, 3),
            number(|b| b.smd_after, 3),
            number(|b| b.variance_ratio_after, 2),
        ]);
        dots.push(DotRow {
            label: row.covariate.replace('_', " "),
            points: vec![
                estimate
                    .and_then(|b| b.smd_before)
                    .map(|value| (value, None)),
                estimate
                    .and_then(|b| b.smd_after)
                    .map(|value| (value, None)),
            ],
        });
    }
    if !dots.is_empty() {
        content.charts.push(Chart {
            name: "balance_love_plot".into(),
            title: "Covariate balance before and after matching".into(),
            note: format!(
                "{SOURCE}. Standardised mean difference (treated-group SD); lines at ±{SMD_TARGET}."
            ),
            kind: Kind::Dots {
                rows: dots,
                series: vec!["before matching".into(), "after matching".into()],
                x_label: "Standardised mean difference".into(),
                references: vec![-SMD_TARGET, 0.0, SMD_TARGET],
            },
        });
    }
    let exits = exits_table(results, rule);
    let section = json!({"flow": flow.clone(), "balance": balance.clone(), "exits": exits.clone()});
    content.tables.extend([flow, balance, exits]);
    section
}

/// How each matched group's follow-up ended: death, leaving the practice, a later referral
/// (comparison people, who count until then) or followed to the end.
fn exits_table(results: &Results, rule: Disclosure) -> Table {
    let exits = results.cohort.matched.follow_up_exits.as_ref();
    let months = exits.map_or(results.study.post_months, |exits| exits.within_months);
    let mut table = Table::new(
        "follow_up_exits",
        &format!(
            "How follow-up ended within {months} months of the index date (deaths and leaving the practice end NHS costs in both the referred and the expected path)"
        ),
        &[
            ("group", "Group", TEXT),
            ("people_count", "People", COUNT),
            ("died_count", "Died", COUNT),
            ("left_practice_count", "Left the practice", COUNT),
            (
                "referred_later_count",
                "Referred later (follow-up ends there)",
                COUNT,
            ),
            ("followed_to_end_count", "Followed to the end", COUNT),
        ],
    );
    for row in exits
        .map(|exits| exits.groups.as_slice())
        .unwrap_or_default()
    {
        let group = match row.group.as_str() {
            "treated" => "Referred (treated)",
            "comparison" => "Comparison",
            _ => "n/a",
        };
        let mut cells = vec![Cell::text(group)];
        for persons in [
            row.people,
            row.died,
            row.left_practice,
            row.referred_later,
            row.followed_to_end,
        ] {
            cells.push(Cell::count(rule, persons));
        }
        table.rows.push(cells);
    }
    table
}
