//! Bootstrap confidence intervals (docs/methods.md, Bootstrap): seeded resampling of units
//! (people, or matched sets) and percentile and BCa intervals from the replicates.
//!
//! The interval functions take the replicates, so they are checked exactly against scipy by
//! replaying scipy's resamples; the resampler uses a named portable generator (ChaCha8,
//! never `StdRng`) so a seed gives the same replicates on every machine and thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, Normal};

use super::describe::quantile_sorted;
use super::{StatsError, StatsResult, check_finite};

/// `replicates` values of `statistic` on resamples (with replacement) of `units` units,
/// drawn from ChaCha8 seeded with `seed`. The statistic receives the resampled unit indices.
pub fn resample(
    units: usize,
    replicates: usize,
    seed: u64,
    mut statistic: impl FnMut(&[usize]) -> f64,
) -> StatsResult<Vec<f64>> {
    let mut values = Vec::with_capacity(replicates);
    for_each_resample(units, replicates, seed, |indices| {
        values.push(statistic(indices));
    })?;
    Ok(values)
}

/// The resamples of [`resample`], in order, each handed to `visit` (for a caller that
/// computes its replicates in blocks rather than one value at a time).
pub fn for_each_resample(
    units: usize,
    replicates: usize,
    seed: u64,
    mut visit: impl FnMut(&[usize]),
) -> StatsResult<()> {
    if units == 0 {
        return Err(StatsError::TooFew { needed: 1, got: 0 });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indices = vec![0; units];
    for _ in 0..replicates {
        for index in indices.iter_mut() {
            *index = rng.random_range(0..units);
        }
        visit(&indices);
    }
    Ok(())
}

/// Leave-one-unit-out values of `statistic` (for the BCa acceleration).
pub fn jackknife(units: usize, mut statistic: impl FnMut(&[usize]) -> f64) -> Vec<f64> {
    (0..units)
        .map(|left_out| {
            let kept: Vec<usize> = (0..units).filter(|unit| *unit != left_out).collect();
            statistic(&kept)
        })
        .collect()
}

/// Percentile interval: type-7 quantiles of the replicates at alpha/2 and 1 - alpha/2.
/// The finite replicates, and how many were not finite (a resample with no exposure in some
/// cell): callers report the count, so none is dropped silently.
pub fn finite_replicates(values: &[f64]) -> (Vec<f64>, usize) {
    let finite: Vec<f64> = values
        .iter()
        .copied()
        .filter(|value| value.is_finite())
        .collect();
    let non_finite = values.len() - finite.len();
    (finite, non_finite)
}

pub fn percentile_interval(replicates: &[f64], level: f64) -> StatsResult<[f64; 2]> {
    check_finite(replicates)?;
    let mut sorted = replicates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Ok([
        quantile_sorted(&sorted, alpha)?,
        quantile_sorted(&sorted, 1.0 - alpha)?,
    ])
}

/// Bias-corrected and accelerated interval (Efron 1987; scipy's implementation):
/// z0 = Phi^-1((#{b < estimate} + #{b <= estimate}) / 2B); acceleration from the jackknife
/// a = sum(U^3) / (6 (sum U^2)^1.5), U = mean(jackknife) - jackknife.
pub fn bca_interval(
    replicates: &[f64],
    estimate: f64,
    jackknife: &[f64],
    level: f64,
) -> StatsResult<[f64; 2]> {
    check_finite(replicates)?;
    check_finite(jackknife)?;
    if replicates.is_empty() || jackknife.len() < 2 {
        return Err(StatsError::TooFew {
            needed: 2,
            got: jackknife.len().min(replicates.len()),
        });
    }
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let below = replicates.iter().filter(|value| **value < estimate).count() as f64;
    let at_or_below = replicates
        .iter()
        .filter(|value| **value <= estimate)
        .count() as f64;
    let z0 = normal.inverse_cdf((below + at_or_below) / (2.0 * replicates.len() as f64));
    let centre = jackknife.iter().sum::<f64>() / jackknife.len() as f64;
    let numerator: f64 = jackknife.iter().map(|value| (centre - value).powi(3)).sum();
    let denominator = 6.0
        * jackknife
            .iter()
            .map(|value| (centre - value).powi(2))
            .sum::<f64>()
            .powf(1.5);
    let acceleration = if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    };
    if !z0.is_finite() {
        return Err(StatsError::NoVariation);
    }
    let alpha = (1.0 - level) / 2.0;
    let adjusted =
        |z_alpha: f64| normal.cdf(z0 + (z0 + z_alpha) / (1.0 - acceleration * (z0 + z_alpha)));
    let mut sorted = replicates.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok([
        quantile_sorted(&sorted, adjusted(normal.inverse_cdf(alpha)))?,
        quantile_sorted(&sorted, adjusted(normal.inverse_cdf(1.0 - alpha)))?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_bootstrap_replicates_are_counted_not_dropped_silently() {
        let (finite, non_finite) = finite_replicates(&[1.0, f64::NAN, f64::INFINITY, 2.0]);
        assert_eq!((finite, non_finite), (vec![1.0, 2.0], 2));
    }
}
