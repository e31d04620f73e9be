//! Wellbeing change per instrument and ONS4 item (docs/methods.md, Wellbeing), from `wellbeing_pairs`:
//! attrition (people with a baseline vs with a pair), baseline of completers vs
//! non-completers (Welch t), paired mean change with 95% t CI, paired t, Wilcoxon signed-rank
//! (exact conditional up to 50 non-zero pairs, else normal with tie and continuity
//! correction; the method used is reported), Cohen's d_z, shares with meaningful improvement
//! and deterioration (thresholds from `measures`), the population norm, and Holm-adjusted
//! p across the primary family (one p per instrument/item).

use datafusion::prelude::SessionContext;
use serde_json::{Value, json};

use super::{BREAKDOWNS, Columns, MIN_SUBGROUP_SETS, breakdown_columns, note, number};
use crate::error::Result;
use crate::measures;
use crate::stats::hypothesis::{
    SignedRankMethod, Zeros, cohens_dav, cohens_dz, paired_t, signed_rank, welch_t,
};
use crate::stats::multiplicity::holm;

pub struct Wellbeing {
    pub results: Value,
    /// Paired change by equity breakdown (results.json `equity.wellbeing`).
    pub subgroups: Value,
    pub methods: Value,
}

/// Paired change per instrument (not ONS4 items) within each level of each equity breakdown
/// of the referred person; not estimated below `MIN_SUBGROUP_SETS` pairs.
async fn subgroups(ctx: &SessionContext) -> Result<Value> {
    let columns = Columns::query(
        ctx,
        &format!(
            "select w.instrument, w.baseline_value, w.followup_value, {} from wellbeing_pairs as w \
             inner join analysis_cohort as c on w.person_id = c.person_id \
             inner join index_dates as i on w.person_id = i.person_id \
             where w.item is null and w.baseline_value is not null and w.followup_value is not null \
             order by w.instrument, w.person_id",
            breakdown_columns()
        ),
    )
    .await?;
    let instruments = columns.texts("instrument")?;
    let baselines = columns.floats_or_zero("baseline_value")?;
    let followups = columns.floats_or_zero("followup_value")?;
    let mut rows = Vec::new();
    for (breakdown, _) in BREAKDOWNS {
        let values = columns.texts(breakdown)?;
        // (instrument, level) -> (baselines, follow-ups)
        let mut groups: std::collections::BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> =
            std::collections::BTreeMap::new();
        for row in 0..instruments.len() {
            for level in values[row]
                .as_deref()
                .unwrap_or("unknown")
                .split(';')
                .filter(|level| !level.is_empty())
            {
                let group = groups
                    .entry((
                        instruments[row].clone().unwrap_or_default(),
                        level.to_string(),
                    ))
                    .or_default();
                group.0.push(baselines[row]);
                group.1.push(followups[row]);
            }
        }
        for ((instrument, level), (pre, post)) in groups {
            let mut row = json!({"breakdown": breakdown, "level": level, "instrument": instrument, "n_pairs": pre.len()});
            if pre.len() < MIN_SUBGROUP_SETS {
                row["not_estimated"] = json!(format!("fewer than {MIN_SUBGROUP_SETS} pairs"));
            } else {
                match paired_t(&pre, &post) {
                    Ok(t) => {
                        row["mean_change"] = number(t.estimate);
                        row["ci95"] = json!([number(t.ci95[0]), number(t.ci95[1])]);
                        row["p_t"] = number(t.p);
                    }
                    Err(error) => row["paired_t"] = note(&error),
                }
            }
            rows.push(row);
        }
    }
    Ok(Value::Array(rows))
}

pub async fn estimate(ctx: &SessionContext) -> Result<Wellbeing> {
    let columns = Columns::query(
        ctx,
        "select * from wellbeing_pairs order by instrument, item, person_id",
    )
    .await?;
    let instruments = columns.texts("instrument")?;
    let items = columns.texts("item")?;
    let baselines = columns.floats("baseline_value")?;
    let followups = columns.floats("followup_value")?;

    let mut rows = Vec::new();
    let mut p_values = Vec::new();
    let mut start = 0;
    while start < instruments.len() {
        let key = (&instruments[start], &items[start]);
        let end = (start..instruments.len())
            .find(|&row| (&instruments[row], &items[row]) != key)
            .unwrap_or(instruments.len());
        let instrument_code = instruments[start].clone().unwrap_or_default();
        let item = items[start].clone();
        let all_baselines: Vec<f64> = baselines[start..end].iter().flatten().copied().collect();
        let (mut pre, mut post, mut non_completers) = (Vec::new(), Vec::new(), Vec::new());
        for row in start..end {
            match (baselines[row], followups[row]) {
                (Some(b), Some(f)) => {
                    pre.push(b);
                    post.push(f);
                }
                (Some(b), None) => non_completers.push(b),
                _ => {}
            }
        }
        let row = summarise(
            &instrument_code,
            item.as_deref(),
            &all_baselines,
            &pre,
            &post,
            &non_completers,
        );
        p_values.push(row["p_t"].as_f64());
        rows.push(row);
        start = end;
    }
    // Holm across the primary family: every instrument / item with a paired t p-value.
    let present: Vec<f64> = p_values.iter().flatten().copied().collect();
    if let Ok(adjusted) = holm(&present) {
        let mut adjusted = adjusted.into_iter();
        for (row, p) in rows.iter_mut().zip(&p_values) {
            if p.is_some() {
                row["p_t_holm"] = number(adjusted.next().expect("one adjusted p per p"));
            }
        }
    }
    Ok(Wellbeing {
        results: Value::Array(rows),
        subgroups: subgroups(ctx).await?,
        methods: json!({
            "pairs": "baseline closest to the index date within baseline_window_days and no later than the first contact with the link worker; follow-up nearest followup_target_day within followup_window_days (wellbeing_pairs.sql)",
            "paired_t": "t test of follow-up - baseline, 95% t CI",
            "wilcoxon": format!("signed-rank of follow-up - baseline, zeros dropped (Wilcoxon); exact conditional distribution (midranks) when at most {} non-zero pairs, else normal with tie and continuity correction", crate::stats::hypothesis::EXACT_MAX_NONZERO),
            "effect_size": "Cohen's d_z = mean change / SD of change (the paired effect size, larger when scores correlate); d_av = mean change / sqrt((SD before^2 + SD after^2) / 2) (Lakens 2013), comparable with between-group effect sizes",
            "meaningful_change": "WEMWBS 3, SWEMWBS 3 (metric), ONS4 1 per item, PHQ-9 6, GAD-7 4, UCLA-3 and MYCaW none; direction by instrument (ONS4 anxiety, PHQ-9, GAD-7, UCLA-3, MYCaW: lower is better)",
            "attrition": "baseline of completers vs non-completers by Welch t",
            "multiplicity": "Holm across the primary family (each instrument, and each ONS4 and MYCaW item)",
            "subgroups": format!("paired change per instrument by the referred person's IMD quintile, age band, sex, ethnicity group, referral route and each referral reason; not estimated below {MIN_SUBGROUP_SETS} pairs; no multiplicity adjustment"),
            "uncontrolled": "single-group change; referral at low wellbeing means regression to the mean also applies",
        }),
    })
}

fn summarise(
    code: &str,
    item: Option<&str>,
    all_baselines: &[f64],
    pre: &[f64],
    post: &[f64],
    non_completers: &[f64],
) -> Value {
    let mean = |values: &[f64]| {
        if values.is_empty() {
            Value::Null
        } else {
            number(values.iter().sum::<f64>() / values.len() as f64)
        }
    };
    let instrument = measures::instrument(code);
    let mut row = json!({
        "instrument": code,
        "item": item,
        "n_baseline": all_baselines.len(),
        "n_pairs": pre.len(),
        "mean_baseline": mean(all_baselines),
        "mean_baseline_pairs": mean(pre),
        "mean_followup": mean(post),
        "population_norm": measures::population_norm(code, item).map(|(value, source)| json!({"mean": value, "source": source})),
    });
    match paired_t(pre, post) {
        Ok(t) => {
            row["mean_change"] = number(t.estimate);
            row["ci95"] = json!([number(t.ci95[0]), number(t.ci95[1])]);
            row["t"] = number(t.t);
            row["df"] = number(t.df);
            row["p_t"] = number(t.p);
        }
        Err(error) => row["paired_t"] = note(&error),
    }
    match signed_rank(pre, post, Zeros::Wilcox, SignedRankMethod::Auto) {
        Ok(w) => {
            row["wilcoxon_v"] = number(w.v);
            row["p_wilcoxon"] = number(w.p);
            row["wilcoxon_method"] = json!(w.method);
        }
        Err(error) => row["wilcoxon"] = note(&error),
    }
    row["cohens_dz"] = cohens_dz(pre, post).map_or(Value::Null, number);
    row["cohens_dav"] = cohens_dav(pre, post).map_or(Value::Null, number);
    if let Some(instrument) = instrument
        && let Some(threshold) = instrument.meaningful_change
        && !pre.is_empty()
    {
        let better = measures::higher_is_better(instrument, item);
        let signed: Vec<f64> = pre
            .iter()
            .zip(post)
            .map(|(b, f)| if better { f - b } else { b - f })
            .collect();
        let share = |hit: &dyn Fn(f64) -> bool| {
            100.0 * signed.iter().filter(|change| hit(**change)).count() as f64
                / signed.len() as f64
        };
        row["pct_improved"] = number(share(&|change| change >= threshold));
        row["pct_deteriorated"] = number(share(&|change| change <= -threshold));
        row["meaningful_change_threshold"] = number(threshold);
    }
    row["change_histogram"] = change_histogram(code, pre, post);
    row["completers_vs_non_completers"] = match welch_t(pre, non_completers) {
        Ok(t) => {
            json!({"difference": number(t.estimate), "ci95": [number(t.ci95[0]), number(t.ci95[1])], "p": number(t.p), "non_completers": non_completers.len()})
        }
        Err(error) => note(&error),
    };
    row
}

/// Counts of paired change (follow-up − baseline) in bins [from, to), for the report's
/// distribution chart (restricted: exact counts; the report applies disclosure control).
/// Two-point bins for the long scales (WEMWBS 14-70, PHQ-9 0-27), one point otherwise.
fn change_histogram(code: &str, pre: &[f64], post: &[f64]) -> Value {
    let width = if matches!(code, "WEMWBS" | "PHQ9") {
        2.0
    } else {
        1.0
    };
    let mut bins: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for (baseline, followup) in pre.iter().zip(post) {
        *bins
            .entry(((followup - baseline) / width).floor() as i64)
            .or_default() += 1;
    }
    json!({
        "bin_width": width,
        "bins": bins.iter().map(|(bin, count)| json!({
            "from": *bin as f64 * width, "to": (*bin + 1) as f64 * width, "count": count,
        })).collect::<Vec<_>>(),
    })
}
