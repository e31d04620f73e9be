//! Economics: savings, net cost, break-even and return per £1, thresholds, tornado,
//! projections, monthly series and the unit costs used.

use serde_json::{Value, json};

use super::table::{Cell, ESTIMATE, INTERVAL, NUMBER, POUNDS, Precision, TEXT};
use super::{Content, SOURCE, Table, estimated_section};
use crate::econ::programme::{CostDivisor, ProgrammeCost};
use crate::report::charts::{Bar, Chart, Kind, Line, Stroke};
use crate::report::disclosure::Disclosure;
use crate::report::format::{ci, decimals, gbp, gbp_ci, percent, sentence_case};
use crate::results::{Economics, Estimated, PlaneReading, Results, interval};

pub(super) fn economics_section(
    results: &Results,
    rule: Disclosure,
    content: &mut Content,
) -> Value {
    let economics = match estimated_section(&results.economics) {
        Ok(economics) => economics,
        Err(reason) => return reason,
    };
    let mut monthly = Table::new(
        "economics_monthly",
        "Savings per person referred by month (NHS perspective, discounted)",
        &[
            ("month", "Month", NUMBER),
            ("saving_per_person_gbp", "Saving in month", NUMBER),
            (
                "cumulative_net_per_person_gbp",
                "Cumulative net (after programme cost)",
                NUMBER,
            ),
            ("cumulative_net_per_person_gbp_ci", "95% CI", INTERVAL),
        ],
    );
    let mut curve = Line {
        name: "cumulative net saving per person".into(),
        colour: 0,
        points: Vec::new(),
        band: Vec::new(),
        stroke: Stroke::Solid,
    };
    for row in &economics.monthly {
        let month = f64::from(row.month);
        let net = row.cumulative_net_per_person;
        let band = row.cumulative_net_ci95.and_then(interval);
        monthly.rows.push(vec![
            Cell::decimals(Some(month), 0),
            Cell::gbp(row.saving_per_person),
            Cell::gbp(net),
            Cell::interval(band, gbp_ci(band), POUNDS),
        ]);
        if let Some(net) = net {
            curve.points.push((month, net));
        }
        if let Some((low, high)) = band {
            curve.band.push((month, low, high));
        }
    }
    let mut lines = vec![curve];
    let mut projections = Table::new(
        "economics_projections",
        "Scenarios beyond the observed follow-up (assumptions, not estimates)",
        &[
            ("scenario", "Scenario", TEXT),
            ("to_month", "To month", NUMBER),
            ("break_even_month", "Break-even month", NUMBER),
            ("net_per_person_gbp", "Net per person at the end", NUMBER),
        ],
    );
    let observed = economics.horizon_months as f64;
    for (index, scenario) in economics.projections.iter().enumerate() {
        projections.rows.push(vec![
            Cell::text(scenario.scenario.as_str()),
            Cell::decimals(Some(scenario.projected_to_month as f64), 0),
            match scenario.break_even_month {
                Some(month) => Cell::decimals(Some(f64::from(month)), 0),
                None => Cell::missing("not reached"),
            },
            Cell::gbp(scenario.net_per_person_at_end),
        ]);
        let points: Vec<(f64, f64)> = scenario
            .cumulative_net_per_person
            .iter()
            .enumerate()
            .filter_map(|(month, value)| Some((month as f64 + 1.0, (*value)?)))
            .filter(|(month, _)| *month >= observed)
            .collect();
        lines.push(Line {
            name: format!("scenario: {}", scenario.scenario),
            colour: 2 + index,
            points,
            band: Vec::new(),
            stroke: Stroke::Dashed,
        });
    }
    let markers = economics
        .break_even_month
        .map(f64::from)
        .map(|month| vec![(month, 0.0, format!("break-even: month {month}"))])
        .unwrap_or_default();
    content.charts.push(Chart {
        name: "payback_curve".into(),
        title: "Payback: cumulative discounted NHS savings net of programme cost".into(),
        note: format!(
            "{SOURCE}. Per person referred, {} prices, discounted at {:.1}%; band: bootstrap 95% CI. Dashed: scenarios, not estimates.",
            economics.price_year,
            economics.discount_rate * 100.0
        ),
        kind: Kind::Lines {
            series: lines,
            x_label: "Months after referral".into(),
            y_label: "Cumulative net saving per person (£)".into(),
            vertical: vec![(observed, "end of observed follow-up".into())],
            horizontal: Some(0.0),
            markers,
            y_range: None,
        },
    });

    let tornado_data = &economics.tornado;
    let base = tornado_data.base_case.unwrap_or(0.0);
    let mut tornado = Table::new(
        "economics_tornado",
        "One-way sensitivity of the net saving per person",
        &[
            ("parameter", "Parameter", TEXT),
            ("variation", "Varied by", TEXT),
            ("net_at_low_gbp", "Net at low value", NUMBER),
            ("net_at_high_gbp", "Net at high value", NUMBER),
        ],
    );
    let mut bars = Vec::new();
    for bar in &tornado_data.bars {
        let parameter = bar.parameter.clone();
        let (low, high) = (bar.net_at_low, bar.net_at_high);
        tornado.rows.push(vec![
            Cell::text(parameter.clone()),
            Cell::text(bar.variation.as_str()),
            Cell::gbp(low),
            Cell::gbp(high),
        ]);
        if let (Some(low), Some(high)) = (low, high) {
            bars.push(Bar {
                label: parameter,
                start: low.min(high),
                end: low.max(high),
                text: format!(
                    "{} to {}",
                    gbp(Some(low.min(high))),
                    gbp(Some(low.max(high)))
                ),
                colour: 0,
            });
        }
    }
    content.charts.push(Chart {
        name: "tornado".into(),
        title: "Sensitivity: net saving per person when one input changes".into(),
        note: format!("{SOURCE}. Base case {} (vertical line). Unit costs and programme cost ±20%; discount rate 0% to 3.5%; effect at its 95% CI bounds.", gbp(Some(base))),
        kind: Kind::Bars {
            rows: bars,
            x_label: "Net saving per person at the horizon (£)".into(),
            reference: Some(base),
        },
    });

    let mut unit_costs = Table::new(
        "unit_costs",
        "Unit costs used",
        &[
            ("item", "Item", TEXT),
            ("value_gbp", "£", NUMBER),
            ("unit", "Unit", TEXT),
            ("source", "Source", TEXT),
        ],
    );
    for item in &economics.unit_cost_table.items {
        unit_costs.rows.push(vec![
            Cell::text(item.item.replace('_', " ")),
            Cell::decimals(Some(item.value_gbp).filter(|value| value.is_finite()), 2),
            Cell::text(item.unit.as_str()),
            Cell::text(format!("{} ({})", item.source, item.table_reference)),
        ]);
    }
    let mut thresholds = Table::new(
        "break_even_thresholds",
        "What the programme could cost and still pay for itself: thresholds, not predictions",
        &[
            ("months", "Within (months)", NUMBER),
            (
                "cost_per_person_gbp",
                "Programme cost per person at break-even (95% CI)",
                ESTIMATE,
            ),
            (
                "caseload_per_fte",
                "Link-worker caseload per FTE a year at that cost (95% CI)",
                ESTIMATE,
            ),
        ],
    );
    // Link workers support about 200-250 people a year; a caseload past this is not one any
    // service could run, so it is shown as a bound, not a number.
    const FEASIBLE_CASELOAD_UP_TO: f64 = 1000.0;
    let people = |people: f64| {
        if people > FEASIBLE_CASELOAD_UP_TO {
            format!("over {FEASIBLE_CASELOAD_UP_TO:.0}")
        } else {
            format!("{people:.0}")
        }
    };
    let caseload = |value: Option<f64>| value.map_or("none (no saving)".to_string(), people);
    for row in &economics.thresholds.rows {
        let cost = row.cost_per_person;
        let cost_ci = row.cost_ci95.and_then(interval);
        let (caseload_ci, caseload_bounds) = match row.caseload_ci95 {
            Some([low, high]) => {
                let low_text = low.map_or("n/a".to_string(), people);
                let high_text = high.map_or("no upper limit".to_string(), people);
                (format!(" ({low_text} to {high_text})"), [low, high])
            }
            None => (String::new(), [None, None]),
        };
        let caseload_value = row.caseload_per_fte;
        thresholds.rows.push(vec![
            Cell::decimals(Some(f64::from(row.months)), 0),
            Cell::estimate(
                cost,
                cost_ci,
                format!("{} ({})", gbp(cost), gbp_ci(cost_ci)),
                POUNDS,
            ),
            Cell::numbers(
                format!("{}{caseload_ci}", caseload(row.caseload_per_fte)),
                &[caseload_value, caseload_bounds[0], caseload_bounds[1]],
                Precision::Decimals(0),
            ),
        ]);
    }
    let basis = &economics.thresholds.staffing_basis;
    let thresholds_note = Some(format!(
        "Thresholds, not predictions: the NHS costs this study estimates are avoided per person referred, discounted, to each month, are the most the programme could cost per person and still break even by then; the caseload is the number of people a link worker would need to support a year to cost that much ({basis})."
    ));
    if economics.hospital_costing == "record" {
        unit_costs.rows.push(vec![
            Cell::text("hospital events with their own cost"),
            Cell::missing("as recorded"),
            Cell::text("per record"),
            Cell::text("the extract's cost_gbp (e.g. the SUS tariff final price), not uprated; the rows above cost records without one"),
        ]);
    }
    let returns = |month: &str| economics.return_per_pound.get(month).copied().flatten();
    let (share_needed, share_note) = share_needed_table(economics);
    content.charts.extend(two_way_chart(economics));
    let (scales, scales_note) = scales_table(economics);
    let discounting_note = discounting_note(economics);
    let follow_up_note = follow_up_note(economics);
    let psa_note = economics.psa.done().and_then(|psa| {
        let mean = psa.net_mean?;
        Some(format!(
            "Probabilistic sensitivity analysis ({} draws: the bootstrap over matched sets jointly with every cost category's unit costs and the programme cost drawn from Gamma distributions with a {:.0}% coefficient of variation): net saving per person at month {} of {} on average (95% interval {}); the probability that it is positive is {}.",
            crate::report::disclosure::thousands(psa.draws as u64),
            psa.cv * 100.0,
            economics.horizon_months,
            gbp(Some(mean)),
            gbp_ci(psa.net_ci95.and_then(interval)),
            percent(psa.p_net_positive.map(|p| p * 100.0)),
        ))
    });
    let (acceptability, cost_effectiveness_note) = cost_effectiveness(economics, content);
    let section = json!({
        "savings": gbp(economics.savings_per_person_24m),
        "savings_ci": gbp_ci(economics.savings_ci95.and_then(interval)),
        "programme_cost": gbp(Some(economics.programme_cost_per_person)),
        "programme_basis": programme_basis(&economics.programme, rule),
        "net": gbp(economics.net_per_person),
        "horizon": economics.horizon_months,
        "break_even": economics.break_even_month.map_or("not within the horizon".into(), |m| format!("month {m}")),
        "p_break_even": percent(p_break_even(economics).map(|p| p * 100.0)),
        "return_12": decimals(returns("12"), 2),
        "return_18": decimals(returns("18"), 2),
        "return_24": decimals(returns("24"), 2),
        "return_24_ci": ci(economics.return_per_pound_24m_ci95.and_then(interval), 2),
        "price_year": economics.price_year,
        "uprated_from": economics.unit_cost_table.uprated_from,
        "discount_rate": Some(format!("{:.1}%", economics.discount_rate * 100.0)),
        "perspective": economics.perspective,
        "monthly": monthly.clone(),
        "tornado": tornado.clone(),
        "projections": projections.clone(),
        "unit_costs": unit_costs.clone(),
        "thresholds": thresholds.clone(),
        "thresholds_note": thresholds_note,
        "share_needed": share_needed.clone(),
        "share_note": share_note,
        "scales": scales.clone(),
        "scales_note": scales_note,
        "psa_note": psa_note,
        "discounting_note": discounting_note,
        "follow_up_note": follow_up_note,
        "cost_effectiveness_note": cost_effectiveness_note,
        "acceptability": acceptability.clone(),
    });
    content.tables.extend([
        scales,
        monthly,
        tornado,
        projections,
        thresholds,
        share_needed,
        acceptability,
        unit_costs,
    ]);
    section
}

/// The PSA's draws on a cost-effectiveness plane (events of one measure avoided against the
/// incremental cost) and its acceptability curve: two charts, a table of the curve at round
/// values, and a paragraph; or, when it was not estimable, the reason as the paragraph.
fn cost_effectiveness(economics: &Economics, content: &mut Content) -> (Table, Option<String>) {
    let effect = economics
        .psa
        .done()
        .and_then(|psa| psa.cost_effectiveness.done())
        .and_then(|plane| crate::outcomes::by_code(&plane.effect_measure));
    let (label, one) = effect.map_or(("events".to_string(), "event"), |measure| {
        (measure.events(), measure.event)
    });
    let worth = format!("Worth of avoiding one {one}, beyond its NHS cost");
    let mut table = Table::new(
        "economics_acceptability",
        &format!(
            "How likely the service is to be worth its cost, by what avoiding one {one} is worth"
        ),
        &[
            ("willingness_to_pay_gbp", worth.as_str(), NUMBER),
            (
                "p_cost_effective_percent",
                "Probability the service is worth its cost",
                NUMBER,
            ),
        ],
    );
    let Some(psa) = economics.psa.done() else {
        return (table, None);
    };
    let plane = match &psa.cost_effectiveness {
        Estimated::Done(plane) => plane,
        Estimated::Not(reason) => {
            return (
                table,
                Some(format!(
                    "Cost-effectiveness plane: not estimated ({}).",
                    reason.not_estimated
                )),
            );
        }
    };
    let horizon = economics.horizon_months;
    for point in plane.acceptability.iter().step_by(ACCEPTABILITY_ROWS_EVERY) {
        let p = point.p_cost_effective * 100.0;
        table.rows.push(vec![
            Cell::gbp(Some(point.willingness_to_pay)),
            Cell::number(Some(p), percent(Some(p)), Precision::Decimals(1)),
        ]);
    }
    let effect_ci = plane.effect_ci95.and_then(interval);
    let cost_ci = plane.incremental_cost_ci95.and_then(interval);
    let quadrants = &plane.quadrants;
    let share = |fraction: f64| percent(Some(fraction * 100.0));
    let mean_reads = match plane.reading {
        PlaneReading::Dominant => {
            format!("fewer {label} than expected at a lower cost (the service dominates)")
        }
        PlaneReading::CostsMoreAvoidsEvents => format!(
            "fewer {label} than expected at a higher cost: {} per {one} avoided",
            gbp(plane.cost_per_event_avoided)
        ),
        PlaneReading::SavesMoreEvents => format!("more {label} than expected at a lower cost"),
        PlaneReading::Dominated => {
            format!("more {label} than expected at a higher cost (the service is dominated)")
        }
    };
    let signed = |text: String| text.replace('-', "\u{2212}");
    let first = plane.acceptability.first();
    let last = plane.acceptability.last();
    let at = |point: Option<&crate::results::AcceptabilityPoint>| {
        point.map_or("n/a".into(), |point| {
            format!(
                "{} at {}",
                share(point.p_cost_effective),
                gbp(Some(point.willingness_to_pay))
            )
        })
    };
    let note = format!(
        "Cost-effectiveness plane ({} draws of the probabilistic sensitivity analysis, per person referred over {horizon} months, discounted): {} {label} avoided (95% interval {}; negative: more than expected) at an incremental cost of {} ({}; the programme cost less the NHS savings). On average the draws show {mean_reads}. {} of draws avoid {label} at a lower cost, {} avoid them at a higher cost, {} cost less with more {label} and {} cost more with more. The acceptability curve is the probability that the service is worth its cost if avoiding one {one} is worth a given amount to the commissioner beyond its NHS cost (already in the savings): {} (the probability of a net saving) to {}. Wellbeing, what the service is for, is not on this plane: it has no comparison group.",
        crate::report::disclosure::thousands(psa.draws as u64),
        signed(decimals(plane.effect_mean, 3)),
        signed(ci(effect_ci, 3)),
        gbp(plane.incremental_cost_mean),
        gbp_ci(cost_ci),
        share(quadrants.dominant),
        share(quadrants.costs_more_avoids_events),
        share(quadrants.saves_more_events),
        share(quadrants.dominated),
        at(first),
        at(last),
    );
    let cloud = Line {
        name: format!(
            "{} of the {} draws",
            crate::report::disclosure::thousands(plane.plane_draws.len() as u64),
            crate::report::disclosure::thousands(psa.draws as u64)
        ),
        colour: 0,
        points: plane
            .plane_draws
            .iter()
            .map(|[effect, cost]| (*effect, *cost))
            .filter(|(effect, cost)| effect.is_finite() && cost.is_finite())
            .collect(),
        band: Vec::new(),
        stroke: Stroke::Cloud,
    };
    let markers = match (plane.effect_mean, plane.incremental_cost_mean) {
        (Some(effect), Some(cost)) => vec![(effect, cost, "mean".into())],
        _ => Vec::new(),
    };
    content.charts.push(Chart {
        name: "cost_effectiveness_plane".into(),
        title: format!("Cost-effectiveness plane: {label} avoided against the extra cost"),
        note: format!(
            "{SOURCE}. Per person referred over {horizon} months, discounted. Right of the vertical line: fewer {label} than expected; below the horizontal: NHS savings exceed the programme cost."
        ),
        kind: Kind::Lines {
            series: vec![cloud],
            x_label: format!("{} avoided per person", sentence_case(&label)),
            y_label: "Incremental cost per person (£)".into(),
            vertical: vec![(0.0, "none avoided".into())],
            horizontal: Some(0.0),
            markers,
            y_range: None,
        },
    });
    content.charts.push(Chart {
        name: "cost_effectiveness_acceptability".into(),
        title: "Acceptability: how likely the service is to be worth its cost".into(),
        note: format!(
            "{SOURCE}. Share of the {} PSA draws in which what the {label} avoided are worth, less the incremental cost, is positive.",
            crate::report::disclosure::thousands(psa.draws as u64)
        ),
        kind: Kind::Lines {
            series: vec![Line {
                name: String::new(),
                colour: 0,
                points: plane
                    .acceptability
                    .iter()
                    .map(|point| (point.willingness_to_pay, point.p_cost_effective * 100.0))
                    .collect(),
                band: Vec::new(),
                stroke: Stroke::Solid,
            }],
            x_label: format!("Worth of one {one} avoided, beyond its NHS cost (£)"),
            y_label: "Probability worth its cost (%)".into(),
            vertical: Vec::new(),
            horizontal: None,
            markers: Vec::new(),
            y_range: Some((0.0, 100.0)),
        },
    });
    (table, Some(note))
}

/// How many referred people left their practice within the horizon and how the savings
/// count their NHS use after it, in a sentence.
fn follow_up_note(economics: &Economics) -> Option<String> {
    let days = &economics.follow_up_days;
    let (alive, observed) = (
        days.alive_per_person?,
        days.registered_and_alive_per_person?,
    );
    Some(format!(
        "Leaving the practice ends a person's record, not their use of the NHS: by the life table, {} of the referred people left their practice within {} months. The savings count their costs after leaving at the rate of those who stayed (each month's observed days divided by the share still registered), {} days alive per person referred against {} observed; death ends the costs.",
        percent(days.left_practice_share.map(|share| share * 100.0)),
        economics.horizon_months,
        decimals(Some(alive), 0),
        decimals(Some(observed), 0),
    ))
}

/// The net saving at the horizon discounted at each conventional rate, in a sentence.
fn discounting_note(economics: &Economics) -> Option<String> {
    let rates = &economics.tornado.discount_rates;
    (!rates.is_empty()).then(|| {
        let at: Vec<String> = rates
            .iter()
            .map(|row| format!("{} at {}%", gbp(row.net), (row.rate * 1000.0).round() / 10.0))
            .collect();
        format!(
            "Net saving per person at month {} by discount rate: {} (3.5% is NICE's reference case and the Green Book's rate; 1.5% the sensitivity NICE's manual allows).",
            economics.horizon_months,
            at.join(", ")
        )
    })
}

/// The acceptability table shows every this-many points of the curve.
const ACCEPTABILITY_ROWS_EVERY: usize = 5;

/// The saving on the rate ratio's own scale (the headline) and on the additive scale (a
/// sensitivity), each as the cost expected without the service less the cost observed, with
/// a sentence tying it to the total-cost rate ratio.
fn scales_table(economics: &Economics) -> (Table, Option<String>) {
    let scales = &economics.scales;
    let horizon = economics.horizon_months;
    let mut table = Table::new(
        "economics_scales",
        &format!("The saving per person referred over {horizon} months on two scales"),
        &[
            ("scale", "Scale", TEXT),
            (
                "expected_gbp",
                "NHS cost expected without the service",
                NUMBER,
            ),
            ("observed_gbp", "NHS cost observed", NUMBER),
            ("saving_gbp", "Saving", NUMBER),
            (
                "discounted_saving_gbp",
                "Saving, discounted (95% CI)",
                ESTIMATE,
            ),
        ],
    );
    for row in &scales.rows {
        let label = match row.scale.as_str() {
            "ratio" => "Ratio: the comparison group's change as a ratio (headline)",
            "additive" => "Additive: the comparison group's change in pounds (sensitivity)",
            _ => "n/a",
        };
        let discounted = row.discounted_saving_per_person;
        let discounted_ci = row.discounted_ci95.and_then(interval);
        table.rows.push(vec![
            Cell::text(label),
            Cell::gbp(row.expected_cost_per_person),
            Cell::gbp(row.observed_cost_per_person),
            Cell::gbp(row.saving_per_person),
            Cell::estimate(
                discounted,
                discounted_ci,
                format!("{} ({})", gbp(discounted), gbp_ci(discounted_ci)),
                POUNDS,
            ),
        ]);
    }
    let note = scales.total_cost_rate_ratio.map(|ratio| {
        format!(
            "One model, two scales. Over these {horizon} months the referred group's total NHS cost was {} times what the comparison group's change predicts from its own baseline: the total-cost rate ratio of the service-use findings. The headline saving applies that same ratio month by month; the additive scale, which assumes both groups' costs move by the same number of pounds, is a sensitivity, and differs from it where the groups' baselines differ and costs drift over time.",
            decimals(Some(ratio), 2)
        )
    });
    (table, note)
}

/// A share (a fraction) as a percentage with one decimal and a true minus sign, as the
/// pounds have.
fn share(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0).replace('-', "\u{2212}")
}

/// The two-way sensitivity as a picture: programme cost per person against the share of
/// expected NHS costs avoided, with the break-even line (net saving zero; below it the
/// service pays for itself) and this study's estimate at its own cost, with its interval.
fn two_way_chart(economics: &Economics) -> Option<Chart> {
    let needed = economics.share_needed.done()?;
    let expected = needed.expected_cost_per_person?;
    let cost = Some(economics.programme_cost_per_person).filter(|cost| cost.is_finite())?;
    // Shares as fractions (for the note) and on the chart's percent axis.
    let estimated = needed.estimated_share?;
    let (low_share, high_share) = needed
        .estimated_share_ci95
        .and_then(interval)
        .unwrap_or((estimated, estimated));
    let (estimate, low, high) = (estimated * 100.0, low_share * 100.0, high_share * 100.0);
    // The grid's shares, widened to the interval and to the share that breaks even at 1.5
    // times the study's cost.
    let top_share = [30.0, high, 150.0 * cost / expected]
        .into_iter()
        .fold(f64::MIN, f64::max);
    let break_even_cost = |share: f64| expected * share / 100.0;
    let shares: Vec<f64> = (0..=20)
        .map(|step| top_share * step as f64 / 20.0)
        .collect();
    let break_even = Line {
        name: "Break-even: the cost the avoided share pays for (shaded: pays for itself)".into(),
        colour: 0,
        points: shares
            .iter()
            .map(|&share| (share, break_even_cost(share)))
            .collect(),
        band: shares
            .iter()
            .map(|&share| (share, 0.0, break_even_cost(share)))
            .collect(),
        stroke: Stroke::Solid,
    };
    let study = Line {
        name: "This study: estimated share avoided (95% CI) at its cost".into(),
        colour: 1,
        points: vec![(low, cost), (high, cost)],
        band: Vec::new(),
        stroke: Stroke::Solid,
    };
    Some(Chart {
        name: "two_way_cost_and_effect".into(),
        title: "Programme cost against the share of NHS costs avoided".into(),
        note: format!(
            "{SOURCE}. Expected NHS cost per person over {} months without the service: {} (discounted). Below the line it pays for itself; marked: this study, {} ({} to {}) at {}.",
            economics.horizon_months,
            gbp(Some(expected)),
            share(estimated),
            share(low_share),
            share(high_share),
            gbp(Some(cost)),
        ),
        kind: Kind::Lines {
            series: vec![break_even, study],
            x_label: "Share of expected NHS costs avoided (%)".into(),
            y_label: "Programme cost per person (£)".into(),
            vertical: Vec::new(),
            horizontal: Some(0.0),
            markers: vec![(estimate, cost, "this study".into())],
            y_range: None,
        },
    })
}

/// What the service would need to achieve: net saving per person by the share of its
/// clients' expected NHS costs it avoids (rows) and its cost per person (columns), with a
/// sentence setting the study's estimate against the share that breaks even.
fn share_needed_table(economics: &Economics) -> (Table, Option<String>) {
    let needed = economics.share_needed.done();
    let costs: Vec<f64> = needed
        .into_iter()
        .flat_map(|needed| needed.programme_costs.iter().flatten().copied())
        .collect();
    let headers: Vec<(String, String)> = costs
        .iter()
        .map(|cost| {
            (
                format!("net_gbp_at_cost_{cost:.0}"),
                format!("Programme cost {}", gbp(Some(*cost))),
            )
        })
        .collect();
    let mut columns = vec![(
        "share_avoided_percent",
        "Share of expected NHS costs avoided",
        NUMBER,
    )];
    columns.extend(
        headers
            .iter()
            .map(|(key, header)| (key.as_str(), header.as_str(), NUMBER)),
    );
    let horizon = economics.horizon_months;
    let mut table = Table::new(
        "economics_share_needed",
        &format!(
            "What it would need to achieve: net saving per person over {horizon} months by the share of its clients' expected NHS costs it avoids and its cost per person"
        ),
        &columns,
    );
    for row in needed.into_iter().flat_map(|needed| &needed.grid) {
        let share_percent = Some(row.share * 100.0);
        let mut cells = vec![Cell::number(
            share_percent,
            percent(share_percent),
            Precision::Decimals(0),
        )];
        cells.extend(row.net.iter().map(|net| Cell::gbp(*net)));
        table.rows.push(cells);
    }
    let note = needed.and_then(|needed| {
        let expected = needed.expected_cost_per_person?;
        let estimate = needed.estimated_share.map_or("n/a".into(), share);
        let estimate_ci = needed
            .estimated_share_ci95
            .and_then(interval)
            .map_or(String::new(), |(low, high)| {
                format!(" (95% CI {} to {})", share(low), share(high))
            });
        Some(format!(
            "Without the service, a referred person's NHS care over {horizon} months was expected to cost {} (discounted; the referred group's own baseline scaled by the comparison group's change). At {} per person the service pays for itself if it avoids {} of that; this study estimates it avoided {estimate}{estimate_ci}.",
            gbp(Some(expected)),
            gbp(Some(economics.programme_cost_per_person)),
            needed.break_even_share.map_or("n/a".into(), share),
        ))
    });
    (table, note)
}

/// How the programme cost per person was arrived at, in words; a total cost names the
/// people it was divided among as a published count.
pub(super) fn programme_basis(programme: &ProgrammeCost, rule: Disclosure) -> String {
    match programme {
        ProgrammeCost::Total {
            total_gbp,
            divided_by,
            people,
            ..
        } => format!(
            "the service's total cost of {} divided by {} {}",
            gbp(Some(*total_gbp)),
            people.map_or("?".into(), |people| rule.count(people)),
            match divided_by {
                CostDivisor::Referrals => "referrals, declined and repeated ones included",
                CostDivisor::Accepted => "people accepted",
            }
        ),
        ProgrammeCost::PerReferral { .. } => "per referral".into(),
        ProgrammeCost::Staffing { .. } => "staffing".into(),
    }
}

/// The probability that the service breaks even by 24 months, when it was estimated.
pub(super) fn p_break_even(economics: &Economics) -> Option<f64> {
    economics.p_break_even_by_24m.done().copied().flatten()
}
