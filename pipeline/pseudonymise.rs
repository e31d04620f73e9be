//! `sp-impact pseudonymise`: replaces an identifier column (e.g. NHS number) with a keyed
//! HMAC-SHA256 pseudonym, so extracts can be linked without identifiable data (docs/domain.md,
//! Pseudonymisation).
//!
//! The key is read from a file and is never printed, logged or written. Values are
//! normalised before hashing (surrounding space removed; spaces and hyphens inside an NHS
//! number removed) so `943 476 5919` and `9434765919` get the same pseudonym. Blank stays
//! blank. The output is UTF-8 CSV; every other column passes through unchanged.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Location, Result};
use crate::ingest::source::{BytesRead, Container, RawRecord, Source};

/// Shortest key accepted: 128 bits.
const MIN_KEY_BYTES: usize = 16;

pub struct PseudonymiseRequest<'a> {
    pub key_file: &'a Path,
    pub column: &'a str,
    pub rename_to: Option<&'a str>,
    pub input: &'a Path,
    pub output: &'a Path,
}

/// Rewrites `input` to `output` with the identifier column pseudonymised; returns the
/// number of data rows written.
pub fn pseudonymise(request: &PseudonymiseRequest<'_>) -> Result<u64> {
    let key = read_key(request.key_file)?;
    let container = if request.input.to_string_lossy().ends_with(".gz") {
        Container::CsvGz
    } else {
        Container::Csv
    };
    let mut source = Source::open(request.input, container, BytesRead::default())?;
    let wanted = request.column.trim().to_ascii_lowercase();
    let position = source
        .header()
        .iter()
        .position(|name| name.trim().to_ascii_lowercase() == wanted)
        .ok_or_else(|| {
            Error::input(
                Location::file(request.input).line(1).column(request.column),
                format!(
                    "there is no column '{}'; the header has: {}",
                    request.column,
                    source.header().join(", ")
                ),
            )
        })?;
    let mut header = source.header().to_vec();
    if let Some(new_name) = request.rename_to {
        header[position] = new_name.to_string();
    }
    let mut writer = csv::Writer::from_path(request.output)
        .map_err(|source| Error::io("creating", request.output, source.into()))?;
    let write_error = |source: csv::Error| Error::io("writing", request.output, source.into());
    writer.write_record(&header).map_err(write_error)?;
    let mut record = RawRecord::default();
    let mut rows = 0;
    while source.next_record(&mut record)? {
        if let Some(value) = record.fields.get_mut(position) {
            *value = pseudonym(&key, value);
        }
        writer.write_record(&record.fields).map_err(write_error)?;
        rows += 1;
    }
    writer
        .flush()
        .map_err(|source| Error::io("writing", request.output, source))?;
    Ok(rows)
}

/// The pseudonym of one value: lower-case hex HMAC-SHA256 under `key`; blank stays blank.
pub fn pseudonym(key: &[u8], value: &str) -> String {
    let normalised = normalise_identifier(value);
    if normalised.is_empty() {
        return String::new();
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(normalised.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Removes surrounding space, and the spaces or hyphens that group an NHS number's digits.
fn normalise_identifier(value: &str) -> String {
    let trimmed = value.trim();
    let digits_and_separators = trimmed
        .chars()
        .all(|ch| ch.is_ascii_digit() || ch == ' ' || ch == '-');
    if digits_and_separators {
        trimmed.chars().filter(char::is_ascii_digit).collect()
    } else {
        trimmed.to_string()
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>> {
    let mut key =
        std::fs::read(path).map_err(|source| Error::io("reading the key file", path, source))?;
    while key
        .last()
        .is_some_and(|byte| *byte == b'\n' || *byte == b'\r')
    {
        key.pop();
    }
    if key.len() < MIN_KEY_BYTES {
        return Err(Error::input(
            Location::file(path),
            format!(
                "the key file holds {} bytes; a key must be at least {MIN_KEY_BYTES} bytes \
                 (e.g. head -c 32 /dev/urandom | base64 > KEY)",
                key.len()
            ),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_of_nhs_number_does_not_change_pseudonym() {
        let key = b"0123456789abcdef0123456789abcdef";
        let plain = pseudonym(key, "9434765919");
        assert_eq!(plain, pseudonym(key, " 943 476 5919 "));
        assert_eq!(plain, pseudonym(key, "943-476-5919"));
        assert_eq!(plain.len(), 64);
        assert_ne!(
            plain,
            pseudonym(b"another key of sixteen+ bytes...", "9434765919")
        );
        assert_eq!(pseudonym(key, "  "), "");
    }
}
