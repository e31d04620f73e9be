//! Data quality (every row read, loaded, set aside or left out, per file) and
//! reproducibility (tool, engine, seed and the inputs' checksums).

use serde_json::{Value, json};

use super::table::{COUNT, Cell, NUMBER, Precision, TEXT};
use super::{Content, Table};
use crate::report::disclosure::Disclosure;
use crate::report::format::count;

pub(super) fn quality_section(ingest: &Value, rule: Disclosure, content: &mut Content) -> Value {
    let mut table = Table::new(
        "data_quality",
        "Data quality: rows read, loaded, set aside (quarantined) and not counted per file",
        &[
            ("extract", "Extract", TEXT),
            ("file", "File (layout)", TEXT),
            ("rows_read_count", "Rows read", COUNT),
            ("rows_loaded_count", "Loaded", COUNT),
            ("rows_quarantined_count", "Quarantined", COUNT),
            ("rows_excluded_count", "Not counted (layout rules)", COUNT),
            (
                "linked_to_patients_percent",
                "Linked to patients",
                NUMBER.suppressible(),
            ),
            ("reasons", "Reasons", TEXT),
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
        let rows = |key: &str| Cell::count(rule, count(&file[key]).unwrap_or(0));
        let linked = file["linkage_rate"].as_f64().map(|rate| 100.0 * rate);
        table.rows.push(vec![
            Cell::text(file["extract"].as_str().unwrap_or("")),
            Cell::text(source),
            rows("rows_read"),
            rows("rows_loaded"),
            rows("rows_quarantined"),
            rows("rows_excluded"),
            Cell::statistic(
                rule,
                count(&file["rows_loaded"]).unwrap_or(0),
                Cell::number(
                    linked,
                    linked.map_or("n/a".into(), |linked| format!("{linked:.1}%")),
                    Precision::Decimals(1),
                ),
            ),
            Cell::text(reasons.join("; ")),
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
