//! Practices: the referral rate per 1,000 registered patients of each practice (the GP
//! contract's measure) on a funnel plot with control limits around the overall rate, its
//! acceptance and first contact, and the effect on GP demand and the primary outcome by
//! practice where enough people were matched. Every count and rate under the disclosure rule;
//! rates come from the rounded counts.

use serde_json::{Value, json};

use super::table::{COUNT, Cell, ESTIMATE, NUMBER, Precision, TEXT};
use super::{Content, SOURCE, Table, primary_measure};
use crate::outcomes;
use crate::report::charts::{Chart, Kind, Line, Stroke};
use crate::report::disclosure::Disclosure;
use crate::report::format::sentence_case;
use crate::results::{Estimated, FunnelView, Results, interval as results_interval};

/// The equity breakdown holding the effect by practice (`estimate::BREAKDOWNS`).
pub(super) const PRACTICE_BREAKDOWN: &str = "practice";

/// A level the referral funnel is drawn at: practices always, PCNs with a lookup.
struct Level {
    /// The table column of a unit's code (its results.json key).
    key: &'static str,
    /// Name of the unit in the report, singular and plural.
    one: &'static str,
    many: &'static str,
    /// Chart name prefix (charts/<name>_funnel) and the table (published/tables/<table>.csv).
    name: &'static str,
    table: &'static str,
}

const PRACTICES: Level = Level {
    key: "practice_code",
    one: "practice",
    many: "practices",
    name: "practice",
    table: "practices",
};

const PCNS: Level = Level {
    key: "pcn",
    one: "PCN",
    many: "PCNs",
    name: "pcn",
    table: "pcns",
};

pub(super) fn practices_section(
    results: &Results,
    rule: Disclosure,
    content: &mut Content,
) -> Value {
    let section = match &results.practices {
        Estimated::Done(section) => section,
        Estimated::Not(reason) => return json!(reason),
    };
    let (intro, table) = funnel_view(section, &PRACTICES, rule, content);
    let effects = effects_table(results, rule);
    let mut json = json!({"intro": intro, "table": table.clone(), "effects": effects.clone()});
    content.tables.extend([table, effects]);
    if let Some(Estimated::Done(pcns)) = section.pcns.as_deref() {
        let (intro, table) = funnel_view(pcns, &PCNS, rule, content);
        json["pcns"] = json!({"intro": intro, "table": table.clone()});
        content.tables.push(table);
    }
    json
}

/// One level's referral funnel: the sentence that reads it, the table, and the funnel chart.
fn funnel_view(
    section: &FunnelView,
    level: &Level,
    rule: Disclosure,
    content: &mut Content,
) -> (String, Table) {
    let units = &section.units;
    let by = format!("by {}", level.one);
    let mut table = Table::new(
        level.table,
        &format!("Referrals to social prescribing per 1,000 registered patients, {by}"),
        &[
            (level.key, &sentence_case(level.one), TEXT),
            ("registered_count", "Registered", COUNT),
            ("referred_count", "Referred", COUNT),
            (
                "referrals_per_1000",
                "Referred per 1,000 registered",
                NUMBER.suppressible(),
            ),
            (
                "accepted_percent",
                "Accepted (% of referred)",
                NUMBER.suppressible(),
            ),
            (
                "first_contact_percent",
                "Seen by a link worker (% of referred)",
                NUMBER.suppressible(),
            ),
            ("position", "Against the funnel limits", TEXT),
        ],
    );
    let mut points = Vec::new();
    for unit in units {
        let (registered, referred) = (unit.registered, unit.referred);
        let rate = published_rate(rule, referred, registered);
        if let (Some(rate), Some(shown_registered)) = (rate, rule.rounded(registered)) {
            points.push((shown_registered as f64, rate));
        }
        let code = unit.code();
        let label = match unit.pcn_name.as_deref() {
            Some(name) if name != code => format!("{name} ({code})"),
            _ => code.to_string(),
        };
        table.rows.push(vec![
            Cell::text(label),
            Cell::count(rule, registered),
            Cell::count(rule, referred),
            match rate {
                Some(rate) => {
                    Cell::number(Some(rate), format!("{rate:.1}"), Precision::Decimals(1))
                }
                None if rule.rounded(referred).is_none() => Cell::suppressed(),
                None => Cell::missing("n/a"),
            },
            Cell::percentage(rule, unit.accepted, referred),
            Cell::percentage(rule, unit.first_contact, referred),
            Cell::text(unit.position.as_deref().unwrap_or("n/a")),
        ]);
    }
    let overall = published_rate(rule, section.referred, section.registered);
    if let Some(overall) = overall {
        content
            .charts
            .push(funnel_chart(section, level, points, overall, rule));
    }
    let outside = units
        .iter()
        .filter(|unit| {
            unit.position
                .as_deref()
                .is_some_and(|position| position.ends_with("99.8%"))
        })
        .count();
    let (one, many) = (level.one, level.many);
    let intro = match overall {
        Some(overall) => format!(
            "Across the {} {many}, {overall:.1} people were referred per 1,000 registered patients. Each {one}'s rate is drawn against the spread chance alone would give a {one} of its size (the funnel): a {one} outside the outer (99.8%) limits differs from the overall rate by more than chance explains; one between the inner (95%) and outer limits may, or may be chance. {} Differences in how consistently referrals are coded show here as well as differences in referring.",
            units.len(),
            match outside {
                0 => format!("No {one} is outside the outer limits."),
                1 => format!("One {one} is outside the outer limits."),
                n => format!("{n} {many} are outside the outer limits."),
            },
        ),
        None => "Too few referrals to publish a rate.".into(),
    };
    (intro, table)
}

/// A rate per 1,000 from the published (rounded) counts; None when either is suppressed or
/// nobody is registered.
fn published_rate(rule: Disclosure, referred: u64, registered: u64) -> Option<f64> {
    match (rule.rounded(referred), rule.rounded(registered)) {
        (Some(referred), Some(registered)) if registered > 0 => {
            Some(1000.0 * referred as f64 / registered as f64)
        }
        _ => None,
    }
}

fn funnel_chart(
    section: &FunnelView,
    level: &Level,
    points: Vec<(f64, f64)>,
    overall: f64,
    rule: Disclosure,
) -> Chart {
    let limit = |key: &str| -> Vec<(f64, f64)> {
        section
            .curve
            .iter()
            .filter_map(|point| Some((point.registered as f64, *point.limits.get(key)?)))
            .collect()
    };
    let line = |name: &str, colour: usize, points: Vec<(f64, f64)>, stroke: Stroke| Line {
        name: name.into(),
        colour,
        points,
        band: Vec::new(),
        stroke,
    };
    Chart {
        name: format!("{}_funnel", level.name),
        title: format!(
            "Referrals per 1,000 registered patients by {}, against chance",
            level.one
        ),
        note: format!(
            "{SOURCE}. Dots: {} (rates from counts rounded to {}; 1 to {} referrals: not drawn). Line: the overall rate. Dashed: 95% and 99.8% limits (exact binomial, Spiegelhalter 2005).",
            level.many, rule.round_to, rule.suppress_at_or_below
        ),
        kind: Kind::Lines {
            series: vec![
                line(level.one, 0, points, Stroke::Points),
                line("95% limits", 1, limit("lower_95"), Stroke::Dashed),
                line("", 1, limit("upper_95"), Stroke::Dashed),
                line("99.8% limits", 3, limit("lower_99_8"), Stroke::Dashed),
                line("", 3, limit("upper_99_8"), Stroke::Dashed),
            ],
            x_label: "Registered patients".into(),
            y_label: "Referred per 1,000 registered".into(),
            vertical: Vec::new(),
            horizontal: Some(overall),
            markers: Vec::new(),
            y_range: None,
        },
    }
}

/// The effect by practice: the matched DiD rate ratio for GP demand and the primary outcome,
/// where at least the subgroup minimum of sets was matched within the practice.
fn effects_table(results: &Results, rule: Disclosure) -> Table {
    let primary = primary_measure(results);
    let measures = if primary == "gp_demand" {
        vec!["gp_demand"]
    } else {
        vec!["gp_demand", primary]
    };
    let keys: Vec<(String, String)> = measures
        .iter()
        .map(|measure| {
            (
                format!("{measure}_rate_ratio"),
                format!("{} (95% CI)", outcomes::label(measure)),
            )
        })
        .collect();
    let mut columns = vec![
        ("practice_code", "Practice", TEXT),
        ("matched_sets_count", "Matched sets", COUNT),
    ];
    columns.extend(
        keys.iter()
            .map(|(key, header)| (key.as_str(), header.as_str(), ESTIMATE)),
    );
    let mut table = Table::new(
        "practice_effects",
        "Effect by practice: matched difference-in-differences rate ratio, each referred person compared with people matched within their own practice, where the practice had enough matched sets",
        &columns,
    );
    for row in results
        .service_use_subgroups()
        .iter()
        .filter(|row| row.breakdown == PRACTICE_BREAKDOWN)
    {
        let sets = row.matched_sets;
        let mut cells = vec![Cell::text(row.level.as_str()), Cell::count(rule, sets)];
        for measure in &measures {
            let estimate = row.did(measure);
            let value = estimate.and_then(|estimate| estimate.rate_ratio);
            let ci = estimate.and_then(|estimate| results_interval(estimate.ci95));
            cells.push(match (value, rule.allows_statistic_of(sets)) {
                (Some(value), true) => Cell::estimate(
                    Some(value),
                    ci,
                    format!("{value:.2} ({})", crate::report::format::ci(ci, 2)),
                    Precision::Decimals(2),
                ),
                _ => Cell::missing("not estimated"),
            });
        }
        table.rows.push(cells);
    }
    table
}
