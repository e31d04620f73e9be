//! Descriptive statistics: mean, sample variance (n - 1), and Hyndman-Fan type-7 quantiles
//! (R's default, numpy's `linear`; statrs' `quantile` is type 8, so it is not used).

use super::{StatsError, StatsResult, check_finite};

pub fn mean(values: &[f64]) -> StatsResult<f64> {
    if values.is_empty() {
        return Err(StatsError::TooFew { needed: 1, got: 0 });
    }
    check_finite(values)?;
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample variance with an n - 1 denominator.
pub fn variance(values: &[f64]) -> StatsResult<f64> {
    if values.len() < 2 {
        return Err(StatsError::TooFew {
            needed: 2,
            got: values.len(),
        });
    }
    let centre = mean(values)?;
    Ok(values
        .iter()
        .map(|value| (value - centre).powi(2))
        .sum::<f64>()
        / (values.len() - 1) as f64)
}

/// Type-7 quantile of already sorted values: h = (n - 1) p, linear interpolation.
pub fn quantile_sorted(sorted: &[f64], probability: f64) -> StatsResult<f64> {
    if sorted.is_empty() {
        return Err(StatsError::TooFew { needed: 1, got: 0 });
    }
    if !(0.0..=1.0).contains(&probability) {
        return Err(StatsError::Invalid(format!(
            "probability {probability} outside 0..1"
        )));
    }
    let h = (sorted.len() - 1) as f64 * probability;
    let lower = h.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    Ok(sorted[lower] + (h - lower as f64) * (sorted[upper] - sorted[lower]))
}

/// Type-7 quantiles of unsorted values.
pub fn quantiles(values: &[f64], probabilities: &[f64]) -> StatsResult<Vec<f64>> {
    check_finite(values)?;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    probabilities
        .iter()
        .map(|p| quantile_sorted(&sorted, *p))
        .collect()
}
