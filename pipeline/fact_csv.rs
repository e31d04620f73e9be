//! Small CSV tables a study supplies beside its extracts (a unit-cost table, a practice to PCN
//! lookup): read whole, the header checked for the columns the table needs, every error
//! naming the file, line and column. (Extracts go through `ingest`, which quarantines rows;
//! a table of facts is right or the run stops.)

use std::path::Path;

use csv::StringRecord;

use crate::error::{Error, Location, Result};

pub struct FactCsv<'a> {
    path: &'a Path,
    headers: StringRecord,
    reader: csv::Reader<&'a [u8]>,
}

impl<'a> FactCsv<'a> {
    /// The table in `text`, read from `path`, with its header.
    pub fn new(text: &'a str, path: &'a Path) -> Result<FactCsv<'a>> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|error| Error::input(Location::file(path).line(1), error.to_string()))?
            .clone();
        Ok(FactCsv {
            path,
            headers,
            reader,
        })
    }

    /// Where a value is: this file, `line`, `column`.
    pub fn at(&self, line: u64, column: &str) -> Location {
        Location::file(self.path).line(line).column(column)
    }

    /// The position of an optional column.
    pub fn column(&self, wanted: &str) -> Option<usize> {
        self.headers.iter().position(|header| header == wanted)
    }

    /// The position of a column the table must have.
    pub fn required(&self, wanted: &str) -> Result<usize> {
        self.column(wanted).ok_or_else(|| {
            Error::input(
                self.at(1, wanted),
                format!("required column '{wanted}' is missing"),
            )
        })
    }

    /// The rows with their line numbers (the header is line 1).
    pub fn records(self) -> impl Iterator<Item = Result<(u64, StringRecord)>> + 'a {
        let path = self.path;
        self.reader.into_records().map(move |record| {
            let record = record.map_err(|error| {
                let line = error.position().map_or(0, |position| position.line());
                Error::input(Location::file(path).line(line), error.to_string())
            })?;
            let line = record.position().map_or(0, |position| position.line());
            Ok((line, record))
        })
    }
}
