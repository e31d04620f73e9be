//! Limitations generated from what this run found: the design's known bias, design
//! disagreement, undefined bootstrap replicates and more.

use crate::outcomes;
use crate::report::disclosure::Disclosure;
use crate::report::format::percent;
use crate::results::{DesignSensitivity, DesignVerdict, Results};

pub(super) fn limitations(results: &Results, rule: Disclosure) -> Vec<String> {
    let mut lines = Vec::new();
    let designs = results.designs();
    if let Some(headline) = designs.and_then(DesignSensitivity::headline) {
        lines.push(format!(
            "The comparison design: {}",
            headline.design.known_bias
        ));
    }
    if designs.is_some_and(|designs| designs.verdict == DesignVerdict::Disagree) {
        lines.push("The comparison designs disagree (see Service use): which one is right depends on how people came to be referred, and the simulation study in docs/validation.md shows that each design is biased in some plausible worlds.".to_string());
    }
    lines.extend([
        "Matching balances the characteristics recorded in the extracts; people referred may differ in ways the records do not show (for example a crisis not yet visible in GP use), so some regression to the mean may remain.".to_string(),
        "Wellbeing change has no comparison group: people are referred when wellbeing is low, so part of any improvement would have happened anyway.".to_string(),
        "Savings are NHS costs avoided at national average unit costs; freed GP time is capacity, not cash released. Benefits outside the NHS are not counted.".to_string(),
    ]);
    if let Some(unmatched) = results.cohort.matched.unmatched_treated.filter(|n| *n > 0) {
        lines.push(format!(
            "{} eligible referred people had no comparison person within the caliper and are not in the matched estimates.",
            rule.count(unmatched)
        ));
    }
    if let Some(left) = results
        .economics()
        .and_then(|economics| economics.follow_up_days.left_practice_share)
        .filter(|share| *share > 0.0)
    {
        lines.push(format!(
            "The records stop when a person leaves their practice ({} of the referred people by the life table, within the savings' horizon); the savings assume they went on using the NHS at the rate of referred people who stayed, which would not hold if people leave because their needs change.",
            percent(Some(left * 100.0))
        ));
    }
    let undefined = undefined_bootstrap_replicates(results);
    if !undefined.is_empty() {
        lines.push(format!(
            "Some bootstrap replicates were undefined (a resample of matched sets with no exposure in some month or period) and are left out of their intervals: {}.",
            undefined.join(", ")
        ));
    }
    let attrition: Vec<String> = results
        .wellbeing()
        .iter()
        .filter(|row| row.item.is_none() && row.n_baseline > 0)
        .map(|row| {
            format!(
                "{} {} of {}",
                row.instrument,
                rule.count(row.n_pairs),
                rule.count(row.n_baseline)
            )
        })
        .collect();
    if !attrition.is_empty() {
        lines.push(format!(
            "Not everyone with a baseline wellbeing score has a follow-up (people with both: {}); those lost may differ.",
            attrition.join(", ")
        ));
    }
    lines
}

/// "<what>: n of N" for every bootstrap with undefined replicates (results.json counts them).
fn undefined_bootstrap_replicates(results: &Results) -> Vec<String> {
    let economics = results.economics();
    let replicates = economics.map_or(0, |economics| economics.bootstrap.replicates);
    let of = |n: u64| format!("{n} of {replicates}");
    let mut found: Vec<String> = results
        .service_use()
        .iter()
        .filter_map(|row| {
            let n = row
                .did
                .done()?
                .bootstrap_non_finite_replicates
                .filter(|n| *n > 0)?;
            Some(format!(
                "change per person-year of {} {}",
                outcomes::label(&row.measure),
                of(n)
            ))
        })
        .collect();
    if let Some(n) = economics
        .map(|economics| economics.bootstrap.non_finite_replicates as u64)
        .filter(|n| *n > 0)
    {
        found.push(format!("savings {}", of(n)));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::for_tests;
    use serde_json::json;

    #[test]
    fn undefined_bootstrap_replicates_are_named_in_the_limitations() {
        let results = json!({
            "service_use": [
                {"measure": "gp_demand", "did": {"bootstrap_non_finite_replicates": 0}},
                {"measure": "emergency_admissions", "did": {"bootstrap_non_finite_replicates": 3}},
            ],
            "economics": {"bootstrap": {"replicates": 2000, "non_finite_replicates": 1}},
        });
        assert_eq!(
            undefined_bootstrap_replicates(&for_tests(results)),
            [
                "change per person-year of Emergency admissions 3 of 2000",
                "savings 1 of 2000"
            ]
        );
        let clean = json!({"service_use": [], "economics": {"bootstrap": {"replicates": 2000, "non_finite_replicates": 0}}});
        assert!(undefined_bootstrap_replicates(&for_tests(clean)).is_empty());
    }

    #[test]
    fn the_assumption_about_people_who_left_their_practice_is_stated_when_some_left() {
        let with_share = |share: f64| {
            json!({"economics": {"follow_up_days": {
                "registered_and_alive_per_person": 690.0, "alive_per_person": 720.0,
                "left_practice_share": share, "method": ""}}})
        };
        let stated = |share: f64, text: &str| {
            limitations(&for_tests(with_share(share)), Disclosure::new(7, 5))
                .iter()
                .any(|line| line.contains(text))
        };
        assert!(stated(
            0.166,
            "leaves their practice (17% of the referred people"
        ));
        assert!(!stated(0.0, "leaves their practice"));
    }
}
