//! The first page: a verdict on each of the three questions a commissioner asks (did
//! wellbeing improve, did NHS use fall, does it pay for itself within the follow-up), each
//! with its estimate, interval and a strength-of-evidence label that follows the stated rules
//! in `RULES` (docs/methods.md, Verdicts), and the few numbers that matter in large type.
//!
//! An answer is "Yes" or "No" only when the 95% interval excludes no effect; otherwise it
//! says no clear change, with what the study could have detected. So no run claims a
//! reduction, or that the service pays for itself, from an interval that includes neither.

use serde_json::{Value, json};

use super::economics::p_break_even;
use super::service_use::power_sentence;
use crate::measures::HEADLINE_INSTRUMENTS;
use crate::outcomes;
use crate::report::disclosure::Disclosure;
use crate::report::format::{change_words, ci, decimals, gbp, gbp_ci};
use crate::results::{Estimated, PlaceboReading, Results, interval as results_interval};

/// The rules, as the report states them.
pub(super) const RULES: &str = "How strong the evidence is: \"Strong\" when the 95% interval excludes no effect, the comparison designs agree on this measure, the referred and comparison groups followed parallel paths before referral (no pre-trend test of the measures compared across designs with p < 0.05) and, where the look-back allowed it, the design run again at a placebo index date before referral found no bias beyond its margin on those measures; \"Moderate\" when one of those checks fails; \"Weak\" when two or more fail, or when there is no comparison group (wellbeing); \"Inconclusive\" when the interval includes no effect.";

/// A pre-trend test below this p-value counts against parallel paths before referral.
const PRE_TREND_ALPHA: f64 = 0.05;

/// The verdicts and headline numbers of the first page.
pub(super) fn verdicts(results: &Results, rule: Disclosure) -> Value {
    let matched = results.cohort.matched.treated();
    let published = rule.allows_statistic_of(matched);
    let questions = if published {
        vec![
            nhs_use(results),
            wellbeing(results, rule),
            pays_for_itself(results),
        ]
    } else {
        Vec::new()
    };
    json!({
        "questions": questions,
        "numbers": if published { numbers(results) } else { Vec::new() },
        "rules": RULES,
    })
}

/// One question's verdict.
fn verdict(question: &str, answer: &str, detail: String, strength: &str, why: String) -> Value {
    json!({"question": question, "answer": answer, "detail": detail, "strength": strength, "why": why})
}

/// Whether the interval (low, high) of a ratio excludes 1, and which side.
#[derive(Debug, PartialEq)]
enum Side {
    Lower,
    Higher,
    Neither,
}

fn side(low: f64, high: f64, no_effect: f64) -> Side {
    if high < no_effect {
        Side::Lower
    } else if low > no_effect {
        Side::Higher
    } else {
        Side::Neither
    }
}

/// The checks behind a clear result for `measure`: do the designs agree on it, did the
/// groups follow parallel paths before referral, and did the placebo index date (where it
/// ran) find no bias. Returns the label and the reasons.
fn strength(results: &Results, measure: &str) -> (&'static str, String) {
    let sensitivity = results.designs();
    let disagree = sensitivity.is_some_and(|sensitivity| {
        sensitivity
            .disagreements
            .iter()
            .any(|row| row.measure == measure)
    });
    let compared: Vec<&str> = outcomes::MEASURES
        .iter()
        .filter(|m| m.compared_across_designs)
        .map(|m| m.code)
        .collect();
    let failed_pre_trends: Vec<&str> = compared
        .iter()
        .filter(|code| {
            results
                .service_use_row(code)
                .and_then(|row| row.event_study_regression.done()?.pre_trend.as_ref()?.p)
                .is_some_and(|p| p < PRE_TREND_ALPHA)
        })
        .map(|code| outcomes::label(code))
        .collect();
    let placebo_biased: Vec<&str> = sensitivity
        .and_then(|sensitivity| sensitivity.placebo_index.done())
        .map(|placebo| {
            compared
                .iter()
                .filter(|code| {
                    placebo
                        .measures
                        .get(**code)
                        .is_some_and(|measure| measure.reading == Some(PlaceboReading::Bias))
                })
                .map(|code| outcomes::label(code))
                .collect()
        })
        .unwrap_or_default();
    let mut reasons = vec![format!("a {} group", results.design.label)];
    reasons.push(if disagree {
        "the comparison designs disagree on this measure".into()
    } else if sensitivity.is_some() {
        "the comparison designs agree".into()
    } else {
        "no other comparison design was estimated".into()
    });
    reasons.push(if failed_pre_trends.is_empty() {
        "no sign of different paths before referral".into()
    } else {
        format!(
            "the groups' paths differed before referral ({})",
            failed_pre_trends.join(", ")
        )
    });
    if !placebo_biased.is_empty() {
        reasons.push(format!(
            "the design run before referral found a bias beyond its margin ({})",
            placebo_biased.join(", ")
        ));
    }
    let failures = usize::from(disagree || sensitivity.is_none())
        + usize::from(!failed_pre_trends.is_empty())
        + usize::from(!placebo_biased.is_empty());
    let label = match failures {
        0 => "Strong",
        1 => "Moderate",
        _ => "Weak",
    };
    (label, reasons.join("; "))
}

/// Did NHS use fall? The primary outcome's DiD (total NHS cost unless the study named another).
fn nhs_use(results: &Results) -> Value {
    const QUESTION: &str = "Did NHS use fall?";
    let Some(primary) = results.service_use().iter().find(|row| row.is_primary()) else {
        return verdict(
            QUESTION,
            "Cannot tell",
            "Service use was not estimated.".into(),
            "None",
            String::new(),
        );
    };
    let code = primary.measure.as_str();
    let label = outcomes::label(code);
    let did = primary.did.done();
    let (Some(rr), Some((low, high))) = (
        did.and_then(|did| did.rate_ratio),
        did.and_then(|did| results_interval(did.ci95)),
    ) else {
        let reason = primary.did.reason().unwrap_or("not estimated");
        return verdict(
            QUESTION,
            "Cannot tell",
            format!("{label}: {reason}."),
            "None",
            String::new(),
        );
    };
    let detail = format!(
        "{label} (the primary outcome) was {} than expected from the comparison group: rate ratio {rr:.2}, 95% CI {}.",
        change_words(rr),
        ci(Some((low, high)), 2)
    );
    match side(low, high, 1.0) {
        Side::Neither => verdict(
            QUESTION,
            "No clear change",
            detail,
            "Inconclusive",
            did.and_then(|did| power_sentence(&did.minimum_detectable_rate_ratio))
                .unwrap_or_else(|| "The interval includes no change.".into()),
        ),
        clear => {
            let (strength, why) = strength(results, code);
            let answer = if clear == Side::Lower {
                "Yes"
            } else {
                "No: it rose"
            };
            verdict(QUESTION, answer, detail, strength, why)
        }
    }
}

/// Did wellbeing improve? The paired change on WEMWBS (or SWEMWBS): no comparison group, so at
/// best weak evidence that the service caused it. The change beyond regression to the mean
/// towards the population average is stated beside it as a bound, not used for the answer: it
/// over-corrects where referred people's usual wellbeing is below that average.
fn wellbeing(results: &Results, rule: Disclosure) -> Value {
    const QUESTION: &str = "Did wellbeing improve?";
    let row = HEADLINE_INSTRUMENTS.iter().find_map(|instrument| {
        results.wellbeing().iter().find(|row| {
            row.item.is_none() && row.instrument == *instrument && row.mean_change().is_some()
        })
    });
    let Some(row) = row else {
        return verdict(
            QUESTION,
            "Cannot tell",
            format!(
                "No {} scores before and after referral.",
                HEADLINE_INSTRUMENTS.join(" or ")
            ),
            "None",
            String::new(),
        );
    };
    let pairs = row.n_pairs;
    let (Some(change), Some((low, high))) = (row.mean_change(), row.ci95()) else {
        return verdict(
            QUESTION,
            "Cannot tell",
            "Too few scores to estimate a change.".into(),
            "None",
            String::new(),
        );
    };
    if !rule.allows_statistic_of(pairs) {
        return verdict(
            QUESTION,
            "Cannot tell",
            "Too few people with scores before and after to publish a change.".into(),
            "None",
            String::new(),
        );
    }
    let instrument = &row.instrument;
    let mut detail = format!(
        "Among {} people with {instrument} scores before and after, scores changed by {} points on average (95% CI {}).",
        rule.count(pairs),
        decimals(Some(change), 1),
        ci(Some((low, high)), 1)
    );
    if let Some(adjusted) = row.rtm_adjusted.done()
        && let (Some(beyond), Some(range), Some(expected)) = (
            adjusted.change,
            crate::results::interval(adjusted.ci95),
            adjusted.expected_from_regression_to_the_mean,
        )
    {
        let mean = adjusted.population_mean;
        detail.push_str(&format!(
            " If without the service their scores would have drifted back towards the population average ({}), about {} points of that would have happened anyway, leaving {} (95% CI {}); if their low scores are their usual level, less would have.",
            decimals(Some(mean), 1),
            decimals(Some(expected), 1),
            decimals(Some(beyond), 1),
            ci(Some(range), 1)
        ));
    }
    let why = "No comparison group: part of any change may have happened without the service, and people who answered twice may differ from those who did not.".to_string();
    match side(low, high, 0.0) {
        Side::Higher => verdict(QUESTION, "Yes", detail, "Weak", why),
        Side::Lower => verdict(QUESTION, "No: scores fell", detail, "Weak", why),
        Side::Neither => verdict(QUESTION, "No clear change", detail, "Inconclusive", why),
    }
}

/// Does it pay for its cost within the follow-up? The cumulative discounted net saving at
/// the horizon and its bootstrap interval.
fn pays_for_itself(results: &Results) -> Value {
    let economics = results.economics();
    let horizon = economics.map_or(24, |economics| economics.horizon_months);
    let question = format!("Does it pay for its cost within {horizon} months?");
    let last = economics.and_then(|economics| economics.monthly.last());
    let (Some(economics), Some(net), Some((low, high))) = (
        economics,
        last.and_then(|last| last.cumulative_net_per_person),
        last.and_then(|last| last.cumulative_net_ci95)
            .and_then(results_interval),
    ) else {
        let reason = results
            .economics
            .as_ref()
            .and_then(Estimated::reason)
            .unwrap_or("the savings could not be estimated");
        return verdict(
            &question,
            "Cannot tell",
            format!("{reason}."),
            "None",
            String::new(),
        );
    };
    let detail = format!(
        "NHS costs avoided per person referred {} (95% CI {}) against a programme cost of {} per person: a net saving of {} (95% CI {}), so on the central estimate it {}; the probability that it breaks even by month {horizon} is {}.",
        gbp(economics.savings_per_person_24m),
        gbp_ci(economics.savings_ci95.and_then(results_interval)),
        gbp(Some(economics.programme_cost_per_person)),
        gbp(Some(net)),
        gbp_ci(Some((low, high))),
        if net >= 0.0 {
            "saves more than it costs"
        } else {
            "costs more than it saves"
        },
        p_break_even(economics).map_or("n/a".into(), |p| format!("{:.0}%", 100.0 * p)),
    );
    match side(low, high, 0.0) {
        Side::Neither => verdict(
            &question,
            "Uncertain",
            detail,
            "Inconclusive",
            "The interval of the net saving includes zero: the data cannot say whether it pays for itself.".into(),
        ),
        clear => {
            let (strength, why) = strength(results, "total_cost");
            let answer = if clear == Side::Higher { "Yes" } else { "No" };
            verdict(&question, answer, detail, strength, why)
        }
    }
}

/// The three or four numbers in large type: savings, programme cost, the chance of breaking
/// even, and the GP demand change.
fn numbers(results: &Results) -> Vec<Value> {
    let economics = results.economics();
    let horizon = economics.map_or(24, |economics| economics.horizon_months);
    let mut numbers = Vec::new();
    if let Some(economics) = economics
        && let Some(savings) = economics.savings_per_person_24m
    {
        numbers.push(json!({
            "value": gbp(Some(savings)),
            "label": format!("NHS costs avoided per person referred over {horizon} months"),
            "range": format!("95% CI {}", gbp_ci(economics.savings_ci95.and_then(results_interval))),
        }));
    }
    if let Some(cost) = economics
        .map(|economics| economics.programme_cost_per_person)
        .filter(|cost| cost.is_finite())
    {
        numbers.push(json!({
            "value": gbp(Some(cost)),
            "label": "programme cost per person",
            "range": "",
        }));
    }
    if let Some(p) = economics.and_then(p_break_even) {
        numbers.push(json!({
            "value": format!("{:.0}%", 100.0 * p),
            "label": format!("chance it pays for itself by month {horizon}"),
            "range": "",
        }));
    }
    if let Some(did) = results
        .service_use_row("gp_demand")
        .and_then(|row| row.did.done())
        && let (Some(rr), Some(range)) = (did.rate_ratio, results_interval(did.ci95))
    {
        numbers.push(json!({
            "value": change_words(rr),
            "label": "GP demand than expected",
            "range": format!("rate ratio {rr:.2}, 95% CI {}", ci(Some(range), 2)),
        }));
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::for_tests;

    fn results(ci: [f64; 2], net_ci: [f64; 2], disagree: bool, pre_trend_p: f64) -> Value {
        json!({
            "cohort": {"matched_treated": 400},
            "service_use": [
                {"measure": "total_cost", "role": "primary",
                 "did": {"rate_ratio": (ci[0] * ci[1]).sqrt(), "ci95": ci,
                         "minimum_detectable_rate_ratio": {"lower": 0.8, "higher": 1.25}}},
                {"measure": "gp_demand", "role": "secondary",
                 "did": {"rate_ratio": 0.9, "ci95": [0.85, 0.95]},
                 "event_study_regression": {"pre_trend": {"p": pre_trend_p}}},
            ],
            "design_sensitivity": {"designs": [], "disagreements":
                if disagree { json!([{"measure": "total_cost", "designs": ["a", "b"],
                                       "rate_ratios": [0.8, 1.2], "intervals_overlap": false}]) }
                else { json!([]) }},
            "economics": {"horizon_months": 24, "savings_per_person_24m": 500.0,
                          "savings_ci95": [100.0, 900.0], "programme_cost_per_person": 400.0,
                          "p_break_even_by_24m": 0.6,
                          "monthly": [{"cumulative_net_per_person": 100.0, "cumulative_net_ci95": net_ci}]},
            "wellbeing": [{"instrument": "WEMWBS", "item": null, "n_baseline": 90, "n_pairs": 60,
                           "mean_change": 3.0, "ci95": [1.0, 5.0],
                           "rtm_adjusted": {"not_estimated": "not in this test"},
                           "change_histogram": {"bin_width": 2.0, "bins": []},
                           "completers_vs_non_completers": {"not_estimated": "not in this test"}}],
        })
    }

    /// A placebo index date whose GP-demand reading is `reading`.
    fn placebo_index(reading: &str) -> Value {
        json!({"shift_months": 12, "follow_up_months": 12, "matched_treated": 400,
               "equivalence_margin": 1.1, "balance": [], "reads": "",
               "measures": {"gp_demand": {
                   "rate_ratio": {"rate_ratio": 1.2, "ci95": [1.12, 1.3]},
                   "reading": reading}}})
    }

    fn answers(value: &Value) -> Vec<(String, String)> {
        value["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (
                    q["answer"].as_str().unwrap().to_string(),
                    q["strength"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn an_interval_including_no_effect_is_never_a_yes() {
        let rule = Disclosure::new(7, 5);
        let value = verdicts(
            &for_tests(results([0.8, 1.1], [-300.0, 500.0], false, 0.5)),
            rule,
        );
        let found = answers(&value);
        assert_eq!(found[0], ("No clear change".into(), "Inconclusive".into()));
        assert_eq!(found[2], ("Uncertain".into(), "Inconclusive".into()));
        assert!(
            value["questions"][0]["why"]
                .as_str()
                .unwrap()
                .contains("could have detected")
        );
        // Wellbeing has no comparison group: a clear rise is still weak evidence.
        assert_eq!(found[1], ("Yes".into(), "Weak".into()));
        // The change beyond regression to the mean is stated as a bound beside the answer.
        let mut bounded = results([0.8, 1.1], [-300.0, 500.0], false, 0.5);
        bounded["wellbeing"][0]["rtm_adjusted"] = json!({"change": 1.0, "ci95": [-1.0, 3.0],
            "expected_from_regression_to_the_mean": 2.0, "population_mean": 49.4,
            "reliability": 0.83, "reliability_source": "test"});
        let value = verdicts(&for_tests(bounded), rule);
        assert_eq!(answers(&value)[1], ("Yes".into(), "Weak".into()));
        let detail = value["questions"][1]["detail"].as_str().unwrap();
        assert!(detail.contains("about 2.0 points"), "{detail}");
    }

    #[test]
    fn a_clear_result_is_graded_by_design_agreement_pre_trends_and_the_placebo() {
        let rule = Disclosure::new(7, 5);
        let strong = answers(&verdicts(
            &for_tests(results([0.7, 0.9], [50.0, 200.0], false, 0.5)),
            rule,
        ));
        assert_eq!(strong[0], ("Yes".into(), "Strong".into()));
        assert_eq!(strong[2], ("Yes".into(), "Strong".into()));
        let moderate = answers(&verdicts(
            &for_tests(results([0.7, 0.9], [50.0, 200.0], true, 0.5)),
            rule,
        ));
        assert_eq!(moderate[0], ("Yes".into(), "Moderate".into()));
        let weak = answers(&verdicts(
            &for_tests(results([0.7, 0.9], [50.0, 200.0], true, 0.01)),
            rule,
        ));
        assert_eq!(weak[0], ("Yes".into(), "Weak".into()));
        // A placebo index date that finds a bias on a compared measure is a failed check.
        let mut biased = results([0.7, 0.9], [50.0, 200.0], false, 0.5);
        biased["design_sensitivity"]["placebo_index"] = placebo_index("bias");
        let graded = verdicts(&for_tests(biased), rule);
        assert_eq!(answers(&graded)[0], ("Yes".into(), "Moderate".into()));
        let why = graded["questions"][0]["why"].as_str().unwrap();
        assert!(why.contains("bias beyond its margin (GP demand)"), "{why}");
        let mut within = results([0.7, 0.9], [50.0, 200.0], false, 0.5);
        within["design_sensitivity"]["placebo_index"] = placebo_index("within_margin");
        assert_eq!(
            answers(&verdicts(&for_tests(within), rule))[0],
            ("Yes".into(), "Strong".into())
        );
        let rose = answers(&verdicts(
            &for_tests(results([1.1, 1.3], [-900.0, -100.0], false, 0.5)),
            rule,
        ));
        assert_eq!(rose[0].0, "No: it rose");
        assert_eq!(rose[2].0, "No");
    }

    #[test]
    fn a_small_study_publishes_no_verdict() {
        let mut small = results([0.7, 0.9], [50.0, 200.0], false, 0.5);
        small["cohort"]["matched_treated"] = json!(5);
        let value = verdicts(&for_tests(small), Disclosure::new(7, 5));
        assert!(value["questions"].as_array().unwrap().is_empty());
        assert!(value["numbers"].as_array().unwrap().is_empty());
    }
}
