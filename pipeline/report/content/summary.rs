//! The summary for commissioners: the few sentences a reader takes away, each from this
//! run's estimates, with counts disclosure-controlled.

use super::economics::p_break_even;
use super::service_use::power_sentence;
use crate::measures::HEADLINE_INSTRUMENTS;
use crate::outcomes;
use crate::report::disclosure::Disclosure;
use crate::report::format::{change_words, ci, decimals, gbp, gbp_ci, p_value, percent};
use crate::results::{Avoided, Results, interval as results_interval};

pub(super) fn summary(results: &Results, rule: Disclosure) -> Vec<String> {
    let mut lines = Vec::new();
    let cohort = &results.cohort;
    let study = &results.study;
    if let Some(matched) = cohort.matched.matched_treated {
        lines.push(format!(
            "{} people referred between {} and {} were eligible for the evaluation; {} of them were matched to {} {}.",
            rule.count(cohort.eligible_treated),
            study.start,
            study.end,
            rule.count(matched),
            rule.count(cohort.matched.matched_comparison.unwrap_or(0)),
            results.design.kind.who(),
        ));
    }
    if let Some(primary) = results
        .service_use()
        .iter()
        .find(|row| row.is_primary() && row.measure != "gp_demand")
    {
        let label = outcomes::label(&primary.measure);
        if let Some(did) = primary.did.done()
            && let (Some(rr), Some((low, high))) = (did.rate_ratio, results_interval(did.ci95))
        {
            lines.push(format!(
                "The primary outcome ({label}) was {} than expected from the comparison group after referral (rate ratio {:.2}, 95% confidence interval {:.2} to {:.2}).",
                change_words(rr), rr, low, high
            ));
            if low <= 1.0
                && high >= 1.0
                && let Some(sentence) = power_sentence(&did.minimum_detectable_rate_ratio)
            {
                lines.push(sentence);
            }
        }
    }
    if let Some(gp) = results.service_use_row("gp_demand") {
        if let Some(did) = gp.did.done()
            && let (Some(rr), Some((low, high))) = (did.rate_ratio, results_interval(did.ci95))
        {
            let adjusted = did.p_holm.map_or(String::new(), |p| {
                format!(" As one of several secondary measures, its p-value adjusted for testing them all (Holm) is {}.", p_value(Some(p)))
            });
            lines.push(format!(
                "After referral, GP demand was {} than expected from the comparison group (rate ratio {:.2}, 95% confidence interval {:.2} to {:.2}){}.{adjusted}",
                change_words(rr), rr, low, high, avoided_words(did.avoided_per_person.as_ref())
            ));
            if low <= 1.0
                && high >= 1.0
                && let Some(sentence) = power_sentence(&did.minimum_detectable_rate_ratio)
            {
                lines.push(sentence);
            }
        }
        if let (Some(naive), Some(comparison)) = (
            gp.before_after
                .done()
                .and_then(|estimate| estimate.rate_ratio),
            gp.comparison_before_after_rate_ratio,
        ) {
            lines.push(format!(
                "A simple before-and-after count of the referred group alone would have reported GP demand {}: it compares the follow-up with the months just before referral, when need is at a peak that passes on its own (regression to the mean), and counts that fall as an effect. Over the same months the comparison group's use changed too ({}), without any referral.",
                change_words(naive), change_words(comparison)
            ));
        }
    }
    let primary = |instrument: &str| {
        results
            .wellbeing()
            .iter()
            .find(|row| row.item.is_none() && row.instrument == instrument)
    };
    if let Some(wemwbs) = HEADLINE_INSTRUMENTS.into_iter().find_map(primary) {
        let pairs = wemwbs.n_pairs;
        if rule.allows_statistic_of(pairs) {
            lines.push(format!(
                "Among {} people with a {} score before and after, wellbeing changed by {} points on average (95% CI {}); this has no comparison group.",
                rule.count(pairs),
                wemwbs.instrument,
                decimals(wemwbs.mean_change(), 1),
                ci(wemwbs.ci95(), 1)
            ));
        }
    }
    if let Some(economics) = results.economics()
        && let Some(savings) = economics.savings_per_person_24m
    {
        let horizon = economics.horizon_months;
        let break_even = match economics.break_even_month {
            Some(month) => format!("On that estimate the service breaks even in month {month}"),
            None => {
                format!("On that estimate the service does not break even within {horizon} months")
            }
        };
        lines.push(format!(
            "Over {horizon} months the NHS costs avoided are estimated at {} per person referred (95% CI {}), against a programme cost of {} per person: a net {} of {} on the central estimate. {break_even}; the probability that it breaks even by 24 months is {}.",
            gbp(Some(savings)),
            gbp_ci(economics.savings_ci95.and_then(results_interval)),
            gbp(Some(economics.programme_cost_per_person)),
            if economics.net_per_person.unwrap_or(0.0) >= 0.0 { "saving" } else { "cost" },
            gbp(economics.net_per_person.map(f64::abs)),
            percent(p_break_even(economics).map(|p| 100.0 * p)),
        ));
    }
    lines
}

/// ": about 1.8 fewer GP appointments and contacts per person referred over the follow-up
/// (95% CI 0.5 fewer to 3.2 fewer)", from the same model as the rate ratio; empty when not
/// estimated.
fn avoided_words(avoided: Option<&Avoided>) -> String {
    let words = |value: f64| {
        let direction = if value >= 0.0 { "fewer" } else { "more" };
        format!("{:.1} {direction}", value.abs())
    };
    match (
        avoided.and_then(|avoided| avoided.avoided),
        avoided.and_then(|avoided| results_interval(avoided.ci95)),
    ) {
        (Some(value), Some((low, high))) => format!(
            ": about {} GP appointments and contacts per person referred over the follow-up (95% CI {} to {})",
            words(value),
            words(low),
            words(high)
        ),
        _ => String::new(),
    }
}
