//! Wellbeing change per instrument and ONS4 item (docs/methods.md, Wellbeing), from `wellbeing_pairs`:
//! attrition (people with a baseline vs with a pair), baseline of completers vs
//! non-completers (Welch t), paired mean change with 95% t CI, paired t, Wilcoxon signed-rank
//! (exact conditional up to 50 non-zero pairs, else normal with tie and continuity
//! correction; the method used is reported), Cohen's d_z, shares with meaningful improvement
//! and deterioration (thresholds from `measures`), the population norm, and Holm-adjusted
//! p across the primary family (one p per instrument/item).

use datafusion::prelude::SessionContext;
use serde_json::{Value, json};

use super::{
    BOOTSTRAP_REPLICATES, BREAKDOWNS, Columns, MIN_SUBGROUP_SETS, breakdown_columns, note, number,
};
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

pub async fn estimate(ctx: &SessionContext, seed: u64) -> Result<Wellbeing> {
    let mut attrition = super::attrition::estimate(ctx, seed).await?;
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
        let mut row = row;
        if item.is_none()
            && let Some(found) = attrition.remove(&instrument_code)
        {
            row["attrition_vs_eligible"] = found["attrition"].clone();
            row["ipw_change"] = found["ipw_change"].clone();
        }
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
            "meaningful_change": measures::meaningful_change_text(),
            "attrition": "baseline of completers vs non-completers by Welch t; and (attrition_vs_eligible) SMDs of the people with a pair against all eligible treated on the propensity covariates (SD of all eligible; binary sqrt(p(1-p)))",
            "ipw_change": format!("sensitivity: Hajek inverse-probability-weighted mean change, weights 1/p from a logistic model of having a pair among all eligible treated (age, female, IMD quintile 1-2, White, long-term conditions, log(1 + GP demand) in months -3..-1 and the baseline); percentile bootstrap ({BOOTSTRAP_REPLICATES} replicates, the study's seed) over the people with a pair holding the fitted weights (one model fit)"),
            "multiplicity": "Holm across the primary family (each instrument, and each ONS4 and MYCaW item)",
            "subgroups": format!("paired change per instrument by the referred person's IMD quintile, age band, sex, ethnicity group, referral route and each referral reason; not estimated below {MIN_SUBGROUP_SETS} pairs; no multiplicity adjustment"),
            "uncontrolled": "single-group change; referral at low wellbeing means regression to the mean also applies",
            "rtm_adjusted": "sensitivity: mean change - (1 - test-retest reliability) x (population mean - the pairs' baseline mean), the change regression to the mean alone would produce (Barnett, van der Pols & Dobson 2005); interval shifted by the same amount; only where a published reliability and population mean are held (WEMWBS)",
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
    row["rtm_adjusted"] = rtm_adjusted(code, item, pre, &row);
    row["change_histogram"] = change_histogram(code, pre, post);
    row["completers_vs_non_completers"] = match welch_t(pre, non_completers) {
        Ok(t) => {
            json!({"difference": number(t.estimate), "ci95": [number(t.ci95[0]), number(t.ci95[1])], "p": number(t.p), "non_completers": non_completers.len()})
        }
        Err(error) => note(&error),
    };
    row
}

/// The paired change less the part regression to the mean alone would produce, a labelled
/// sensitivity: people referred at a low score would, with no change at all, score nearer the
/// population mean μ next time, by (1 − ρ)(μ − x̄) on average (x̄ the pairs' baseline mean,
/// ρ the instrument's test-retest reliability; the regression of a second measurement on the
/// first: Barnett, van der Pols & Dobson 2005, Int J Epidemiol 34:215). The interval is the
/// paired t interval shifted by the same amount (ρ and μ taken as known). Assumes the referred
/// people come from a population with that mean and were selected on the score measured.
fn rtm_adjusted(code: &str, item: Option<&str>, pre: &[f64], row: &Value) -> Value {
    let (Some((reliability, reliability_source)), Some((norm, _))) = (
        measures::test_retest_reliability(code, item),
        measures::population_norm(code, item),
    ) else {
        return json!({"not_estimated": "no published test-retest reliability or population mean for this measure"});
    };
    let (Some(change), Some(low), Some(high)) = (
        row["mean_change"].as_f64(),
        row["ci95"][0].as_f64(),
        row["ci95"][1].as_f64(),
    ) else {
        return json!({"not_estimated": "no paired change"});
    };
    let baseline = pre.iter().sum::<f64>() / pre.len() as f64;
    let expected = (1.0 - reliability) * (norm - baseline);
    json!({
        "change": number(change - expected),
        "ci95": [number(low - expected), number(high - expected)],
        "expected_from_regression_to_the_mean": number(expected),
        "reliability": reliability,
        "reliability_source": reliability_source,
        "population_mean": norm,
    })
}

/// Counts of paired change (follow-up − baseline) in bins [from, to), for the report's
/// distribution chart (restricted: exact counts; the report applies disclosure control).
/// Bins of the instrument's `change_bin_width` (one point for an instrument not registered).
fn change_histogram(code: &str, pre: &[f64], post: &[f64]) -> Value {
    let width = measures::instrument(code).map_or(1.0, |instrument| instrument.change_bin_width);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regression_to_the_mean_adjustment_subtracts_what_no_change_would_show() {
        // Pairs starting at 41 on WEMWBS (population mean 49.4, reliability 0.83) would score
        // 0.17 x 8.4 = 1.428 points higher next time with no change at all.
        let row = json!({"mean_change": 3.0, "ci95": [1.0, 5.0]});
        let adjusted = rtm_adjusted("WEMWBS", None, &[40.0, 42.0], &row);
        let expected = 0.17 * (49.4 - 41.0);
        let value = |key: &Value| key.as_f64().unwrap();
        assert!(
            (value(&adjusted["expected_from_regression_to_the_mean"]) - expected).abs() < 1e-12
        );
        assert!((value(&adjusted["change"]) - (3.0 - expected)).abs() < 1e-12);
        assert!((value(&adjusted["ci95"][0]) - (1.0 - expected)).abs() < 1e-12);
        // No published reliability held: not estimated, never a number.
        assert!(rtm_adjusted("PHQ9", None, &[10.0], &row)["not_estimated"].is_string());
    }
}
