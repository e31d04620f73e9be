//! Wellbeing: the paired change per instrument and item, and the paragraph that says how
//! baseline and follow-up questionnaires were paired.

use serde_json::{Value, json};

use super::table::{COUNT, Cell, ESTIMATE, INTERVAL, NUMBER, Precision, Shape, TEXT};
use super::{Content, SOURCE, Table, parts};
use crate::report::charts::{Bin, Chart, Kind};
use crate::report::disclosure::Disclosure;
use crate::report::format::{ci, p_value, percent};
use crate::results::{Estimated, Results, interval};

pub(super) fn wellbeing_section(
    results: &Results,
    manifest: &Value,
    rule: Disclosure,
    content: &mut Content,
) -> Value {
    let mut table = Table::new(
        "wellbeing",
        "Wellbeing change among people with a baseline and a follow-up score (uncontrolled)",
        &[
            ("instrument", "Measure", TEXT),
            ("baseline_count", "People with a baseline", COUNT),
            ("pairs_count", "People with both", COUNT),
            ("mean_baseline", "Mean before", STATISTIC),
            ("mean_followup", "Mean after", STATISTIC),
            ("mean_change", "Mean change", STATISTIC),
            ("mean_change_ci", "95% CI", INTERVAL.suppressible()),
            (
                "rtm_adjusted_change",
                "Change beyond regression to the mean (95% CI)",
                ESTIMATE.suppressible(),
            ),
            ("p_holm", "p (t, Holm)", STATISTIC),
            ("p_wilcoxon", "p (Wilcoxon)", STATISTIC),
            (
                "cohens_dz",
                "Cohen's d_z (change / SD of change)",
                STATISTIC,
            ),
            (
                "cohens_dav",
                "Cohen's d_av (change / average SD)",
                STATISTIC,
            ),
            ("improved_percent", "Improved meaningfully", STATISTIC),
            (
                "deteriorated_percent",
                "Deteriorated meaningfully",
                STATISTIC,
            ),
        ],
    );
    for row in results.wellbeing() {
        let name = match &row.item {
            Some(item) => format!("{} {}", row.instrument, item.replace('_', " ")),
            None => row.instrument.clone(),
        };
        let pairs = row.n_pairs;
        let baseline_n = row.n_baseline;
        let shown = rule.allows_statistic_of(pairs);
        let stat = |value: Option<f64>, places: usize| {
            Cell::statistic(rule, pairs, Cell::decimals(value, places))
        };
        let share = |value: Option<f64>| {
            Cell::statistic(
                rule,
                pairs,
                Cell::number(value, percent(value), Precision::Decimals(0)),
            )
        };
        let change_ci = row.ci95();
        let rtm = row.rtm_adjusted.done();
        let rtm_change = rtm.and_then(|rtm| rtm.change);
        let rtm_ci = rtm.and_then(|rtm| interval(rtm.ci95));
        let p_holm = row.p_t_holm;
        let wilcoxon = row.wilcoxon.as_ref();
        let p_wilcoxon = wilcoxon.and_then(|w| w.p_wilcoxon);
        let meaningful = row.meaningful.as_ref();
        let cells = vec![
            Cell::text(name.clone()),
            Cell::count(rule, baseline_n),
            Cell::count(rule, pairs),
            Cell::statistic(rule, baseline_n, Cell::decimals(row.mean_baseline, 1)),
            stat(row.mean_followup, 1),
            stat(row.mean_change(), 2),
            shown_or_suppressed(
                shown,
                Cell::interval(change_ci, ci(change_ci, 2), TWO_PLACES),
            ),
            shown_or_suppressed(
                shown,
                match rtm_change {
                    None => Cell::missing("n/a"),
                    Some(change) => Cell::estimate(
                        Some(change),
                        rtm_ci,
                        format!("{change:.2} ({})", ci(rtm_ci, 2)),
                        TWO_PLACES,
                    ),
                },
            ),
            shown_or_suppressed(shown, Cell::p_value(p_holm)),
            shown_or_suppressed(
                shown,
                Cell::number(
                    p_wilcoxon,
                    format!(
                        "{} ({})",
                        p_value(p_wilcoxon),
                        wilcoxon.map_or("", |w| w.wilcoxon_method.as_str())
                    ),
                    Precision::Significant(3),
                ),
            ),
            stat(row.cohens_dz, 2),
            stat(row.cohens_dav, 2),
            share(meaningful.and_then(|m| m.pct_improved)),
            share(meaningful.and_then(|m| m.pct_deteriorated)),
        ];
        table.rows.push(cells);
        if !shown || row.item.is_some() {
            continue;
        }
        let bins: Vec<Bin> = row
            .change_histogram
            .bins
            .iter()
            .map(|bin| Bin {
                from: bin.from,
                to: bin.to,
                height: rule.rounded(bin.count).unwrap_or(0) as f64,
                text: rule.count(bin.count),
            })
            .collect();
        let mut vertical = vec![(0.0, "no change".to_string())];
        if let Some(threshold) = meaningful.map(|m| m.meaningful_change_threshold) {
            vertical.push((threshold, format!("+{threshold}")));
            vertical.push((-threshold, format!("−{threshold}")));
        }
        content.charts.push(Chart {
            name: format!("wellbeing_change_{}", name.to_lowercase().replace(' ', "_")),
            title: format!("{name}: change from baseline to follow-up"),
            note: format!(
                "{SOURCE}. People with both scores; counts rounded to {}, * = 1 to {} (drawn at zero). Red lines: meaningful change.",
                rule.round_to,
                rule.suppress_at_or_below
            ),
            kind: Kind::Histogram {
                bins,
                x_label: format!("Change in {name} score (points; follow-up − baseline)"),
                y_label: "People".into(),
                vertical,
            },
        });
    }
    let attrition = attrition_table(results, rule);
    let section = json!({"intro": parts(&wellbeing_intro(&manifest["config"])), "table": table.clone(),
                         "attrition": attrition.clone()});
    content.tables.extend([table, attrition]);
    section
}

/// Who answered twice: per whole-score measure, the people with a pair against all eligible
/// referred people (standardised mean differences), and the change weighted to stand for all
/// of them (inverse probability of having a pair).
fn attrition_table(results: &Results, rule: Disclosure) -> Table {
    // (covariate in results.json, CSV column, header): no CSV key of an SMD ends in "_count",
    // which would read as a count column.
    let covariates = [
        ("age_at_index", "smd_age", "Age"),
        ("female", "smd_female", "Female"),
        (
            "imd_quintile_1_2",
            "smd_imd_quintile_1_2",
            "Most deprived 40%",
        ),
        ("ethnic_group_white", "smd_white", "White"),
        (
            "ltc_count",
            "smd_long_term_conditions",
            "Long-term conditions",
        ),
        (
            "log_gp_demand_m3_m1",
            "smd_gp_demand_m3_m1",
            "GP demand, 3 months before",
        ),
        (
            "log_gp_demand_baseline",
            "smd_gp_demand_baseline",
            "GP demand, baseline",
        ),
    ];
    let mut columns = vec![
        ("instrument", "Measure", TEXT),
        ("pairs_count", "People with both", COUNT),
    ];
    columns.extend(
        covariates
            .iter()
            .map(|(_, key, header)| (*key, *header, STATISTIC)),
    );
    columns.push((
        "ipw_change",
        "Change weighted to all eligible (95% CI)",
        ESTIMATE.suppressible(),
    ));
    let mut table = Table::new(
        "wellbeing_attrition",
        "Who answered twice: standardised mean differences of the people with both scores against everyone eligible who was referred, and the change weighted to stand for all of them",
        &columns,
    );
    for row in results.wellbeing() {
        let (None, Some(attrition)) = (&row.item, &row.attrition_vs_eligible) else {
            continue;
        };
        let pairs = attrition.with_pair;
        let shown = rule.allows_statistic_of(pairs);
        let mut cells = vec![
            Cell::text(row.instrument.as_str()),
            Cell::count(rule, pairs),
        ];
        for (key, _, _) in covariates {
            let smd = attrition
                .smd_pairs_vs_all_eligible
                .iter()
                .find(|smd| smd.covariate == key)
                .and_then(|smd| smd.smd);
            // An SMD that rounds to zero is shown as 0.00, not -0.00.
            cells.push(Cell::statistic(
                rule,
                pairs,
                Cell::number(
                    smd,
                    smd.map_or("n/a".into(), |value| {
                        format!("{:.2}", if value.abs() < 0.005 { 0.0 } else { value })
                    }),
                    TWO_PLACES,
                ),
            ));
        }
        let ipw = row.ipw_change.as_ref().and_then(Estimated::done);
        let ipw_ci = ipw.and_then(|ipw| interval(ipw.ci95));
        cells.push(match (shown, ipw.and_then(|ipw| ipw.change)) {
            (false, _) => Cell::suppressed(),
            (true, Some(change)) => Cell::estimate(
                Some(change),
                ipw_ci,
                format!("{change:.2} ({})", ci(ipw_ci, 2)),
                TWO_PLACES,
            ),
            (true, None) => Cell::missing("n/a"),
        });
        table.rows.push(cells);
    }
    table
}

/// A mean, share or test from few enough people that the disclosure rule may suppress it.
const STATISTIC: Shape = NUMBER.suppressible();

/// Changes, confidence limits and standardised differences: two decimals, as shown.
const TWO_PLACES: Precision = Precision::Decimals(2);

/// `cell` when its statistic may be published, else suppressed.
fn shown_or_suppressed(shown: bool, cell: Cell) -> Cell {
    if shown { cell } else { Cell::suppressed() }
}

/// A number of days as a reader would say it: "a year", "8 weeks", "30 days".
fn days_in_words(days: i64) -> String {
    match days.abs() {
        365 => "a year".into(),
        730 => "two years".into(),
        d if d > 0 && d % 7 == 0 => format!("{} weeks", d / 7),
        1 => "1 day".into(),
        d => format!("{d} days"),
    }
}

/// A day relative to referral: "60 days before", "30 days after", "the day of referral".
fn relative_to_referral(days: i64) -> String {
    match days {
        0 => "the day of referral".into(),
        d if d < 0 => format!("{} before", days_in_words(d)),
        d => format!("{} after", days_in_words(d)),
    }
}

/// Which questionnaires were paired, from the study's windows, and that the change is
/// uncontrolled.
fn wellbeing_intro(config: &Value) -> Vec<(String, bool)> {
    let window = |key: &str| {
        let days = |i: usize| config[key][i].as_i64();
        days(0).zip(days(1))
    };
    let baseline = match window("baseline_window_days") {
        Some((from, to)) => format!(
            "near referral (from {} to {}, and not after their first meeting with the link worker)",
            relative_to_referral(from),
            relative_to_referral(to)
        ),
        None => "near referral".into(),
    };
    let target = config["followup_target_day"]
        .as_i64()
        .map_or(String::new(), |day| {
            format!(" (the one nearest {} after)", days_in_words(day))
        });
    let followup = match window("followup_window_days") {
        Some((from, to)) => format!(
            "{} to {} after referral{target}",
            days_in_words(from),
            days_in_words(to)
        ),
        None => "later".into(),
    };
    vec![
        (
            format!(
                "Scores from people with a measurement {baseline} and another {followup}. There is no comparison group for wellbeing, so this change is "
            ),
            false,
        ),
        ("uncontrolled".into(), true),
        (".".into(), false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wellbeing_paragraph_states_the_studys_own_pairing_windows() {
        let text = |config: Value| -> String {
            wellbeing_intro(&config)
                .into_iter()
                .map(|(text, _)| text)
                .collect()
        };
        let default = json!({"baseline_window_days": [-60, 30], "followup_window_days": [56, 365], "followup_target_day": 90});
        assert_eq!(
            text(default),
            "Scores from people with a measurement near referral (from 60 days before to 30 days after, and not after their first meeting with the link worker) and another 8 weeks to a year after referral (the one nearest 90 days after). There is no comparison group for wellbeing, so this change is uncontrolled."
        );
        let other = json!({"baseline_window_days": [-14, 0], "followup_window_days": [84, 182], "followup_target_day": 84});
        assert!(text(other).contains("(from 2 weeks before to the day of referral, and not after their first meeting with the link worker) and another 12 weeks to 26 weeks after referral (the one nearest 12 weeks after)"));
    }
}
