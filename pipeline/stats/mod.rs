//! Statistics core: pure functions over slices and matrices. No IO, no DataFusion.
//!
//! Every estimator is tested against scipy/statsmodels values in `tests/fixtures/stats/`
//! (`make_fixtures.py` records tool, version and exact call). Where R and Python conventions
//! differ the choice is an explicit option (Wilcoxon zero handling and continuity correction,
//! cluster-robust small-sample factor), never a hidden default. Formulas and
//! sources: `docs/methods.md`.
//!
//! - [`describe`]: means, variances, type-7 quantiles;
//! - [`hypothesis`]: paired t, Wilcoxon signed-rank, Welch t, effect sizes;
//! - [`multiplicity`]: Holm and Benjamini-Hochberg;
//! - [`glm`]: logistic, Poisson and NB2 GLMs by IRLS with offsets; model, HC0/HC1 and
//!   cluster-robust covariance;
//! - [`matching`]: greedy nearest-neighbour matching on the logit score, balance (SMD, VR);
//! - [`bootstrap`]: seeded resampling and percentile/BCa intervals;
//! - [`event_study`]: the saturated Poisson event study with cluster-robust contrasts;
//! - [`power`]: minimum detectable effects;
//! - [`funnel`]: funnel-plot control limits for a proportion.

pub mod bootstrap;
pub mod describe;
pub mod event_study;
pub mod funnel;
pub mod glm;
pub mod hypothesis;
pub mod matching;
pub mod multiplicity;
pub mod power;

/// Why an estimator could not give an answer. Never a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("needs at least {needed} observations, got {got}")]
    TooFew { needed: usize, got: usize },
    #[error("input contains a missing or non-finite value")]
    NonFinite,
    #[error("inputs have different lengths ({0} and {1})")]
    LengthMismatch(usize, usize),
    #[error("no variation: the statistic is undefined")]
    NoVariation,
    #[error("the design matrix is singular (collinear covariates or an empty group)")]
    Singular,
    #[error(
        "perfect separation: the covariates predict the outcome exactly, so no finite maximum-likelihood estimate exists"
    )]
    Separation,
    #[error("did not converge in {0} iterations")]
    NotConverged(usize),
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// An analysis that does not apply to these data (read by commissioners in the report,
    /// so it says why in plain words, with no "invalid argument" prefix).
    #[error("{0}")]
    NotApplicable(String),
    #[error("no data: no {0} in either group or period (is its extract missing?)")]
    NoData(String),
    #[error(
        "not estimable: {events} events in the {cell} (at least {needed} needed in each group and period)"
    )]
    TooFewEvents {
        cell: String,
        events: f64,
        needed: usize,
    },
}

pub type StatsResult<T> = Result<T, StatsError>;

fn check_finite(values: &[f64]) -> StatsResult<()> {
    if values.iter().all(|value| value.is_finite()) {
        Ok(())
    } else {
        Err(StatsError::NonFinite)
    }
}
