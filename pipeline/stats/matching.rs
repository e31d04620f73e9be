//! Comparison cohort by greedy nearest-neighbour matching (docs/methods.md, Comparison
//! cohort).
//!
//! 1:k without replacement on the logit propensity score: treated units in descending score
//! order (MatchIt's `m.order = "largest"`), ties broken by a stable hash of the id; for each,
//! the k nearest unused controls in the same exact stratum within the caliper. Caliper =
//! `caliper_sd` x SD of the logit score: pooled sqrt((s_T^2 + s_C^2) / 2) (Austin 2011) or, as
//! an option, the SD over all units (MatchIt's `std.caliper`). Equal distances go to the
//! control with the smaller hash. Controls are kept per stratum in an ordered map, so each
//! search is O(log n): 25k treated against 1M candidates takes well under a second.
//!
//! Balance: standardised mean differences with the ATT denominator (treated-group SD from the
//! unmatched sample, sqrt(p(1-p)) for binary covariates), before and after matching, and
//! variance ratios (treated / control) for continuous covariates.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::describe::{mean, variance};
use super::{StatsError, StatsResult, check_finite};

/// A stable 64-bit hash of an identifier (first 8 bytes of SHA-256): the tie-break.
pub fn stable_hash(id: &str) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaliperScale {
    /// sqrt((s_T^2 + s_C^2) / 2) of the logit score (Austin 2011; the default).
    PooledSd,
    /// The SD of the logit score over all units (MatchIt `std.caliper = TRUE`).
    AllUnitsSd,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MatchOptions {
    pub ratio: usize,
    pub caliper_sd: f64,
    pub caliper_scale: CaliperScale,
}

/// One unit to match.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: String,
    pub treated: bool,
    pub logit_score: f64,
    /// Exact-matching stratum (e.g. index quarter); units only match within one.
    pub stratum: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Matching {
    /// (treated index, control index) into the input, in matching order.
    pub pairs: Vec<(usize, usize)>,
    /// The caliper on the logit score actually used.
    pub caliper: f64,
    pub matched_treated: usize,
    pub unmatched_treated: usize,
}

/// Total order on f64 for map keys (scores are finite, checked on entry).
#[derive(Debug, Clone, Copy)]
struct Score(f64);
impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

pub fn greedy_match(units: &[Unit], options: &MatchOptions) -> StatsResult<Matching> {
    if options.ratio == 0 || options.caliper_sd.is_nan() || options.caliper_sd <= 0.0 {
        return Err(StatsError::Invalid(
            "ratio must be at least 1 and the caliper positive".into(),
        ));
    }
    if units.iter().any(|unit| !unit.logit_score.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let scores = |treated: bool| -> Vec<f64> {
        units
            .iter()
            .filter(|unit| unit.treated == treated)
            .map(|unit| unit.logit_score)
            .collect()
    };
    let (treated_scores, control_scores) = (scores(true), scores(false));
    if treated_scores.is_empty() || control_scores.len() < 2 {
        return Err(StatsError::TooFew {
            needed: 2,
            got: control_scores.len().min(treated_scores.len()),
        });
    }
    let sd = match options.caliper_scale {
        CaliperScale::PooledSd => {
            let treated_variance = if treated_scores.len() > 1 {
                variance(&treated_scores)?
            } else {
                0.0
            };
            ((treated_variance + variance(&control_scores)?) / 2.0).sqrt()
        }
        CaliperScale::AllUnitsSd => variance(
            &units
                .iter()
                .map(|unit| unit.logit_score)
                .collect::<Vec<_>>(),
        )?
        .sqrt(),
    };
    let caliper = options.caliper_sd * sd;

    // Controls per stratum, ordered by (score, hash, index).
    let mut controls: HashMap<&str, BTreeMap<(Score, u64, usize), ()>> = HashMap::new();
    for (index, unit) in units.iter().enumerate().filter(|(_, unit)| !unit.treated) {
        controls
            .entry(unit.stratum.as_str())
            .or_default()
            .insert((Score(unit.logit_score), stable_hash(&unit.id), index), ());
    }
    let mut treated: Vec<(usize, u64)> = units
        .iter()
        .enumerate()
        .filter(|(_, unit)| unit.treated)
        .map(|(index, unit)| (index, stable_hash(&unit.id)))
        .collect();
    treated.sort_by(|a, b| {
        units[b.0]
            .logit_score
            .total_cmp(&units[a.0].logit_score)
            .then(a.1.cmp(&b.1))
    });

    let mut pairs = Vec::new();
    let mut matched_treated = 0;
    for (index, _) in &treated {
        let unit = &units[*index];
        let Some(pool) = controls.get_mut(unit.stratum.as_str()) else {
            continue;
        };
        let mut found = false;
        for _ in 0..options.ratio {
            let Some(key) = nearest(pool, unit.logit_score, caliper) else {
                break;
            };
            pool.remove(&key);
            pairs.push((*index, key.2));
            found = true;
        }
        matched_treated += usize::from(found);
    }
    Ok(Matching {
        pairs,
        caliper,
        matched_treated,
        unmatched_treated: treated.len() - matched_treated,
    })
}

/// The nearest control within the caliper; equal distances go to the smaller hash.
fn nearest(
    pool: &BTreeMap<(Score, u64, usize), ()>,
    score: f64,
    caliper: f64,
) -> Option<(Score, u64, usize)> {
    // The nearest scores are the closest below and the closest at-or-above; at each of those
    // scores the smallest hash is the first key of that score.
    let first_at = |at: Score| pool.range((at, 0, 0)..).next().map(|(key, _)| *key);
    let below = pool
        .range(..(Score(score), 0, 0))
        .next_back()
        .and_then(|(key, _)| first_at(key.0));
    let above = first_at(Score(score));
    [below, above]
        .into_iter()
        .flatten()
        .filter(|key| (key.0.0 - score).abs() <= caliper)
        .min_by(|a, b| {
            (a.0.0 - score)
                .abs()
                .total_cmp(&(b.0.0 - score).abs())
                .then(a.1.cmp(&b.1))
        })
}

/// A covariate is balanced when its standardised mean difference after matching is within
/// ±0.1 (Austin 2009, Stat Med 28:3083).
pub const SMD_TARGET: f64 = 0.1;

/// The (covariate, SMD) with the largest absolute SMD (the last of equals, as `max_by`);
/// none when empty.
pub fn largest_abs_smd<'a>(smds: &[(&'a str, f64)]) -> Option<(&'a str, f64)> {
    smds.iter()
        .copied()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
}

/// One row of the balance table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Balance {
    pub covariate: String,
    pub smd_before: f64,
    pub smd_after: f64,
    /// Treated / control variance; None for binary covariates.
    pub variance_ratio_before: Option<f64>,
    pub variance_ratio_after: Option<f64>,
}

/// Balance of one covariate. `treated`/`control` are the unmatched samples; `matched_*` the
/// matched ones, the matched controls optionally weighted (1/k for each of a matched set's k
/// controls, so each set counts once whatever its size).
pub fn balance(
    covariate: &str,
    treated: &[f64],
    control: &[f64],
    matched_treated: &[f64],
    matched_control: &Weighted<'_>,
) -> StatsResult<Balance> {
    let binary = treated
        .iter()
        .chain(control)
        .all(|value| *value == 0.0 || *value == 1.0);
    let denominator = if binary {
        let p = mean(treated)?;
        (p * (1.0 - p)).sqrt()
    } else {
        variance(treated)?.sqrt()
    };
    let smd = |t: &[f64], c: &Weighted<'_>| -> StatsResult<f64> {
        let difference = mean(t)? - c.mean()?;
        Ok(if denominator > 0.0 {
            difference / denominator
        } else if difference == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(difference)
        })
    };
    let ratio = |t: &[f64], c: &Weighted<'_>| -> Option<f64> {
        if binary {
            return None;
        }
        let (vt, vc) = (variance(t).ok()?, c.variance().ok()?);
        (vc > 0.0).then(|| vt / vc)
    };
    let control = Weighted {
        values: control,
        weights: None,
    };
    Ok(Balance {
        covariate: covariate.to_string(),
        smd_before: smd(treated, &control)?,
        smd_after: smd(matched_treated, matched_control)?,
        variance_ratio_before: ratio(treated, &control),
        variance_ratio_after: ratio(matched_treated, matched_control),
    })
}

/// Values with optional weights (none: each counts 1).
pub struct Weighted<'a> {
    pub values: &'a [f64],
    pub weights: Option<&'a [f64]>,
}

impl Weighted<'_> {
    fn mean(&self) -> StatsResult<f64> {
        let Some(weights) = self.weights else {
            return mean(self.values);
        };
        check_finite(self.values)?;
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(StatsError::TooFew { needed: 1, got: 0 });
        }
        Ok(self
            .values
            .iter()
            .zip(weights)
            .map(|(x, w)| w * x)
            .sum::<f64>()
            / total)
    }

    /// The variance with reliability weights, the unbiased estimator
    /// Σw(x - m)² Σw / ((Σw)² - Σw²): the usual n - 1 variance when every weight is 1.
    fn variance(&self) -> StatsResult<f64> {
        let Some(weights) = self.weights else {
            return variance(self.values);
        };
        let centre = self.mean()?;
        let (total, squares): (f64, f64) =
            weights.iter().fold((0.0, 0.0), |(total, squares), w| {
                (total + w, squares + w * w)
            });
        let denominator = total * total - squares;
        if denominator <= 0.0 {
            return Err(StatsError::TooFew {
                needed: 2,
                got: self.values.len(),
            });
        }
        let spread: f64 = self
            .values
            .iter()
            .zip(weights)
            .map(|(x, w)| w * (x - centre).powi(2))
            .sum();
        Ok(spread * total / denominator)
    }
}
