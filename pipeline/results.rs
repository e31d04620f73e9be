//! `results.json`, the seam between estimation and the report, as types.
//!
//! The run builds a [`Results`] and writes it; the report reads it back into the same types,
//! so a section or key renamed on one side is a compile error (or, for a results.json from
//! another version, an error naming the missing field), never an "n/a" in a published
//! report. The file is written through `serde_json::Value`, whose maps are sorted, so the
//! keys come out in alphabetical order whatever the field order here.
//!
//! Every section is typed but the methods: an open map of every option used, which the
//! report's appendix lists as it finds it (kept a map on purpose, so an option is added where
//! it is used).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::costs::UnitCosts;
use crate::design::{ComparisonKind, Design, PriorUse};
use crate::econ::programme::ProgrammeCost;

/// The version of this layout; a reader refuses other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// Said of restricted outputs: exact counts, before disclosure control.
pub const RESTRICTED: &str = "exact counts: not for publication without disclosure control";

/// The whole results document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    pub restricted: String,
    pub study: Study,
    /// The headline's comparison design: it supplies the report's words for the comparison.
    pub design: HeadlineDesign,
    pub cohort: Cohort,
    pub funnel: Funnel,
    pub participation: Participation,
    /// Referral rates by practice and PCN (`practices::practices_section`).
    pub practices: Estimated<FunnelView>,
    /// The estimate sections (`estimate::Estimates`); absent when the model tests failed and
    /// nothing was estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Estimated<Vec<BalanceRow>>>,
    /// Per service-use measure (`estimate::service_use`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_use: Option<Estimated<Vec<ServiceUseRow>>>,
    /// The paired change per instrument and separately analysed item (`estimate::wellbeing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wellbeing: Option<Vec<WellbeingChange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub economics: Option<Estimated<Economics>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity: Option<Equity>,
    /// Every candidate design's estimates beside the headline's (`estimate::design_sensitivity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design_sensitivity: Option<Estimated<DesignSensitivity>>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub methods: Value,
    /// The programme cost per person as used (`econ::programme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programme: Option<ProgrammeCost>,
}

impl Results {
    /// The wellbeing rows (none when nothing was estimated).
    pub fn wellbeing(&self) -> &[WellbeingChange] {
        self.wellbeing.as_deref().unwrap_or_default()
    }

    /// The service-use rows (none when nothing was estimated).
    pub fn service_use(&self) -> &[ServiceUseRow] {
        self.service_use
            .as_ref()
            .and_then(Estimated::done)
            .map_or(&[], Vec::as_slice)
    }

    /// The service-use subgroup estimates (none when nothing was estimated).
    pub fn service_use_subgroups(&self) -> &[ServiceUseSubgroup] {
        self.equity
            .as_ref()
            .and_then(|equity| equity.service_use.done())
            .map_or(&[], Vec::as_slice)
    }

    /// The subgroup interaction tests (none when nothing was estimated).
    pub fn service_use_interactions(&self) -> &[Interaction] {
        self.equity
            .as_ref()
            .and_then(|equity| equity.service_use_interactions.as_deref())
            .unwrap_or_default()
    }

    /// The wellbeing subgroup estimates (none when nothing was estimated).
    pub fn wellbeing_subgroups(&self) -> &[WellbeingSubgroup] {
        self.equity
            .as_ref()
            .map_or(&[], |equity| equity.wellbeing.as_slice())
    }

    /// One measure's service-use row.
    pub fn service_use_row(&self, measure: &str) -> Option<&ServiceUseRow> {
        self.service_use().iter().find(|row| row.measure == measure)
    }

    /// The economic evaluation, when it was estimated.
    pub fn economics(&self) -> Option<&Economics> {
        self.economics.as_ref()?.done()
    }

    /// The designs compared, when they were estimated.
    pub fn designs(&self) -> Option<&DesignSensitivity> {
        self.design_sensitivity.as_ref()?.done()
    }
}

/// A result, or the reason it could not be estimated: the report says the reason where the
/// number would be. Written as the result itself or as `{"not_estimated": reason}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Estimated<T> {
    Not(NotEstimated),
    Done(T),
}

impl<T> Estimated<T> {
    /// The reason, when there is no result.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Estimated::Not(reason) => Some(&reason.not_estimated),
            Estimated::Done(_) => None,
        }
    }

    pub fn not(reason: impl Into<String>) -> Estimated<T> {
        Estimated::Not(NotEstimated {
            not_estimated: reason.into(),
        })
    }

    /// The result passed through `f`, or the same reason.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Estimated<U> {
        match self {
            Estimated::Done(value) => Estimated::Done(f(value)),
            Estimated::Not(reason) => Estimated::Not(reason.clone()),
        }
    }

    /// The result, if there is one.
    pub fn done(&self) -> Option<&T> {
        match self {
            Estimated::Done(value) => Some(value),
            Estimated::Not(_) => None,
        }
    }
}

/// Why a result could not be estimated (too few people or events, no data): the report
/// says the reason where the number would be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotEstimated {
    pub not_estimated: String,
}

/// The study as configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Study {
    pub name: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub data_end: NaiveDate,
    pub pre_months: i32,
    pub post_months: i32,
}

/// The design the headline estimates use (`design::Design`): its name, how its comparison
/// group is formed and what that group is called, and the one sentence describing it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadlineDesign {
    pub name: String,
    pub kind: ComparisonKind,
    pub label: String,
    pub description: String,
}

impl From<&Design> for HeadlineDesign {
    fn from(design: &Design) -> HeadlineDesign {
        HeadlineDesign {
            name: design.name.to_string(),
            kind: design.comparison,
            label: design.comparison.label().to_string(),
            description: design.description.to_string(),
        }
    }
}

/// Who was referred, who was eligible, who was matched (`cohort_flow`, then the matching).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cohort {
    pub referrals: u64,
    pub persons_referred: u64,
    pub persons_with_index_date: u64,
    pub eligible_treated: u64,
    pub comparison_pool: u64,
    pub eligible_comparison_candidates: u64,
    pub comparison_censored_at_referral: u64,
    /// Every step of `cohort_flow`, in order.
    pub flow: Vec<FlowStep>,
    /// The matched groups (none of these keys when nothing was estimated).
    #[serde(flatten)]
    pub matched: MatchedGroups,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowStep {
    pub step: String,
    pub persons: u64,
}

/// The matched groups (`estimate::comparison`): every key absent when the model tests
/// failed and nothing was estimated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MatchedGroups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_treated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_comparison: Option<u64>,
    /// Eligible referred people left without a comparison person; absent when the matching
    /// could not run (`matching` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched_treated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_exits: Option<FollowUpExits>,
    /// Why there is no matched comparison, when there is none.
    #[serde(default, rename = "matching", skip_serializing_if = "Option::is_none")]
    pub not_matched: Option<NotEstimated>,
}

impl MatchedGroups {
    /// Referred people with a comparison person (0 when none were matched or nothing was
    /// estimated).
    pub fn treated(&self) -> u64 {
        self.matched_treated.unwrap_or(0)
    }
}

/// How each matched group's follow-up ended within `within_months` of the index date.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FollowUpExits {
    pub within_months: i32,
    pub groups: Vec<GroupExits>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupExits {
    /// "treated" or "comparison".
    pub group: String,
    pub people: u64,
    pub died: u64,
    pub left_practice: u64,
    /// Comparison people censored at their own later referral.
    pub referred_later: u64,
    pub followed_to_end: u64,
}

/// One covariate's balance before and after matching (`estimate::comparison`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceRow {
    pub covariate: String,
    #[serde(flatten)]
    pub balance: Estimated<CovariateBalance>,
}

/// Standardised mean differences (treated-group SD) and variance ratios (treated/control; none
/// for a binary covariate); an SMD is none when it is not finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariateBalance {
    pub in_propensity_model: bool,
    pub smd_before: Option<f64>,
    pub smd_after: Option<f64>,
    pub variance_ratio_before: Option<f64>,
    pub variance_ratio_after: Option<f64>,
}

/// One instrument's (or separately analysed item's) change from baseline to follow-up among
/// the referred people with both scores: uncontrolled. A statistic that cannot be computed is
/// none (written as null) or, for a test, its group of keys is replaced by the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WellbeingChange {
    pub instrument: String,
    /// The item, for instruments analysed item by item (ONS4, MYCaW).
    pub item: Option<String>,
    /// People with a baseline score, with or without a follow-up.
    pub n_baseline: u64,
    pub n_pairs: u64,
    pub mean_baseline: Option<f64>,
    pub mean_baseline_pairs: Option<f64>,
    pub mean_followup: Option<f64>,
    pub population_norm: Option<PopulationNorm>,
    /// The paired t test; absent when it could not run (`paired_t` says why).
    #[serde(flatten)]
    pub paired_t: Option<PairedChange>,
    #[serde(default, rename = "paired_t", skip_serializing_if = "Option::is_none")]
    pub paired_t_not_estimated: Option<NotEstimated>,
    /// Holm-adjusted p of the paired t test across every instrument and item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_t_holm: Option<f64>,
    /// The Wilcoxon signed-rank test; absent when it could not run (`wilcoxon` says why).
    #[serde(flatten)]
    pub wilcoxon: Option<SignedRankChange>,
    #[serde(default, rename = "wilcoxon", skip_serializing_if = "Option::is_none")]
    pub wilcoxon_not_estimated: Option<NotEstimated>,
    pub cohens_dz: Option<f64>,
    pub cohens_dav: Option<f64>,
    /// Shares improving and deteriorating by the instrument's meaningful change, where one
    /// is set.
    #[serde(flatten)]
    pub meaningful: Option<MeaningfulChange>,
    pub rtm_adjusted: Estimated<RtmAdjusted>,
    pub change_histogram: ChangeHistogram,
    pub completers_vs_non_completers: Estimated<CompletersDifference>,
    /// Whole-score instruments: the people with a pair against everyone eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrition_vs_eligible: Option<Attrition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipw_change: Option<Estimated<IpwChange>>,
}

impl WellbeingChange {
    /// The mean paired change, when the paired t test ran.
    pub fn mean_change(&self) -> Option<f64> {
        self.paired_t.as_ref().and_then(|t| t.mean_change)
    }

    /// Its 95% interval.
    pub fn ci95(&self) -> Option<(f64, f64)> {
        interval(self.paired_t.as_ref()?.ci95)
    }
}

/// A 95% interval whose bounds are both finite.
pub fn interval(ci95: [Option<f64>; 2]) -> Option<(f64, f64)> {
    match ci95 {
        [Some(low), Some(high)] => Some((low, high)),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationNorm {
    pub mean: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedChange {
    pub mean_change: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub t: Option<f64>,
    pub df: Option<f64>,
    pub p_t: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedRankChange {
    pub wilcoxon_v: Option<f64>,
    pub p_wilcoxon: Option<f64>,
    /// "exact" or "normal".
    pub wilcoxon_method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeaningfulChange {
    pub meaningful_change_threshold: f64,
    pub pct_improved: Option<f64>,
    pub pct_deteriorated: Option<f64>,
}

/// The change less what regression to the mean alone would produce (a stated bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtmAdjusted {
    pub change: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub expected_from_regression_to_the_mean: Option<f64>,
    pub reliability: f64,
    pub reliability_source: String,
    pub population_mean: f64,
}

/// Counts of paired change in bins [from, to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeHistogram {
    pub bin_width: f64,
    pub bins: Vec<HistogramBin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    pub from: f64,
    pub to: f64,
    pub count: u64,
}

/// Baseline of the people with a pair against those without (Welch t).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletersDifference {
    pub difference: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub p: Option<f64>,
    pub non_completers: u64,
}

/// The people with a pair against everyone eligible (standardised mean differences).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attrition {
    pub eligible_treated: u64,
    pub with_pair: u64,
    pub smd_pairs_vs_all_eligible: Vec<CovariateSmd>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariateSmd {
    pub covariate: String,
    pub smd: Option<f64>,
}

/// The change weighted by the inverse probability of having a pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpwChange {
    pub change: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub bootstrap_failed_replicates: u64,
    /// The completion model, in words.
    pub model: String,
}

/// Do the candidate comparison designs agree (`design.rs`)?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignSensitivity {
    /// The design the headline estimates use.
    pub headline_design: String,
    /// The headline first, then the other candidates in `design::CANDIDATES` order.
    pub designs: Vec<DesignRow>,
    pub verdict: DesignVerdict,
    /// Each pair of designs that disagree on a measure, by `rule`.
    pub disagreements: Vec<Disagreement>,
    pub rule: String,
    /// The headline's E-values per measure (how strong unmeasured confounding would have to
    /// be to explain the estimate away).
    pub e_values: BTreeMap<String, EValue>,
    pub e_value_method: String,
    /// The headline design run again before anyone was referred, where the true effect is nil
    /// (`estimate::placebo`).
    pub placebo_index: Estimated<PlaceboIndex>,
}

/// The headline design at a placebo index date `shift_months` before every index date, with
/// `follow_up_months` of follow-up ending where the design's wash-out begins: its rate ratios
/// estimate the design's bias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceboIndex {
    pub shift_months: u64,
    pub follow_up_months: u64,
    pub matched_treated: u64,
    /// A bias within [1/margin, margin] on the ratio scale counts as none.
    pub equivalence_margin: f64,
    /// Per measure compared across designs.
    pub measures: BTreeMap<String, PlaceboMeasure>,
    /// The matching's balance at the placebo index (as the headline's `balance`): a placebo
    /// ratio away from 1 means little where the groups were not alike when matched.
    pub balance: Vec<BalanceRow>,
    /// What it can and cannot detect.
    pub reads: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceboMeasure {
    pub rate_ratio: Estimated<RateRatio>,
    /// None when there is no interval to read.
    pub reading: Option<PlaceboReading>,
}

/// A placebo rate ratio read against the equivalence margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceboReading {
    /// The 95% interval lies within the margin: no bias as large as it.
    WithinMargin,
    /// The 95% interval excludes 1 and reaches beyond the margin.
    Bias,
    /// The interval includes 1 and reaches beyond the margin: too uncertain to tell.
    Inconclusive,
}

impl DesignSensitivity {
    /// The headline design's row.
    pub fn headline(&self) -> Option<&DesignRow> {
        self.designs.iter().find(|row| row.headline)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignVerdict {
    Agree,
    Disagree,
}

/// One design's estimates, or why it could not be estimated (too short a look-back, no
/// matching).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignRow {
    pub design: DesignDescription,
    pub headline: bool,
    #[serde(flatten)]
    pub estimates: Estimated<DesignEstimates>,
}

/// A `design::Design` as results.json holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignDescription {
    pub name: String,
    pub washout_months: i32,
    pub baseline_months: i32,
    pub match_on_prior_use: PriorUse,
    pub exact_on_prior_use_bands: bool,
    pub adjust_for_prior_use: bool,
    pub description: String,
    pub known_bias: String,
}

impl From<&Design> for DesignDescription {
    fn from(design: &Design) -> DesignDescription {
        DesignDescription {
            name: design.name.to_string(),
            washout_months: design.washout_months,
            baseline_months: design.baseline_months,
            match_on_prior_use: design.match_on_prior_use,
            exact_on_prior_use_bands: design.exact_on_prior_use_bands,
            adjust_for_prior_use: design.adjust_for_prior_use,
            description: design.description.to_string(),
            known_bias: design.known_bias.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignEstimates {
    /// Referred people with a comparison person under this design.
    pub matched_treated: u64,
    /// The measures compared across designs (`outcomes::compared_across_designs`).
    pub rate_ratios: BTreeMap<String, Estimated<RateRatio>>,
    pub saving: Estimated<DesignSaving>,
}

/// One service-use measure's estimates (`estimate::service_use`), in the registry's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceUseRow {
    pub measure: String,
    pub unit: String,
    /// "primary" (study.toml `primary_outcome`) or "secondary".
    pub role: String,
    /// The referred group alone, after against before: uncontrolled.
    pub before_after: Estimated<BeforeAfter>,
    pub did: Estimated<Did>,
    /// ANCOVA on the lagged outcome, the sensitivity that brackets the DiD.
    pub ancova_sensitivity: Estimated<RatioTest>,
    pub comparison_before_after_rate_ratio: Option<f64>,
    /// The DiD inside the baseline window (counts only).
    pub placebo_did: Option<Estimated<Did>>,
    pub event_study: Vec<EventStudyMonth>,
    pub event_study_regression: Estimated<EventStudyRegression>,
}

impl ServiceUseRow {
    pub fn is_primary(&self) -> bool {
        self.role == "primary"
    }
}

/// The uncontrolled before/after of the referred group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    pub pre_rate: Option<f64>,
    pub post_rate: Option<f64>,
    pub rate_ratio: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub p: Option<f64>,
    pub label: String,
}

/// A rate ratio with its interval and p-value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioTest {
    pub rate_ratio: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub p: Option<f64>,
}

/// A difference-in-differences estimate: the headline per measure, the placebo, and each
/// subgroup's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Did {
    pub rate_ratio: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub p: Option<f64>,
    /// Holm across the secondary measures (headline secondary measures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_holm: Option<f64>,
    /// Benjamini-Hochberg across every subgroup estimate of the measure (subgroups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_bh: Option<f64>,
    pub minimum_detectable_rate_ratio: MinimumDetectable,
    pub change_per_person_year: Option<f64>,
    /// The bootstrap intervals of the change (none without a bootstrap; BCa may fail alone).
    pub change_ci95: Option<[Option<f64>; 2]>,
    pub change_ci95_bca: Option<[Option<f64>; 2]>,
    pub bootstrap_non_finite_replicates: Option<u64>,
    pub clusters: u64,
    /// "normal", or "t(G-1), G = matched sets" below `T_BELOW_CLUSTERS`.
    pub interval: String,
    /// What the rate ratio means per treated person (the headline only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avoided_per_person: Option<Avoided>,
    /// Matched sets with data over the whole baseline window (the placebo only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_sets: Option<u64>,
}

/// The smallest rate ratio either side of 1 detectable with 80% power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinimumDetectable {
    pub lower: Option<f64>,
    pub higher: Option<f64>,
    pub basis: String,
}

/// Events (or pounds) avoided per treated person over the follow-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Avoided {
    pub observed: Option<f64>,
    pub avoided: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub basis: String,
}

/// One month of the event study: each group's rate per person-year and its exact interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventStudyMonth {
    pub month: i32,
    pub treated_rate: Option<f64>,
    pub treated_ci95: Option<[Option<f64>; 2]>,
    pub comparison_rate: Option<f64>,
    pub comparison_ci95: Option<[Option<f64>; 2]>,
}

/// The event study as a regression: per month the treated-comparison rate ratio relative to
/// the reference month, and the joint test of the baseline months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventStudyRegression {
    pub reference_month: i64,
    pub contrasts: Vec<Contrast>,
    pub pre_trend: Option<PreTrend>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contrast {
    pub month: i64,
    pub rate_ratio: Option<f64>,
    pub ci95: Option<[Option<f64>; 2]>,
    /// The reference month (its ratio is 1 by definition).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
}

/// The joint Wald test that the baseline months' contrasts are all zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreTrend {
    pub chi2: Option<f64>,
    pub df: usize,
    pub p: Option<f64>,
    /// The first and last month tested.
    pub months: [i64; 2],
}

/// A chi-squared (Wald) test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChiSquared {
    pub chi2: Option<f64>,
    pub df: usize,
    pub p: Option<f64>,
}

/// Subgroup estimates for the equity breakdowns (`estimate::BREAKDOWNS`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equity {
    pub service_use: Estimated<Vec<ServiceUseSubgroup>>,
    /// Whether a measure's rate ratio differs between a breakdown's levels (absent when
    /// nothing was matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_use_interactions: Option<Vec<Interaction>>,
    pub wellbeing: Vec<WellbeingSubgroup>,
}

/// One level of a breakdown: the DiD per measure, or why it was not estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceUseSubgroup {
    pub breakdown: String,
    pub level: String,
    pub matched_sets: u64,
    /// Balance within the level's own matched sets (person-level breakdowns, rematched
    /// within the level; none for the referral's own facts, split from the headline's sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<SubgroupBalance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_estimated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<Vec<MeasureDid>>,
}

/// How alike a subgroup's rematched groups are: the covariate with the largest standardised
/// mean difference after matching (the level's matched treated people's SD) and how many of
/// the covariates are outside the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupBalance {
    pub largest_abs_smd: f64,
    pub covariate: String,
    pub outside_target: u64,
    pub covariates: u64,
}

impl ServiceUseSubgroup {
    /// The estimate of one measure in this level, when it was estimated.
    pub fn did(&self, measure: &str) -> Option<&Did> {
        self.measures
            .iter()
            .flatten()
            .find(|estimate| estimate.measure == measure)?
            .did
            .done()
    }
}

/// A measure's DiD within a subgroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureDid {
    pub measure: String,
    #[serde(flatten)]
    pub did: Estimated<Did>,
}

/// The interaction test of one measure across one breakdown's levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub breakdown: String,
    pub measure: String,
    /// Levels estimated for the measure.
    pub levels: usize,
    #[serde(flatten)]
    pub test: Estimated<ChiSquared>,
}

/// The paired change of one instrument within one level of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WellbeingSubgroup {
    pub breakdown: String,
    pub level: String,
    pub instrument: String,
    pub n_pairs: u64,
    /// Fewer pairs than the subgroup minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_estimated: Option<String>,
    /// The paired t-test could not be computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_t: Option<NotEstimated>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub change: Option<SubgroupChange>,
}

/// The economic evaluation (`estimate::economics`): savings per person referred from the
/// total-cost model, payback, sensitivity analyses and the unit costs used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Economics {
    pub perspective: String,
    /// The unit-cost set's name, and the table itself as uprated to the price year.
    pub unit_costs: String,
    pub unit_cost_table: UnitCosts,
    /// "unit" or "record" (study.toml `[costs] hospital`).
    pub hospital_costing: String,
    pub price_year: String,
    pub discount_rate: f64,
    pub programme: ProgrammeCost,
    pub programme_cost_per_person: f64,
    pub horizon_months: usize,
    pub follow_up_days: FollowUpDays,
    pub monthly: Vec<EconomicsMonth>,
    /// Discounted savings per person over the horizon.
    pub savings_per_person_24m: Option<f64>,
    pub savings_ci95: Option<[Option<f64>; 2]>,
    pub net_per_person: Option<f64>,
    /// By month ("12", "18", "24").
    pub return_per_pound: BTreeMap<String, Option<f64>>,
    pub return_per_pound_24m_ci95: Option<[Option<f64>; 2]>,
    pub break_even_month: Option<u32>,
    pub p_break_even_by_24m: Estimated<Option<f64>>,
    pub bootstrap: EconomicsBootstrap,
    pub tornado: Tornado,
    /// Scenarios past the observed follow-up (none when it reaches 36 months).
    pub projections: Vec<Projection>,
    pub thresholds: Thresholds,
    pub share_needed: Estimated<ShareNeeded>,
    pub scales: Scales,
    pub psa: Estimated<Psa>,
    pub note: String,
}

/// The treated group's follow-up over the economics' horizon, per person referred: the days
/// observed (registered and alive) and the days alive the savings count, with the days after
/// leaving the practice weighted back (inverse probability of censoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpDays {
    pub registered_and_alive_per_person: Option<f64>,
    pub alive_per_person: Option<f64>,
    /// The life table's share who left the practice by the horizon (1 - G).
    pub left_practice_share: Option<f64>,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EconomicsMonth {
    pub month: u32,
    pub saving_per_person: Option<f64>,
    pub discounted_saving_per_person: Option<f64>,
    pub cumulative_net_per_person: Option<f64>,
    pub cumulative_net_ci95: Option<[Option<f64>; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EconomicsBootstrap {
    pub unit: String,
    pub replicates: usize,
    pub seed: u64,
    pub interval: String,
    pub non_finite_replicates: usize,
}

/// One-way sensitivity of the net saving per person at the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tornado {
    pub outcome: String,
    pub base_case: Option<f64>,
    /// Sorted by range, widest first.
    pub bars: Vec<TornadoBar>,
    /// The net saving at each conventional discount rate (0%, 1.5% and NICE's 3.5%).
    pub discount_rates: Vec<DiscountRateRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountRateRow {
    pub rate: f64,
    pub net: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TornadoBar {
    pub parameter: String,
    pub variation: String,
    pub low_value: Option<f64>,
    pub high_value: Option<f64>,
    pub net_at_low: Option<f64>,
    pub net_at_high: Option<f64>,
}

/// A labelled scenario past the observed follow-up: assumed, not measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub scenario: String,
    pub label: String,
    pub observed_months: usize,
    pub projected_to_month: usize,
    pub projected_monthly_saving_from: Option<f64>,
    pub base: String,
    pub break_even_month: Option<u32>,
    pub net_per_person_at_end: Option<f64>,
    pub return_per_pound: BTreeMap<String, Option<f64>>,
    pub cumulative_net_per_person: Vec<Option<f64>>,
}

/// Break-even programme costs and caseloads at 12, 18 and 24 months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub what: String,
    pub staffing_basis: String,
    pub rows: Vec<ThresholdRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    pub months: u32,
    pub cost_per_person: Option<f64>,
    pub cost_ci95: Option<[Option<f64>; 2]>,
    /// None: no caseload costs that little (the savings are not positive).
    pub caseload_per_fte: Option<f64>,
    pub caseload_ci95: Option<[Option<f64>; 2]>,
}

/// What the service would need to achieve: the share of expected NHS costs avoided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareNeeded {
    pub what: String,
    pub expected_cost_per_person: Option<f64>,
    pub estimated_share: Option<f64>,
    pub estimated_share_ci95: Option<[Option<f64>; 2]>,
    pub break_even_share: Option<f64>,
    pub programme_costs: Vec<Option<f64>>,
    pub grid: Vec<ShareRow>,
}

/// Net saving per person at one share avoided, per programme cost of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareRow {
    pub share: f64,
    pub net: Vec<Option<f64>>,
}

/// The saving on the ratio scale (headline) and the additive scale (sensitivity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scales {
    pub what: String,
    pub total_cost_rate_ratio: Option<f64>,
    pub rows: Vec<ScaleRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleRow {
    /// "ratio" or "additive".
    pub scale: String,
    pub role: String,
    pub expected_cost_per_person: Option<f64>,
    pub observed_cost_per_person: Option<f64>,
    pub saving_per_person: Option<f64>,
    pub discounted_saving_per_person: Option<f64>,
    pub discounted_ci95: Option<[Option<f64>; 2]>,
}

/// The probabilistic sensitivity analysis of the net saving at the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Psa {
    pub what: String,
    pub draws: usize,
    pub cv: f64,
    pub seed: u64,
    pub net_mean: Option<f64>,
    pub net_ci95: Option<[Option<f64>; 2]>,
    pub p_net_positive: Option<f64>,
    pub non_finite_draws: usize,
    /// The same draws on a cost-effectiveness plane, with events avoided as the effect.
    pub cost_effectiveness: Estimated<CostEffectiveness>,
}

/// The PSA's draws as incremental cost (programme cost less NHS savings) against the events
/// of one counted measure avoided, both per person referred over the horizon and discounted:
/// a cost-consequence plane, since wellbeing (the service's aim) has no comparison group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEffectiveness {
    /// The measure whose events avoided are the effect (study.toml `cost_effectiveness_effect`).
    pub effect_measure: String,
    pub what: String,
    pub effect_mean: Option<f64>,
    pub effect_ci95: Option<[Option<f64>; 2]>,
    pub incremental_cost_mean: Option<f64>,
    pub incremental_cost_ci95: Option<[Option<f64>; 2]>,
    /// Where the mean lies, and the incremental cost per event avoided where that is the
    /// question (more cost and fewer events).
    pub reading: PlaneReading,
    pub cost_per_event_avoided: Option<f64>,
    /// Share of draws in each quadrant.
    pub quadrants: Quadrants,
    /// P(willingness to pay x events avoided > incremental cost) on a grid of willingness to
    /// pay per event avoided, from 0 to `acceptability_up_to`.
    pub acceptability: Vec<AcceptabilityPoint>,
    pub acceptability_up_to: f64,
    /// The first draws (effect, incremental cost), for the plane's picture.
    pub plane_draws: Vec<[f64; 2]>,
}

/// Where the mean of the draws lies on the cost-effectiveness plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaneReading {
    /// Fewer events and a lower cost: it saves more than it costs and avoids events.
    Dominant,
    /// Fewer events at a higher cost: the cost per event avoided is the question.
    CostsMoreAvoidsEvents,
    /// Lower cost but more events.
    SavesMoreEvents,
    /// More events and a higher cost.
    Dominated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quadrants {
    pub dominant: f64,
    pub costs_more_avoids_events: f64,
    pub saves_more_events: f64,
    pub dominated: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptabilityPoint {
    pub willingness_to_pay: f64,
    pub p_cost_effective: f64,
}

/// A subgroup's mean paired change with its t interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupChange {
    pub mean_change: Option<f64>,
    pub ci95: [Option<f64>; 2],
    pub p_t: Option<f64>,
}

/// A DiD rate ratio and its 95% interval (none when not finite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateRatio {
    pub rate_ratio: Option<f64>,
    pub ci95: [Option<f64>; 2],
}

/// The discounted saving per person referred at the horizon under a design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignSaving {
    pub horizon_months: Option<u64>,
    pub savings_per_person: Option<f64>,
    pub ci95: Option<[Option<f64>; 2]>,
    /// Bootstrap replicates with no finite saving (a design's own bootstrap; the headline's
    /// are in the economics section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_non_finite_replicates: Option<u64>,
    /// What a design's outcome model multiplied the counterfactual by (absent when 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterfactual_factor: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub measure: String,
    pub designs: [String; 2],
    pub rate_ratios: [f64; 2],
    pub intervals_overlap: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EValue {
    pub estimate: Option<f64>,
    pub ci_limit: Option<f64>,
}

/// Referrals per 1,000 registered of each unit (practice or PCN) against funnel-plot limits
/// around the overall rate (`practices.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelView {
    pub registered: u64,
    pub referred: u64,
    pub referrals_per_1000: f64,
    /// How the limits are computed, in words.
    pub limits: String,
    pub units: Vec<FunnelUnit>,
    /// Points on each control limit, for the chart.
    pub curve: Vec<CurvePoint>,
    /// The same per PCN, when the study gives a practice-to-PCN lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcns: Option<Box<Estimated<FunnelView>>>,
}

/// A practice (`practice_code`) or a PCN (`pcn`, `pcn_name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelUnit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcn_name: Option<String>,
    pub registered: u64,
    pub referred: u64,
    pub accepted: u64,
    pub first_contact: u64,
    /// None when nobody is registered.
    pub referrals_per_1000: Option<f64>,
    /// "above 99.8%", "below 95%", "within 95%"..., none without a rate.
    pub position: Option<String>,
}

impl FunnelUnit {
    /// The unit's code: the practice's or the PCN's.
    pub fn code(&self) -> &str {
        self.practice_code
            .as_deref()
            .or(self.pcn.as_deref())
            .unwrap_or_default()
    }
}

/// The control limits at one list size: `lower_95`, `upper_95`, `lower_99_8`, `upper_99_8`
/// (one pair per coverage in `practices::LIMITS`, where defined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub registered: u64,
    #[serde(flatten)]
    pub limits: BTreeMap<String, f64>,
}

/// The referral funnel (`funnel`): every route together, then each route.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Funnel {
    #[serde(flatten)]
    pub all_routes: FunnelStages,
    pub by_route: Vec<RouteFunnel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteFunnel {
    pub referral_route: String,
    #[serde(flatten)]
    pub stages: FunnelStages,
}

/// People at each stage of the funnel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FunnelStages {
    pub referred: u64,
    pub accepted: u64,
    pub first_contact: u64,
    pub completed: u64,
    pub declined: u64,
}

impl FunnelStages {
    /// Each stage's name and people, in funnel order.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("referred", self.referred),
            ("accepted", self.accepted),
            ("first_contact", self.first_contact),
            ("completed", self.completed),
            ("declined", self.declined),
        ]
    }
}

/// Attendance at community activities (`participation`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participation {
    pub referred_with_activity_data: u64,
    pub attended_any: u64,
    /// Sessions per person who attended any; none when nobody did.
    pub sessions_per_person: Option<f64>,
    pub by_activity_type: Vec<ActivityParticipation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityParticipation {
    pub activity_type: String,
    pub people: u64,
    pub sessions: u64,
}

/// A results document for unit tests: `sections` (a JSON object of results.json sections)
/// over a minimal valid document; keys given under "cohort", "study" or
/// "design_sensitivity" replace those keys only.
#[cfg(test)]
pub(crate) fn for_tests(sections: Value) -> Results {
    let mut document = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "restricted": RESTRICTED,
        "study": {"name": "test", "start": "2022-04-01", "end": "2024-03-31",
                  "data_end": "2026-03-31", "pre_months": 24, "post_months": 24},
        "design": {"name": "test", "kind": "matched",
                   "label": "matched comparison", "description": "a test design"},
        "cohort": {"referrals": 0, "persons_referred": 0, "persons_with_index_date": 0,
                   "eligible_treated": 0, "comparison_pool": 0,
                   "eligible_comparison_candidates": 0, "comparison_censored_at_referral": 0,
                   "flow": []},
        "funnel": {"referred": 0, "accepted": 0, "first_contact": 0, "completed": 0,
                   "declined": 0, "by_route": []},
        "participation": {"referred_with_activity_data": 0, "attended_any": 0,
                          "sessions_per_person": null, "by_activity_type": []},
        "practices": {"not_estimated": "not in this test"},
    });
    // A test's design_sensitivity gives only the keys it is about.
    let mut bases = serde_json::json!({
        "design_sensitivity": {"headline_design": "test", "designs": [], "verdict": "agree",
                               "disagreements": [], "rule": "", "e_values": {},
                               "e_value_method": "",
                               "placebo_index": {"not_estimated": "not in this test"}},
    });
    for (section, value) in sections.as_object().expect("sections are an object") {
        // A test's service-use rows give only the keys they are about; each is merged onto
        // a row whose every estimate is empty.
        if section == "economics" {
            let mut economics = merged(economics_for_tests(), value);
            if let Some(months) = value["monthly"].as_array() {
                economics["monthly"] = months
                    .iter()
                    .map(|month| merged(economics_month_for_tests(), month))
                    .collect();
            }
            document[section] = economics;
            continue;
        }
        if section == "service_use"
            && let Some(rows) = value.as_array()
        {
            let rows = rows
                .iter()
                .map(|row| merged(service_use_row_for_tests(), row))
                .collect();
            document[section] = Value::Array(rows);
            continue;
        }
        if let (Some(base), Some(keys)) = (bases[section].as_object_mut(), value.as_object()) {
            base.extend(keys.clone());
            document[section] = bases[section].clone();
            continue;
        }
        match (document[section].as_object_mut(), value.as_object()) {
            (Some(base), Some(keys)) if section == "cohort" || section == "study" => {
                base.extend(keys.clone());
            }
            _ => document[section] = value.clone(),
        }
    }
    serde_json::from_value(document).expect("a valid results document")
}

/// A service-use row with every estimate empty, for tests to fill in.
#[cfg(test)]
fn service_use_row_for_tests() -> Value {
    serde_json::json!({
        "measure": "", "unit": "", "role": "secondary",
        "before_after": {"not_estimated": "not in this test"},
        "did": {"rate_ratio": null, "ci95": [null, null], "p": null,
                "minimum_detectable_rate_ratio": {"lower": null, "higher": null, "basis": ""},
                "change_per_person_year": null, "change_ci95": null, "change_ci95_bca": null,
                "bootstrap_non_finite_replicates": null, "clusters": 0, "interval": "normal"},
        "ancova_sensitivity": {"not_estimated": "not in this test"},
        "comparison_before_after_rate_ratio": null,
        "placebo_did": null,
        "event_study": [],
        "event_study_regression": {"reference_month": -13, "contrasts": [],
            "pre_trend": {"chi2": null, "df": 1, "p": null, "months": [-24, -14]}},
    })
}

/// An economics section with every estimate empty, for tests to fill in.
#[cfg(test)]
fn economics_for_tests() -> Value {
    serde_json::json!({
        "perspective": "", "unit_costs": "pssru-2024",
        "unit_cost_table": crate::costs::PSSRU_2024.clone(),
        "hospital_costing": "unit", "price_year": "2023/24", "discount_rate": 0.035,
        "programme": ProgrammeCost::PerReferral { cost_per_person_gbp: 0.0 },
        "programme_cost_per_person": 0.0, "horizon_months": 24, "monthly": [],
        "follow_up_days": {"registered_and_alive_per_person": null, "alive_per_person": null,
                           "left_practice_share": null, "method": ""},
        "savings_per_person_24m": null, "savings_ci95": null, "net_per_person": null,
        "return_per_pound": {}, "return_per_pound_24m_ci95": null, "break_even_month": null,
        "p_break_even_by_24m": null,
        "bootstrap": {"unit": "matched set", "replicates": 2000, "seed": 1,
                      "interval": "percentile", "non_finite_replicates": 0},
        "tornado": {"outcome": "", "base_case": null, "bars": [], "discount_rates": []},
        "projections": [],
        "thresholds": {"what": "", "staffing_basis": "", "rows": []},
        "share_needed": {"not_estimated": "not in this test"},
        "scales": {"what": "", "total_cost_rate_ratio": null, "rows": []},
        "psa": {"not_estimated": "not in this test"},
        "note": "",
    })
}

#[cfg(test)]
fn economics_month_for_tests() -> Value {
    serde_json::json!({"month": 24, "saving_per_person": null,
        "discounted_saving_per_person": null, "cumulative_net_per_person": null,
        "cumulative_net_ci95": null})
}

/// A service-use row with only the keys a test gives (the rest empty).
#[cfg(test)]
pub(crate) fn service_use_row_with(keys: Value) -> ServiceUseRow {
    serde_json::from_value(merged(service_use_row_for_tests(), &keys)).expect("a valid row")
}

/// `overlay`'s keys on `base`, objects merged key by key at every depth.
#[cfg(test)]
fn merged(mut base: Value, overlay: &Value) -> Value {
    match (base.as_object_mut(), overlay.as_object()) {
        (Some(base_keys), Some(keys)) => {
            for (key, value) in keys {
                let inner = base_keys.remove(key).unwrap_or(Value::Null);
                base_keys.insert(key.clone(), merged(inner, value));
            }
            base
        }
        _ => overlay.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_reads_back_as_it_was_written() {
        let results = for_tests(json!({
            "cohort": {"matched_treated": 380, "matched_comparison": 380, "unmatched_treated": 8,
                       "follow_up_exits": {"within_months": 24, "groups": [
                           {"group": "treated", "people": 380, "died": 9, "left_practice": 22,
                            "referred_later": 0, "followed_to_end": 349}]}},
            "funnel": {"referred": 462, "accepted": 427, "first_contact": 372, "completed": 254,
                       "declined": 52, "by_route": [{"referral_route": "medical", "referred": 383,
                       "accepted": 350, "first_contact": 304, "completed": 205, "declined": 47}]},
            "service_use": [{"measure": "gp_demand"}],
        }));
        let written = serde_json::to_value(&results).unwrap();
        assert_eq!(written["cohort"]["follow_up_exits"]["groups"][0]["died"], 9);
        assert_eq!(written["funnel"]["by_route"][0]["declined"], 47);
        assert_eq!(written["funnel"]["completed"], 254);
        assert!(
            written.get("balance").is_none(),
            "a section never estimated is left out"
        );
        let read: Results = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), written);
        assert_eq!(read.cohort.matched.treated(), 380);
    }

    #[test]
    fn a_document_missing_a_key_names_it() {
        let mut written = serde_json::to_value(for_tests(json!({}))).unwrap();
        written["cohort"]
            .as_object_mut()
            .unwrap()
            .remove("eligible_treated");
        let error = serde_json::from_value::<Results>(written).unwrap_err();
        assert!(error.to_string().contains("eligible_treated"), "{error}");
    }
}
