//! Minimum detectable effects (Bloom 1995, "Minimum detectable effects: a simple way to
//! report the statistical power of experimental designs", Evaluation Review 19(5):547-556).
//!
//! An estimate with standard error SE can detect, with power 1 - beta in a two-sided test at
//! level alpha, a true effect of M x SE or more, where M = q(1 - alpha/2) + q(1 - beta) and q is
//! the quantile of the estimate's reference distribution: the standard normal, or Student t
//! with `df` degrees of freedom (the DiD uses t(G - 1) on fewer than 50 matched sets, as its
//! interval does). With the standard error the analysis actually has (cluster-robust, so it
//! carries overdispersion and the matched design), the MDE is what this run's data could see.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The multiplier M of the standard error for a two-sided test at `alpha` with `power`.
pub fn mde_multiplier(alpha: f64, power: f64, df: Option<f64>) -> f64 {
    let quantile = |p: f64| match df {
        Some(df) => StudentsT::new(0.0, 1.0, df)
            .expect("degrees of freedom are positive")
            .inverse_cdf(p),
        None => Normal::new(0.0, 1.0)
            .expect("standard normal")
            .inverse_cdf(p),
    };
    quantile(1.0 - alpha / 2.0) + quantile(power)
}

/// The smallest rate ratios, below and above 1, that an estimate of log rate ratio with
/// standard error `se_log` could detect (80% power, 5% two-sided).
pub fn minimum_detectable_rate_ratios(se_log: f64, df: Option<f64>) -> [f64; 2] {
    let multiplier = mde_multiplier(0.05, 0.8, df);
    [(-multiplier * se_log).exp(), (multiplier * se_log).exp()]
}
