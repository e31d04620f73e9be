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
    BOOTSTRAP_REPLICATES, BREAKDOWNS, Columns, MIN_SUBGROUP_SETS, breakdown_columns, finite,
    not_estimated,
};
use crate::error::Result;
use crate::measures;
use crate::results::{
    ChangeHistogram, CompletersDifference, Estimated, HistogramBin, MeaningfulChange, PairedChange,
    PopulationNorm, RtmAdjusted, SignedRankChange, SubgroupChange, WellbeingChange,
    WellbeingSubgroup,
};
use crate::stats::hypothesis::{
    SignedRankMethod, Zeros, cohens_dav, cohens_dz, paired_t, signed_rank, welch_t,
};
use crate::stats::multiplicity::holm;

pub struct Wellbeing {
    pub results: Vec<WellbeingChange>,
    /// Paired change by equity breakdown (results.json `equity.wellbeing`).
    pub subgroups: Vec<WellbeingSubgroup>,
    pub methods: Value,
}

/// Paired change per instrument (not ONS4 items) within each level of each equity breakdown
/// of the referred person; not estimated below `MIN_SUBGROUP_SETS` pairs.
async fn subgroups(ctx: &SessionContext) -> Result<Vec<WellbeingSubgroup>> {
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
    for breakdown in BREAKDOWNS.iter().map(|breakdown| breakdown.name) {
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
            let mut row = WellbeingSubgroup {
                breakdown: breakdown.to_string(),
                level,
                instrument,
                n_pairs: pre.len() as u64,
                not_estimated: None,
                paired_t: None,
                change: None,
            };
            if pre.len() < MIN_SUBGROUP_SETS {
                row.not_estimated = Some(format!("fewer than {MIN_SUBGROUP_SETS} pairs"));
            } else {
                match paired_t(&pre, &post) {
                    Ok(t) => {
                        row.change = Some(SubgroupChange {
                            mean_change: finite(t.estimate),
                            ci95: [finite(t.ci95[0]), finite(t.ci95[1])],
                            p_t: finite(t.p),
                        });
                    }
                    Err(error) => row.paired_t = Some(not_estimated(&error)),
                }
            }
            rows.push(row);
        }
    }
    Ok(rows)
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
        let mut row = summarise(
            &instrument_code,
            item.as_deref(),
            &all_baselines,
            &pre,
            &post,
            &non_completers,
        );
        if item.is_none()
            && let Some((found, ipw)) = attrition.remove(&instrument_code)
        {
            row.attrition_vs_eligible = Some(found);
            row.ipw_change = Some(ipw);
        }
        p_values.push(row.paired_t.as_ref().and_then(|t| t.p_t));
        rows.push(row);
        start = end;
    }
    // Holm across the primary family: every instrument / item with a paired t p-value.
    let present: Vec<f64> = p_values.iter().flatten().copied().collect();
    if let Ok(adjusted) = holm(&present) {
        let mut adjusted = adjusted.into_iter();
        for (row, p) in rows.iter_mut().zip(&p_values) {
            if p.is_some() {
                row.p_t_holm = finite(adjusted.next().expect("one adjusted p per p"));
            }
        }
    }
    Ok(Wellbeing {
        results: rows,
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
) -> WellbeingChange {
    let mean = |values: &[f64]| {
        (!values.is_empty())
            .then(|| finite(values.iter().sum::<f64>() / values.len() as f64))
            .flatten()
    };
    let (paired, paired_t_not_estimated) = match paired_t(pre, post) {
        Ok(t) => (
            Some(PairedChange {
                mean_change: finite(t.estimate),
                ci95: [finite(t.ci95[0]), finite(t.ci95[1])],
                t: finite(t.t),
                df: finite(t.df),
                p_t: finite(t.p),
            }),
            None,
        ),
        Err(error) => (None, Some(not_estimated(&error))),
    };
    let (wilcoxon, wilcoxon_not_estimated) =
        match signed_rank(pre, post, Zeros::Wilcox, SignedRankMethod::Auto) {
            Ok(w) => (
                Some(SignedRankChange {
                    wilcoxon_v: finite(w.v),
                    p_wilcoxon: finite(w.p),
                    wilcoxon_method: w.method.to_string(),
                }),
                None,
            ),
            Err(error) => (None, Some(not_estimated(&error))),
        };
    let instrument = measures::instrument(code);
    let meaningful = instrument
        .and_then(|instrument| Some((instrument, instrument.meaningful_change?)))
        .filter(|_| !pre.is_empty())
        .map(|(instrument, threshold)| {
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
            MeaningfulChange {
                meaningful_change_threshold: threshold,
                pct_improved: finite(share(&|change| change >= threshold)),
                pct_deteriorated: finite(share(&|change| change <= -threshold)),
            }
        });
    let rtm_adjusted = rtm_adjusted(code, item, pre, paired.as_ref());
    WellbeingChange {
        instrument: code.to_string(),
        item: item.map(str::to_string),
        n_baseline: all_baselines.len() as u64,
        n_pairs: pre.len() as u64,
        mean_baseline: mean(all_baselines),
        mean_baseline_pairs: mean(pre),
        mean_followup: mean(post),
        population_norm: measures::population_norm(code, item).map(|(mean, source)| {
            PopulationNorm {
                mean,
                source: source.to_string(),
            }
        }),
        paired_t: paired,
        paired_t_not_estimated,
        p_t_holm: None,
        wilcoxon,
        wilcoxon_not_estimated,
        cohens_dz: cohens_dz(pre, post).ok().and_then(finite),
        cohens_dav: cohens_dav(pre, post).ok().and_then(finite),
        meaningful,
        rtm_adjusted,
        change_histogram: change_histogram(code, pre, post),
        completers_vs_non_completers: match welch_t(pre, non_completers) {
            Ok(t) => Estimated::Done(CompletersDifference {
                difference: finite(t.estimate),
                ci95: [finite(t.ci95[0]), finite(t.ci95[1])],
                p: finite(t.p),
                non_completers: non_completers.len() as u64,
            }),
            Err(error) => Estimated::not(error.to_string()),
        },
        attrition_vs_eligible: None,
        ipw_change: None,
    }
}

/// The paired change less the part regression to the mean alone would produce, a labelled
/// sensitivity: people referred at a low score would, with no change at all, score nearer the
/// population mean μ next time, by (1 − ρ)(μ − x̄) on average (x̄ the pairs' baseline mean,
/// ρ the instrument's test-retest reliability; the regression of a second measurement on the
/// first: Barnett, van der Pols & Dobson 2005, Int J Epidemiol 34:215). The interval is the
/// paired t interval shifted by the same amount (ρ and μ taken as known). Assumes the referred
/// people come from a population with that mean and were selected on the score measured.
fn rtm_adjusted(
    code: &str,
    item: Option<&str>,
    pre: &[f64],
    paired: Option<&PairedChange>,
) -> Estimated<RtmAdjusted> {
    let (Some((reliability, reliability_source)), Some((norm, _))) = (
        measures::test_retest_reliability(code, item),
        measures::population_norm(code, item),
    ) else {
        return Estimated::not(
            "no published test-retest reliability or population mean for this measure",
        );
    };
    let Some(PairedChange {
        mean_change: Some(change),
        ci95: [Some(low), Some(high)],
        ..
    }) = paired
    else {
        return Estimated::not("no paired change");
    };
    let baseline = pre.iter().sum::<f64>() / pre.len() as f64;
    let expected = (1.0 - reliability) * (norm - baseline);
    Estimated::Done(RtmAdjusted {
        change: finite(change - expected),
        ci95: [finite(low - expected), finite(high - expected)],
        expected_from_regression_to_the_mean: finite(expected),
        reliability,
        reliability_source: reliability_source.to_string(),
        population_mean: norm,
    })
}

/// Counts of paired change (follow-up − baseline) in bins [from, to), for the report's
/// distribution chart (restricted: exact counts; the report applies disclosure control).
/// Bins of the instrument's `change_bin_width` (one point for an instrument not registered).
fn change_histogram(code: &str, pre: &[f64], post: &[f64]) -> ChangeHistogram {
    let width = measures::instrument(code).map_or(1.0, |instrument| instrument.change_bin_width);
    let mut bins: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for (baseline, followup) in pre.iter().zip(post) {
        *bins
            .entry(((followup - baseline) / width).floor() as i64)
            .or_default() += 1;
    }
    ChangeHistogram {
        bin_width: width,
        bins: bins
            .iter()
            .map(|(bin, count)| HistogramBin {
                from: *bin as f64 * width,
                to: (*bin + 1) as f64 * width,
                count: *count,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regression_to_the_mean_adjustment_subtracts_what_no_change_would_show() {
        // Pairs starting at 41 on WEMWBS (population mean 49.4, reliability 0.83) would score
        // 0.17 x 8.4 = 1.428 points higher next time with no change at all.
        let paired = PairedChange {
            mean_change: Some(3.0),
            ci95: [Some(1.0), Some(5.0)],
            t: None,
            df: None,
            p_t: None,
        };
        let adjusted = rtm_adjusted("WEMWBS", None, &[40.0, 42.0], Some(&paired));
        let adjusted = adjusted
            .done()
            .expect("WEMWBS has a reliability and a norm");
        let expected = 0.17 * (49.4 - 41.0);
        let close = |value: Option<f64>, wanted: f64| (value.unwrap() - wanted).abs() < 1e-12;
        assert!(close(
            adjusted.expected_from_regression_to_the_mean,
            expected
        ));
        assert!(close(adjusted.change, 3.0 - expected));
        assert!(close(adjusted.ci95[0], 1.0 - expected));
        // No published reliability held: not estimated, never a number.
        assert!(matches!(
            rtm_adjusted("PHQ9", None, &[10.0], Some(&paired)),
            Estimated::Not(_)
        ));
    }
}
