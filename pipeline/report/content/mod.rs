//! What the published report says: every table, chart and sentence, built from a finished
//! run's `results.json`, `manifest.json` and `quality/ingest.json` with disclosure control
//! applied. Nothing is re-estimated here; the report only selects, words and formats.
//!
//! Tables are built once (`table`) and rendered three ways (HTML and Markdown as formatted
//! text, CSV tidy and numeric), so the published numbers cannot disagree between formats.
//! Count columns are keyed `*_count` and rendered with class "count", which is how the
//! governance test finds every published count.

use serde_json::{Value, json};

use super::charts::Chart;
use super::disclosure::Disclosure;
use crate::results::{Estimated, Results};
pub use table::Table;

mod cohort;
mod comparison;
mod economics;
mod equity;
mod limitations;
mod methods;
mod practices;
mod quality;
mod service_use;
mod summary;
mod table;
mod verdict;
mod wellbeing;

/// The report: its sections (for the templates), tables and charts.
pub struct Content {
    pub context: Value,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
}

const SOURCE: &str = "Source: sp-impact analysis of GP and hospital extracts";

pub fn build(results: &Results, manifest: &Value, ingest: &Value, rule: Disclosure) -> Content {
    let mut content = Content {
        context: json!({}),
        tables: Vec::new(),
        charts: Vec::new(),
    };
    let study = &results.study;
    let matched = results.cohort.matched.treated();

    let cohort = cohort::cohort_section(results, rule, &mut content);
    let wellbeing = wellbeing::wellbeing_section(results, manifest, rule, &mut content);
    let service_use = service_use::service_use_section(results, rule, matched, &mut content);
    let economics = economics::economics_section(results, rule, &mut content);
    let equity = equity::equity_section(results, rule, &mut content);
    let practices = practices::practices_section(results, rule, &mut content);
    let comparison = comparison::comparison_section(results, rule, &mut content);
    let quality = quality::quality_section(ingest, rule, &mut content);
    let summary = summary::summary(results, rule);
    content.context = json!({
        "title": format!("Impact evaluation: {}", study.name),
        "study": {
            "name": study.name, "start": study.start, "end": study.end,
            "data_end": study.data_end, "pre_months": study.pre_months, "post_months": study.post_months,
        },
        "verdict": verdict::verdicts(results, rule),
        "summary": summary,
        "comparison": comparison,
        "approach": methods::approach(results, manifest, rule),
        "methods": methods::methods(results, manifest, rule),
        "methods_intro": "Every option, model and window this analysis used, for an analyst who wants to check or repeat it.",
        "cohort": cohort,
        "wellbeing": wellbeing,
        "service_use": service_use,
        "economics": economics,
        "equity": equity,
        "practices": practices,
        "quality": quality,
        "limitations": limitations::limitations(results, rule),
        "reproducibility": quality::reproducibility(manifest, rule),
        "disclosure": format!(
            "Counts of 1 to {} are shown as *, other counts are rounded to the nearest {}; means, rates and shares from {} people or fewer are not shown. Totals are rounded from exact figures, so rows may not add up.",
            rule.suppress_at_or_below, rule.round_to, rule.suppress_at_or_below
        ),
    });
    content
}

/// An estimated section of results.json, or what the report's section says instead: the
/// reason it was not estimated (null when the estimates did not run at all).
fn estimated_section<T>(section: &Option<Estimated<T>>) -> Result<&T, Value> {
    match section {
        Some(Estimated::Done(value)) => Ok(value),
        Some(Estimated::Not(reason)) => Err(json!(reason)),
        None => Err(json!({"not_estimated": null})),
    }
}

/// The primary outcome's measure code (study.toml `primary_outcome`, total NHS cost by
/// default), as the service-use results mark it.
fn primary_measure(results: &Results) -> &str {
    results
        .service_use()
        .iter()
        .find(|row| row.is_primary())
        .map_or("total_cost", |row| row.measure.as_str())
}

/// The service-use section's opening paragraph, in parts (text, shown strong), so the HTML and
/// Markdown reports say the same words.
/// A paragraph as parts, some of them emphasised (`strong`): one source for the prose of both
/// the HTML and the Markdown report, each template marking emphasis its own way.
fn parts(parts: &[(String, bool)]) -> Vec<Value> {
    parts
        .iter()
        .map(|(text, strong)| json!({"text": text, "strong": strong}))
        .collect()
}
