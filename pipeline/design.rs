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

use serde::{Deserialize, Serialize};

/// Prior service use in the propensity model (GP demand, A&E attendances and emergency
/// admissions; windows in `queries/panel/matching_covariates.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorUse {
    /// Demographics only: prior use is a balance diagnostic.
    None,
    /// Use in months -12..-4, before the referral peak.
    Baseline,
    /// Use in months -12..-4 and in the three months before the index (-3..-1).
    BaselineAndPeak,
    /// As `BaselineAndPeak`, and use in the year before that (-24..-13): two years of
    /// history, so a person's usual level is matched on a year the referral did not select.
    TwoYears,
}

impl PriorUse {
    pub fn as_str(self) -> &'static str {
        match self {
            PriorUse::None => "none",
            PriorUse::Baseline => "baseline",
            PriorUse::BaselineAndPeak => "baseline_and_peak",
            PriorUse::TwoYears => "two_years",
        }
    }

    /// Whether the propensity model uses the months -12..-4 and the months -3..-1.
    pub fn windows(self) -> (bool, bool) {
        match self {
            PriorUse::None => (false, false),
            PriorUse::Baseline => (true, false),
            PriorUse::BaselineAndPeak | PriorUse::TwoYears => (true, true),
        }
    }

    /// Whether the propensity model also uses the months -24..-13.
    pub fn older_year(self) -> bool {
        self == PriorUse::TwoYears
    }

    /// The shortest look-back that holds at least one month of every window matched on
    /// (a window cut short by the look-back is matched on the months it has, as before).
    pub fn look_back_months(self) -> i32 {
        match self {
            PriorUse::None => 0,
            PriorUse::Baseline | PriorUse::BaselineAndPeak => 4,
            PriorUse::TwoYears => 13,
        }
    }
}

/// Who the comparison group is and how it is formed (study.toml `comparison`). A new
/// comparator (people who declined, a waiting list) is a variant here with its phrases below,
/// the study.toml value that selects it (`config::Comparison`, which already names
/// "decliners" and "none" and refuses them), and its branch in `estimate::comparison_sets`,
/// which writes the `comparison_sets` table every estimate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonKind {
    /// People not (yet) referred on a referred person's index date, matched on a propensity
    /// score (risk-set matching); anyone referred later counts only until their referral.
    /// study.toml `comparison = "matched"`.
    Matched,
}

impl ComparisonKind {
    /// The comparison group's name in charts and tables.
    pub fn label(self) -> &'static str {
        match self {
            ComparisonKind::Matched => "matched comparison",
        }
    }

    /// The design's name beside published evaluations.
    pub fn method(self) -> &'static str {
        match self {
            ComparisonKind::Matched => "matched difference-in-differences",
        }
    }

    /// Who the comparison people are, after "matched to N".
    pub fn who(self) -> &'static str {
        match self {
            ComparisonKind::Matched => {
                "similar people not yet referred on that date (the comparison group; anyone referred later counts only until their referral)"
            }
        }
    }

    /// The same, in a few words.
    pub fn who_briefly(self) -> &'static str {
        match self {
            ComparisonKind::Matched => "who were not (yet)",
        }
    }

    /// One comparison person, after "compared with".
    pub fn one_person(self) -> &'static str {
        match self {
            ComparisonKind::Matched => "a person not yet referred on the same date",
        }
    }
}

/// One comparison design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Design {
    /// Short stable name (results.json, docs/validation.md).
    pub name: &'static str,
    /// Who the comparison group is and how it is formed.
    pub comparison: ComparisonKind,
    /// Months -washout_months..-1 left out of the DiD and savings baseline.
    pub washout_months: i32,
    /// Months in the DiD and savings baseline, just before the wash-out:
    /// -(washout_months + baseline_months)..-(washout_months + 1).
    pub baseline_months: i32,
    /// Prior use in the propensity model besides demographics.
    pub match_on_prior_use: PriorUse,
    /// Matched exactly on bands of prior use (`prior_use_band`) as well as within the
    /// propensity caliper: each comparison person has the treated person's band of GP demand
    /// in the months matched on and of any emergency care, not only a similar score.
    pub exact_on_prior_use_bands: bool,
    /// The outcome model also adjusts for each person's own prior use of the measure in the
    /// months matched on (doubly robust: the matching and the regression each remove
    /// imbalance in prior use, so either being right is enough).
    pub adjust_for_prior_use: bool,
    /// One sentence for the report.
    pub description: &'static str,
    /// Where the validation study found this design biased, for the report's limitations.
    pub known_bias: &'static str,
}

/// The candidate designs, in order of preference: the first is the default, chosen by the
/// validation study (docs/validation.md) as the one whose coverage is closest to 95% in its
/// worst world; when a study's look-back is too short for it, the first that fits.
pub const CANDIDATES: [Design; 11] = [
    Design {
        name: "history-older-baseline",
        comparison: ComparisonKind::Matched,
        washout_months: 12,
        baseline_months: 12,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior GP, A&E and emergency use in the year before referral (months -12..-4 and -3..-1); the year before that (-24..-13) as baseline",
        known_bias: "Its baseline is two years before referral: where use drifts differently for people with higher and lower use, or need persists for months, it overstated GP demand by up to 4% in the validation study (docs/validation.md).",
    },
    Design {
        name: "history-washout6",
        comparison: ComparisonKind::Matched,
        washout_months: 6,
        baseline_months: 6,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior use (months -12..-4 and -3..-1); months -12..-7 as baseline",
        known_bias: "Its baseline (-12..-7) overlaps the months it matches on, which re-creates some regression to the mean, and it leaves the rise just before referral out of the baseline: with a 12-month look-back it understated GP demand by 2% to 10% in six of the seven worlds of the validation study (most where need persists for months) and overstated it by 6% where referral followed a rise in recorded use (docs/validation.md).",
    },
    Design {
        name: "history-washout3",
        comparison: ComparisonKind::Matched,
        washout_months: 3,
        baseline_months: 9,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior use (months -12..-4 and -3..-1); months -12..-4 as baseline",
        known_bias: "Matching on the months it also uses as baseline re-creates regression to the mean: it understated GP demand by 5% to 11% where referral followed a latent crisis or persistent need in the validation study (docs/validation.md).",
    },
    Design {
        name: "history",
        comparison: ComparisonKind::Matched,
        washout_months: 0,
        baseline_months: 12,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior use (months -12..-4 and -3..-1); the whole year before referral as baseline",
        known_bias: "Matching on the months it also uses as baseline re-creates regression to the mean: it understated GP demand by 6% to 11% where referral followed a latent crisis or persistent need in the validation study (docs/validation.md).",
    },
    Design {
        name: "baseline-washout3",
        comparison: ComparisonKind::Matched,
        washout_months: 3,
        baseline_months: 9,
        match_on_prior_use: PriorUse::Baseline,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior use in months -12..-4; months -12..-4 as baseline",
        known_bias: "It does not match on the three months before referral: where referral follows a rise in recorded use it overstated GP demand by 13% to 15% in the validation study (docs/validation.md).",
    },
    Design {
        name: "demographics-washout3",
        comparison: ComparisonKind::Matched,
        washout_months: 3,
        baseline_months: 9,
        match_on_prior_use: PriorUse::None,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics only; months -12..-4 as baseline (the design before validation)",
        known_bias: "It does not match on prior use: where referral follows a rise in recorded use it overstated GP demand by 17% to 19% in the validation study (docs/validation.md).",
    },
    Design {
        name: "history-bands-older-baseline",
        comparison: ComparisonKind::Matched,
        washout_months: 12,
        baseline_months: 12,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: true,
        adjust_for_prior_use: false,
        description: "matched exactly on bands of prior GP demand and any emergency care in months -12..-4 and -3..-1, and on demographics and prior use within the propensity caliper; the year before that (-24..-13) as baseline",
        known_bias: "It leaves referred people with no comparison person in their band of prior use unmatched (about 8% on the sample), so it answers for the rest; in the validation study it overstated GP demand by up to 2.6% (where use drifts differently by level) and its saving per person referred erred more than the default's (RMSE up to £179 against £116 at 200,000 people) (docs/validation.md).",
    },
    Design {
        name: "history-bands-washout3",
        comparison: ComparisonKind::Matched,
        washout_months: 3,
        baseline_months: 9,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: true,
        adjust_for_prior_use: false,
        description: "matched exactly on bands of prior GP demand and any emergency care (months -12..-4 and -3..-1), and on demographics and prior use within the propensity caliper; months -12..-4 as baseline",
        known_bias: "Matching on the months it also uses as baseline re-creates regression to the mean: it understated GP demand by 6% to 13% where referral followed a latent crisis or persistent need in the validation study (docs/validation.md).",
    },
    Design {
        name: "history-older-baseline-adjusted",
        comparison: ComparisonKind::Matched,
        washout_months: 12,
        baseline_months: 12,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: true,
        description: "matched as the default (demographics and prior use in months -12..-1; baseline -24..-13), and the outcome model also adjusts for each person's own use of the measure in months -12..-4 and -3..-1 (doubly robust)",
        known_bias: "As the default, its baseline is two years before referral: where use drifts differently for people with higher and lower use it overstated GP demand by up to 2.8% in the validation study (the default: 3.9%) (docs/validation.md).",
    },
    Design {
        name: "history-adjusted",
        comparison: ComparisonKind::Matched,
        washout_months: 0,
        baseline_months: 12,
        match_on_prior_use: PriorUse::BaselineAndPeak,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: true,
        description: "matched on demographics and prior use (months -12..-4 and -3..-1); the whole year before referral as baseline, and the outcome model also adjusts for each person's own use of the measure in those months (doubly robust)",
        known_bias: "Matching on the months it also uses as baseline re-creates regression to the mean, which adjusting for prior use does not undo: it understated GP demand by 8% to 16% where referral followed a latent crisis or persistent need in the validation study (docs/validation.md).",
    },
    Design {
        name: "two-years-older-baseline",
        comparison: ComparisonKind::Matched,
        washout_months: 12,
        baseline_months: 12,
        match_on_prior_use: PriorUse::TwoYears,
        exact_on_prior_use_bands: false,
        adjust_for_prior_use: false,
        description: "matched on demographics and prior GP, A&E and emergency use in each of the two years before referral (months -24..-13, -12..-4 and -3..-1); the earlier year (-24..-13) as baseline",
        known_bias: "Matching on its own baseline year re-creates regression to the mean: it understated GP demand by 8% where need persists for months and by 2% to 3% in six other worlds of the validation study, flattering the service (docs/validation.md).",
    },
];

/// Two designs disagree when, for some measure, their 95% intervals do not overlap, or their
/// rate ratios differ by more than this factor and each lies outside the other's interval
/// (a difference that is both material and larger than the noise of either).
pub const DISAGREEMENT_RATIO: f64 = 1.10;

/// What a design's comparison group depends on: designs that agree on it have the same
/// comparison sets.
pub type Matching = (ComparisonKind, PriorUse, bool);

impl Design {
    /// How the comparison group is formed (its kind, the prior use matched on, and whether
    /// exactly on its bands).
    pub fn matching(&self) -> Matching {
        (
            self.comparison,
            self.match_on_prior_use,
            self.exact_on_prior_use_bands,
        )
    }

    /// The default design for a look-back of `pre_months`: the first candidate that fits.
    pub fn default_for(pre_months: i32) -> Option<Design> {
        CANDIDATES
            .into_iter()
            .find(|design| design.fits(pre_months))
    }

    /// Whether a look-back of `pre_months` holds the design's wash-out and baseline, and the
    /// months of prior use it matches on.
    pub fn fits(&self, pre_months: i32) -> bool {
        self.washout_months + self.baseline_months <= pre_months
            && self.match_on_prior_use.look_back_months() <= pre_months
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
    fn candidate_names_and_keys_are_unique_and_the_default_depends_on_the_look_back() {
        for (index, design) in CANDIDATES.iter().enumerate() {
            assert!(
                CANDIDATES[..index]
                    .iter()
                    .all(|other| other.name != design.name)
            );
            let keys = |d: &Design| {
                (
                    d.washout_months,
                    d.baseline_months,
                    d.match_on_prior_use,
                    d.exact_on_prior_use_bands,
                    d.adjust_for_prior_use,
                )
            };
            assert!(
                CANDIDATES[..index]
                    .iter()
                    .all(|other| keys(other) != keys(design))
            );
            assert!(
                design.known_bias.contains("docs/validation.md"),
                "{}",
                design.name
            );
        }
        assert_eq!(
            Design::default_for(24).unwrap().name,
            "history-older-baseline"
        );
        assert_eq!(Design::default_for(12).unwrap().name, "history-washout6");
        assert_eq!(Design::default_for(23).unwrap().name, "history-washout6");
        assert!(Design::default_for(11).is_none());
        assert!(Design::default_for(3).is_none());
    }

    #[test]
    fn no_default_adjusts_for_prior_use() {
        // The headline's economics follow the unadjusted DiD (config.rs refuses an adjusted
        // headline), so an adjusted design may only be a candidate beside it.
        for months in 1..=60 {
            if let Some(design) = Design::default_for(months) {
                assert!(!design.adjust_for_prior_use, "{months}: {}", design.name);
            }
        }
    }
}
