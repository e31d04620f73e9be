//! Equity, referral funnel and participation: subgroup estimates (with the test of whether
//! they differ), the funnel and community activity.

use serde_json::{Value, json};

use super::practices::PRACTICE_BREAKDOWN;
use super::table::{COUNT, Cell, INTERVAL, NUMBER, Precision, TEST, TEXT};
use super::{Content, SOURCE, Table, primary_measure};
use crate::measures::HEADLINE_INSTRUMENTS;
use crate::outcomes;
use crate::report::charts::{Bar, Chart, DotRow, Kind};
use crate::report::disclosure::Disclosure;
use crate::report::format::ci;
use crate::results::{FunnelStages, Results, SubgroupBalance, interval};

pub(super) fn equity_section(results: &Results, rule: Disclosure, content: &mut Content) -> Value {
    let mut subgroups = Table::new(
        "equity_gp_demand",
        "GP demand rate ratio (matched DiD) by subgroup",
        &[
            ("breakdown", "Breakdown", TEXT),
            ("level", "Group", TEXT),
            ("matched_sets_count", "Matched pairs", COUNT),
            ("rate_ratio", "Rate ratio", NUMBER),
            ("ci", "95% CI", INTERVAL),
            ("p_bh", "p (Benjamini-Hochberg)", NUMBER),
            (
                "largest_smd",
                "Largest SMD (absolute) in the group's own matched sets",
                NUMBER,
            ),
        ],
    );
    let mut dots = Vec::new();
    for row in results
        .service_use_subgroups()
        .iter()
        .filter(|row| row.breakdown != PRACTICE_BREAKDOWN)
    {
        let sets = row.matched_sets;
        let gp = row.did("gp_demand");
        let breakdown = row.breakdown.replace('_', " ");
        let level = row.level.replace('_', " ");
        let (rr, interval_value, p_bh) = gp.map_or((None, None, None), |gp| {
            (gp.rate_ratio, interval(gp.ci95), gp.p_bh)
        });
        let shown = rule.allows_statistic_of(sets) && rr.is_some();
        subgroups.rows.push(if shown {
            vec![
                Cell::text(breakdown.clone()),
                Cell::text(level.clone()),
                Cell::count(rule, sets),
                Cell::decimals(rr, 2),
                Cell::interval(
                    interval_value,
                    ci(interval_value, 2),
                    Precision::Decimals(2),
                ),
                Cell::p_value(p_bh),
                largest_smd(row.balance.as_ref()),
            ]
        } else {
            vec![
                Cell::text(breakdown.clone()),
                Cell::text(level.clone()),
                Cell::count(rule, sets),
                Cell::missing("not estimated"),
                Cell::missing(""),
                Cell::missing(""),
                Cell::missing(""),
            ]
        });
        if shown {
            dots.push(DotRow {
                label: format!("{breakdown}: {level}"),
                points: vec![rr.map(|value| (value, interval_value))],
            });
        }
    }
    if !dots.is_empty() {
        content.charts.push(Chart {
            name: "equity_forest".into(),
            title: "GP demand rate ratio by subgroup (matched DiD)".into(),
            note: format!(
                "{SOURCE}. 95% cluster-robust CI; subgroups of the person (not of their referral) compared with people matched within the same subgroup; under 20 matched sets not estimated."
            ),
            kind: Kind::Dots {
                rows: dots,
                series: vec!["rate ratio".into()],
                x_label: "Rate ratio (1 = no change)".into(),
                references: vec![1.0],
            },
        });
    }
    let rows = results.wellbeing_subgroups();
    let primary = HEADLINE_INSTRUMENTS
        .into_iter()
        .find(|code| rows.iter().any(|row| row.instrument == *code))
        .unwrap_or(HEADLINE_INSTRUMENTS[0]);
    let mut wellbeing = Table::new(
        "equity_wellbeing",
        &format!("{primary} change by subgroup (uncontrolled)"),
        &[
            ("breakdown", "Breakdown", TEXT),
            ("level", "Group", TEXT),
            ("pairs_count", "People with both scores", COUNT),
            ("mean_change", "Mean change", NUMBER),
            ("ci", "95% CI", INTERVAL),
        ],
    );
    for row in rows
        .iter()
        .filter(|row| row.instrument == primary && row.breakdown != PRACTICE_BREAKDOWN)
    {
        let pairs = row.n_pairs;
        let change = row.change.as_ref().and_then(|change| change.mean_change);
        let shown = rule.allows_statistic_of(pairs) && change.is_some();
        let change_ci = row.change.as_ref().and_then(|change| interval(change.ci95));
        wellbeing.rows.push(vec![
            Cell::text(row.breakdown.replace('_', " ")),
            Cell::text(row.level.replace('_', " ")),
            Cell::count(rule, pairs),
            if shown {
                Cell::decimals(change, 2)
            } else {
                Cell::missing("not estimated")
            },
            if shown {
                Cell::interval(change_ci, ci(change_ci, 2), Precision::Decimals(2))
            } else {
                Cell::missing("")
            },
        ]);
    }
    let funnel = &results.funnel;
    let mut funnel_table = Table::new(
        "funnel",
        "Referral funnel by route",
        &[
            ("route", "Route", TEXT),
            ("referred_count", "Referred", COUNT),
            ("accepted_count", "Accepted", COUNT),
            ("first_contact_count", "First contact", COUNT),
            ("completed_count", "Completed", COUNT),
            ("declined_count", "Declined", COUNT),
            (
                "completed_percent",
                "Completed (% of referred)",
                NUMBER.suppressible(),
            ),
        ],
    );
    let mut funnel_row = |route: String, stages: &FunnelStages| {
        let mut cells = vec![Cell::text(route)];
        cells.extend(
            stages
                .named()
                .iter()
                .map(|(_, people)| Cell::count(rule, *people)),
        );
        cells.push(Cell::percentage(rule, stages.completed, stages.referred));
        funnel_table.rows.push(cells);
    };
    for row in &funnel.by_route {
        funnel_row(row.referral_route.replace('_', " "), &row.stages);
    }
    funnel_row("all routes".into(), &funnel.all_routes);
    content.charts.push(Chart {
        name: "referral_funnel".into(),
        title: "Referral funnel".into(),
        note: format!(
            "{SOURCE}. People; counts rounded to {}, * = 1 to {}.",
            rule.round_to, rule.suppress_at_or_below
        ),
        kind: Kind::Bars {
            rows: funnel
                .all_routes
                .named()
                .iter()
                .enumerate()
                .map(|(index, (stage, n))| {
                    let n = *n;
                    Bar {
                        label: stage.replace('_', " "),
                        start: 0.0,
                        end: rule.rounded(n).unwrap_or(0) as f64,
                        text: rule.count(n),
                        colour: if index == 4 { 3 } else { 0 },
                    }
                })
                .collect(),
            x_label: "People".into(),
            reference: None,
        },
    });
    let participation = &results.participation;
    let mut activity = Table::new(
        "participation",
        "Participation in community activities",
        &[
            ("activity_type", "Activity", TEXT),
            ("people_count", "People", COUNT),
            ("sessions_count", "Sessions", COUNT),
        ],
    );
    for row in &participation.by_activity_type {
        activity.rows.push(vec![
            Cell::text(row.activity_type.replace('_', " ")),
            Cell::count(rule, row.people),
            Cell::count(rule, row.sessions),
        ]);
    }
    let attended = participation.attended_any;
    let interactions = interactions_table(results);
    let section = json!({
        "subgroups": subgroups.clone(),
        "interactions": interactions.clone(),
        "wellbeing": wellbeing.clone(),
        "funnel": funnel_table.clone(),
        "participation": activity.clone(),
        "attended_any": rule.count(attended),
        "with_activity_data": rule.count(participation.referred_with_activity_data),
        "sessions_per_person": rule.statistic(attended, participation.sessions_per_person, |v| format!("{v:.1}")),
    });
    content
        .tables
        .extend([subgroups, interactions, wellbeing, funnel_table, activity]);
    section
}

/// Whether the DiD rate ratio differs between a breakdown's groups, for GP demand and the
/// primary outcome: a difference between subgroup estimates is only evidence of a different
/// effect when this joint test says so.
fn interactions_table(results: &Results) -> Table {
    let mut table = Table::new(
        "equity_interactions",
        "Does the effect differ between groups? Joint test that the DiD rate ratio is the same in every group",
        &[
            ("breakdown", "Breakdown", TEXT),
            ("measure", "Measure", TEXT),
            ("groups", "Groups compared", NUMBER),
            ("chi2", "Chi-squared (df)", TEST),
            ("p", "p", NUMBER),
        ],
    );
    let primary = primary_measure(results);
    let shown = |measure: &str| measure == "gp_demand" || measure == primary;
    for row in results
        .service_use_interactions()
        .iter()
        .filter(|row| shown(&row.measure))
    {
        let test = row.test.done();
        let (statistic, p) = match (test.and_then(|test| test.chi2), test) {
            (Some(chi2), Some(test)) => (
                Cell::numbers(
                    format!("{chi2:.2} ({})", test.df),
                    &[Some(chi2), Some(test.df as f64)],
                    Precision::Decimals(2),
                ),
                Cell::p_value(test.p),
            ),
            _ => (
                Cell::missing("not tested"),
                Cell::missing(row.test.reason().unwrap_or("")),
            ),
        };
        table.rows.push(vec![
            Cell::text(row.breakdown.replace('_', " ")),
            Cell::text(outcomes::label(&row.measure)),
            Cell::decimals(Some(row.levels as f64), 0),
            statistic,
            p,
        ]);
    }
    table
}

/// A subgroup's balance as its largest standardised mean difference and the covariate; blank
/// for the referral's own facts (route, reasons), whose levels split the headline's sets.
fn largest_smd(balance: Option<&SubgroupBalance>) -> Cell {
    match balance {
        Some(balance) => Cell::number(
            Some(balance.largest_abs_smd),
            format!(
                "{:.2} ({})",
                balance.largest_abs_smd,
                balance.covariate.replace('_', " ")
            ),
            Precision::Decimals(3),
        ),
        None => Cell::missing("headline's sets"),
    }
}
