//! How the evaluation worked: in plain words for a commissioner (`approach`), and every
//! option, model and window for the technical appendix (`methods`).

use serde_json::Value;

use super::economics::programme_basis;
use crate::report::disclosure::Disclosure;
use crate::report::format::{count, float, gbp};

/// How the evaluation worked, in plain words for a commissioner: what was compared with what,
/// and why that matters. Every option behind it is in the technical appendix (`methods`).
pub(super) fn approach(results: &Value, manifest: &Value, rule: Disclosure) -> Vec<String> {
    let config = &manifest["config"];
    let number = |key: &str| config[key].as_i64().unwrap_or(0);
    let (washout, baseline) = (number("washout_months"), number("baseline_months"));
    let mut lines = Vec::new();
    let matched_on = match config["match_on_prior_use"].as_str() {
        Some("none") | None => "age, sex, deprivation, ethnicity and long-term conditions".to_string(),
        Some(_) => "age, sex, deprivation, ethnicity, long-term conditions and their GP demand, A&E attendances and emergency admissions over the year before".to_string(),
    };
    if let Some(matched) = count(&results["cohort"]["matched_treated"]) {
        lines.push(format!(
            "Each of the {} people referred between {} and {} who could be matched was compared with a person not yet referred on the same date, similar in {matched_on}. Nothing else was matched on, so the groups may still differ in ways the records do not show.",
            rule.count(matched),
            config["start"].as_str().unwrap_or("?"),
            config["end"].as_str().unwrap_or("?"),
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
    let sensitivity = &results["design_sensitivity"];
    if let Some(headline) = sensitivity["headline_design"].as_str() {
        let default = crate::design::Design::default_for(number("pre_months") as i32)
            .map(|design| design.name);
        let chosen = if default == Some(headline) {
            "The design used here is the one that recovered the true effect best across many simulated services with known answers".to_string()
        } else {
            format!(
                "This run used the design set in its configuration ('{headline}'), not the one the simulation study chose for this look-back"
            )
        };
        let agreement = match sensitivity["verdict"].as_str() {
            Some("agree") => "here they agree",
            Some("disagree") => "here they disagree, so the answer depends on the design",
            _ => "they could not all be compared here",
        };
        lines.push(format!(
            "Which comparison is right depends on how people come to be referred, which no one can know from the records. {chosen}; the results under the other candidate designs are shown with the service-use findings, and {agreement}."
        ));
    }
    lines.push("Wellbeing is compared before and after within the referred group only: there is no comparison group for it.".into());
    let economics = &results["economics"];
    if economics["savings_per_person_24m"].is_number() {
        lines.push(format!(
            "NHS costs are valued with the {} unit costs at {} prices and discounted at {} a year, against a programme cost of {} per person; the uncertainty in every estimate comes from resampling the matched pairs.",
            economics["unit_costs"].as_str().unwrap_or("?"),
            economics["price_year"].as_str().unwrap_or("?"),
            float(&economics["discount_rate"]).map_or("?".into(), |r| format!("{:.1}%", r * 100.0)),
            gbp(float(&economics["programme_cost_per_person"])),
        ));
    }
    lines
}

pub(super) fn methods(
    results: &Value,
    manifest: &Value,
    rule: Disclosure,
) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let config = &manifest["config"];
    lines.push(("Design".into(), format!(
        "Matched comparison cohort with difference-in-differences; {} months before and {} months after each person's referral (index) date; people referred {} to {}, service-use data to {}.",
        config["pre_months"], config["post_months"],
        config["start"].as_str().unwrap_or(""), config["end"].as_str().unwrap_or(""), config["data_end"].as_str().unwrap_or("")
    )));
    let flatten = |prefix: &str, value: &Value, lines: &mut Vec<(String, String)>| {
        if let Some(object) = value.as_object() {
            for (key, value) in object {
                lines.push((format!("{prefix}: {}", key.replace('_', " ")), plain(value)));
            }
        }
    };
    flatten("Matching", &results["methods"]["matching"], &mut lines);
    flatten(
        "Service use",
        &results["methods"]["service_use"],
        &mut lines,
    );
    flatten("Wellbeing", &results["methods"]["wellbeing"], &mut lines);
    let economics = &results["economics"];
    lines.push(("Economics".into(), format!(
        "{}; unit costs '{}' at {} prices{}; discount rate {}; programme cost {} per person ({}); bootstrap over matched sets ({} replicates, seed {}).",
        economics["perspective"].as_str().unwrap_or(""),
        economics["unit_costs"].as_str().unwrap_or(""),
        economics["price_year"].as_str().unwrap_or(""),
        economics["unit_cost_table"]["uprated_from"].as_str().map_or(String::new(), |from| format!(" (uprated from {from} by the NHS cost inflation index)")),
        float(&economics["discount_rate"]).map_or("?".into(), |r| format!("{:.1}%", r * 100.0)),
        gbp(float(&economics["programme_cost_per_person"])),
        programme_basis(&economics["programme"], rule),
        economics["bootstrap"]["replicates"], economics["bootstrap"]["seed"],
    )));
    lines
}

/// A JSON value as plain words: lists joined by commas, objects as "key value" pairs.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| format!("{} {}", key.replace('_', " "), plain(value)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            &results("history-older-baseline", "disagree"),
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
        let configured = approach(&results("history", "agree"), &manifest("none"), rule).join(" ");
        assert!(
            configured
                .contains("similar in age, sex, deprivation, ethnicity and long-term conditions.")
        );
        assert!(configured.contains("the design set in its configuration ('history')"));
        assert!(configured.contains("here they agree"));
    }
}
