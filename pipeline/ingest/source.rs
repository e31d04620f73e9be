//! Reading an extract file as a stream of decoded text records, whatever its container.
//!
//! Owns file formats and text encodings: `.csv`, `.csv.gz` and `.parquet`; UTF-8 with or
//! without BOM; Windows-1252 detected and converted (a file whose first non-ASCII text is
//! not valid UTF-8), mixed encodings refused; UTF-16, spreadsheets and binary files refused
//! with a message saying how to fix them. It knows nothing of contracts: it yields the header
//! and, per record, its line number and its fields as text.
//!
//! Memory is bounded by one record (CSV) or one batch (Parquet); the file's SHA-256 and the
//! bytes read so far are computed on the way through.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use sha2::{Digest, Sha256};

use crate::error::{Error, Location, Result};

/// The container an extract arrives in, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    Csv,
    CsvGz,
    Parquet,
}

impl Container {
    pub const ALL: [Container; 3] = [Container::Csv, Container::CsvGz, Container::Parquet];

    pub fn extension(self) -> &'static str {
        match self {
            Container::Csv => "csv",
            Container::CsvGz => "csv.gz",
            Container::Parquet => "parquet",
        }
    }
}

/// One record: its first physical line in the file (or row number for Parquet) and fields.
#[derive(Debug, Default, Clone)]
pub struct RawRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

/// Progress shared with the caller: bytes of the file consumed so far.
#[derive(Debug, Default, Clone)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// A stream of text records from one extract file.
pub struct Source {
    path: PathBuf,
    header: Vec<String>,
    body: Body,
    text: TextDecoder,
    /// Field strings taken back from records as they are refilled, so reading a record
    /// allocates nothing once the first few records have been read.
    spare: Vec<String>,
}

enum Body {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::ByteRecord,
        hasher: Arc<std::sync::Mutex<Sha256>>,
    },
    Parquet {
        reader: ParquetRecordBatchReader,
        batch: Vec<StringArray>,
        next_row_in_batch: usize,
        rows_before_batch: u64,
        sha256: String,
        bytes_per_row: f64,
        bytes_read: BytesRead,
    },
}

impl Source {
    /// Opens a file and reads its header. File-level problems are errors naming the file.
    pub fn open(path: &Path, container: Container, bytes_read: BytesRead) -> Result<Source> {
        match container {
            Container::Csv | Container::CsvGz => open_csv(path, container, bytes_read),
            Container::Parquet => open_parquet(path, bytes_read),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header names, trimmed, as written.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// How the text was decoded (for the quality report).
    pub fn encoding(&self) -> &'static str {
        self.text.label()
    }

    /// Reads the next record into `out`; false at the end of the file.
    pub fn next_record(&mut self, out: &mut RawRecord) -> Result<bool> {
        match &mut self.body {
            Body::Csv { reader, record, .. } => {
                let more = reader.read_byte_record(record).map_err(|error| {
                    let line = error.position().map(|position| position.line());
                    let mut location = Location::file(&self.path);
                    location.line = line;
                    Error::input(location, format!("the file cannot be read as CSV: {error}"))
                })?;
                if !more {
                    return Ok(false);
                }
                out.line = record.position().map_or(0, |position| position.line());
                self.spare.append(&mut out.fields);
                for (index, bytes) in record.iter().enumerate() {
                    let column = self.header.get(index).map(String::as_str).unwrap_or("");
                    let mut text = self.spare.pop().unwrap_or_default();
                    self.text
                        .decode_into(bytes, &mut text, &self.path, out.line, column)?;
                    out.fields.push(text);
                }
                Ok(true)
            }
            Body::Parquet {
                reader,
                batch,
                next_row_in_batch,
                rows_before_batch,
                bytes_per_row,
                bytes_read,
                ..
            } => {
                while batch
                    .first()
                    .is_none_or(|column| *next_row_in_batch >= column.len())
                {
                    let Some(next) = reader.next() else {
                        return Ok(false);
                    };
                    let next =
                        next.map_err(|source| Error::parquet("reading", &self.path, source))?;
                    *rows_before_batch += batch.first().map_or(0, |column| column.len() as u64);
                    *batch = next
                        .columns()
                        .iter()
                        .map(|column| column_as_text(column, &self.path))
                        .collect::<Result<_>>()?;
                    *next_row_in_batch = 0;
                    if batch.is_empty() {
                        return Ok(false);
                    }
                }
                let row = *next_row_in_batch;
                *next_row_in_batch += 1;
                out.line = *rows_before_batch + row as u64 + 1;
                self.spare.append(&mut out.fields);
                for column in batch.iter() {
                    let value = if column.is_null(row) {
                        ""
                    } else {
                        column.value(row)
                    };
                    let mut text = self.spare.pop().unwrap_or_default();
                    text.clear();
                    text.push_str(value);
                    out.fields.push(text);
                }
                bytes_read.add(bytes_per_row.round() as u64);
                Ok(true)
            }
        }
    }

    /// SHA-256 of the file's bytes as stored on disk. For CSV it covers the bytes read so
    /// far, so call it after the last record.
    pub fn sha256(&self) -> String {
        match &self.body {
            Body::Csv { hasher, .. } => {
                let hasher = hasher.lock().expect("hasher lock").clone();
                hex::encode(hasher.finalize())
            }
            Body::Parquet { sha256, .. } => sha256.clone(),
        }
    }
}

/// Counts and hashes the raw bytes of a file as they are read.
struct Tap<R> {
    inner: R,
    hasher: Arc<std::sync::Mutex<Sha256>>,
    bytes_read: BytesRead,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.hasher
            .lock()
            .expect("hasher lock")
            .update(&buffer[..count]);
        self.bytes_read.add(count as u64);
        Ok(count)
    }
}

const READ_BUFFER_BYTES: usize = 1 << 20;

fn open_csv(path: &Path, container: Container, bytes_read: BytesRead) -> Result<Source> {
    let file = File::open(path).map_err(|source| Error::io("opening", path, source))?;
    let hasher = Arc::new(std::sync::Mutex::new(Sha256::new()));
    let tap = Tap {
        inner: file,
        hasher: hasher.clone(),
        bytes_read,
    };
    let decompressed: Box<dyn Read + Send> = match container {
        Container::CsvGz => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            tap,
        ))),
        _ => Box::new(tap),
    };
    let mut buffered = BufReader::with_capacity(READ_BUFFER_BYTES, decompressed);
    let has_bom = sniff_start(path, &mut buffered)?;
    let mut text = TextDecoder::new(has_bom);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER_BYTES)
        .from_reader(Box::new(buffered) as Box<dyn Read + Send>);
    let mut record = csv::ByteRecord::new();
    let has_header = reader.read_byte_record(&mut record).map_err(|error| {
        Error::input(
            Location::file(path).line(1),
            format!("the header cannot be read as CSV: {error}"),
        )
    })?;
    if !has_header
        || record
            .iter()
            .all(|field| field.iter().all(u8::is_ascii_whitespace))
    {
        return Err(Error::input(
            Location::file(path),
            "the file is empty: expected a header row naming the columns",
        ));
    }
    let header = record
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let column = format!("#{}", index + 1);
            let mut name_text = String::new();
            text.decode_into(name, &mut name_text, path, 1, &column)
                .map(|()| name_text.trim().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Source {
        path: path.to_path_buf(),
        header,
        body: Body::Csv {
            reader,
            record,
            hasher,
        },
        text,
        spare: Vec::new(),
    })
}

/// Looks at the first bytes: consumes a UTF-8 BOM (returning true) and refuses containers
/// that are not text CSV, with the fix.
fn sniff_start(path: &Path, reader: &mut impl BufRead) -> Result<bool> {
    let start = reader
        .fill_buf()
        .map_err(|source| read_error(path, source))?;
    let refuse = |reason: &str| Err(Error::input(Location::file(path).line(1), reason));
    if start.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
        return Ok(true);
    }
    if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
        return refuse(
            "the file is UTF-16 text; save it as \"CSV UTF-8 (comma delimited)\" and rerun",
        );
    }
    if start.starts_with(b"PK\x03\x04") {
        return refuse(
            "the file is a spreadsheet workbook (xlsx), not CSV; save the sheet as \"CSV UTF-8 (comma delimited)\"",
        );
    }
    if start.starts_with(&[0x1F, 0x8B]) {
        return refuse("the file is gzip-compressed; name it with a .csv.gz extension");
    }
    if start.starts_with(b"PAR1") {
        return refuse("the file is Parquet; name it with a .parquet extension");
    }
    Ok(false)
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::InvalidInput
        || source.kind() == std::io::ErrorKind::InvalidData
    {
        Error::input(
            Location::file(path),
            format!("the file is not a readable gzip stream: {source}"),
        )
    } else {
        Error::io("reading", path, source)
    }
}

fn open_parquet(path: &Path, bytes_read: BytesRead) -> Result<Source> {
    let sha256 = hash_file(path)?;
    let file = File::open(path).map_err(|source| Error::io("opening", path, source))?;
    let file_bytes = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
        Error::input(
            Location::file(path),
            format!("the file is not a readable Parquet file: {source}"),
        )
    })?;
    let total_rows = builder.metadata().file_metadata().num_rows().max(1) as f64;
    let header = builder
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().trim().to_string())
        .collect();
    let reader = builder
        .with_batch_size(8192)
        .build()
        .map_err(|source| Error::parquet("reading", path, source))?;
    Ok(Source {
        path: path.to_path_buf(),
        header,
        body: Body::Parquet {
            reader,
            batch: Vec::new(),
            next_row_in_batch: 0,
            rows_before_batch: 0,
            sha256,
            bytes_per_row: file_bytes as f64 / total_rows,
            bytes_read,
        },
        text: TextDecoder::new(false),
        spare: Vec::new(),
    })
}

/// Casts any Parquet column to text so the contract sees one representation: dates as ISO,
/// booleans as true/false, numbers as written by Arrow, and a list (as ingest itself writes
/// `referral_reasons`) as its items joined by `;`, as a text file writes them.
fn column_as_text(column: &arrow::array::ArrayRef, path: &Path) -> Result<StringArray> {
    if let Some(lists) = column.as_any().downcast_ref::<arrow::array::ListArray>() {
        return list_as_text(lists, path);
    }
    // A list with 64-bit offsets, as Polars and some warehouse exports write every list.
    if let Some(lists) = column
        .as_any()
        .downcast_ref::<arrow::array::LargeListArray>()
    {
        return list_as_text(lists, path);
    }
    let text = arrow::compute::cast(column, &DataType::Utf8).map_err(|source| {
        Error::input(
            Location::file(path),
            format!(
                "a column of type {} cannot be read as text: {source}",
                column.data_type()
            ),
        )
    })?;
    Ok(text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 yields a StringArray")
        .clone())
}

/// Each list's items as text joined by the code-list separator; a null list stays null.
fn list_as_text<O: arrow::array::OffsetSizeTrait>(
    lists: &arrow::array::GenericListArray<O>,
    path: &Path,
) -> Result<StringArray> {
    let items = column_as_text(lists.values(), path)?;
    let separator = crate::ingest::contract::CODE_LIST_SEPARATOR.to_string();
    Ok((0..lists.len())
        .map(|row| {
            lists.is_valid(row).then(|| {
                let offsets = lists.value_offsets();
                (offsets[row].as_usize()..offsets[row + 1].as_usize())
                    .filter(|&item| items.is_valid(item))
                    .map(|item| items.value(item))
                    .collect::<Vec<_>>()
                    .join(&separator)
            })
        })
        .collect())
}

pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|source| Error::io("opening", path, source))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|source| Error::io("reading", path, source))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Decodes field bytes, deciding the file's encoding from its first non-ASCII field.
///
/// Hand-written because no crate decides an encoding for a stream it cannot rewind: until
/// the first non-ASCII byte both readings agree; valid UTF-8 then fixes UTF-8, invalid UTF-8
/// fixes Windows-1252 (the Excel "CSV" default on UK Windows). A later contradiction means
/// the file mixes encodings and is refused rather than garbled.
#[derive(Debug)]
struct TextDecoder {
    encoding: TextEncoding,
    bom: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextEncoding {
    AsciiSoFar,
    Utf8,
    Windows1252,
}

/// Bytes that are unassigned in Windows-1252: their presence means the file is neither
/// UTF-8 nor Windows-1252.
const UNASSIGNED_1252: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

impl TextDecoder {
    fn new(bom: bool) -> Self {
        TextDecoder {
            encoding: if bom {
                TextEncoding::Utf8
            } else {
                TextEncoding::AsciiSoFar
            },
            bom,
        }
    }

    fn label(&self) -> &'static str {
        match (self.encoding, self.bom) {
            (TextEncoding::Windows1252, _) => "windows-1252 (converted to utf-8)",
            (_, true) => "utf-8 with BOM",
            (TextEncoding::Utf8, false) => "utf-8",
            (TextEncoding::AsciiSoFar, false) => "ascii",
        }
    }

    /// Decodes `bytes` into `out` (replacing what it held).
    fn decode_into(
        &mut self,
        bytes: &[u8],
        out: &mut String,
        path: &Path,
        line: u64,
        column: &str,
    ) -> Result<()> {
        out.clear();
        if bytes.contains(&0) {
            return Err(Error::input(
                Location::file(path).line(line).column(column),
                "the file contains NUL bytes: it is binary, not CSV text",
            ));
        }
        if bytes.is_ascii() {
            out.push_str(std::str::from_utf8(bytes).expect("ASCII is UTF-8"));
            return Ok(());
        }
        match self.encoding {
            TextEncoding::AsciiSoFar | TextEncoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    self.encoding = TextEncoding::Utf8;
                    out.push_str(text);
                    Ok(())
                }
                Err(_) if self.encoding == TextEncoding::AsciiSoFar => {
                    self.encoding = TextEncoding::Windows1252;
                    decode_1252(bytes, out, path, line, column)
                }
                Err(_) => Err(Error::input(
                    Location::file(path).line(line).column(column),
                    "this value is not valid UTF-8 although earlier lines were: the file mixes \
                     encodings; re-export it as \"CSV UTF-8 (comma delimited)\"",
                )),
            },
            TextEncoding::Windows1252 => decode_1252(bytes, out, path, line, column),
        }
    }
}

fn decode_1252(bytes: &[u8], out: &mut String, path: &Path, line: u64, column: &str) -> Result<()> {
    if bytes.iter().any(|byte| UNASSIGNED_1252.contains(byte)) {
        return Err(Error::input(
            Location::file(path).line(line).column(column),
            "the file is neither UTF-8 nor Windows-1252 text; re-export it as \
             \"CSV UTF-8 (comma delimited)\"",
        ));
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    out.push_str(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, GenericListBuilder, OffsetSizeTrait, StringArray, StringBuilder,
    };

    use super::column_as_text;

    /// [a, b], null, [], [c] as a list column with offsets of type `O`.
    fn reasons<O: OffsetSizeTrait>() -> ArrayRef {
        let mut lists = GenericListBuilder::<O, _>::new(StringBuilder::new());
        for row in [Some(vec!["a", "b"]), None, Some(vec![]), Some(vec!["c"])] {
            match row {
                Some(items) => {
                    for item in items {
                        lists.values().append_value(item);
                    }
                    lists.append(true);
                }
                None => lists.append(false),
            }
        }
        Arc::new(lists.finish())
    }

    #[test]
    fn list_columns_of_either_offset_size_read_as_items_joined() {
        let path = std::path::Path::new("referrals.parquet");
        for column in [reasons::<i32>(), reasons::<i64>()] {
            let text = column_as_text(&column, path).unwrap();
            let expected = StringArray::from(vec![Some("a;b"), None, Some(""), Some("c")]);
            assert_eq!(text, expected, "{}", column.data_type());
            assert!(text.is_null(1));
        }
    }
}
