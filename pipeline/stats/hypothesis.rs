//! Hypothesis tests and effect sizes for wellbeing change (docs/methods.md, Wellbeing):
//! paired t with CI, Wilcoxon signed-rank, Welch two-sample t, Cohen's d_z and d_av, Hedges'
//! correction. Signatures follow scipy; every convention where R and Python differ is an
//! explicit option and the method actually used is reported.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::gamma::ln_gamma;

use super::describe::{mean, variance};
use super::{StatsError, StatsResult, check_finite};

/// A t-based comparison of means.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TTest {
    pub estimate: f64,
    pub t: f64,
    pub df: f64,
    pub p: f64,
    pub ci95: [f64; 2],
}

fn t_result(estimate: f64, standard_error: f64, df: f64) -> StatsResult<TTest> {
    if standard_error.is_nan() || standard_error <= 0.0 {
        return Err(StatsError::NoVariation);
    }
    let distribution =
        StudentsT::new(0.0, 1.0, df).map_err(|error| StatsError::Invalid(error.to_string()))?;
    let t = estimate / standard_error;
    let p = (2.0 * distribution.sf(t.abs())).min(1.0);
    let critical = distribution.inverse_cdf(0.975);
    Ok(TTest {
        estimate,
        t,
        df,
        p,
        ci95: [
            estimate - critical * standard_error,
            estimate + critical * standard_error,
        ],
    })
}

fn differences(before: &[f64], after: &[f64]) -> StatsResult<Vec<f64>> {
    if before.len() != after.len() {
        return Err(StatsError::LengthMismatch(before.len(), after.len()));
    }
    check_finite(before)?;
    check_finite(after)?;
    Ok(after.iter().zip(before).map(|(a, b)| a - b).collect())
}

/// Paired t test of `after - before` (R `t.test(after, before, paired = TRUE)`, scipy
/// `ttest_rel(after, before)`).
pub fn paired_t(before: &[f64], after: &[f64]) -> StatsResult<TTest> {
    let d = differences(before, after)?;
    if d.len() < 2 {
        return Err(StatsError::TooFew {
            needed: 2,
            got: d.len(),
        });
    }
    let n = d.len() as f64;
    t_result(mean(&d)?, (variance(&d)? / n).sqrt(), n - 1.0)
}

/// Welch's two-sample t test of mean(a) - mean(b) with Welch-Satterthwaite df (R `t.test(a,
/// b)`, scipy `ttest_ind(a, b, equal_var=False)`).
pub fn welch_t(a: &[f64], b: &[f64]) -> StatsResult<TTest> {
    for sample in [a, b] {
        if sample.len() < 2 {
            return Err(StatsError::TooFew {
                needed: 2,
                got: sample.len(),
            });
        }
    }
    let (va, vb) = (variance(a)? / a.len() as f64, variance(b)? / b.len() as f64);
    let df = (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    t_result(mean(a)? - mean(b)?, (va + vb).sqrt(), df)
}

/// Cohen's d_z = mean(d) / sd(d) (the standardised response mean).
pub fn cohens_dz(before: &[f64], after: &[f64]) -> StatsResult<f64> {
    let d = differences(before, after)?;
    let sd = variance(&d)?.sqrt();
    if sd == 0.0 {
        return Err(StatsError::NoVariation);
    }
    Ok(mean(&d)? / sd)
}

/// Cohen's d_av = mean(d) / sqrt((var(before) + var(after)) / 2) (Lakens 2013).
pub fn cohens_dav(before: &[f64], after: &[f64]) -> StatsResult<f64> {
    let d = differences(before, after)?;
    let pooled = ((variance(before)? + variance(after)?) / 2.0).sqrt();
    if pooled == 0.0 {
        return Err(StatsError::NoVariation);
    }
    Ok(mean(&d)? / pooled)
}

/// Hedges' exact correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)); g = J d.
pub fn hedges_j(df: f64) -> StatsResult<f64> {
    if df <= 1.0 {
        return Err(StatsError::Invalid(
            "Hedges' correction needs df > 1".into(),
        ));
    }
    Ok((ln_gamma(df / 2.0) - ln_gamma((df - 1.0) / 2.0)).exp() / (df / 2.0).sqrt())
}

/// How zero differences are treated in the signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zeros {
    /// Drop zeros before ranking (Wilcoxon; the R and scipy default).
    Wilcox,
    /// Rank with zeros, then drop their ranks (Pratt).
    Pratt,
}

/// Which null distribution the signed-rank test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedRankMethod {
    /// Exact conditional distribution given the ranks (midranks for ties), by subset sums;
    /// equals R `coin::wilcoxsign_test(distribution = "exact")` and, without ties,
    /// `wilcox.test(exact = TRUE)`.
    Exact,
    /// Normal approximation with tie correction, optionally with continuity correction
    /// (R `wilcox.test(exact = FALSE, correct =)`; scipy `method="asymptotic"`).
    Normal { continuity: bool },
    /// Exact when at most `EXACT_MAX_NONZERO` differences are non-zero, otherwise normal with
    /// tie and continuity correction.
    Auto,
}

/// The largest number of non-zero differences for which `Auto` uses the exact distribution.
pub const EXACT_MAX_NONZERO: usize = 50;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SignedRank {
    /// V = sum of the ranks of positive differences (R's statistic).
    pub v: f64,
    pub p: f64,
    /// "exact" or "normal".
    pub method: &'static str,
    pub continuity_correction: bool,
    pub nonzero: usize,
    pub zeros: usize,
}

/// Wilcoxon signed-rank test of `after - before`, two-sided.
pub fn signed_rank(
    before: &[f64],
    after: &[f64],
    zeros: Zeros,
    method: SignedRankMethod,
) -> StatsResult<SignedRank> {
    let d = differences(before, after)?;
    let zero_count = d.iter().filter(|value| **value == 0.0).count();
    let ranked: Vec<f64> = match zeros {
        Zeros::Wilcox => d.iter().copied().filter(|value| *value != 0.0).collect(),
        Zeros::Pratt => d.clone(),
    };
    let ranks = midranks(&ranked.iter().map(|value| value.abs()).collect::<Vec<_>>());
    let signed: Vec<(f64, f64)> = ranked
        .iter()
        .zip(ranks)
        .filter(|(value, _)| **value != 0.0)
        .map(|(value, rank)| (*value, rank))
        .collect();
    let nonzero = signed.len();
    if nonzero == 0 {
        return Err(StatsError::NoVariation);
    }
    let v: f64 = signed
        .iter()
        .filter(|(value, _)| *value > 0.0)
        .map(|(_, rank)| rank)
        .sum();
    let exact = match method {
        SignedRankMethod::Exact => true,
        SignedRankMethod::Normal { .. } => false,
        SignedRankMethod::Auto => nonzero <= EXACT_MAX_NONZERO,
    };
    if exact {
        let p = exact_conditional_p(&signed.iter().map(|(_, rank)| *rank).collect::<Vec<_>>(), v);
        return Ok(SignedRank {
            v,
            p,
            method: "exact",
            continuity_correction: false,
            nonzero,
            zeros: zero_count,
        });
    }
    let continuity = match method {
        SignedRankMethod::Normal { continuity } => continuity,
        _ => true,
    };
    // Mean and variance over all ranked values; for Pratt the zeros' share is removed
    // (scipy's convention), then the tie correction sum (t^3 - t) / 48.
    let count = ranked.len() as f64;
    let mut mean_v = count * (count + 1.0) / 4.0;
    let mut variance_v = count * (count + 1.0) * (2.0 * count + 1.0) / 24.0;
    if zeros == Zeros::Pratt {
        let z = zero_count as f64;
        mean_v -= z * (z + 1.0) / 4.0;
        variance_v -= z * (z + 1.0) * (2.0 * z + 1.0) / 24.0;
    }
    let nonzero_ranks: Vec<f64> = signed.iter().map(|(_, rank)| *rank).collect();
    variance_v -= tie_groups(&nonzero_ranks)
        .iter()
        .map(|t| t * t * t - t)
        .sum::<f64>()
        / 48.0;
    if variance_v <= 0.0 {
        return Err(StatsError::NoVariation);
    }
    let difference = v - mean_v;
    let correction = if continuity {
        0.5 * difference.signum()
    } else {
        0.0
    };
    let z = (difference - correction) / variance_v.sqrt();
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let p = (2.0 * normal.sf(z.abs())).min(1.0);
    Ok(SignedRank {
        v,
        p,
        method: "normal",
        continuity_correction: continuity,
        nonzero,
        zeros: zero_count,
    })
}

/// Average (mid) ranks of values, 1-based.
fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = rank;
        }
        start = end + 1;
    }
    ranks
}

/// Sizes of groups of equal ranks.
fn tie_groups(ranks: &[f64]) -> Vec<f64> {
    let mut sorted = ranks.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let end = sorted[start..]
            .iter()
            .take_while(|rank| **rank == sorted[start])
            .count();
        groups.push(end as f64);
        start += end;
    }
    groups
}

/// Two-sided exact conditional p of V given the ranks: each of the 2^n sign patterns is
/// equally likely; the distribution of the sum of doubled (integer) midranks is built by
/// subset sums with probabilities halved at each step (no overflow for large n). Hand-written:
/// statrs has no signed-rank distribution.
fn exact_conditional_p(ranks: &[f64], v: f64) -> f64 {
    let doubled: Vec<usize> = ranks
        .iter()
        .map(|rank| (rank * 2.0).round() as usize)
        .collect();
    let total: usize = doubled.iter().sum();
    let mut distribution = vec![0.0f64; total + 1];
    distribution[0] = 1.0;
    let mut reach = 0;
    for &rank in &doubled {
        reach += rank;
        for sum in (0..=reach).rev() {
            let with = if sum >= rank {
                distribution[sum - rank]
            } else {
                0.0
            };
            distribution[sum] = 0.5 * distribution[sum] + 0.5 * with;
        }
    }
    let observed = (v * 2.0).round() as usize;
    let lower: f64 = distribution[..=observed.min(total)].iter().sum();
    let upper: f64 = distribution[observed.min(total)..].iter().sum();
    (2.0 * lower.min(upper)).min(1.0)
}
