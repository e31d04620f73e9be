//! Funnel-plot control limits for a proportion: how far a unit's (here a practice's) share may
//! stray from the overall share by chance alone, given its size. Exact binomial limits with
//! Spiegelhalter's interpolation (Spiegelhalter DJ. Funnel plots for comparing institutional
//! performance. Stat Med 2005;24:1185-1202, appendix A.1.1): for a unit of size `n` and a
//! target share `theta`, `r_p` is the `p` quantile of Binomial(n, theta) (the smallest r with
//! P(Y <= r) >= p), `alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1))`, and the
//! limit is `(r_p - alpha) / n`. Written here because statrs has the binomial distribution but
//! no funnel limits; checked against R's `qbinom`/`pbinom` (tests/fixtures/stats/funnel.json).

use statrs::distribution::{Binomial, DiscreteCDF};

/// Two-sided coverage of the inner (95%) and outer (99.8%) limits, Spiegelhalter's choice
/// (about 2 and 3 standard errors).
pub const LIMITS: [f64; 2] = [0.95, 0.998];

/// The share at the `p` limit for a unit of `n` (p < 0.5: a lower limit, p > 0.5: an upper
/// one); None when `n` is 0 or `theta` is not a share strictly between 0 and 1.
pub fn binomial_limit(n: u64, theta: f64, p: f64) -> Option<f64> {
    if n == 0 || !(theta > 0.0 && theta < 1.0) || !(p > 0.0 && p < 1.0) {
        return None;
    }
    let binomial = Binomial::new(theta, n).ok()?;
    // The smallest r with F(r) >= p, by bisection on the monotone cdf.
    let (mut low, mut high) = (0u64, n);
    while low < high {
        let middle = low + (high - low) / 2;
        if binomial.cdf(middle) >= p {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    let r = low;
    let at_r = binomial.cdf(r);
    let below_r = if r == 0 { 0.0 } else { binomial.cdf(r - 1) };
    // P(Y = r) underflows to 0 only far in a tail; the limit is then r / n itself.
    let step = at_r - below_r;
    let alpha = if step > 0.0 { (at_r - p) / step } else { 0.0 };
    Some(((r as f64 - alpha) / n as f64).clamp(0.0, 1.0))
}

/// The (lower, upper) limits of two-sided `coverage` for a unit of `n`.
pub fn limits(n: u64, theta: f64, coverage: f64) -> Option<(f64, f64)> {
    let tail = (1.0 - coverage) / 2.0;
    Some((
        binomial_limit(n, theta, tail)?,
        binomial_limit(n, theta, 1.0 - tail)?,
    ))
}

/// Where a unit's observed share lies: "above" or "below" the limits of the widest coverage it
/// falls outside (e.g. "above 99.8%"), else "within 95%".
pub fn position(observed: f64, n: u64, theta: f64) -> Option<String> {
    let mut position = format!("within {}", percent(LIMITS[0]));
    for coverage in LIMITS {
        let (lower, upper) = limits(n, theta, coverage)?;
        if observed > upper {
            position = format!("above {}", percent(coverage));
        } else if observed < lower {
            position = format!("below {}", percent(coverage));
        }
    }
    Some(position)
}

fn percent(coverage: f64) -> String {
    format!("{}%", (coverage * 1000.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_widen_as_units_shrink_and_a_unit_is_placed_against_them() {
        let (small_low, small_high) = limits(500, 0.02, 0.95).unwrap();
        let (big_low, big_high) = limits(20_000, 0.02, 0.95).unwrap();
        assert!(small_low < big_low && big_high < small_high);
        assert!(big_low < 0.02 && 0.02 < big_high);
        // 99.8% limits lie outside the 95% ones.
        let (outer_low, outer_high) = limits(20_000, 0.02, 0.998).unwrap();
        assert!(outer_low < big_low && big_high < outer_high);
        assert_eq!(position(0.02, 20_000, 0.02).unwrap(), "within 95%");
        assert_eq!(position(0.0222, 20_000, 0.02).unwrap(), "above 95%");
        assert_eq!(position(0.03, 20_000, 0.02).unwrap(), "above 99.8%");
        assert_eq!(position(0.01, 20_000, 0.02).unwrap(), "below 99.8%");
        assert_eq!(binomial_limit(0, 0.02, 0.025), None);
        assert_eq!(binomial_limit(100, 0.0, 0.025), None);
        // A vast unit with a tiny share still gives a finite limit.
        assert!(binomial_limit(50_000_000, 1e-7, 0.999).unwrap().is_finite());
    }
}
