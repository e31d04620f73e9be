//! The placebo index date: the headline design (eligibility, matching, difference in
//! differences) run again as if every index date, real and pseudo, were so much earlier that
//! its `PLACEBO_FOLLOW_UP_MONTHS` of follow-up end where the design's wash-out begins, on data
//! from before referral only, when nobody in the analysis had yet been referred. Its rate
//! ratios estimate the design's bias where the true effect is nil (docs/methods.md, Placebo
//! index date).
//!
//! How: the person-month panels are swapped for views of their months before the wash-out,
//! renumbered from the placebo index (`relative_month + washout + 12`), `matching_covariates`
//! is recomputed from them by its own model, and the headline's matching and rate ratios run
//! unchanged over the result with a look-back `washout + 12` months shorter and a 12-month
//! follow-up. The panels are put back before anything else runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::prelude::{SessionContext, cast, col, lit};

use super::{comparison, service_use};
use crate::config::StudyConfig;
use crate::design::DISAGREEMENT_RATIO;
use crate::engine::engine_error;
use crate::engine::models::Model;
use crate::error::{Error, Result};
use crate::results::{
    BalanceRow, Estimated, PlaceboIndex, PlaceboMeasure, PlaceboReading, RateRatio,
};

/// The placebo's follow-up: the months just before the design's wash-out, which the design
/// itself treats as touched by the coming referral.
pub const PLACEBO_FOLLOW_UP_MONTHS: i32 = 12;

/// The panels whose months count from the index date, and the model recomputed from them.
const PANELS: [&str; 2] = ["person_months", "person_month_use"];
const COVARIATES_MODEL: &str = "matching_covariates";

/// What the placebo can and cannot detect, for results.json and the report.
const READS: &str = "The headline design run again as if every referral (and every comparison person's pseudo index date) had been made earlier, with 12 months of follow-up ending where the design's wash-out before the real referral begins, when nobody had yet been referred: the true effect is nil, so a rate ratio away from 1 is the design's bias there. It shows whether the people who would be referred were already moving apart from people matched to them in the same way, a year or more ahead: a difference in trends that matching on their history does not remove. It cannot show bias from what happens around the referral itself (the months the wash-out leaves out, regression to the mean from a crisis that prompts referral, a consultation on the day), which had not yet happened.";

/// The headline design at the placebo index date, or why it cannot be run (a look-back too
/// short for the design 12 months earlier, or no matching).
pub async fn estimate(
    ctx: &SessionContext,
    config: &StudyConfig,
    models: &[Model],
    tables_dir: &Path,
) -> Result<Estimated<PlaceboIndex>> {
    let shift = config.washout_months + PLACEBO_FOLLOW_UP_MONTHS;
    let needed = shift + config.washout_months + config.baseline_months;
    if config.pre_months < needed {
        return Ok(Estimated::not(format!(
            "the design needs {} months of history before a placebo index date {shift} months before referral, so a look-back (pre_months) of {needed} months; this study's is {}",
            config.washout_months + config.baseline_months,
            config.pre_months
        )));
    }
    let Some(covariates) = models.iter().find(|model| model.name == COVARIATES_MODEL) else {
        return Ok(Estimated::not(format!(
            "no '{COVARIATES_MODEL}' model to recompute the matching covariates from"
        )));
    };
    let placebo_config = StudyConfig {
        pre_months: config.pre_months - shift,
        post_months: PLACEBO_FOLLOW_UP_MONTHS,
        ..config.clone()
    };
    let scratch = tables_dir.join("placebo_index");
    std::fs::create_dir_all(&scratch).map_err(|source| Error::io("creating", &scratch, source))?;
    let saved = swap_in_placebo_panels(ctx, &covariates.sql, shift).await?;
    let estimate = match comparison::match_cohort(ctx, &placebo_config, &scratch).await {
        Ok(matching) => service_use::rate_ratios(ctx, &placebo_config)
            .await
            .map(|ratios| {
                Estimated::Done(placebo_index(
                    shift,
                    matching.matched_treated,
                    matching.balance,
                    ratios.ratios,
                ))
            }),
        Err(Error::DataTest(reason)) => Ok(Estimated::not(reason)),
        Err(other) => Err(other),
    };
    restore(ctx, saved)?;
    std::fs::remove_dir_all(&scratch).map_err(|source| Error::io("removing", &scratch, source))?;
    estimate
}

/// Registers the panels' months before the placebo follow-up's end (`shift` - 12 months
/// before the index), counted from the placebo index (`shift` months before the index),
/// under the panels' names, and the covariates model over them; returns what they replaced.
async fn swap_in_placebo_panels(
    ctx: &SessionContext,
    covariates_sql: &str,
    shift: i32,
) -> Result<Vec<(&'static str, Arc<dyn TableProvider>)>> {
    let failed = |error| engine_error("the placebo index date's panels", error);
    let mut saved = Vec::new();
    for name in PANELS {
        let provider = ctx.table_provider(name).await.map_err(failed)?;
        let frame = ctx.table(name).await.map_err(failed)?;
        let month_type = frame
            .schema()
            .field_with_unqualified_name("relative_month")
            .map_err(failed)?
            .data_type()
            .clone();
        let shifted = frame
            .filter(col("relative_month").lt(lit(PLACEBO_FOLLOW_UP_MONTHS - shift)))
            .and_then(|frame| {
                frame.with_column(
                    "relative_month",
                    cast(col("relative_month") + lit(shift), month_type),
                )
            })
            .map_err(failed)?;
        ctx.deregister_table(name).map_err(failed)?;
        ctx.register_table(name, shifted.into_view())
            .map_err(failed)?;
        saved.push((name, provider));
    }
    let provider = ctx.table_provider(COVARIATES_MODEL).await.map_err(failed)?;
    let covariates = ctx.sql(covariates_sql).await.map_err(failed)?;
    ctx.deregister_table(COVARIATES_MODEL).map_err(failed)?;
    ctx.register_table(COVARIATES_MODEL, covariates.into_view())
        .map_err(failed)?;
    saved.push((COVARIATES_MODEL, provider));
    Ok(saved)
}

/// Puts back the tables `swap_in_placebo_panels` replaced.
fn restore(ctx: &SessionContext, saved: Vec<(&'static str, Arc<dyn TableProvider>)>) -> Result<()> {
    for (name, provider) in saved {
        ctx.deregister_table(name)
            .and_then(|_| ctx.register_table(name, provider))
            .map_err(|error| engine_error("restoring the panels after the placebo", error))?;
    }
    Ok(())
}

/// The placebo's rate ratios, each read against the equivalence margin.
fn placebo_index(
    shift: i32,
    matched_treated: usize,
    balance: Vec<BalanceRow>,
    ratios: BTreeMap<String, Estimated<RateRatio>>,
) -> PlaceboIndex {
    let measures = ratios
        .into_iter()
        .map(|(measure, estimate)| {
            let reading = estimate.done().and_then(reading);
            (
                measure,
                PlaceboMeasure {
                    rate_ratio: estimate,
                    reading,
                },
            )
        })
        .collect();
    PlaceboIndex {
        shift_months: shift as u64,
        follow_up_months: PLACEBO_FOLLOW_UP_MONTHS as u64,
        matched_treated: matched_treated as u64,
        equivalence_margin: DISAGREEMENT_RATIO,
        measures,
        balance,
        reads: READS.into(),
    }
}

/// A placebo rate ratio against the margin: no bias as large as the margin when the whole
/// 95% interval lies within [1/margin, margin] (two one-sided tests, each at 2.5%); bias when
/// the interval excludes 1; otherwise too uncertain to tell.
fn reading(estimate: &RateRatio) -> Option<PlaceboReading> {
    let [Some(low), Some(high)] = estimate.ci95 else {
        return None;
    };
    Some(
        if low >= 1.0 / DISAGREEMENT_RATIO && high <= DISAGREEMENT_RATIO {
            PlaceboReading::WithinMargin
        } else if low > 1.0 || high < 1.0 {
            PlaceboReading::Bias
        } else {
            PlaceboReading::Inconclusive
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(low: f64, high: f64) -> RateRatio {
        RateRatio {
            rate_ratio: Some((low * high).sqrt()),
            ci95: [Some(low), Some(high)],
        }
    }

    #[test]
    fn a_placebo_ratio_is_read_against_the_margin() {
        assert_eq!(
            reading(&ratio(0.95, 1.08)),
            Some(PlaceboReading::WithinMargin)
        );
        assert_eq!(
            reading(&ratio(0.92, 1.12)),
            Some(PlaceboReading::Inconclusive)
        );
        // Different from 1, but by less than the margin.
        assert_eq!(
            reading(&ratio(1.02, 1.09)),
            Some(PlaceboReading::WithinMargin)
        );
        assert_eq!(reading(&ratio(1.12, 1.30)), Some(PlaceboReading::Bias));
        assert_eq!(reading(&ratio(0.70, 0.85)), Some(PlaceboReading::Bias));
        assert_eq!(
            reading(&RateRatio {
                rate_ratio: None,
                ci95: [None, None]
            }),
            None
        );
    }
}
