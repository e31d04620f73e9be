//! The ingest quality report, `quality/ingest.json`: per file, rows read, loaded and
//! quarantined (by reason), encoding, date format, SHA-256 and warnings.
//!
//! Deterministic: no timestamps or absolute paths, keys in a fixed order, so the same
//! inputs give a byte-identical report.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::contract::PERSON;
use super::contracts;
use super::fields::DateFormat;
use super::quarantine::{Reason, reason_name};
use super::source::Container;
use crate::error::{Error, Result};

/// The linkage rate below which a file's report warns, unless study.toml's
/// `[quality] min_linkage_rate` says otherwise.
pub const DEFAULT_MIN_LINKAGE_RATE: f64 = 0.95;

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub schema_version: u32,
    pub tool_version: &'static str,
    /// True when every file reconciles (read + added = loaded + quarantined + excluded +
    /// combined).
    pub reconciled: bool,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub rows_excluded: u64,
    pub rows_added: u64,
    pub files: Vec<FileReport>,
    /// Optional extracts that were not supplied.
    pub missing_optional: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub extract: &'static str,
    pub file: String,
    pub container: Container,
    /// The input profile (layout) the file was read through; null for a contract-shaped file.
    pub profile: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    pub encoding: String,
    /// The file's date format, fixed by its first valid date (null if it has no dates).
    pub date_format: Option<DateFormat>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub reconciled: bool,
    pub quarantined_by_reason: BTreeMap<&'static str, u64>,
    /// Rows the profile's rules leave out (the layout holds them, the contract does not count
    /// them), by the rule's reason.
    pub rows_excluded: u64,
    pub excluded_by_reason: BTreeMap<String, u64>,
    /// Rows a profile adds for a second event in one record (e.g. an ambulance conveyance for
    /// an A&E arrival by ambulance), by reason.
    pub rows_added: u64,
    pub added_by_reason: BTreeMap<String, u64>,
    /// Rows of a long layout combined into a record begun on an earlier row (the items of
    /// one questionnaire after its first).
    pub rows_combined: u64,
    /// Of the rows whose person_id was looked up in patients, the share found there (null for
    /// patients itself, or when no row got that far). A low rate usually means the file's
    /// person identifier is not the one patients holds (another pseudonymisation key).
    pub linkage_rate: Option<f64>,
    pub ignored_columns: Vec<String>,
    pub warnings: Vec<String>,
    /// Paths of the outputs, relative to the output folder.
    pub output: String,
    pub quarantine: String,
}

impl FileReport {
    pub fn new(extract: &'static str, file: &str, container: Container, bytes: u64) -> Self {
        FileReport {
            extract,
            file: file.to_string(),
            container,
            profile: None,
            bytes,
            sha256: String::new(),
            encoding: String::new(),
            date_format: None,
            rows_read: 0,
            rows_loaded: 0,
            rows_quarantined: 0,
            reconciled: false,
            quarantined_by_reason: BTreeMap::new(),
            rows_excluded: 0,
            excluded_by_reason: BTreeMap::new(),
            rows_added: 0,
            added_by_reason: BTreeMap::new(),
            rows_combined: 0,
            linkage_rate: None,
            ignored_columns: Vec::new(),
            warnings: Vec::new(),
            output: format!("data/{extract}.parquet"),
            quarantine: format!("quality/quarantine/{extract}.parquet"),
        }
    }

    pub fn count_quarantined(&mut self, reason: Reason) {
        self.rows_quarantined += 1;
        *self
            .quarantined_by_reason
            .entry(reason_name(reason))
            .or_default() += 1;
    }

    pub fn count_excluded(&mut self, reason: String) {
        self.rows_excluded += 1;
        *self.excluded_by_reason.entry(reason).or_default() += 1;
    }

    pub fn count_added(&mut self, reason: String) {
        self.rows_added += 1;
        *self.added_by_reason.entry(reason).or_default() += 1;
    }

    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Checks the counts reconcile, both overall and by reason, and works out the linkage
    /// rate (warning below `min_linkage_rate`).
    pub fn finish(&mut self, min_linkage_rate: f64) {
        self.linkage_rate = self.linkage();
        if let Some(rate) = self.linkage_rate
            && rate < min_linkage_rate
        {
            self.warn(format!(
                "only {:.1}% of rows have a person_id found in patients (expected at least {:.0}%): \
                 check that this file and patients were pseudonymised with the same key",
                100.0 * rate,
                100.0 * min_linkage_rate
            ));
        }
        let by_reason: u64 = self.quarantined_by_reason.values().sum();
        let excluded: u64 = self.excluded_by_reason.values().sum();
        let added: u64 = self.added_by_reason.values().sum();
        self.reconciled = self.rows_read + self.rows_added
            == self.rows_loaded + self.rows_quarantined + self.rows_excluded + self.rows_combined
            && by_reason == self.rows_quarantined
            && excluded == self.rows_excluded
            && added == self.rows_added;
    }

    /// Rows are checked in a fixed order: contract rules, then person_id against patients,
    /// then referral_id and the unique key. So the rows that reached the person check are
    /// those loaded or quarantined at or after it.
    fn linkage(&self) -> Option<f64> {
        if !contracts::by_name(self.extract)
            .is_some_and(|contract| contract.refers_to(PERSON.extract))
        {
            return None;
        }
        let reason = |name: &str| self.quarantined_by_reason.get(name).copied().unwrap_or(0);
        let orphans = reason("orphan_person_id");
        let linked = self.rows_loaded
            + reason("unknown_referral_id")
            + reason("referral_person_mismatch")
            + reason("duplicate_key");
        let checked = linked + orphans;
        (checked > 0).then(|| linked as f64 / checked as f64)
    }

    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "ingest {}: {} rows read, {} loaded, {} quarantined",
            self.file, self.rows_read, self.rows_loaded, self.rows_quarantined
        );
        if let Some(profile) = &self.profile {
            line = format!(
                "{line}, {} excluded, {} added (read as {profile})",
                self.rows_excluded, self.rows_added
            );
        }
        line
    }
}

impl IngestReport {
    pub fn new(files: Vec<FileReport>, missing_optional: Vec<&'static str>) -> Self {
        IngestReport {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION"),
            reconciled: files.iter().all(|file| file.reconciled),
            rows_read: files.iter().map(|file| file.rows_read).sum(),
            rows_loaded: files.iter().map(|file| file.rows_loaded).sum(),
            rows_quarantined: files.iter().map(|file| file.rows_quarantined).sum(),
            rows_excluded: files.iter().map(|file| file.rows_excluded).sum(),
            rows_added: files.iter().map(|file| file.rows_added).sum(),
            files,
            missing_optional,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("the report serialises");
        std::fs::write(path, json + "\n").map_err(|source| Error::io("writing", path, source))
    }
}
