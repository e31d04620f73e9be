//! The study configuration (`study.toml`, design section 4): read with serde, unknown keys
//! refused (the error names the key and its line), every key defaulted as documented here,
//! then validated into a [`StudyConfig`]. Nothing downstream sees raw TOML.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::{Error, Location, Result};

/// A validated study configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyConfig {
    pub name: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub data_end: NaiveDate,
    pub pre_months: i32,
    pub post_months: i32,
    pub seed: u64,
    pub min_age: i32,
    pub comparison: Comparison,
    pub match_ratio: u32,
    pub caliper_sd: f64,
    pub exact: Vec<String>,
    pub baseline_window_days: (i32, i32),
    pub followup_window_days: (i32, i32),
    pub unit_costs: String,
    pub price_year: String,
    pub discount_rate: f64,
    pub programme_cost_per_referral: f64,
    pub suppress_at_or_below: u32,
    pub round_to: u32,
    pub formats: Vec<String>,
    /// Where the config was read from (for messages and the manifest).
    pub source: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Matched,
    Decliners,
    None,
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
}

fn default_pre_months() -> i32 {
    12
}
fn default_post_months() -> i32 {
    24
}
fn default_seed() -> u64 {
    20240401
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCohort {
    min_age: i32,
    comparison: Comparison,
    match_ratio: u32,
    caliper_sd: f64,
    exact: Vec<String>,
}

impl Default for RawCohort {
    fn default() -> Self {
        RawCohort {
            min_age: 18,
            comparison: Comparison::Matched,
            match_ratio: 1,
            caliper_sd: 0.2,
            exact: vec!["index_quarter".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWellbeing {
    baseline_window_days: [i32; 2],
    followup_window_days: [i32; 2],
}

impl Default for RawWellbeing {
    fn default() -> Self {
        RawWellbeing {
            baseline_window_days: [-60, 30],
            followup_window_days: [56, 365],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCosts {
    unit_costs: String,
    price_year: String,
    discount_rate: f64,
    programme_cost_per_referral: f64,
}

impl Default for RawCosts {
    fn default() -> Self {
        RawCosts {
            unit_costs: "pssru-2024".into(),
            price_year: "2023/24".into(),
            discount_rate: 0.035,
            // Rotherham: £466 per person referred per year (PSSRU 2024 section 7.4).
            programme_cost_per_referral: 466.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDisclosure {
    suppress_at_or_below: u32,
    round_to: u32,
}

impl Default for RawDisclosure {
    fn default() -> Self {
        // HES/ECDS rule: 1-7 suppressed, others rounded to 5 (domain.md section 6.1).
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

impl StudyConfig {
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
        if raw.cohort.comparison != Comparison::Matched {
            return Err(invalid(
                "comparison",
                format!(
                    "comparison = \"{}\" is not supported yet; use \"matched\"",
                    raw.cohort.comparison.as_str()
                ),
            ));
        }
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
        // One unit-cost set is bundled so far (costs::PSSRU_2024, 2023/24 prices); other sets
        // and uprating to another price year are not built yet, so asking for them is an error
        // rather than being silently ignored.
        let bundled = &crate::costs::PSSRU_2024;
        if raw.costs.unit_costs != bundled.name {
            return Err(invalid(
                "unit_costs",
                format!(
                    "unit-cost set '{}' is not available; the bundled set is '{}'",
                    raw.costs.unit_costs, bundled.name
                ),
            ));
        }
        if raw.costs.price_year != bundled.price_year {
            return Err(invalid(
                "price_year",
                format!(
                    "price year {} is not available yet (uprating is not built); use {}",
                    raw.costs.price_year, bundled.price_year
                ),
            ));
        }
        if !(0.0..=0.2).contains(&raw.costs.discount_rate) {
            return Err(invalid(
                "discount_rate",
                "discount_rate must be 0..0.2 (e.g. 0.035)".into(),
            ));
        }
        if raw.costs.programme_cost_per_referral.is_nan()
            || raw.costs.programme_cost_per_referral < 0.0
        {
            return Err(invalid(
                "programme_cost_per_referral",
                "must be a cost of 0 or more".into(),
            ));
        }
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
            min_age: raw.cohort.min_age,
            comparison: raw.cohort.comparison,
            match_ratio: raw.cohort.match_ratio,
            caliper_sd: raw.cohort.caliper_sd,
            exact: raw.cohort.exact,
            baseline_window_days,
            followup_window_days,
            unit_costs: raw.costs.unit_costs,
            price_year: raw.costs.price_year,
            discount_rate: raw.costs.discount_rate,
            programme_cost_per_referral: raw.costs.programme_cost_per_referral,
            suppress_at_or_below: raw.disclosure.suppress_at_or_below,
            round_to: raw.disclosure.round_to,
            formats: raw.output.formats,
            source: path.to_path_buf(),
        })
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
    fn defaults_fill_every_optional_key() {
        let config = StudyConfig::parse(MINIMAL, Path::new("study.toml")).unwrap();
        assert_eq!(
            (config.pre_months, config.post_months, config.min_age),
            (12, 24, 18)
        );
        assert_eq!(config.comparison, Comparison::Matched);
        assert_eq!(config.caliper_sd, 0.2);
        assert_eq!(config.baseline_window_days, (-60, 30));
        assert_eq!((config.suppress_at_or_below, config.round_to), (7, 5));
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
    fn unavailable_unit_costs_are_refused_not_ignored() {
        let text = format!("{MINIMAL}\n[costs]\nunit_costs = \"pssru-2023\"\n");
        let error = StudyConfig::parse(&text, Path::new("study.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("pssru-2023") && error.contains("line 8"),
            "{error}"
        );
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
