//! Data quality (every row read, loaded, set aside or left out, per file) and
//! reproducibility (tool, engine, seed and the inputs' checksums).

use serde_json::{Value, json};

use super::{Content, Table};
use crate::report::disclosure::Disclosure;
use crate::report::format::count;

pub(super) fn quality_section(ingest: &Value, rule: Disclosure, content: &mut Content) -> Value {
    let mut table = Table::new(
        "data_quality",
        "Data quality: rows read, loaded, set aside (quarantined) and not counted per file",
        &[
            ("extract", "Extract", "text"),
            ("file", "File (layout)", "text"),
            ("rows_read_count", "Rows read", "count"),
            ("rows_loaded_count", "Loaded", "count"),
            ("rows_quarantined_count", "Quarantined", "count"),
            ("rows_excluded_count", "Not counted (layout rules)", "count"),
            ("linked_to_patients", "Linked to patients", "text"),
            ("reasons", "Reasons", "text"),
        ],
    );
    for file in ingest["files"].as_array().into_iter().flatten() {
        let listed = |key: &str, prefix: &str| -> Vec<String> {
            file[key]
                .as_object()
                .map(|reasons| {
                    reasons
                        .iter()
                        .map(|(reason, n)| {
                            format!("{prefix}{reason}: {}", rule.count(n.as_u64().unwrap_or(0)))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut reasons = listed("quarantined_by_reason", "");
        reasons.extend(listed("excluded_by_reason", "not counted, "));
        reasons.extend(listed("added_by_reason", "added, "));
        if let Some(combined) = count(&file["rows_combined"]).filter(|n| *n > 0) {
            reasons.push(format!(
                "combined, further items of one questionnaire: {}",
                rule.count(combined)
            ));
        }
        let name = file["file"].as_str().unwrap_or("");
        let source = match file["profile"].as_str() {
            Some(profile) => format!("{name} ({profile})"),
            None => name.to_string(),
        };
        table.rows.push(vec![
            file["extract"].as_str().unwrap_or("").into(),
            source,
            rule.count(count(&file["rows_read"]).unwrap_or(0)),
            rule.count(count(&file["rows_loaded"]).unwrap_or(0)),
            rule.count(count(&file["rows_quarantined"]).unwrap_or(0)),
            rule.count(count(&file["rows_excluded"]).unwrap_or(0)),
            rule.statistic(
                count(&file["rows_loaded"]).unwrap_or(0),
                file["linkage_rate"].as_f64(),
                |rate| format!("{:.1}%", 100.0 * rate),
            ),
            reasons.join("; "),
        ]);
    }
    let reconciled = if ingest["reconciled"].as_bool() == Some(true) {
        ", and the counts reconcile"
    } else {
        ""
    };
    let intro = format!(
        "Every row read was loaded, set aside with its reason, or (in a source layout such as SUS or HES) left out by a stated rule of that layout{reconciled}."
    );
    let section = json!({"intro": intro, "table": table.clone()});
    content.tables.push(table);
    section
}

pub(super) fn reproducibility(manifest: &Value, rule: Disclosure) -> Value {
    let inputs: Vec<Value> = manifest["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|input| {
            json!({
                "file": input["file"],
                "sha256": input["sha256"],
                "rows": rule.count(count(&input["rows_read"]).unwrap_or(0)),
            })
        })
        .collect();
    json!({
        "tool": format!("{} {}", manifest["tool"].as_str().unwrap_or("sp-impact"), manifest["tool_version"].as_str().unwrap_or("")),
        "seed": manifest["seed"],
        "engine": manifest["engine"]["kind"],
        "config": serde_json::to_string_pretty(&manifest["config"]).unwrap_or_default(),
        "note": "The same inputs, configuration and seed give the same results.",
        "inputs": inputs,
    })
}
