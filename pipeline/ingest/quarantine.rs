//! Quarantine: every row that is read but not loaded is written here with its reason.
//!
//! One Parquet file per extract under `quality/quarantine/`, streamed in batches so a file
//! full of bad rows does not fill memory. Columns: file, line, column, raw_value, reason,
//! detail. Values that look like NHS numbers are redacted: an identifier never reaches an
//! output, even a restricted one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::parquet_out::ParquetSink;

/// Why a row was quarantined. The names from [`reason_name`] are the keys of `ingest.json`'s
/// `quarantined_by_reason` and of the quarantine file's `reason` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A required value is blank.
    MissingRequired,
    /// Not a number, or a fraction where a whole number is required.
    BadNumber,
    /// A number or date outside the contract's range.
    OutOfRange,
    /// A code not in the contract's code list.
    UnknownCode,
    /// Not a date, or not a real calendar date.
    BadDate,
    /// A date written in a different format from the rest of the file.
    DateFormatMismatch,
    /// Two dates in the wrong order (e.g. discharge before referral).
    DateOrder,
    /// The row has more or fewer fields than the header.
    WrongFieldCount,
    /// The key was already loaded from an earlier line.
    DuplicateKey,
    /// The person_id is not in patients.csv (as loaded).
    OrphanPersonId,
    /// The referral_id is not in referrals.csv (as loaded).
    UnknownReferralId,
    /// The referral_id belongs to a different person.
    ReferralPersonMismatch,
    /// A questionnaire's items do not fit its instrument.
    InvalidItems,
    /// A vendor score disagrees with the items or is impossible for the instrument.
    ScoreMismatch,
    /// A value looks like an NHS number (10 digits passing the modulus-11 check).
    NhsNumber,
}

/// One quarantined row.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedRow {
    pub line: u64,
    pub column: Option<String>,
    pub raw_value: Option<String>,
    pub reason: Reason,
    pub detail: String,
}

const BATCH_ROWS: usize = 8192;

/// Streams quarantined rows of one extract's input files to Parquet.
pub struct QuarantineWriter {
    file_label: String,
    pending: Vec<QuarantinedRow>,
    sink: ParquetSink,
    schema: SchemaRef,
}

impl QuarantineWriter {
    /// A writer whose rows are labelled with the file set by [`QuarantineWriter::set_file`].
    pub fn create(path: PathBuf) -> Result<Self> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("file", DataType::Utf8, false),
            Field::new("line", DataType::UInt64, false),
            Field::new("column", DataType::Utf8, true),
            Field::new("raw_value", DataType::Utf8, true),
            Field::new("reason", DataType::Utf8, false),
            Field::new("detail", DataType::Utf8, false),
        ]));
        Ok(QuarantineWriter {
            file_label: String::new(),
            pending: Vec::with_capacity(BATCH_ROWS),
            sink: ParquetSink::create(path, schema.clone())?,
            schema,
        })
    }

    /// Rows pushed from now on came from this file.
    pub fn set_file(&mut self, file_label: &str) -> Result<()> {
        self.flush()?;
        self.file_label = file_label.to_string();
        Ok(())
    }

    pub fn push(&mut self, row: QuarantinedRow) -> Result<()> {
        self.pending.push(row);
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.sink.finish()
    }

    pub fn path(&self) -> &Path {
        self.sink.path()
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut file = StringBuilder::new();
        let mut line = UInt64Builder::new();
        let mut column = StringBuilder::new();
        let mut raw_value = StringBuilder::new();
        let mut reason = StringBuilder::new();
        let mut detail = StringBuilder::new();
        for row in self.pending.drain(..) {
            file.append_value(&self.file_label);
            line.append_value(row.line);
            column.append_option(row.column);
            raw_value.append_option(row.raw_value);
            reason.append_value(reason_name(row.reason));
            detail.append_value(row.detail);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(file.finish()),
            Arc::new(line.finish()),
            Arc::new(column.finish()),
            Arc::new(raw_value.finish()),
            Arc::new(reason.finish()),
            Arc::new(detail.finish()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|source| crate::error::Error::parquet("building", self.sink.path(), source))?;
        self.sink.write(&batch)
    }
}

/// The snake_case name of a reason, as used in outputs.
pub fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::MissingRequired => "missing_required",
        Reason::BadNumber => "bad_number",
        Reason::OutOfRange => "out_of_range",
        Reason::UnknownCode => "unknown_code",
        Reason::BadDate => "bad_date",
        Reason::DateFormatMismatch => "date_format_mismatch",
        Reason::DateOrder => "date_order",
        Reason::WrongFieldCount => "wrong_field_count",
        Reason::DuplicateKey => "duplicate_key",
        Reason::OrphanPersonId => "orphan_person_id",
        Reason::UnknownReferralId => "unknown_referral_id",
        Reason::ReferralPersonMismatch => "referral_person_mismatch",
        Reason::InvalidItems => "invalid_items",
        Reason::ScoreMismatch => "score_mismatch",
        Reason::NhsNumber => "nhs_number",
    }
}
