//! Comparison designs: what the matching uses and what the difference-in-differences
//! baseline leaves out. The one list of candidate designs lives here; every run estimates
//! the headline with the configured design and the rate ratios and saving with every
//! candidate beside it (results.json `design_sensitivity`), and the validation harness
//! (`benches/validate.py`) scores each candidate in every simulated world from those rows.
//!
//! Which design is right depends on how people come to be referred, which no evaluator
//! knows: demographics-only matching with a wash-out is unbiased when referral follows a
//! transient latent crisis and biased when it follows recorded history; matching on recorded
//! history is the reverse (Ding & Li 2019, Political Analysis 27:605, show the two bracket
//! the truth under common conditions). So the report shows both, and says when they disagree.

use serde::Serialize;

use crate::config::{PriorUse, StudyConfig};

/// One comparison design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Design {
    /// Short stable name (results.json, docs/validation.md).
    pub name: &'static str,
    /// Months -washout_months..-1 left out of the DiD and savings baseline.
    pub washout_months: i32,
    /// Prior use in the propensity model besides demographics.
    pub match_on_prior_use: PriorUse,
    /// One sentence for the report.
    pub description: &'static str,
}

/// The candidate designs, in the order the report lists them.
pub const CANDIDATES: [Design; 4] = [
    Design {
        name: "demographics-washout3",
        washout_months: 3,
        match_on_prior_use: PriorUse::None,
        description: "matched on demographics only; the three months before referral left out of the baseline",
    },
    Design {
        name: "history",
        washout_months: 0,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        description: "matched on demographics and prior GP, A&E and emergency use (months -12..-4 and -3..-1); the whole year before referral as baseline",
    },
    Design {
        name: "history-washout3",
        washout_months: 3,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        description: "matched on demographics and prior use (months -12..-4 and -3..-1); the three months before referral left out of the baseline",
    },
    Design {
        name: "baseline-washout3",
        washout_months: 3,
        match_on_prior_use: PriorUse::Baseline,
        description: "matched on demographics and prior use in months -12..-4; the three months before referral left out of the baseline",
    },
];

/// Two designs disagree when, for some measure, their 95% intervals do not overlap, or their
/// rate ratios differ by more than this factor and each lies outside the other's interval
/// (a difference that is both material and larger than the noise of either).
pub const DISAGREEMENT_RATIO: f64 = 1.10;

impl Design {
    /// The design a configuration asks for: a candidate when the keys match one, otherwise
    /// a design named "configured".
    pub fn of(config: &StudyConfig) -> Design {
        CANDIDATES
            .into_iter()
            .find(|design| {
                design.washout_months == config.washout_months
                    && design.match_on_prior_use == config.match_on_prior_use
            })
            .unwrap_or(Design {
                name: "configured",
                washout_months: config.washout_months,
                match_on_prior_use: config.match_on_prior_use,
                description: "as configured in study.toml",
            })
    }

    /// The configuration with this design's keys.
    pub fn apply(&self, config: &StudyConfig) -> StudyConfig {
        StudyConfig {
            washout_months: self.washout_months.min(config.pre_months - 1),
            match_on_prior_use: self.match_on_prior_use,
            ..config.clone()
        }
    }
}

/// The E-value of a rate ratio (VanderWeele & Ding 2017, Ann Intern Med 167:268, eq. 1): the
/// minimum strength of association, on the risk-ratio scale, that an unmeasured confounder
/// would need with both treatment and outcome to explain the estimate away. For a ratio
/// below 1 its inverse is used; 1 for an interval that includes 1.
pub fn e_value(ratio: f64) -> f64 {
    let ratio = if ratio < 1.0 { 1.0 / ratio } else { ratio };
    ratio + (ratio * (ratio - 1.0)).sqrt()
}

/// The E-value of the confidence limit nearest 1 (1 when the interval includes 1).
pub fn e_value_of_interval(low: f64, high: f64) -> f64 {
    if low <= 1.0 && 1.0 <= high {
        1.0
    } else if high < 1.0 {
        e_value(high)
    } else {
        e_value(low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_values_match_the_published_worked_example() {
        // VanderWeele & Ding 2017, section "Example": RR 3.9 (95% CI 1.8 to 8.7) gives an
        // E-value of 7.26 for the estimate and 3.00 for the lower limit.
        assert!((e_value(3.9) - 7.26).abs() < 0.005);
        assert!((e_value_of_interval(1.8, 8.7) - 3.0).abs() < 1e-12);
        // Protective ratios use the inverse; an interval through 1 needs no confounding.
        assert!((e_value(1.0 / 3.9) - e_value(3.9)).abs() < 1e-12);
        assert_eq!(e_value_of_interval(0.8, 1.1), 1.0);
        assert!((e_value_of_interval(0.5, 0.9) - e_value(0.9)).abs() < 1e-12);
    }

    #[test]
    fn candidate_names_are_unique_and_each_design_is_found_from_its_keys() {
        for (index, design) in CANDIDATES.iter().enumerate() {
            assert!(
                CANDIDATES[..index]
                    .iter()
                    .all(|other| other.name != design.name)
            );
            assert!(CANDIDATES[..index].iter().all(|other| (
                other.washout_months,
                other.match_on_prior_use
            ) != (
                design.washout_months,
                design.match_on_prior_use
            )));
        }
    }
}
