//! What the published report says: every table, chart and sentence, built from a finished
//! run's `results.json`, `manifest.json` and `quality/ingest.json` with disclosure control
//! applied. Nothing is re-estimated here; the report only selects, words and formats.
//!
//! Tables are built once and rendered three ways (HTML, Markdown, CSV), so the published
//! numbers cannot disagree between formats. Count columns are keyed `*_count` and rendered
//! with class "count", which is how the governance test finds every published count.

use serde::Serialize;
use serde_json::{Value, json};

use super::charts::{Bar, Bin, Chart, DotRow, Kind, Line};
use super::disclosure::Disclosure;
use super::format::{
    change_words, ci, count, decimals, estimate_ratio, float, gbp, gbp_ci, interval, p_value,
    percent, ratio,
};
use crate::outcomes;

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// CSV header (snake_case; counts end in `_count`).
    pub key: String,
    pub header: String,
    /// "count", "number" or "text".
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// CSV file stem under published/tables/.
    pub name: String,
    pub caption: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(name: &str, caption: &str, columns: &[(&str, &str, &'static str)]) -> Table {
        Table {
            name: name.into(),
            caption: caption.into(),
            columns: columns
                .iter()
                .map(|(key, header, kind)| Column {
                    key: (*key).into(),
                    header: (*header).into(),
                    kind,
                })
                .collect(),
            rows: Vec::new(),
        }
    }
}

/// The report: its sections (for the templates), tables and charts.
pub struct Content {
    pub context: Value,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
}

const SOURCE: &str = "Source: sp-impact analysis of GP and hospital extracts";

pub fn build(results: &Value, manifest: &Value, ingest: &Value, rule: Disclosure) -> Content {
    let mut content = Content {
        context: json!({}),
        tables: Vec::new(),
        charts: Vec::new(),
    };
    let study = &results["study"];
    let pre_months = study["pre_months"].as_i64().unwrap_or(12);
    let post_months = study["post_months"].as_i64().unwrap_or(24);
    let matched = count(&results["cohort"]["matched_treated"]).unwrap_or(0);

    let cohort = cohort_section(results, rule, &mut content);
    let wellbeing = wellbeing_section(results, manifest, rule, &mut content);
    let service_use = service_use_section(results, rule, matched, &mut content);
    let economics = economics_section(results, rule, &mut content);
    let equity = equity_section(results, rule, &mut content);
    let quality = quality_section(ingest, rule, &mut content);
    let summary = summary(results, rule);
    content.context = json!({
        "title": format!("Impact evaluation: {}", study["name"].as_str().unwrap_or("social prescribing")),
        "study": {
            "name": study["name"], "start": study["start"], "end": study["end"],
            "data_end": study["data_end"], "pre_months": pre_months, "post_months": post_months,
        },
        "summary": summary,
        "approach": approach(results, manifest, rule),
        "methods": methods(results, manifest, rule),
        "methods_intro": "Every option, model and window this analysis used, for an analyst who wants to check or repeat it.",
        "cohort": cohort,
        "wellbeing": wellbeing,
        "service_use": service_use,
        "economics": economics,
        "equity": equity,
        "quality": quality,
        "limitations": limitations(results, rule),
        "reproducibility": reproducibility(manifest, rule),
        "disclosure": format!(
            "Counts of 1 to {} are shown as *, other counts are rounded to the nearest {}; means, rates and shares from {} people or fewer are not shown. Totals are rounded from exact figures, so rows may not add up.",
            rule.suppress_at_or_below, rule.round_to, rule.suppress_at_or_below
        ),
    });
    content
}

fn summary(results: &Value, rule: Disclosure) -> Vec<String> {
    let mut lines = Vec::new();
    let cohort = &results["cohort"];
    let study = &results["study"];
    if let (Some(eligible), Some(matched)) = (
        count(&cohort["eligible_treated"]),
        count(&cohort["matched_treated"]),
    ) {
        lines.push(format!(
            "{} people referred between {} and {} were eligible for the evaluation; {} of them were matched to {} similar people not yet referred on that date (the comparison group; anyone referred later counts only until their referral).",
            rule.count(eligible),
            study["start"].as_str().unwrap_or("?"),
            study["end"].as_str().unwrap_or("?"),
            rule.count(matched),
            rule.count(count(&cohort["matched_comparison"]).unwrap_or(0)),
        ));
    }
    if let Some(primary) = results["service_use"].as_array().and_then(|rows| {
        rows.iter()
            .find(|row| row["role"] == "primary" && row["measure"] != "gp_demand")
    }) {
        let did = &primary["did"];
        let label = outcomes::label(primary["measure"].as_str().unwrap_or(""));
        if let (Some(rr), Some((low, high))) = (float(&did["rate_ratio"]), interval(&did["ci95"])) {
            lines.push(format!(
                "The primary outcome ({label}) was {} than expected from the comparison group after referral (rate ratio {:.2}, 95% confidence interval {:.2} to {:.2}).",
                change_words(rr), rr, low, high
            ));
        }
    }
    if let Some(gp) = results["service_use"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["measure"] == "gp_demand"))
    {
        let did = &gp["did"];
        if let (Some(rr), Some((low, high))) = (float(&did["rate_ratio"]), interval(&did["ci95"])) {
            let adjusted = float(&did["p_holm"]).map_or(String::new(), |p| {
                format!(" As one of several secondary measures, its p-value adjusted for testing them all (Holm) is {}.", p_value(Some(p)))
            });
            lines.push(format!(
                "After referral, GP demand was {} than expected from the comparison group (rate ratio {:.2}, 95% confidence interval {:.2} to {:.2}).{adjusted}",
                change_words(rr), rr, low, high
            ));
            if low <= 1.0
                && high >= 1.0
                && let Some(sentence) = power_sentence(&did["minimum_detectable_rate_ratio"])
            {
                lines.push(sentence);
            }
        }
        if let (Some(naive), Some(comparison)) = (
            float(&gp["before_after"]["rate_ratio"]),
            float(&gp["comparison_before_after_rate_ratio"]),
        ) {
            lines.push(format!(
                "A simple before-and-after count of the referred group alone would have reported GP demand {}. But the comparison group's own use also changed ({}) without any referral: people are referred at a peak of need, and peaks pass (regression to the mean). The matched comparison removes that part.",
                change_words(naive), change_words(comparison)
            ));
        }
    }
    let primary = |instrument: &str| {
        results["wellbeing"].as_array().and_then(|rows| {
            rows.iter()
                .find(|row| row["item"].is_null() && row["instrument"] == instrument)
        })
    };
    if let Some(wemwbs) = primary("WEMWBS").or_else(|| primary("SWEMWBS")) {
        let pairs = count(&wemwbs["n_pairs"]).unwrap_or(0);
        if rule.allows_statistic_of(pairs) {
            lines.push(format!(
                "Among {} people with a {} score before and after, wellbeing changed by {} points on average (95% CI {}); this has no comparison group.",
                rule.count(pairs),
                wemwbs["instrument"].as_str().unwrap_or(""),
                decimals(float(&wemwbs["mean_change"]), 1),
                ci(interval(&wemwbs["ci95"]), 1)
            ));
        }
    }
    let economics = &results["economics"];
    if let Some(savings) = float(&economics["savings_per_person_24m"]) {
        let horizon = economics["horizon_months"].as_u64().unwrap_or(24);
        let break_even = match economics["break_even_month"].as_u64() {
            Some(month) => format!("The service broke even in month {month}."),
            None => format!("The service did not break even within {horizon} months."),
        };
        lines.push(format!(
            "Over {horizon} months the NHS costs avoided were {} per person referred (95% CI {}), against a programme cost of {} per person: a net {} of {}. {break_even} The probability of breaking even by 24 months is {}.",
            gbp(Some(savings)),
            gbp_ci(interval(&economics["savings_ci95"])),
            gbp(float(&economics["programme_cost_per_person"])),
            if float(&economics["net_per_person"]).unwrap_or(0.0) >= 0.0 { "saving" } else { "cost" },
            gbp(float(&economics["net_per_person"]).map(f64::abs)),
            percent(float(&economics["p_break_even_by_24m"]).map(|p| 100.0 * p)),
        ));
    }
    lines
}

fn cohort_section(results: &Value, rule: Disclosure, content: &mut Content) -> Value {
    let mut flow = Table::new(
        "cohort_flow",
        "Cohort flow",
        &[
            ("step", "Step", "text"),
            ("persons_count", "People", "count"),
        ],
    );
    let mut bars = Vec::new();
    for step in results["cohort"]["flow"].as_array().into_iter().flatten() {
        let label = step["step"].as_str().unwrap_or("").replace('_', " ");
        let persons = count(&step["persons"]).unwrap_or(0);
        flow.rows.push(vec![label.clone(), rule.count(persons)]);
        bars.push(Bar {
            label,
            start: 0.0,
            end: rule.rounded(persons).unwrap_or(0) as f64,
            text: rule.count(persons),
            colour: 0,
        });
    }
    for (step, key) in [
        ("matched treated", "matched_treated"),
        ("matched comparison", "matched_comparison"),
        ("treated not matched", "unmatched_treated"),
    ] {
        if let Some(persons) = count(&results["cohort"][key]) {
            flow.rows.push(vec![step.into(), rule.count(persons)]);
            bars.push(Bar {
                label: step.into(),
                start: 0.0,
                end: rule.rounded(persons).unwrap_or(0) as f64,
                text: rule.count(persons),
                colour: 1,
            });
        }
    }
    // The registered population dwarfs the rest; the chart shows the referral side.
    let bars: Vec<Bar> = bars
        .into_iter()
        .filter(|bar| {
            !bar.label.starts_with("registered")
                && !bar.label.starts_with("comparison")
                && !bar.label.contains("candidates")
                && bar.label != "matched comparison"
        })
        .collect();
    content.charts.push(Chart {
        name: "cohort_flow".into(),
        title: "Cohort flow: from referral to the matched sample".into(),
        note: format!(
            "{SOURCE}. Counts rounded to {}; * = 1 to {}.",
            rule.round_to, rule.suppress_at_or_below
        ),
        kind: Kind::Bars {
            rows: bars,
            x_label: "People".into(),
            reference: None,
        },
    });

    let mut balance = Table::new(
        "balance",
        "Balance of the matched sample (standardised mean differences; target |SMD| < 0.1)",
        &[
            ("covariate", "Covariate", "text"),
            ("smd_before", "SMD before matching", "number"),
            ("smd_after", "SMD after matching", "number"),
            ("variance_ratio_after", "Variance ratio after", "number"),
        ],
    );
    let mut dots = Vec::new();
    for row in results["balance"].as_array().into_iter().flatten() {
        let covariate = row["covariate"].as_str().unwrap_or("").to_string();
        balance.rows.push(vec![
            covariate.clone(),
            decimals(float(&row["smd_before"]), 3),
            decimals(float(&row["smd_after"]), 3),
            decimals(float(&row["variance_ratio_after"]), 2),
        ]);
        dots.push(DotRow {
            label: covariate.replace('_', " "),
            points: vec![
                float(&row["smd_before"]).map(|value| (value, None)),
                float(&row["smd_after"]).map(|value| (value, None)),
            ],
        });
    }
    if !dots.is_empty() {
        content.charts.push(Chart {
            name: "balance_love_plot".into(),
            title: "Covariate balance before and after matching".into(),
            note: format!(
                "{SOURCE}. Standardised mean difference (treated-group SD); lines at ±0.1."
            ),
            kind: Kind::Dots {
                rows: dots,
                series: vec!["before matching".into(), "after matching".into()],
                x_label: "Standardised mean difference".into(),
                references: vec![-0.1, 0.0, 0.1],
            },
        });
    }
    let section = json!({"flow": flow.clone(), "balance": balance.clone()});
    content.tables.extend([flow, balance]);
    section
}

fn wellbeing_section(
    results: &Value,
    manifest: &Value,
    rule: Disclosure,
    content: &mut Content,
) -> Value {
    let mut table = Table::new(
        "wellbeing",
        "Wellbeing change among people with a baseline and a follow-up score (uncontrolled)",
        &[
            ("instrument", "Measure", "text"),
            ("baseline_count", "People with a baseline", "count"),
            ("pairs_count", "People with both", "count"),
            ("mean_baseline", "Mean before", "number"),
            ("mean_followup", "Mean after", "number"),
            ("mean_change", "Mean change", "number"),
            ("ci95", "95% CI", "number"),
            ("p_holm", "p (t, Holm)", "number"),
            ("p_wilcoxon", "p (Wilcoxon)", "number"),
            ("cohens_dz", "Cohen's d_z", "number"),
            ("improved", "Improved meaningfully", "number"),
            ("deteriorated", "Deteriorated meaningfully", "number"),
        ],
    );
    for row in results["wellbeing"].as_array().into_iter().flatten() {
        let name = match row["item"].as_str() {
            Some(item) => format!(
                "{} {}",
                row["instrument"].as_str().unwrap_or(""),
                item.replace('_', " ")
            ),
            None => row["instrument"].as_str().unwrap_or("").to_string(),
        };
        let pairs = count(&row["n_pairs"]).unwrap_or(0);
        let baseline_n = count(&row["n_baseline"]).unwrap_or(0);
        let stat = |key: &str, places: usize| {
            rule.statistic(pairs, float(&row[key]), |value| format!("{value:.places$}"))
        };
        let shown = rule.allows_statistic_of(pairs);
        table.rows.push(vec![
            name.clone(),
            rule.count(baseline_n),
            rule.count(pairs),
            rule.statistic(baseline_n, float(&row["mean_baseline"]), |v| {
                format!("{v:.1}")
            }),
            stat("mean_followup", 1),
            stat("mean_change", 2),
            if shown {
                ci(interval(&row["ci95"]), 2)
            } else {
                "*".into()
            },
            if shown {
                p_value(float(&row["p_t_holm"]))
            } else {
                "*".into()
            },
            if shown {
                format!(
                    "{} ({})",
                    p_value(float(&row["p_wilcoxon"])),
                    row["wilcoxon_method"].as_str().unwrap_or("")
                )
            } else {
                "*".into()
            },
            stat("cohens_dz", 2),
            rule.statistic(pairs, float(&row["pct_improved"]), |v| format!("{v:.0}%")),
            rule.statistic(pairs, float(&row["pct_deteriorated"]), |v| {
                format!("{v:.0}%")
            }),
        ]);
        if !shown || !row["item"].is_null() {
            continue;
        }
        let histogram = &row["change_histogram"];
        let bins: Vec<Bin> = histogram["bins"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|bin| {
                let n = count(&bin["count"]).unwrap_or(0);
                Bin {
                    from: float(&bin["from"]).unwrap_or(0.0),
                    to: float(&bin["to"]).unwrap_or(0.0),
                    height: rule.rounded(n).unwrap_or(0) as f64,
                    text: rule.count(n),
                }
            })
            .collect();
        let mut vertical = vec![(0.0, "no change".to_string())];
        if let Some(threshold) = float(&row["meaningful_change_threshold"]) {
            vertical.push((threshold, format!("+{threshold}")));
            vertical.push((-threshold, format!("−{threshold}")));
        }
        content.charts.push(Chart {
            name: format!("wellbeing_change_{}", name.to_lowercase().replace(' ', "_")),
            title: format!("{name}: change from baseline to follow-up"),
            note: format!(
                "{SOURCE}. People with both scores; counts rounded to {}, * = 1 to {} (drawn at zero). Red lines: meaningful change.",
                rule.round_to,
                rule.suppress_at_or_below
            ),
            kind: Kind::Histogram {
                bins,
                x_label: format!("Change in {name} score (points; follow-up − baseline)"),
                y_label: "People".into(),
                vertical,
            },
        });
    }
    let section =
        json!({"intro": parts(&wellbeing_intro(&manifest["config"])), "table": table.clone()});
    content.tables.push(table);
    section
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

/// A number of days as a reader would say it: "a year", "8 weeks", "30 days".
fn days_in_words(days: i64) -> String {
    match days.abs() {
        365 => "a year".into(),
        730 => "two years".into(),
        d if d > 0 && d % 7 == 0 => format!("{} weeks", d / 7),
        1 => "1 day".into(),
        d => format!("{d} days"),
    }
}

/// A day relative to referral: "60 days before", "30 days after", "the day of referral".
fn relative_to_referral(days: i64) -> String {
    match days {
        0 => "the day of referral".into(),
        d if d < 0 => format!("{} before", days_in_words(d)),
        d => format!("{} after", days_in_words(d)),
    }
}

/// Which questionnaires were paired, from the study's windows, and that the change is
/// uncontrolled.
fn wellbeing_intro(config: &Value) -> Vec<(String, bool)> {
    let window = |key: &str| {
        let days = |i: usize| config[key][i].as_i64();
        days(0).zip(days(1))
    };
    let baseline = match window("baseline_window_days") {
        Some((from, to)) => format!(
            "near referral (from {} to {}, and not after their first meeting with the link worker)",
            relative_to_referral(from),
            relative_to_referral(to)
        ),
        None => "near referral".into(),
    };
    let target = config["followup_target_day"]
        .as_i64()
        .map_or(String::new(), |day| {
            format!(" (the one nearest {} after)", days_in_words(day))
        });
    let followup = match window("followup_window_days") {
        Some((from, to)) => format!(
            "{} to {} after referral{target}",
            days_in_words(from),
            days_in_words(to)
        ),
        None => "later".into(),
    };
    vec![
        (
            format!(
                "Scores from people with a measurement {baseline} and another {followup}. There is no comparison group for wellbeing, so this change is "
            ),
            false,
        ),
        ("uncontrolled".into(), true),
        (".".into(), false),
    ]
}

const SERVICE_USE_INTRO: [(&str, bool); 3] = [
    (
        "The matched difference-in-differences compares the change in the referred group with the change in similar people not yet referred. The before/after ratio of the referred group alone is shown for contrast: it is ",
        false,
    ),
    ("uncontrolled and subject to regression to the mean", true),
    (
        ". The placebo repeats the analysis inside the baseline, the second half against the first, before anyone was referred: a ratio near 1 there means the two groups' use was on parallel paths before referral (it cannot show regression to the mean from the referral peak itself).",
        false,
    ),
];

fn service_use_section(
    results: &Value,
    rule: Disclosure,
    matched: u64,
    content: &mut Content,
) -> Value {
    let Some(rows) = results["service_use"].as_array() else {
        return json!({"not_estimated": results["service_use"]["not_estimated"]});
    };
    let mut table = Table::new(
        "service_use",
        "Service use: matched difference-in-differences beside the uncontrolled before/after",
        &[
            ("measure", "Measure", "text"),
            (
                "before_after_rate_ratio",
                "Before/after ratio (uncontrolled)",
                "number",
            ),
            (
                "comparison_before_after_rate_ratio",
                "Comparison group's own before/after",
                "number",
            ),
            ("did_rate_ratio", "DiD rate ratio", "number"),
            ("did_ci95", "95% CI", "number"),
            ("did_p", "p", "number"),
            ("did_p_holm", "p (Holm, secondary measures)", "number"),
            (
                "did_detectable",
                "Smallest change it could detect (80% power)",
                "text",
            ),
            ("change_per_person_year", "Change per person-year", "number"),
            ("change_ci95", "95% CI (bootstrap)", "number"),
            ("nb2_rate_ratio", "NB2 sensitivity", "number"),
            (
                "placebo_rate_ratio",
                "Placebo within the baseline (95% CI)",
                "number",
            ),
        ],
    );
    let mut forest = Vec::new();
    let mut events = Table::new(
        "event_study",
        "Monthly rates per person-year, treated and comparison",
        &[
            ("measure", "Measure", "text"),
            ("month", "Month from index", "number"),
            ("treated_rate", "Treated", "number"),
            ("comparison_rate", "Comparison", "number"),
        ],
    );
    let rates_allowed = rule.allows_statistic_of(matched);
    let mut event_charts = Vec::new();
    for row in rows {
        let measure = row["measure"].as_str().unwrap_or("");
        let label = outcomes::label(measure).to_string();
        let primary = row["role"] == "primary";
        let did = &row["did"];
        let cost = crate::outcomes::by_code(measure).is_some_and(|measure| measure.is_cost());
        let change = |value: Option<f64>| {
            if cost { gbp(value) } else { decimals(value, 2) }
        };
        table.rows.push(vec![
            if primary {
                format!("{label} (primary outcome)")
            } else {
                label.clone()
            },
            estimate_ratio(&row["before_after"]),
            ratio(float(&row["comparison_before_after_rate_ratio"])),
            estimate_ratio(did),
            ci(interval(&did["ci95"]), 2),
            p_value(float(&did["p"])),
            if primary {
                "not adjusted".into()
            } else {
                p_value(float(&did["p_holm"]))
            },
            detectable(&did["minimum_detectable_rate_ratio"]),
            change(float(&did["change_per_person_year"])),
            interval(&did["change_ci95"]).map_or("n/a".into(), |(low, high)| {
                format!("{} to {}", change(Some(low)), change(Some(high)))
            }),
            ratio(float(&row["did_nb2_sensitivity"]["rate_ratio"])),
            float(&row["placebo_did"]["rate_ratio"]).map_or("n/a".into(), |placebo| {
                format!(
                    "{placebo:.2} ({})",
                    ci(interval(&row["placebo_did"]["ci95"]), 2)
                )
            }),
        ]);
        forest.push(DotRow {
            label: label.clone(),
            points: vec![
                float(&did["rate_ratio"]).map(|value| (value, interval(&did["ci95"]))),
                float(&row["before_after"]["rate_ratio"])
                    .map(|value| (value, interval(&row["before_after"]["ci95"]))),
            ],
        });
        let mut treated = Line {
            name: "referred (treated)".into(),
            colour: 0,
            points: Vec::new(),
            band: Vec::new(),
            dashed: false,
        };
        let mut comparison = Line {
            name: "matched comparison".into(),
            colour: 1,
            points: Vec::new(),
            band: Vec::new(),
            dashed: false,
        };
        for month in row["event_study"].as_array().into_iter().flatten() {
            let m = float(&month["month"]).unwrap_or(0.0);
            let (t, c) = (
                float(&month["treated_rate"]),
                float(&month["comparison_rate"]),
            );
            events.rows.push(vec![
                label.clone(),
                format!("{m}"),
                rule.statistic(matched, t, |v| format!("{v:.3}")),
                rule.statistic(matched, c, |v| format!("{v:.3}")),
            ]);
            if !rates_allowed {
                continue;
            }
            if let Some(t) = t {
                treated.points.push((m, t));
            }
            if let Some(c) = c {
                comparison.points.push((m, c));
            }
            if let Some((low, high)) = interval(&month["treated_ci95"]) {
                treated.band.push((m, low, high));
            }
            if let Some((low, high)) = interval(&month["comparison_ci95"]) {
                comparison.band.push((m, low, high));
            }
        }
        if rates_allowed && !treated.points.is_empty() {
            let unit = if cost {
                "£ per person-year"
            } else {
                "events per person-year"
            };
            event_charts.push(Chart {
                name: format!("event_study_{measure}"),
                title: format!("{label}: monthly rate before and after referral"),
                note: format!("{SOURCE}. Bands: exact Poisson 95% CI (none for cost). Month 0 starts at the referral (index) date."),
                kind: Kind::Lines {
                    series: vec![treated, comparison],
                    x_label: "Month relative to referral".into(),
                    y_label: format!("Rate ({unit})"),
                    vertical: vec![(0.0, "referral".into())],
                    horizontal: None,
                    markers: Vec::new(),
                },
            });
        }
    }
    content.charts.push(Chart {
        name: "forest_rate_ratios".into(),
        title: "Effect on NHS use: matched DiD against the uncontrolled before/after".into(),
        note: format!("{SOURCE}. Rate ratio with 95% CI; 1 = no change. The before/after is biased by regression to the mean."),
        kind: Kind::Dots {
            rows: forest,
            series: vec!["matched difference-in-differences".into(), "uncontrolled before/after".into()],
            x_label: "Rate ratio (after vs before, relative to comparison)".into(),
            references: vec![1.0],
        },
    });
    content.charts.extend(event_charts);
    let (designs, verdict) = design_sensitivity(&results["design_sensitivity"], content);
    let section = json!({
        "intro": parts(&SERVICE_USE_INTRO.map(|(text, strong)| (text.to_string(), strong))),
        "table": table.clone(), "events": events.clone(), "designs": designs, "design_verdict": verdict,
    });
    content.tables.extend([table, events]);
    section
}

/// The rate ratios and saving under every candidate comparison design, the verdict (do the
/// designs agree?) and a forest chart of the ratios by design.
fn design_sensitivity(sensitivity: &Value, content: &mut Content) -> (Value, String) {
    let Some(rows) = sensitivity["designs"].as_array() else {
        return (Value::Null, String::new());
    };
    let mut columns = vec![("design", "Comparison design", "text")];
    let headers: Vec<(String, String)> = outcomes::compared_across_designs()
        .map(|measure| {
            (
                format!("{}_rate_ratio", measure.code),
                format!("{} (95% CI)", measure.label),
            )
        })
        .collect();
    columns.extend(
        headers
            .iter()
            .map(|(key, header)| (key.as_str(), header.as_str(), "number")),
    );
    columns.push((
        "saving_24m",
        "Saving per person, 24 months (95% CI)",
        "number",
    ));
    let mut table = Table::new(
        "design_sensitivity",
        "The estimates under each comparison design",
        &columns,
    );
    let mut forest = Vec::new();
    for row in rows {
        let design = &row["design"];
        let mut label = design["description"].as_str().unwrap_or("").to_string();
        if row["headline"] == true {
            label = format!("{label} (headline)");
        }
        let mut cells = vec![label];
        for measure in outcomes::compared_across_designs() {
            let estimate = &row["rate_ratios"][measure.code];
            cells.push(
                match (float(&estimate["rate_ratio"]), interval(&estimate["ci95"])) {
                    (Some(value), Some((low, high))) => {
                        format!("{value:.2} ({low:.2} to {high:.2})")
                    }
                    _ => estimate_ratio(estimate),
                },
            );
        }
        let saving = &row["saving"];
        cells.push(match float(&saving["savings_per_person"]) {
            Some(value) => format!(
                "{} ({})",
                gbp(Some(value)),
                gbp_ci(interval(&saving["ci95"]))
            ),
            None => "not estimated".into(),
        });
        table.rows.push(cells);
        forest.push(DotRow {
            label: design["name"].as_str().unwrap_or("").to_string(),
            points: outcomes::compared_across_designs()
                .filter(|measure| !measure.is_cost())
                .map(|measure| {
                    let estimate = &row["rate_ratios"][measure.code];
                    float(&estimate["rate_ratio"]).map(|value| (value, interval(&estimate["ci95"])))
                })
                .collect(),
        });
    }
    content.charts.push(Chart {
        name: "forest_designs".into(),
        title: "Does the answer depend on the comparison design?".into(),
        note: format!(
            "{SOURCE}. Rate ratio with 95% CI under each candidate design; 1 = no change."
        ),
        kind: Kind::Dots {
            rows: forest,
            series: outcomes::compared_across_designs()
                .filter(|measure| !measure.is_cost())
                .map(|measure| measure.label.to_string())
                .collect(),
            x_label: "Rate ratio (after vs before, relative to comparison)".into(),
            references: vec![1.0],
        },
    });
    let verdict = if sensitivity["verdict"] == "agree" {
        "The candidate comparison designs agree: no two give rate ratios whose intervals do not overlap or that differ materially beyond their uncertainty.".to_string()
    } else {
        let measures: std::collections::BTreeSet<&str> = sensitivity["disagreements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row["measure"].as_str())
            .map(outcomes::label)
            .collect();
        format!(
            "The candidate comparison designs disagree on {}: which one is right depends on how people came to be referred, which the data cannot tell. The headline design is the one that recovered the truth best across the simulated referral processes of the validation study; read it with the other designs' estimates beside it.",
            measures.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let section = json!(table.clone());
    content.tables.push(table);
    (section, verdict)
}

fn economics_section(results: &Value, rule: Disclosure, content: &mut Content) -> Value {
    let economics = &results["economics"];
    if economics["monthly"].as_array().is_none() {
        return json!({"not_estimated": economics["not_estimated"]});
    }
    let mut monthly = Table::new(
        "economics_monthly",
        "Savings per person referred by month (NHS perspective, discounted)",
        &[
            ("month", "Month", "number"),
            ("saving_per_person_gbp", "Saving in month", "number"),
            (
                "cumulative_net_per_person_gbp",
                "Cumulative net (after programme cost)",
                "number",
            ),
            ("cumulative_net_ci95_gbp", "95% CI", "number"),
        ],
    );
    let mut curve = Line {
        name: "cumulative net saving per person".into(),
        colour: 0,
        points: Vec::new(),
        band: Vec::new(),
        dashed: false,
    };
    for row in economics["monthly"].as_array().into_iter().flatten() {
        let month = float(&row["month"]).unwrap_or(0.0);
        let net = float(&row["cumulative_net_per_person"]);
        monthly.rows.push(vec![
            format!("{month}"),
            gbp(float(&row["saving_per_person"])),
            gbp(net),
            gbp_ci(interval(&row["cumulative_net_ci95"])),
        ]);
        if let Some(net) = net {
            curve.points.push((month, net));
        }
        if let Some((low, high)) = interval(&row["cumulative_net_ci95"]) {
            curve.band.push((month, low, high));
        }
    }
    let mut lines = vec![curve];
    let mut projections = Table::new(
        "economics_projections",
        "Scenarios beyond the observed follow-up (assumptions, not estimates)",
        &[
            ("scenario", "Scenario", "text"),
            ("to_month", "To month", "number"),
            ("break_even_month", "Break-even month", "number"),
            ("net_per_person_gbp", "Net per person at the end", "number"),
        ],
    );
    let observed = economics["horizon_months"].as_f64().unwrap_or(24.0);
    for (index, scenario) in economics["projections"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        projections.rows.push(vec![
            scenario["scenario"].as_str().unwrap_or("").into(),
            scenario["projected_to_month"].to_string(),
            scenario["break_even_month"]
                .as_u64()
                .map_or("not reached".into(), |m| m.to_string()),
            gbp(float(&scenario["net_per_person_at_end"])),
        ]);
        let points: Vec<(f64, f64)> = scenario["cumulative_net_per_person"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(month, value)| Some((month as f64 + 1.0, float(value)?)))
            .filter(|(month, _)| *month >= observed)
            .collect();
        lines.push(Line {
            name: format!("scenario: {}", scenario["scenario"].as_str().unwrap_or("")),
            colour: 2 + index,
            points,
            band: Vec::new(),
            dashed: true,
        });
    }
    let markers = economics["break_even_month"]
        .as_f64()
        .map(|month| vec![(month, 0.0, format!("break-even: month {month}"))])
        .unwrap_or_default();
    content.charts.push(Chart {
        name: "payback_curve".into(),
        title: "Payback: cumulative discounted NHS savings net of programme cost".into(),
        note: format!(
            "{SOURCE}. Per person referred, {} prices, discounted at {}%; band: bootstrap 95% CI. Dashed: scenarios, not estimates.",
            economics["price_year"].as_str().unwrap_or(""),
            float(&economics["discount_rate"]).map_or("?".into(), |r| format!("{:.1}", r * 100.0))
        ),
        kind: Kind::Lines {
            series: lines,
            x_label: "Months after referral".into(),
            y_label: "Cumulative net saving per person (£)".into(),
            vertical: vec![(observed, "end of observed follow-up".into())],
            horizontal: Some(0.0),
            markers,
        },
    });

    let tornado_data = &economics["tornado"];
    let base = float(&tornado_data["base_case"]).unwrap_or(0.0);
    let mut tornado = Table::new(
        "economics_tornado",
        "One-way sensitivity of the net saving per person",
        &[
            ("parameter", "Parameter", "text"),
            ("variation", "Varied by", "text"),
            ("net_at_low_gbp", "Net at low value", "number"),
            ("net_at_high_gbp", "Net at high value", "number"),
        ],
    );
    let mut bars = Vec::new();
    for bar in tornado_data["bars"].as_array().into_iter().flatten() {
        let parameter = bar["parameter"].as_str().unwrap_or("").to_string();
        let (low, high) = (float(&bar["net_at_low"]), float(&bar["net_at_high"]));
        tornado.rows.push(vec![
            parameter.clone(),
            bar["variation"].as_str().unwrap_or("").into(),
            gbp(low),
            gbp(high),
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
            ("item", "Item", "text"),
            ("value_gbp", "£", "number"),
            ("unit", "Unit", "text"),
            ("source", "Source", "text"),
        ],
    );
    for item in economics["unit_cost_table"]["items"]
        .as_array()
        .into_iter()
        .flatten()
    {
        unit_costs.rows.push(vec![
            item["item"].as_str().unwrap_or("").replace('_', " "),
            decimals(float(&item["value_gbp"]), 2),
            item["unit"].as_str().unwrap_or("").into(),
            format!(
                "{} ({})",
                item["source"].as_str().unwrap_or(""),
                item["table_reference"].as_str().unwrap_or("")
            ),
        ]);
    }
    let mut thresholds = Table::new(
        "break_even_thresholds",
        "What the programme could cost and still pay for itself: thresholds, not predictions",
        &[
            ("months", "Within (months)", "text"),
            (
                "cost_per_person",
                "Programme cost per person at break-even (95% CI)",
                "text",
            ),
            (
                "caseload_per_fte",
                "Link-worker caseload per FTE a year at that cost (95% CI)",
                "text",
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
    let caseload = |value: &Value| float(value).map_or("none (no saving)".to_string(), people);
    for row in economics["thresholds"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let cost_ci = gbp_ci(interval(&row["cost_ci95"]));
        let caseload_ci = match row["caseload_ci95"].as_array() {
            Some(bounds) if bounds.len() == 2 => {
                let low = float(&bounds[0]).map_or("n/a".to_string(), people);
                let high = float(&bounds[1]).map_or("no upper limit".to_string(), people);
                format!(" ({low} to {high})")
            }
            _ => String::new(),
        };
        thresholds.rows.push(vec![
            row["months"].to_string(),
            format!("{} ({cost_ci})", gbp(float(&row["cost_per_person"]))),
            format!("{}{caseload_ci}", caseload(&row["caseload_per_fte"])),
        ]);
    }
    let thresholds_note = economics["thresholds"]["staffing_basis"].as_str().map(|basis| {
        format!(
            "Thresholds, not predictions: the NHS costs this study estimates are avoided per person referred, discounted, to each month, are the most the programme could cost per person and still break even by then; the caseload is the number of people a link worker would need to support a year to cost that much ({basis})."
        )
    });
    if economics["hospital_costing"] == "record" {
        unit_costs.rows.push(vec![
            "hospital events with their own cost".into(),
            "as recorded".into(),
            "per record".into(),
            "the extract's cost_gbp (e.g. the SUS tariff final price), not uprated; the rows above cost records without one".into(),
        ]);
    }
    let returns = &economics["return_per_pound"];
    let section = json!({
        "savings": gbp(float(&economics["savings_per_person_24m"])),
        "savings_ci": gbp_ci(interval(&economics["savings_ci95"])),
        "programme_cost": gbp(float(&economics["programme_cost_per_person"])),
        "programme_basis": programme_basis(&economics["programme"], rule),
        "net": gbp(float(&economics["net_per_person"])),
        "horizon": economics["horizon_months"],
        "break_even": economics["break_even_month"].as_u64().map_or("not within the horizon".into(), |m| format!("month {m}")),
        "p_break_even": percent(float(&economics["p_break_even_by_24m"]).map(|p| p * 100.0)),
        "return_12": decimals(float(&returns["12"]), 2),
        "return_18": decimals(float(&returns["18"]), 2),
        "return_24": decimals(float(&returns["24"]), 2),
        "return_24_ci": ci(interval(&economics["return_per_pound_24m_ci95"]), 2),
        "price_year": economics["price_year"],
        "uprated_from": economics["unit_cost_table"]["uprated_from"],
        "discount_rate": float(&economics["discount_rate"]).map(|r| format!("{:.1}%", r * 100.0)),
        "perspective": economics["perspective"],
        "monthly": monthly.clone(),
        "tornado": tornado.clone(),
        "projections": projections.clone(),
        "unit_costs": unit_costs.clone(),
        "thresholds": thresholds.clone(),
        "thresholds_note": thresholds_note,
    });
    content
        .tables
        .extend([monthly, tornado, projections, thresholds, unit_costs]);
    section
}

fn equity_section(results: &Value, rule: Disclosure, content: &mut Content) -> Value {
    let mut subgroups = Table::new(
        "equity_gp_demand",
        "GP demand rate ratio (matched DiD) by subgroup",
        &[
            ("breakdown", "Breakdown", "text"),
            ("level", "Group", "text"),
            ("matched_sets_count", "Matched pairs", "count"),
            ("rate_ratio", "Rate ratio", "number"),
            ("ci95", "95% CI", "number"),
            ("p_bh", "p (Benjamini-Hochberg)", "number"),
        ],
    );
    let mut dots = Vec::new();
    for row in results["equity"]["service_use"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let sets = count(&row["matched_sets"]).unwrap_or(0);
        let gp = row["measures"]
            .as_array()
            .and_then(|measures| measures.iter().find(|m| m["measure"] == "gp_demand"));
        let breakdown = row["breakdown"].as_str().unwrap_or("").replace('_', " ");
        let level = row["level"].as_str().unwrap_or("").replace('_', " ");
        let (rr, interval_value, p_bh) = gp.map_or((None, None, None), |gp| {
            (
                float(&gp["rate_ratio"]),
                interval(&gp["ci95"]),
                float(&gp["p_bh"]),
            )
        });
        let shown = rule.allows_statistic_of(sets) && rr.is_some();
        subgroups.rows.push(vec![
            breakdown.clone(),
            level.clone(),
            rule.count(sets),
            if shown {
                ratio(rr)
            } else {
                "not estimated".into()
            },
            if shown {
                ci(interval_value, 2)
            } else {
                String::new()
            },
            if shown { p_value(p_bh) } else { String::new() },
        ]);
        if shown {
            dots.push(DotRow {
                label: format!("{breakdown}: {level}"),
                points: vec![rr.map(|value| (value, interval_value))],
            });
        }
    }
    if !dots.is_empty() {
        content.charts.push(Chart {
            name: "equity_forest".into(),
            title: "GP demand rate ratio by subgroup (matched DiD)".into(),
            note: format!(
                "{SOURCE}. 95% cluster-robust CI; subgroups under 20 matched pairs not estimated."
            ),
            kind: Kind::Dots {
                rows: dots,
                series: vec!["rate ratio".into()],
                x_label: "Rate ratio (1 = no change)".into(),
                references: vec![1.0],
            },
        });
    }
    let rows = results["equity"]["wellbeing"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let primary = ["WEMWBS", "SWEMWBS"]
        .into_iter()
        .find(|code| rows.iter().any(|row| row["instrument"] == *code))
        .unwrap_or("WEMWBS");
    let mut wellbeing = Table::new(
        "equity_wellbeing",
        &format!("{primary} change by subgroup (uncontrolled)"),
        &[
            ("breakdown", "Breakdown", "text"),
            ("level", "Group", "text"),
            ("pairs_count", "People with both scores", "count"),
            ("mean_change", "Mean change", "number"),
            ("ci95", "95% CI", "number"),
        ],
    );
    for row in rows.iter().filter(|row| row["instrument"] == primary) {
        let pairs = count(&row["n_pairs"]).unwrap_or(0);
        let shown = rule.allows_statistic_of(pairs) && float(&row["mean_change"]).is_some();
        wellbeing.rows.push(vec![
            row["breakdown"].as_str().unwrap_or("").replace('_', " "),
            row["level"].as_str().unwrap_or("").replace('_', " "),
            rule.count(pairs),
            if shown {
                decimals(float(&row["mean_change"]), 2)
            } else {
                "not estimated".into()
            },
            if shown {
                ci(interval(&row["ci95"]), 2)
            } else {
                String::new()
            },
        ]);
    }
    let funnel = &results["funnel"];
    let mut funnel_table = Table::new(
        "funnel",
        "Referral funnel by route",
        &[
            ("route", "Route", "text"),
            ("referred_count", "Referred", "count"),
            ("accepted_count", "Accepted", "count"),
            ("first_contact_count", "First contact", "count"),
            ("completed_count", "Completed", "count"),
            ("declined_count", "Declined", "count"),
            ("completion_share", "Completed (% of referred)", "number"),
        ],
    );
    let stages = [
        "referred",
        "accepted",
        "first_contact",
        "completed",
        "declined",
    ];
    let mut funnel_row = |route: String, row: &Value| {
        let mut cells = vec![route];
        cells.extend(
            stages
                .iter()
                .map(|stage| rule.count(count(&row[*stage]).unwrap_or(0))),
        );
        cells.push(rule.percentage(
            count(&row["completed"]).unwrap_or(0),
            count(&row["referred"]).unwrap_or(0),
        ));
        funnel_table.rows.push(cells);
    };
    for row in funnel["by_route"].as_array().into_iter().flatten() {
        funnel_row(
            row["referral_route"]
                .as_str()
                .unwrap_or("")
                .replace('_', " "),
            row,
        );
    }
    funnel_row("all routes".into(), funnel);
    content.charts.push(Chart {
        name: "referral_funnel".into(),
        title: "Referral funnel".into(),
        note: format!(
            "{SOURCE}. People; counts rounded to {}, * = 1 to {}.",
            rule.round_to, rule.suppress_at_or_below
        ),
        kind: Kind::Bars {
            rows: stages
                .iter()
                .enumerate()
                .map(|(index, stage)| {
                    let n = count(&funnel[*stage]).unwrap_or(0);
                    Bar {
                        label: stage.replace('_', " "),
                        start: 0.0,
                        end: rule.rounded(n).unwrap_or(0) as f64,
                        text: rule.count(n),
                        colour: if index == 4 { 3 } else { 0 },
                    }
                })
                .collect(),
            x_label: "People".into(),
            reference: None,
        },
    });
    let participation = &results["participation"];
    let mut activity = Table::new(
        "participation",
        "Participation in community activities",
        &[
            ("activity_type", "Activity", "text"),
            ("people_count", "People", "count"),
            ("sessions_count", "Sessions", "count"),
        ],
    );
    for row in participation["by_activity_type"]
        .as_array()
        .into_iter()
        .flatten()
    {
        activity.rows.push(vec![
            row["activity_type"]
                .as_str()
                .unwrap_or("")
                .replace('_', " "),
            rule.count(count(&row["people"]).unwrap_or(0)),
            rule.count(count(&row["sessions"]).unwrap_or(0)),
        ]);
    }
    let attended = count(&participation["attended_any"]).unwrap_or(0);
    let interactions = interactions_table(results);
    let section = json!({
        "subgroups": subgroups.clone(),
        "interactions": interactions.clone(),
        "wellbeing": wellbeing.clone(),
        "funnel": funnel_table.clone(),
        "participation": activity.clone(),
        "attended_any": rule.count(attended),
        "with_activity_data": rule.count(count(&participation["referred_with_activity_data"]).unwrap_or(0)),
        "sessions_per_person": rule.statistic(attended, float(&participation["sessions_per_person"]), |v| format!("{v:.1}")),
    });
    content
        .tables
        .extend([subgroups, interactions, wellbeing, funnel_table, activity]);
    section
}

/// Whether the DiD rate ratio differs between a breakdown's groups, for GP demand and the
/// primary outcome: a difference between subgroup estimates is only evidence of a different
/// effect when this joint test says so.
fn interactions_table(results: &Value) -> Table {
    let mut table = Table::new(
        "equity_interactions",
        "Does the effect differ between groups? Joint test that the DiD rate ratio is the same in every group",
        &[
            ("breakdown", "Breakdown", "text"),
            ("measure", "Measure", "text"),
            ("groups", "Groups compared", "number"),
            ("chi2", "Chi-squared (df)", "number"),
            ("p", "p", "number"),
        ],
    );
    let primary = results["service_use"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|row| row["role"] == "primary")
        .and_then(|row| row["measure"].as_str())
        .unwrap_or("total_cost");
    let shown = |measure: &str| measure == "gp_demand" || measure == primary;
    for row in results["equity"]["service_use_interactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row["measure"].as_str().is_some_and(shown))
    {
        let (statistic, p) = match (float(&row["chi2"]), float(&row["p"])) {
            (Some(chi2), p) => (format!("{chi2:.2} ({})", row["df"]), p_value(p)),
            (None, _) => (
                "not tested".into(),
                row["not_estimated"].as_str().unwrap_or("").to_string(),
            ),
        };
        table.rows.push(vec![
            row["breakdown"].as_str().unwrap_or("").replace('_', " "),
            outcomes::label(row["measure"].as_str().unwrap_or("")).to_string(),
            row["levels"].to_string(),
            statistic,
            p,
        ]);
    }
    table
}

/// A rate ratio's minimum detectable change either side of 1, as "12% lower / 14% higher".
fn detectable(mde: &Value) -> String {
    match (float(&mde["lower"]), float(&mde["higher"])) {
        (Some(lower), Some(higher)) => format!(
            "{:.0}% lower / {:.0}% higher",
            100.0 * (1.0 - lower),
            100.0 * (higher - 1.0)
        ),
        _ => "n/a".into(),
    }
}

/// Below this rate ratio, a study that can only detect a change this large (a halving) is
/// described as too small to tell, rather than as evidence of no effect.
const TOO_SMALL_TO_TELL_BELOW: f64 = 0.5;

/// What an interval that includes no change means, given what the study could have seen.
fn power_sentence(mde: &Value) -> Option<String> {
    let (lower, higher) = (float(&mde["lower"])?, float(&mde["higher"])?);
    let down = 100.0 * (1.0 - lower);
    Some(if lower <= TOO_SMALL_TO_TELL_BELOW {
        format!(
            "The interval includes no change, but the study was too small to tell: with 80% power it could only have detected a change of {down:.0}% or more."
        )
    } else {
        format!(
            "The interval includes no change. With 80% power the study could have detected a change of {down:.0}% lower or {:.0}% higher, so no evidence of a change here is not just too few people.",
            100.0 * (higher - 1.0)
        )
    })
}

fn quality_section(ingest: &Value, rule: Disclosure, content: &mut Content) -> Value {
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

/// How the evaluation worked, in plain words for a commissioner: what was compared with what,
/// and why that matters. Every option behind it is in the technical appendix (`methods`).
fn approach(results: &Value, manifest: &Value, rule: Disclosure) -> Vec<String> {
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

/// How the programme cost per person was arrived at, in words; a total cost names the
/// people it was divided among as a published count.
fn programme_basis(programme: &Value, rule: Disclosure) -> String {
    match programme["basis"].as_str() {
        Some("total") => format!(
            "the service's total cost of {} divided by {} {}",
            gbp(float(&programme["total_gbp"])),
            count(&programme["people"]).map_or("?".into(), |people| rule.count(people)),
            match programme["divided_by"].as_str() {
                Some("referrals") => "referrals, declined and repeated ones included",
                _ => "people accepted",
            }
        ),
        Some(basis) => basis.replace('_', " "),
        None => String::new(),
    }
}

fn methods(results: &Value, manifest: &Value, rule: Disclosure) -> Vec<(String, String)> {
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

fn limitations(results: &Value, rule: Disclosure) -> Vec<String> {
    let mut lines = Vec::new();
    let headline = results["design_sensitivity"]["designs"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["headline"] == true));
    if let Some(bias) = headline.and_then(|row| row["design"]["known_bias"].as_str()) {
        lines.push(format!("The comparison design: {bias}"));
    }
    if results["design_sensitivity"]["verdict"] == "disagree" {
        lines.push("The comparison designs disagree (see Service use): which one is right depends on how people came to be referred, and the simulation study in docs/validation.md shows that each design is biased in some plausible worlds.".to_string());
    }
    lines.extend([
        "Matching balances the characteristics recorded in the extracts; people referred may differ in ways the records do not show (for example a crisis not yet visible in GP use), so some regression to the mean may remain.".to_string(),
        "Wellbeing change has no comparison group: people are referred when wellbeing is low, so part of any improvement would have happened anyway.".to_string(),
        "Savings are NHS costs avoided at national average unit costs; freed GP time is capacity, not cash released. Benefits outside the NHS are not counted.".to_string(),
    ]);
    if let Some(unmatched) = count(&results["cohort"]["unmatched_treated"]).filter(|n| *n > 0) {
        lines.push(format!(
            "{} eligible referred people had no comparison person within the caliper and are not in the matched estimates.",
            rule.count(unmatched)
        ));
    }
    let undefined = undefined_bootstrap_replicates(results);
    if !undefined.is_empty() {
        lines.push(format!(
            "Some bootstrap replicates were undefined (a resample of matched sets with no exposure in some month or period) and are left out of their intervals: {}.",
            undefined.join(", ")
        ));
    }
    if let Some(rows) = results["wellbeing"].as_array() {
        let attrition: Vec<String> = rows
            .iter()
            .filter(|row| row["item"].is_null())
            .filter_map(|row| {
                let baseline = count(&row["n_baseline"])?;
                let pairs = count(&row["n_pairs"])?;
                (baseline > 0).then(|| {
                    format!(
                        "{} {} of {}",
                        row["instrument"].as_str().unwrap_or(""),
                        rule.count(pairs),
                        rule.count(baseline)
                    )
                })
            })
            .collect();
        if !attrition.is_empty() {
            lines.push(format!(
                "Not everyone with a baseline wellbeing score has a follow-up (people with both: {}); those lost may differ.",
                attrition.join(", ")
            ));
        }
    }
    lines
}

/// "<what>: n of N" for every bootstrap with undefined replicates (results.json counts them).
fn undefined_bootstrap_replicates(results: &Value) -> Vec<String> {
    let replicates = &results["economics"]["bootstrap"]["replicates"];
    let of = |n: u64| format!("{n} of {}", count(replicates).unwrap_or(0));
    let mut found: Vec<String> = results["service_use"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let n = count(&row["did"]["bootstrap_non_finite_replicates"]).filter(|n| *n > 0)?;
            Some(format!(
                "change per person-year of {} {}",
                outcomes::label(row["measure"].as_str().unwrap_or("")),
                of(n)
            ))
        })
        .collect();
    if let Some(n) =
        count(&results["economics"]["bootstrap"]["non_finite_replicates"]).filter(|n| *n > 0)
    {
        found.push(format!("savings {}", of(n)));
    }
    found
}

fn reproducibility(manifest: &Value, rule: Disclosure) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_wellbeing_paragraph_states_the_studys_own_pairing_windows() {
        let text = |config: Value| -> String {
            wellbeing_intro(&config)
                .into_iter()
                .map(|(text, _)| text)
                .collect()
        };
        let default = json!({"baseline_window_days": [-60, 30], "followup_window_days": [56, 365], "followup_target_day": 90});
        assert_eq!(
            text(default),
            "Scores from people with a measurement near referral (from 60 days before to 30 days after, and not after their first meeting with the link worker) and another 8 weeks to a year after referral (the one nearest 90 days after). There is no comparison group for wellbeing, so this change is uncontrolled."
        );
        let other = json!({"baseline_window_days": [-14, 0], "followup_window_days": [84, 182], "followup_target_day": 84});
        assert!(text(other).contains("(from 2 weeks before to the day of referral, and not after their first meeting with the link worker) and another 12 weeks to 26 weeks after referral (the one nearest 12 weeks after)"));
    }

    #[test]
    fn an_interval_including_no_change_is_read_with_the_studys_power() {
        let small = json!({"lower": 0.4, "higher": 2.5});
        assert!(power_sentence(&small).unwrap().contains(
            "too small to tell: with 80% power it could only have detected a change of 60% or more"
        ));
        let large = json!({"lower": 0.9, "higher": 1.11});
        assert!(
            power_sentence(&large)
                .unwrap()
                .contains("could have detected a change of 10% lower or 11% higher")
        );
        assert_eq!(detectable(&large), "10% lower / 11% higher");
        assert_eq!(power_sentence(&Value::Null), None);
        assert_eq!(detectable(&Value::Null), "n/a");
    }

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
            undefined_bootstrap_replicates(&results),
            [
                "change per person-year of Emergency admissions 3 of 2000",
                "savings 1 of 2000"
            ]
        );
        let clean = json!({"service_use": [], "economics": {"bootstrap": {"replicates": 2000, "non_finite_replicates": 0}}});
        assert!(undefined_bootstrap_replicates(&clean).is_empty());
    }
}
