//! How the evaluation worked: in plain words for a commissioner (`approach`), and every
//! option, model and window for the technical appendix (`methods`).

use serde_json::{Value, json};

use super::economics::programme_basis;
use crate::report::disclosure::Disclosure;
use crate::report::format::{float, gbp, sentence_case};
use crate::results::{DesignVerdict, Estimated, Results};

/// How the evaluation worked, in plain words for a commissioner: what was compared with what,
/// and why that matters. Every option behind it is in the technical appendix (`methods`).
pub(super) fn approach(results: &Results, manifest: &Value, rule: Disclosure) -> Vec<String> {
    let config = &manifest["config"];
    let number = |key: &str| config[key].as_i64().unwrap_or(0);
    let (washout, baseline) = (number("washout_months"), number("baseline_months"));
    let mut lines = Vec::new();
    let matched_on = match config["match_on_prior_use"].as_str() {
        Some("none") | None => "age, sex, deprivation, ethnicity and long-term conditions".to_string(),
        Some(_) => "age, sex, deprivation, ethnicity, long-term conditions and their GP demand, A&E attendances and emergency admissions over the year before".to_string(),
    };
    let matched_on = if config["exact_on_prior_use_bands"] == true {
        format!("{matched_on}, and in the same band of GP demand and of any emergency care")
    } else {
        matched_on
    };
    if let Some(matched) = results.cohort.matched.matched_treated {
        lines.push(format!(
            "Each of the {} people referred between {} and {} who could be matched was compared with {}, similar in {matched_on}. Nothing else was matched on, so the groups may still differ in ways the records do not show.",
            rule.count(matched),
            config["start"].as_str().unwrap_or("?"),
            config["end"].as_str().unwrap_or("?"),
            results.design.kind.one_person(),
        ));
    }
    let baseline_window = format!(
        "months {} to {} before referral",
        washout + baseline,
        washout + 1
    );
    lines.push(format!(
        "For each group, NHS use in the {} months after referral is compared with its own use in {baseline_window}; the difference between the two groups' changes (a difference-in-differences) is the estimate of what the service did.{}",
        number("post_months"),
        if washout > 0 {
            format!(" The {washout} months just before referral are left out of that baseline: they are the months in which need rises before a referral, and the months the matching used.")
        } else {
            String::new()
        }
    ));
    lines.push("This matters because people tend to be referred when their need is at a peak, and peaks pass on their own: a simple before-and-after count of the referred group alone mistakes that fall for an effect. That count is shown beside each estimate, for contrast only.".into());
    if let Some(sensitivity) = results.designs() {
        let headline = sensitivity.headline_design.as_str();
        let default = crate::design::Design::default_for(number("pre_months") as i32)
            .map(|design| design.name);
        let chosen = if default == Some(headline) {
            "The design used here is the one that recovered the true effect best across many simulated services with known answers".to_string()
        } else {
            format!(
                "This run used the design set in its configuration ('{headline}'), not the one the simulation study chose for this look-back"
            )
        };
        let agreement = match sensitivity.verdict {
            DesignVerdict::Agree => "here they agree",
            DesignVerdict::Disagree => "here they disagree, so the answer depends on the design",
        };
        lines.push(format!(
            "Which comparison is right depends on how people come to be referred, which no one can know from the records. {chosen}; the results under the other candidate designs are shown with the service-use findings, and {agreement}."
        ));
    }
    lines.push("Wellbeing is compared before and after within the referred group only: there is no comparison group for it.".into());
    if let Some(economics) = results.economics()
        && economics.savings_per_person_24m.is_some()
    {
        lines.push(format!(
            "NHS costs are valued with the {} unit costs at {} prices and discounted at {} a year, against a programme cost of {} per person; the uncertainty in every estimate comes from resampling the matched pairs.",
            economics.unit_costs,
            economics.price_year,
            format_args!("{:.1}%", economics.discount_rate * 100.0),
            gbp(Some(economics.programme_cost_per_person)),
        ));
    }
    lines
}

/// The technical appendix: every option, model and window, grouped by topic, each a label
/// and a sentence (numbers to four significant digits, codes in words).
pub(super) fn methods(results: &Results, manifest: &Value, rule: Disclosure) -> Vec<Value> {
    let config = &manifest["config"];
    let design = vec![(
        "Comparison, windows and dates".to_string(),
        format!(
            "{} cohort with difference-in-differences; {} months before and {} months after each person's referral (index) date; people referred {} to {}, service-use data to {}.",
            sentence_case(&results.design.label),
            config["pre_months"],
            config["post_months"],
            config["start"].as_str().unwrap_or(""),
            config["end"].as_str().unwrap_or(""),
            config["data_end"].as_str().unwrap_or("")
        ),
    )];
    let methods = &results.methods;
    let economics_lines = vec![(
        "Perspective, prices and programme cost".to_string(),
        match (results.economics(), &results.economics) {
            (Some(economics), _) => format!(
                "{}; unit costs '{}' at {} prices{}; discount rate {}; programme cost {} per person ({}); bootstrap over matched sets ({} replicates, seed {}).",
                economics.perspective,
                economics.unit_costs,
                economics.price_year,
                economics
                    .unit_cost_table
                    .uprated_from
                    .as_ref()
                    .map_or(String::new(), |from| format!(
                        " (uprated from {from} by the NHS cost inflation index)"
                    )),
                format_args!("{:.1}%", economics.discount_rate * 100.0),
                gbp(Some(economics.programme_cost_per_person)),
                programme_basis(&economics.programme, rule),
                economics.bootstrap.replicates,
                economics.bootstrap.seed,
            ),
            (None, section) => format!(
                "not estimated: {}.",
                section
                    .as_ref()
                    .and_then(Estimated::reason)
                    .unwrap_or("the estimates did not run")
            ),
        },
    )];
    [
        ("Design", design),
        ("Matching", matching(&methods["matching"])),
        (
            "Service use",
            topic(&methods["service_use"], SERVICE_USE_LABELS),
        ),
        ("Wellbeing", topic(&methods["wellbeing"], WELLBEING_LABELS)),
        ("Economics", economics_lines),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(topic, items)| json!({"topic": topic, "items": items}))
    .collect()
}

/// Readable labels of the matching options (results.json `methods.matching`); the caliper's
/// three keys become one item, and the prior-use setting is said by `service_use_covariates`.
const MATCHING_LABELS: &[(&str, &str)] = &[
    ("algorithm", "Algorithm"),
    ("propensity_model", "Propensity model"),
    ("propensity_fit", "Propensity model fit"),
    ("covariates", "Propensity model covariates"),
    ("omitted_covariates", "Covariates left out of the model"),
    ("service_use_covariates", "Prior NHS use matched on"),
    ("exact", "Matched exactly on"),
    (
        "exact_on_prior_use_bands",
        "Also matched exactly on bands of prior use",
    ),
    ("ratio", "Comparison people per referred person"),
    ("order", "Order of matching"),
    ("balance_convention", "How balance is measured"),
];

const SERVICE_USE_LABELS: &[(&str, &str)] = &[
    ("periods", "Periods (months)"),
    ("baseline", "Baseline"),
    ("follow_up_start", "Start of follow-up"),
    ("weights", "Weights"),
    ("did_model", "Difference-in-differences model"),
    ("did_se", "Standard errors"),
    ("not_estimable", "When no estimate is given"),
    ("change_per_person_year", "Change per person-year"),
    ("bootstrap", "Bootstrap"),
    ("before_after", "Uncontrolled before/after"),
    ("placebo", "Placebo"),
    ("sensitivity", "Sensitivity analysis"),
    ("event_study_ci", "Event-study bands"),
    ("event_study_regression", "Event-study regression"),
    ("multiplicity", "Multiple comparisons"),
    ("subgroups", "Subgroups"),
    ("subgroup_interaction", "Do subgroups differ?"),
];

const WELLBEING_LABELS: &[(&str, &str)] = &[
    ("pairs", "Baseline and follow-up"),
    ("uncontrolled", "No comparison group"),
    ("paired_t", "Paired t-test"),
    ("wilcoxon", "Wilcoxon signed-rank test"),
    ("effect_size", "Effect sizes"),
    ("meaningful_change", "Meaningful change"),
    ("multiplicity", "Multiple comparisons"),
    ("rtm_adjusted", "Change beyond regression to the mean"),
    ("attrition", "Who answered twice"),
    ("ipw_change", "Weighted change (sensitivity)"),
    ("subgroups", "Subgroups"),
];

/// A topic's options in `labels` order, then any option without a label (so a new option is
/// never lost from the appendix), each as (label, plain words).
fn topic(options: &Value, labels: &[(&str, &str)]) -> Vec<(String, String)> {
    let Some(options) = options.as_object() else {
        return Vec::new();
    };
    let mut items: Vec<(String, String)> = labels
        .iter()
        .filter_map(|(key, label)| Some((label.to_string(), plain(options.get(*key)?))))
        .collect();
    items.extend(
        options
            .iter()
            .filter(|(key, _)| !labels.iter().any(|(known, _)| known == key))
            .map(|(key, value)| (sentence_case(&key.replace('_', " ")), plain(value))),
    );
    items
}

/// The matching options: the caliper as one sentence, the rest by `MATCHING_LABELS`.
fn matching(options: &Value) -> Vec<(String, String)> {
    const CALIPER: [&str; 3] = ["caliper_sd", "caliper_scale", "caliper_logit"];
    const SAID_ELSEWHERE: [&str; 1] = ["match_on_prior_use"];
    let Some(object) = options.as_object() else {
        return Vec::new();
    };
    let rest: serde_json::Map<String, Value> = object
        .iter()
        .filter(|(key, _)| {
            !CALIPER.contains(&key.as_str()) && !SAID_ELSEWHERE.contains(&key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut items = topic(&Value::Object(rest), MATCHING_LABELS);
    if let (Some(sd), Some(logit)) = (
        float(&options["caliper_sd"]),
        float(&options["caliper_logit"]),
    ) {
        items.insert(
            items.len().min(3),
            (
                "Caliper".to_string(),
                format!(
                    "{} x the {} = {} on the logit scale",
                    significant(sd),
                    options["caliper_scale"]
                        .as_str()
                        .unwrap_or("SD of the logit score"),
                    significant(logit)
                ),
            ),
        );
    }
    items
}

/// A JSON value as plain words: lists joined by commas, objects as "key value" pairs,
/// numbers to four significant digits, codes (one word with underscores) in words.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) if !text.contains(' ') => words(text),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| format!("{} {}", key.replace('_', " "), plain(value)))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Number(number) => number.as_i64().map_or_else(
            || float(value).map_or("?".into(), significant),
            |n| n.to_string(),
        ),
        other => other.to_string(),
    }
}

/// A code as words: "gp_demand_m3_m1" -> "gp demand in months -3 to -1".
fn words(code: &str) -> String {
    code.replace("_m3_m1", " in months -3 to -1")
        .replace("_m24_m13", " in months -24 to -13")
        .replace("_baseline", " in months -12 to -4")
        .replace('_', " ")
}

/// A number to four significant digits, without trailing zeros.
fn significant(value: f64) -> String {
    let rounded: f64 = format!("{value:.3e}").parse().unwrap_or(value);
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::for_tests;
    use serde_json::json;

    #[test]
    fn the_plain_methods_say_what_was_matched_and_whether_the_designs_agree() {
        let manifest = |prior: &str| {
            json!({"config": {"start": "2022-04-01", "end": "2024-03-31", "pre_months": 24,
                "post_months": 24, "washout_months": 12, "baseline_months": 12,
                "match_on_prior_use": prior}})
        };
        let results = |headline: &str, verdict: &str| {
            json!({"cohort": {"matched_treated": 380},
                   "design_sensitivity": {"headline_design": headline, "verdict": verdict},
                   "economics": {}})
        };
        let rule = Disclosure::new(7, 5);
        let text = approach(
            &for_tests(results("history-older-baseline", "disagree")),
            &manifest("baseline_and_peak"),
            rule,
        )
        .join(" ");
        assert!(text.contains("Each of the 380 people referred between 2022-04-01 and 2024-03-31"));
        assert!(text.contains("emergency admissions over the year before"));
        assert!(text.contains("its own use in months 24 to 13 before referral"));
        assert!(text.contains("The 12 months just before referral are left out"));
        assert!(text.contains("recovered the true effect best"));
        assert!(text.contains("here they disagree, so the answer depends on the design"));
        assert!(
            !text.contains("NHS costs are valued"),
            "no economics, no sentence"
        );
        let configured = approach(
            &for_tests(results("history", "agree")),
            &manifest("none"),
            rule,
        )
        .join(" ");
        assert!(
            configured
                .contains("similar in age, sex, deprivation, ethnicity and long-term conditions.")
        );
        assert!(configured.contains("the design set in its configuration ('history')"));
        assert!(configured.contains("here they agree"));
    }

    #[test]
    fn the_appendix_is_grouped_by_topic_in_words_not_keys() {
        let results = json!({"methods": {
            "matching": {"algorithm": "greedy", "caliper_sd": 0.2,
                         "caliper_scale": "pooled SD of the logit score",
                         "caliper_logit": 0.09647409017645162, "exact": "index_quarter",
                         "match_on_prior_use": "baseline_and_peak",
                         "covariates": ["age", "gp_demand_m3_m1", "gp_demand_baseline"],
                         "ratio": 1},
            "service_use": {"periods": {"post_months": 24}, "a_new_option": "kept"},
        }, "economics": {}});
        let manifest = json!({"config": {"pre_months": 24, "post_months": 24}});
        let groups = methods(&for_tests(results), &manifest, Disclosure::new(7, 5));
        let topics: Vec<&str> = groups
            .iter()
            .map(|g| g["topic"].as_str().unwrap())
            .collect();
        assert_eq!(topics, ["Design", "Matching", "Service use", "Economics"]);
        let matching = groups[1]["items"].to_string();
        assert!(
            matching
                .contains("0.2 x the pooled SD of the logit score = 0.09647 on the logit scale")
        );
        assert!(
            matching.contains("\"Matched exactly on\",\"index quarter\""),
            "{matching}"
        );
        assert!(
            matching.contains("age, gp demand in months -3 to -1, gp demand in months -12 to -4")
        );
        assert!(!matching.contains("baseline_and_peak") && !matching.contains("caliper logit"));
        let service_use = groups[2]["items"].to_string();
        assert!(
            service_use.contains("[\"Periods (months)\",\"post months 24\"]"),
            "{service_use}"
        );
        assert!(service_use.contains("[\"A new option\",\"kept\"]"));
    }
}
