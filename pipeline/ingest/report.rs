//! The ingest quality report, `quality/ingest.json`: per file, rows read, loaded and
//! quarantined (by reason), encoding, date format, SHA-256 and warnings.
//!
//! Deterministic: no timestamps or absolute paths, keys in a fixed order, so the same
//! inputs give a byte-identical report.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::fields::DateFormat;
use super::quarantine::{Reason, reason_name};
use super::source::Container;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub schema_version: u32,
    pub tool_version: &'static str,
    /// True when every file reconciles (read = loaded + quarantined).
    pub reconciled: bool,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub files: Vec<FileReport>,
    /// Optional extracts that were not supplied.
    pub missing_optional: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub extract: &'static str,
    pub file: String,
    pub container: Container,
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
            bytes,
            sha256: String::new(),
            encoding: String::new(),
            date_format: None,
            rows_read: 0,
            rows_loaded: 0,
            rows_quarantined: 0,
            reconciled: false,
            quarantined_by_reason: BTreeMap::new(),
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

    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Checks the counts reconcile, both overall and by reason.
    pub fn finish(&mut self) {
        let by_reason: u64 = self.quarantined_by_reason.values().sum();
        self.reconciled = self.rows_read == self.rows_loaded + self.rows_quarantined
            && by_reason == self.rows_quarantined;
    }

    pub fn summary_line(&self) -> String {
        format!(
            "ingest {}: {} rows read, {} loaded, {} quarantined",
            self.file, self.rows_read, self.rows_loaded, self.rows_quarantined
        )
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
            files,
            missing_optional,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("the report serialises");
        std::fs::write(path, json + "\n").map_err(|source| Error::io("writing", path, source))
    }
}
