//! The study configuration (`study.toml`, README "The study configuration"): read with serde, unknown keys
//! refused (the error names the key and its line), every key defaulted as documented here,
//! then validated into a [`StudyConfig`]. Nothing downstream sees raw TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::costs::{InflationIndex, UnitCosts};
pub use crate::design::PriorUse;
use crate::design::{ComparisonKind, Design};
use crate::econ::programme::{self, CostDivisor, ProgrammeCost, Staffing};
use crate::error::{Error, Location, Result};
use crate::ingest::profile::Layouts;

/// A validated study configuration. Serialised (every key as resolved, defaults included) it is
/// the manifest's `config`: what the run actually used.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudyConfig {
    pub name: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub data_end: NaiveDate,
    pub pre_months: i32,
    pub post_months: i32,
    pub seed: u64,
    /// The one service-use measure reported without multiplicity adjustment (a code of
    /// `outcomes::MEASURES`); the others are secondary, Holm-adjusted together.
    pub primary_outcome: &'static str,
    pub min_age: i32,
    /// How the comparison group is formed (`design::ComparisonKind`).
    pub comparison: ComparisonKind,
    pub match_ratio: u32,
    pub caliper_sd: f64,
    pub exact: Vec<String>,
    /// Months before the index (-washout_months..-1) left out of the baseline of the
    /// difference-in-differences and the savings (0 = none). What the matching uses is
    /// `match_on_prior_use`, decided separately.
    pub washout_months: i32,
    /// Months in the DiD and savings baseline, just before the wash-out.
    pub baseline_months: i32,
    /// Which prior service use the propensity model matches on, besides demographics.
    pub match_on_prior_use: PriorUse,
    /// Matched exactly on bands of that prior use too (`design::Design`).
    pub exact_on_prior_use_bands: bool,
    /// The outcome models adjust for each person's prior use of the measure (`design::Design`).
    pub adjust_for_prior_use: bool,
    pub baseline_window_days: (i32, i32),
    pub followup_window_days: (i32, i32),
    /// The follow-up questionnaire is the one nearest this many days after the index.
    pub followup_target_day: i32,
    /// The unit-cost set as configured (a bundled name or a path).
    pub unit_costs: String,
    pub price_year: String,
    /// The resolved table, at `price_year`.
    pub unit_cost_table: UnitCosts,
    /// Unit-cost rules, or each hospital record's own cost where it has one.
    pub hospital_costing: HospitalCosting,
    pub discount_rate: f64,
    /// The counted measure whose events avoided are the effect on the cost-effectiveness
    /// plane and acceptability curve (a code of `outcomes::MEASURES`; `[costs]
    /// cost_effectiveness_effect`, default emergency admissions).
    pub cost_effectiveness_effect: &'static str,
    pub programme: ProgrammeCost,
    pub suppress_at_or_below: u32,
    pub round_to: u32,
    #[serde(skip)]
    pub formats: Vec<String>,
    /// The input layouts: built-in profiles, the study's own (`[inputs] profiles`) and files
    /// pinned to a layout or extract (`[inputs.files]`).
    #[serde(flatten, serialize_with = "serialize_layouts")]
    pub layouts: Layouts,
    /// Below this share of a file's rows linked to patients, ingest warns.
    pub min_linkage_rate: f64,
    /// Which PCN each practice belongs to (`[inputs] pcn_lookup`), for the PCN view.
    #[serde(
        rename = "pcn_lookup_practices",
        serialize_with = "serialize_pcn_lookup"
    )]
    pub pcn_lookup: Option<crate::practices::PcnLookup>,
    /// Where the config was read from (for messages and the manifest).
    #[serde(skip)]
    pub source: PathBuf,
}

/// The layouts as the manifest names them: the study's own profiles and the pinned files.
fn serialize_layouts<S: serde::Serializer>(
    layouts: &Layouts,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("input_profiles", &layouts.user_profile_names())?;
    map.serialize_entry("input_files", &layouts.pinned)?;
    map.end()
}

/// The PCN lookup as the manifest gives it: how many practices it places.
fn serialize_pcn_lookup<S: serde::Serializer>(
    lookup: &Option<crate::practices::PcnLookup>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serde::Serialize::serialize(
        &lookup.as_ref().map(crate::practices::PcnLookup::len),
        serializer,
    )
}

/// What study.toml's `comparison` accepts; a value with no `design::ComparisonKind` yet is
/// refused with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Matched,
    Decliners,
    None,
}

/// How hospital events are costed: the unit-cost table's rules, or the record's own cost
/// (`cost_gbp`, e.g. the SUS tariff price) where the extract gives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HospitalCosting {
    #[default]
    Unit,
    Record,
}

impl HospitalCosting {
    pub fn as_str(self) -> &'static str {
        match self {
            HospitalCosting::Unit => "unit",
            HospitalCosting::Record => "record",
        }
    }
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Matched => "matched",
            Comparison::Decliners => "decliners",
            Comparison::None => "none",
        }
    }
}

const EXACT_KEYS: [&str; 5] = [
    "index_quarter",
    "sex",
    "age_band",
    "imd_quintile",
    "practice_code",
];
const FORMATS: [&str; 7] = ["html", "md", "json", "csv", "parquet", "png", "svg"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    study: RawStudy,
    #[serde(default)]
    cohort: RawCohort,
    #[serde(default)]
    wellbeing: RawWellbeing,
    #[serde(default)]
    costs: RawCosts,
    #[serde(default)]
    disclosure: RawDisclosure,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    inputs: RawInputs,
    #[serde(default)]
    quality: RawQuality,
}

/// `[quality]`: the share of a file's rows that must link to patients before ingest warns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawQuality {
    min_linkage_rate: f64,
}

impl Default for RawQuality {
    fn default() -> Self {
        RawQuality {
            min_linkage_rate: crate::ingest::report::DEFAULT_MIN_LINKAGE_RATE,
        }
    }
}

/// `[inputs]`: profile files for layouts the tool does not know (paths relative to
/// study.toml), and data files pinned to a layout or an extract by file name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawInputs {
    profiles: Vec<PathBuf>,
    files: BTreeMap<String, String>,
    /// Practice to PCN lookup (practice_code, pcn_code, pcn_name), relative to study.toml.
    pcn_lookup: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    name: String,
    start: toml::value::Datetime,
    end: toml::value::Datetime,
    data_end: toml::value::Datetime,
    #[serde(default = "default_pre_months")]
    pre_months: i32,
    #[serde(default = "default_post_months")]
    post_months: i32,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_primary_outcome")]
    primary_outcome: String,
}

/// Two years: the default design matches on the year before referral and takes the year
/// before that as its baseline (`design::CANDIDATES`).
fn default_pre_months() -> i32 {
    24
}
fn default_post_months() -> i32 {
    24
}
fn default_seed() -> u64 {
    20240401
}
/// Total NHS cost: the outcome "pays for itself" is a claim about.
fn default_primary_outcome() -> String {
    "total_cost".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCohort {
    min_age: i32,
    comparison: Comparison,
    match_ratio: u32,
    caliper_sd: f64,
    exact: Vec<String>,
    washout_months: Option<i32>,
    baseline_months: Option<i32>,
    match_on_prior_use: Option<PriorUse>,
    exact_on_prior_use_bands: Option<bool>,
}

impl Default for RawCohort {
    fn default() -> Self {
        RawCohort {
            min_age: 18,
            comparison: Comparison::Matched,
            match_ratio: 1,
            caliper_sd: 0.2,
            exact: vec!["index_quarter".into()],
            washout_months: None,
            baseline_months: None,
            match_on_prior_use: None,
            exact_on_prior_use_bands: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWellbeing {
    baseline_window_days: [i32; 2],
    followup_window_days: [i32; 2],
    followup_target_day: i32,
}

impl Default for RawWellbeing {
    fn default() -> Self {
        RawWellbeing {
            baseline_window_days: [-60, 30],
            followup_window_days: [56, 365],
            followup_target_day: 90,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCosts {
    unit_costs: String,
    price_year: String,
    discount_rate: f64,
    programme_cost_per_referral: Option<f64>,
    /// The service's total cost over the study window, divided by the people accepted (or
    /// the referrals, `programme_cost_divided_by`) the data show.
    programme_total_cost_gbp: Option<f64>,
    programme_cost_divided_by: Option<CostDivisor>,
    hospital: HospitalCosting,
    cost_effectiveness_effect: String,
    programme: Option<RawProgramme>,
}

impl Default for RawCosts {
    fn default() -> Self {
        RawCosts {
            unit_costs: crate::costs::DEFAULT_SET.into(),
            price_year: "2023/24".into(),
            discount_rate: 0.035,
            programme_cost_per_referral: None,
            programme_total_cost_gbp: None,
            programme_cost_divided_by: None,
            hospital: HospitalCosting::Unit,
            cost_effectiveness_effect: "emergency_admissions".into(),
            programme: None,
        }
    }
}

/// Rotherham: £466 per person referred per year, 2023/24 prices (PSSRU 2024 manual; docs/domain.md, Unit costs).
const DEFAULT_PROGRAMME_COST_PER_REFERRAL: f64 = 466.0;

/// `[costs.programme]`: a staffing model (defaults and sources in `econ::programme`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    #[serde(default = "one")]
    link_worker_fte: f64,
    #[serde(default = "default_band")]
    band: u8,
    salary_gbp: Option<f64>,
    #[serde(default = "default_on_cost_rate")]
    on_cost_rate: f64,
    #[serde(default = "default_overheads")]
    overheads_gbp_per_fte: f64,
    #[serde(default = "default_caseload")]
    caseload_per_fte: f64,
    #[serde(default)]
    grants_gbp_per_year: f64,
}

fn one() -> f64 {
    1.0
}
fn default_band() -> u8 {
    programme::DEFAULT_BAND
}
fn default_on_cost_rate() -> f64 {
    programme::DEFAULT_ON_COST_RATE
}
fn default_overheads() -> f64 {
    programme::DEFAULT_OVERHEADS_GBP_PER_FTE
}
fn default_caseload() -> f64 {
    programme::DEFAULT_CASELOAD_PER_FTE
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDisclosure {
    suppress_at_or_below: u32,
    round_to: u32,
}

impl Default for RawDisclosure {
    fn default() -> Self {
        // HES/ECDS rule: 1-7 suppressed, others rounded to 5 (docs/domain.md, Disclosure control).
        RawDisclosure {
            suppress_at_or_below: 7,
            round_to: 5,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutput {
    formats: Vec<String>,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            formats: FORMATS.iter().map(|format| format.to_string()).collect(),
        }
    }
}

/// The programme cost per person: a cost per referral, the service's total cost to divide
/// among the people accepted (or the referrals), or the `[costs.programme]` staffing model
/// uprated from its 2023/24 defaults to the study's price year; only one.
fn programme_cost(
    costs: &RawCosts,
    index: &InflationIndex,
    invalid: &dyn Fn(&str, String) -> Error,
) -> Result<ProgrammeCost> {
    if costs.programme_cost_divided_by.is_some() && costs.programme_total_cost_gbp.is_none() {
        return Err(invalid(
            "programme_cost_divided_by",
            "programme_cost_divided_by divides programme_total_cost_gbp, which is not given".into(),
        ));
    }
    if let Some(total) = costs.programme_total_cost_gbp {
        if costs.programme_cost_per_referral.is_some() || costs.programme.is_some() {
            return Err(invalid(
                "programme_total_cost_gbp",
                "give one of programme_cost_per_referral, programme_total_cost_gbp or a [costs.programme] staffing model".into(),
            ));
        }
        if !(total.is_finite() && total > 0.0) {
            return Err(invalid(
                "programme_total_cost_gbp",
                "must be a cost of more than 0".into(),
            ));
        }
        return Ok(ProgrammeCost::Total {
            total_gbp: total,
            divided_by: costs
                .programme_cost_divided_by
                .unwrap_or(CostDivisor::Accepted),
            people: None,
            cost_per_person_gbp: None,
        });
    }
    let Some(raw) = &costs.programme else {
        let cost = costs
            .programme_cost_per_referral
            .unwrap_or(DEFAULT_PROGRAMME_COST_PER_REFERRAL);
        if !(cost.is_finite() && cost >= 0.0) {
            return Err(invalid(
                "programme_cost_per_referral",
                "must be a cost of 0 or more".into(),
            ));
        }
        return Ok(ProgrammeCost::PerReferral {
            cost_per_person_gbp: cost,
        });
    };
    if costs.programme_cost_per_referral.is_some() {
        return Err(invalid(
            "programme_cost_per_referral",
            "give either programme_cost_per_referral or a [costs.programme] staffing model, not both"
                .into(),
        ));
    }
    let salary_gbp = match raw.salary_gbp {
        Some(salary) => salary,
        None => programme::BAND_SALARY_GBP
            .iter()
            .find(|(band, _)| *band == raw.band)
            .map(|(_, salary)| *salary)
            .ok_or_else(|| {
                invalid(
                    "band",
                    format!(
                        "no default salary for Agenda for Change band {}; give salary_gbp",
                        raw.band
                    ),
                )
            })?,
    };
    let positive = |key: &str, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(invalid(key, format!("{key} must be more than 0")))
        }
    };
    let non_negative = |key: &str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(invalid(key, format!("{key} must be 0 or more")))
        }
    };
    let staffing = Staffing {
        link_worker_fte: positive("link_worker_fte", raw.link_worker_fte)?,
        band: raw.band,
        salary_gbp: non_negative("salary_gbp", salary_gbp)?,
        on_cost_rate: non_negative("on_cost_rate", raw.on_cost_rate)?,
        overheads_gbp_per_fte: non_negative("overheads_gbp_per_fte", raw.overheads_gbp_per_fte)?,
        caseload_per_fte: positive("caseload_per_fte", raw.caseload_per_fte)?,
        grants_gbp_per_year: non_negative("grants_gbp_per_year", raw.grants_gbp_per_year)?,
    };
    let uprating = index.factor(programme::STAFFING_PRICE_YEAR, &costs.price_year)?;
    Ok(ProgrammeCost::staffing(staffing, uprating))
}

impl StudyConfig {
    /// The design this configuration asks for: a candidate when the keys match one, otherwise
    /// a design named "configured".
    pub fn design(&self) -> Design {
        crate::design::CANDIDATES
            .into_iter()
            .find(|design| {
                design.comparison == self.comparison
                    && design.washout_months == self.washout_months
                    && design.baseline_months == self.baseline_months
                    && design.match_on_prior_use == self.match_on_prior_use
                    && design.exact_on_prior_use_bands == self.exact_on_prior_use_bands
                    && design.adjust_for_prior_use == self.adjust_for_prior_use
            })
            .unwrap_or(Design {
                name: "configured",
                comparison: self.comparison,
                washout_months: self.washout_months,
                baseline_months: self.baseline_months,
                match_on_prior_use: self.match_on_prior_use,
                exact_on_prior_use_bands: self.exact_on_prior_use_bands,
                adjust_for_prior_use: self.adjust_for_prior_use,
                description: "as configured in study.toml",
                known_bias: "This design was not among the candidates of the validation study (docs/validation.md).",
            })
    }

    /// This configuration with `design`'s keys, or None when the study's look-back is too
    /// short for it.
    pub fn with_design(&self, design: &Design) -> Option<StudyConfig> {
        design.fits(self.pre_months).then(|| StudyConfig {
            comparison: design.comparison,
            washout_months: design.washout_months,
            baseline_months: design.baseline_months,
            match_on_prior_use: design.match_on_prior_use,
            exact_on_prior_use_bands: design.exact_on_prior_use_bands,
            adjust_for_prior_use: design.adjust_for_prior_use,
            ..self.clone()
        })
    }

    /// Reads and validates a study configuration file.
    pub fn load(path: &Path) -> Result<StudyConfig> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::io("reading", path, source))?;
        StudyConfig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<StudyConfig> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() as u64 + 1);
            let mut location = Location::file(path);
            location.line = line;
            Error::input(location, error.message().to_string())
        })?;
        let invalid = |key: &str, reason: String| {
            let line = text
                .lines()
                .position(|line| line.trim_start().starts_with(key))
                .map(|index| index as u64 + 1);
            let mut location = Location::file(path).column(key);
            location.line = line;
            Error::input(location, reason)
        };
        let date = |key: &str, value: &toml::value::Datetime| -> Result<NaiveDate> {
            match (value.date, value.time) {
                (Some(date), None) => NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
                .ok_or_else(|| invalid(key, format!("{value} is not a calendar date"))),
                _ => Err(invalid(
                    key,
                    format!("{value} must be a date like 2022-04-01"),
                )),
            }
        };
        let start = date("start", &raw.study.start)?;
        let end = date("end", &raw.study.end)?;
        let data_end = date("data_end", &raw.study.data_end)?;
        if end < start {
            return Err(invalid("end", "end is before start".into()));
        }
        if data_end < end {
            return Err(invalid("data_end", "data_end is before end".into()));
        }
        if !(1..=60).contains(&raw.study.pre_months) {
            return Err(invalid("pre_months", "pre_months must be 1..60".into()));
        }
        if !(1..=60).contains(&raw.study.post_months) {
            return Err(invalid("post_months", "post_months must be 1..60".into()));
        }
        let comparison = match raw.cohort.comparison {
            Comparison::Matched => ComparisonKind::Matched,
            other => {
                return Err(invalid(
                    "comparison",
                    format!(
                        "comparison = \"{}\" is not supported yet; use \"matched\"",
                        other.as_str()
                    ),
                ));
            }
        };
        // The comparison design: each key absent takes the default design's value for this
        // look-back (design::CANDIDATES, ordered by the validation study across every
        // simulated world).
        // A look-back shorter than every candidate's: demographics only, a wash-out of up to
        // three months and the rest as baseline.
        let short_washout = 3.min(raw.study.pre_months - 1).max(0);
        let default = Design::default_for(raw.study.pre_months).unwrap_or(Design {
            name: "short look-back",
            comparison,
            washout_months: short_washout,
            baseline_months: raw.study.pre_months - short_washout,
            match_on_prior_use: PriorUse::None,
            exact_on_prior_use_bands: false,
            adjust_for_prior_use: false,
            description: "",
            known_bias: "",
        });
        let washout_months = raw.cohort.washout_months.unwrap_or(default.washout_months);
        if !(0..=12).contains(&washout_months) || washout_months >= raw.study.pre_months {
            return Err(invalid(
                "washout_months",
                "washout_months must be 0..12 and shorter than pre_months".into(),
            ));
        }
        let baseline_months = match (raw.cohort.baseline_months, raw.cohort.washout_months) {
            (Some(months), _) => months,
            (None, Some(_)) => raw.study.pre_months - washout_months,
            (None, None) => default.baseline_months,
        };
        if baseline_months < 1 || washout_months + baseline_months > raw.study.pre_months {
            return Err(invalid(
                "baseline_months",
                "baseline_months must be at least 1, and washout_months + baseline_months at most pre_months".into(),
            ));
        }
        let match_on_prior_use = raw
            .cohort
            .match_on_prior_use
            .unwrap_or(default.match_on_prior_use);
        let exact_on_prior_use_bands = raw
            .cohort
            .exact_on_prior_use_bands
            .unwrap_or(default.exact_on_prior_use_bands);
        if match_on_prior_use.look_back_months() > raw.study.pre_months {
            return Err(invalid(
                "match_on_prior_use",
                format!(
                    "match_on_prior_use = \"{}\" needs at least {} months of look-back, and pre_months is {}",
                    match_on_prior_use.as_str(),
                    match_on_prior_use.look_back_months(),
                    raw.study.pre_months
                ),
            ));
        }
        if exact_on_prior_use_bands && match_on_prior_use == PriorUse::None {
            return Err(invalid(
                "exact_on_prior_use_bands",
                "exact_on_prior_use_bands needs match_on_prior_use = \"baseline\", \"baseline_and_peak\" or \"two_years\": there are no prior-use bands to match on".into(),
            ));
        }
        // Not a study.toml key: a design adjusted for prior use is scored beside every run
        // (results.json design_sensitivity) but cannot be the headline, whose economics
        // (payback curve, uncertainty, reconciliation) follow the unadjusted DiD model.
        let adjust_for_prior_use = false;
        let primary_outcome = crate::outcomes::MEASURES
            .iter()
            .find(|measure| measure.code == raw.study.primary_outcome)
            .map(|measure| measure.code)
            .ok_or_else(|| {
                invalid(
                    "primary_outcome",
                    format!(
                        "'{}' is not one of {}",
                        raw.study.primary_outcome,
                        crate::outcomes::MEASURES
                            .iter()
                            .map(|measure| measure.code)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        if !(0..=120).contains(&raw.cohort.min_age) {
            return Err(invalid("min_age", "min_age must be 0..120".into()));
        }
        if !(1..=10).contains(&raw.cohort.match_ratio) {
            return Err(invalid("match_ratio", "match_ratio must be 1..10".into()));
        }
        if !(raw.cohort.caliper_sd > 0.0 && raw.cohort.caliper_sd <= 5.0) {
            return Err(invalid("caliper_sd", "caliper_sd must be in (0, 5]".into()));
        }
        if let Some(key) = raw
            .cohort
            .exact
            .iter()
            .find(|key| !EXACT_KEYS.contains(&key.as_str()))
        {
            return Err(invalid(
                "exact",
                format!("'{key}' is not one of {}", EXACT_KEYS.join(", ")),
            ));
        }
        let window = |key: &str, [from, to]: [i32; 2]| {
            if from > to {
                Err(invalid(
                    key,
                    format!("[{from}, {to}] is not an ordered window of days"),
                ))
            } else {
                Ok((from, to))
            }
        };
        let baseline_window_days =
            window("baseline_window_days", raw.wellbeing.baseline_window_days)?;
        let followup_window_days =
            window("followup_window_days", raw.wellbeing.followup_window_days)?;
        let followup_target_day = raw.wellbeing.followup_target_day;
        if !(followup_window_days.0..=followup_window_days.1).contains(&followup_target_day) {
            return Err(invalid(
                "followup_target_day",
                format!(
                    "followup_target_day = {followup_target_day} is outside followup_window_days [{}, {}]",
                    followup_window_days.0, followup_window_days.1
                ),
            ));
        }
        let index = InflationIndex::bundled()?;
        if !index.years().any(|year| year == raw.costs.price_year) {
            return Err(invalid(
                "price_year",
                format!(
                    "price year '{}' is not in the NHS cost inflation index ({})",
                    raw.costs.price_year,
                    index.years().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if !(0.0..=1.0).contains(&raw.quality.min_linkage_rate) {
            return Err(invalid(
                "min_linkage_rate",
                format!(
                    "{} is not a share between 0 and 1",
                    raw.quality.min_linkage_rate
                ),
            ));
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let layouts = Layouts::with_user(&raw.inputs.profiles, base_dir, raw.inputs.files.clone())
            .map_err(|error| match error {
                Error::Usage(reason) => invalid("inputs", reason),
                other => other,
            })?;
        let pcn_lookup = match &raw.inputs.pcn_lookup {
            Some(file) => {
                let lookup = base_dir.join(file);
                if !lookup.is_file() {
                    return Err(invalid(
                        "pcn_lookup",
                        format!("{} is not a file", lookup.display()),
                    ));
                }
                Some(crate::practices::PcnLookup::read(&lookup)?)
            }
            None => None,
        };
        let unit_cost_table =
            UnitCosts::resolve(&raw.costs.unit_costs, base_dir, &raw.costs.price_year).map_err(
                |error| match error {
                    Error::Usage(reason) => invalid("unit_costs", reason),
                    other => other,
                },
            )?;
        if !(0.0..=0.2).contains(&raw.costs.discount_rate) {
            return Err(invalid(
                "discount_rate",
                "discount_rate must be 0..0.2 (e.g. 0.035)".into(),
            ));
        }
        let programme = programme_cost(&raw.costs, &index, &invalid)?;
        let cost_effectiveness_effect = crate::outcomes::counted()
            .find(|measure| measure.code == raw.costs.cost_effectiveness_effect)
            .map(|measure| measure.code)
            .ok_or_else(|| {
                invalid(
                    "cost_effectiveness_effect",
                    format!(
                        "'{}' is not a counted measure: one of {}",
                        raw.costs.cost_effectiveness_effect,
                        crate::outcomes::counted()
                            .map(|measure| measure.code)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        if raw.disclosure.round_to == 0 {
            return Err(invalid("round_to", "round_to must be at least 1".into()));
        }
        if let Some(format) = raw
            .output
            .formats
            .iter()
            .find(|format| !FORMATS.contains(&format.as_str()))
        {
            return Err(invalid(
                "formats",
                format!("'{format}' is not one of {}", FORMATS.join(", ")),
            ));
        }
        Ok(StudyConfig {
            name: raw.study.name,
            start,
            end,
            data_end,
            pre_months: raw.study.pre_months,
            post_months: raw.study.post_months,
            seed: raw.study.seed,
            primary_outcome,
            min_age: raw.cohort.min_age,
            comparison,
            match_ratio: raw.cohort.match_ratio,
            caliper_sd: raw.cohort.caliper_sd,
            exact: raw.cohort.exact,
            washout_months,
            baseline_months,
            match_on_prior_use,
            exact_on_prior_use_bands,
            adjust_for_prior_use,
            baseline_window_days,
            followup_window_days,
            followup_target_day,
            unit_costs: raw.costs.unit_costs,
            price_year: raw.costs.price_year,
            discount_rate: raw.costs.discount_rate,
            hospital_costing: raw.costs.hospital,
            cost_effectiveness_effect,
            unit_cost_table,
            programme,
            suppress_at_or_below: raw.disclosure.suppress_at_or_below,
            round_to: raw.disclosure.round_to,
            formats: raw.output.formats,
            layouts,
            min_linkage_rate: raw.quality.min_linkage_rate,
            pcn_lookup,
            source: path.to_path_buf(),
        })
    }

    /// How ingest reads and checks this study's data folder.
    pub fn ingest_options(&self) -> crate::ingest::IngestOptions {
        crate::ingest::IngestOptions {
            layouts: self.layouts.clone(),
            min_linkage_rate: self.min_linkage_rate,
            latest_birth_year: Some(chrono::Datelike::year(&self.data_end)),
            ..Default::default()
        }
    }

    /// A file-system-safe folder name for the study (default output folder).
    pub fn slug(&self) -> String {
        let slug: String = self
            .name
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() {
                    ch.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        slug.split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "[study]\nname = \"T\"\nstart = 2022-04-01\nend = 2024-03-31\ndata_end = 2026-03-31\n";

    #[test]
    fn the_resolved_config_serialises_with_every_key_the_run_used() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        let written = serde_json::to_value(&config).unwrap();
        // Defaults a study.toml leaves out are written as resolved.
        assert_eq!(written["washout_months"], 12);
        assert_eq!(written["match_on_prior_use"], "baseline_and_peak");
        assert_eq!(written["start"], "2022-04-01");
        assert_eq!(
            written["baseline_window_days"],
            serde_json::json!([-60, 30])
        );
        // Layouts and the PCN lookup as the manifest names them; nothing about outputs.
        assert_eq!(written["input_profiles"], serde_json::json!([]));
        assert_eq!(written["input_files"], serde_json::json!({}));
        assert!(written["pcn_lookup_practices"].is_null());
        for left_out in ["layouts", "formats", "source", "pcn_lookup"] {
            assert!(written.get(left_out).is_none(), "{left_out}");
        }
    }

    #[test]
    fn defaults_fill_every_optional_key() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        assert_eq!(
            (config.pre_months, config.post_months, config.min_age),
            (24, 24, 18)
        );
        // The default comparison design (design::CANDIDATES[0]).
        assert_eq!(
            (
                config.washout_months,
                config.baseline_months,
                config.match_on_prior_use
            ),
            (12, 12, PriorUse::BaselineAndPeak)
        );
        // A one-year look-back gets the best design that fits it; a washout alone keeps the
        // rest of the look-back as baseline.
        let short = |extra: &str| {
            let text = MINIMAL.to_string() + "pre_months = 12\n" + extra;
            StudyConfig::parse(&text, Path::new("study.toml")).unwrap()
        };
        let one_year = short("");
        assert_eq!((one_year.washout_months, one_year.baseline_months), (6, 6));
        let washout_only = short("[cohort]\nwashout_months = 0\n");
        assert_eq!(
            (washout_only.washout_months, washout_only.baseline_months),
            (0, 12)
        );
        assert!(
            StudyConfig::parse(
                &(MINIMAL.to_string() + "[cohort]\nwashout_months = 12\nbaseline_months = 13\n"),
                Path::new("study.toml")
            )
            .is_err()
        );
        // Bands of prior use need prior use to be matched on.
        assert!(!config.exact_on_prior_use_bands);
        let banded = StudyConfig::parse(
            &(MINIMAL.to_string() + "[cohort]\nexact_on_prior_use_bands = true\n"),
            Path::new("study.toml"),
        )
        .unwrap();
        assert_eq!(banded.design().name, "history-bands-older-baseline");
        let error = StudyConfig::parse(
            &(MINIMAL.to_string()
                + "[cohort]\nexact_on_prior_use_bands = true\nmatch_on_prior_use = \"none\"\n"),
            Path::new("study.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("exact_on_prior_use_bands needs match_on_prior_use"),
            "{error}"
        );
        // Two years of prior use need a look-back that reaches into months -24..-13.
        let two_years = "[cohort]\nmatch_on_prior_use = \"two_years\"\n";
        let matched_on_two_years =
            StudyConfig::parse(&(MINIMAL.to_string() + two_years), Path::new("study.toml"))
                .unwrap();
        assert_eq!(
            matched_on_two_years.design().name,
            "two-years-older-baseline"
        );
        let error = StudyConfig::parse(
            &(MINIMAL.to_string() + "pre_months = 12\n" + two_years),
            Path::new("study.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("needs at least 13 months of look-back, and pre_months is 12"),
            "{error}"
        );
        assert_eq!(config.comparison, ComparisonKind::Matched);
        assert_eq!(config.caliper_sd, 0.2);
        assert_eq!(config.baseline_window_days, (-60, 30));
        assert_eq!(config.followup_target_day, 90);
        assert_eq!((config.suppress_at_or_below, config.round_to), (7, 5));
        let outside = MINIMAL.to_string() + "[wellbeing]\nfollowup_target_day = 400\n";
        let error = StudyConfig::parse(&outside, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("followup_target_day = 400 is outside followup_window_days [56, 365]"),
            "{error}"
        );
    }

    #[test]
    fn inputs_pin_files_to_layouts_and_name_a_bad_pin_or_profile_file() {
        let parse = |inputs: &str| {
            StudyConfig::parse(&format!("{MINIMAL}\n{inputs}"), Path::new("study.toml"))
        };
        let config = parse("[inputs.files]\n\"spells.csv\" = \"hes-apc\"\n").unwrap();
        assert_eq!(config.layouts.pinned["spells.csv"], "hes-apc");
        let error = parse("[inputs.files]\n\"spells.csv\" = \"hes-apcs\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("inputs") && error.contains("neither an extract nor a layout"),
            "{error}"
        );
        let error = parse("[inputs]\nprofiles = [\"no-such-profile.toml\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no-such-profile.toml"), "{error}");
        let error = parse("[inputs]\npcn_lookup = \"no-such-lookup.csv\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("pcn_lookup") && error.contains("no-such-lookup.csv is not a file"),
            "{error}"
        );
    }

    #[test]
    fn the_linkage_threshold_and_the_latest_birth_year_come_from_the_study() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        let options = config.ingest_options();
        assert_eq!(options.min_linkage_rate, 0.95);
        assert_eq!(
            options.latest_birth_year,
            Some(chrono::Datelike::year(&config.data_end))
        );
        let strict = StudyConfig::parse(
            &format!("{MINIMAL}\n[quality]\nmin_linkage_rate = 0.99\n"),
            Path::new("study.toml"),
        )
        .unwrap();
        assert_eq!(strict.ingest_options().min_linkage_rate, 0.99);
        let error = StudyConfig::parse(
            &format!("{MINIMAL}\n[quality]\nmin_linkage_rate = 95\n"),
            Path::new("study.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("min_linkage_rate"), "{error}");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = format!("{MINIMAL}\n[cohort]\nmin_age = 18\ncalipre_sd = 0.2\n");
        let error = StudyConfig::parse(&text, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("calipre_sd") && error.contains("line 9"),
            "{error}"
        );
    }

    #[test]
    fn the_cost_effectiveness_effect_is_emergency_admissions_unless_a_counted_measure_is_named() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        assert_eq!(config.cost_effectiveness_effect, "emergency_admissions");
        let with =
            |value: &str| format!("{MINIMAL}\n[costs]\ncost_effectiveness_effect = \"{value}\"\n");
        let config = StudyConfig::parse(&with("ae_attendances"), Path::new("study.toml")).unwrap();
        assert_eq!(config.cost_effectiveness_effect, "ae_attendances");
        // Total cost is already the plane's other axis.
        let error = StudyConfig::parse(&with("total_cost"), Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("cost_effectiveness_effect")
                && error.contains("'total_cost' is not a counted measure: one of gp_demand"),
            "{error}"
        );
    }

    #[test]
    fn the_primary_outcome_is_total_cost_unless_a_measure_is_named() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        assert_eq!(config.primary_outcome, "total_cost");
        let named = MINIMAL.replace("[study]\n", "[study]\nprimary_outcome = \"gp_demand\"\n");
        let config = StudyConfig::parse(&named, Path::new("study.toml")).unwrap();
        assert_eq!(config.primary_outcome, "gp_demand");
        let unknown = MINIMAL.replace("[study]\n", "[study]\nprimary_outcome = \"wellbeing\"\n");
        let error = StudyConfig::parse(&unknown, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("primary_outcome")
                && error.contains("line 2")
                && error.contains("'wellbeing' is not one of gp_demand"),
            "{error}"
        );
    }

    #[test]
    fn unavailable_unit_costs_are_refused_not_ignored() {
        let text = format!("{MINIMAL}\n[costs]\nunit_costs = \"pssru-2019\"\n");
        let error = StudyConfig::parse(&text, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("pssru-2019") && error.contains("line 8"),
            "{error}"
        );
        let text = format!("{MINIMAL}\n[costs]\nprice_year = \"2031/32\"\n");
        let error = StudyConfig::parse(&text, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("2031/32") && error.contains("line 8"),
            "{error}"
        );
    }

    #[test]
    fn older_tables_are_uprated_to_the_price_year() {
        let text =
            format!("{MINIMAL}\n[costs]\nunit_costs = \"pssru-2023\"\nprice_year = \"2023/24\"\n");
        let config = StudyConfig::parse(&text, Path::new("study.toml")).unwrap();
        let table = &config.unit_cost_table;
        assert_eq!(table.uprated_from.as_deref(), Some("2022/23"));
        assert!((table.gp_consultation_gbp - 49.0 * 1.0431).abs() < 1e-12);
    }

    #[test]
    fn programme_cost_is_per_referral_or_a_staffing_model_not_both() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        assert_eq!(config.programme.per_person_gbp(), Some(466.0));
        let staffing = format!(
            "{MINIMAL}\n[costs]\nprice_year = \"2022/23\"\n[costs.programme]\nlink_worker_fte = 2\ngrants_gbp_per_year = 20000\n"
        );
        let config = StudyConfig::parse(&staffing, Path::new("study.toml")).unwrap();
        let expected = (2.0 * (31_609.0 * 1.32 + 30_887.0) + 20_000.0) / 450.0 / 1.0431;
        assert!((config.programme.per_person_gbp().unwrap() - expected).abs() < 1e-9);
        let both = staffing.replace(
            "[costs.programme]",
            "programme_cost_per_referral = 300\n[costs.programme]",
        );
        let error = StudyConfig::parse(&both, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not both"), "{error}");
        let band7 = staffing.replace("link_worker_fte = 2", "band = 7");
        let error = StudyConfig::parse(&band7, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("band 7") && error.contains("salary_gbp"),
            "{error}"
        );
        // A total cost, divided once the data show how many people were accepted.
        let total = format!("{MINIMAL}\n[costs]\nprogramme_total_cost_gbp = 250000\n");
        let config = StudyConfig::parse(&total, Path::new("study.toml")).unwrap();
        assert_eq!(
            config.programme,
            ProgrammeCost::Total {
                total_gbp: 250_000.0,
                divided_by: CostDivisor::Accepted,
                people: None,
                cost_per_person_gbp: None
            }
        );
        let per_referral = total.clone() + "programme_cost_divided_by = \"referrals\"\n";
        let config = StudyConfig::parse(&per_referral, Path::new("study.toml")).unwrap();
        assert!(matches!(
            config.programme,
            ProgrammeCost::Total {
                divided_by: CostDivisor::Referrals,
                ..
            }
        ));
        for (text, key) in [
            (
                total.clone() + "programme_cost_per_referral = 300\n",
                "give one of",
            ),
            (total.replace("250000", "0"), "more than 0"),
            (
                format!("{MINIMAL}\n[costs]\nprogramme_cost_divided_by = \"accepted\"\n"),
                "which is not given",
            ),
        ] {
            let error = StudyConfig::parse(&text, Path::new("study.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn inconsistent_dates_are_refused() {
        let text = MINIMAL.replace("end = 2024-03-31", "end = 2021-03-31");
        let error = StudyConfig::parse(&text, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("end is before start"), "{error}");
    }
}
