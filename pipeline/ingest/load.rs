//! Loading one extract's files: records read on one thread, checked on several, and settled
//! (counted, de-duplicated, quarantined and written) in file order on the calling thread.
//!
//! The result does not depend on the number of threads. Records are cut into chunks of
//! [`CHUNK_RECORDS`] as they are read; a chunk is checked on its own, for everything that a
//! record's own fields and the extracts loaded before decide (field parsing, the contract's
//! rules, references to patients and referrals, a profile's mapping). What depends on earlier
//! records of the same file is settled in file order: the file's date format (fixed by its
//! first valid date: a chunk checked under a format that turns out not to be the file's is
//! checked again), unique keys, the NHS-number column guard, a long questionnaire's items,
//! and the Parquet batches, which hold exactly [`BATCH_ROWS`] rows whatever the chunks were.
//!
//! Hand-written rather than on a thread-pool crate: the work is one reader, a queue and an
//! in-order merge, and the bound on memory (chunks in flight are recycled, never allocated
//! anew) is the point.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use indicatif::ProgressBar;

use super::contract::{Contract, TableBuilder};
use super::fields::{self, DateFormat};
use super::profile::{Mapped, Mapper, Questionnaires};
use super::quarantine::QuarantineWriter;
use super::report::FileReport;
use super::source::{BytesRead, RawRecord, Source};
use super::{
    DATA_DIR, ExtractKeys, InputFile, Keys, Layout, Rejection, check_fields, claim_key, map_record,
};
use crate::error::{Error, Location, Result};
use crate::parquet_out::ParquetSink;
use crate::progress::Progress;

/// Records checked together as one unit of work.
const CHUNK_RECORDS: usize = 8192;

/// Rows per record batch written to Parquet.
const BATCH_ROWS: usize = 64 * 1024;

/// A column whose values are NHS numbers in at least half the rows (and at least this many,
/// or every row of a smaller file) stops ingest: the extract must be pseudonymised first.
const NHS_NUMBER_COLUMN_MIN_HITS: u64 = 5;

pub(super) struct Loaded {
    pub reports: Vec<FileReport>,
    pub keys: ExtractKeys,
}

/// Loads every file of one extract, in order, into its one table and quarantine file,
/// checking records on `threads` threads.
pub(super) fn load_extract(
    contract: &'static Contract,
    inputs: &[&InputFile],
    keys: &Keys,
    threads: usize,
    out_dir: &Path,
    progress: &Progress,
) -> Result<Loaded> {
    let mut output = TableOutput::create(
        out_dir
            .join(DATA_DIR)
            .join(format!("{}.parquet", contract.name)),
        contract.schema(),
    )?;
    let mut quarantine = QuarantineWriter::create(
        out_dir
            .join("quality/quarantine")
            .join(format!("{}.parquet", contract.name)),
    )?;
    let mut extract_keys = ExtractKeys::for_contract(contract);
    let mut reports = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut outputs = Outputs {
            extract_keys: &mut extract_keys,
            quarantine: &mut quarantine,
            table: &mut output,
        };
        reports.push(load_file(input, keys, threads, &mut outputs, progress)?);
    }
    output.finish()?;
    quarantine.finish()?;
    Ok(Loaded {
        reports,
        keys: extract_keys,
    })
}

/// Where an extract's files go: its keys so far, its quarantine and its table.
struct Outputs<'a> {
    extract_keys: &'a mut ExtractKeys,
    quarantine: &'a mut QuarantineWriter,
    table: &'a mut TableOutput,
}

/// Reads one file of an extract: each record is mapped by the file's profile (if it has
/// one), checked by the contract, and loaded, quarantined or excluded.
fn load_file(
    input: &InputFile,
    keys: &Keys,
    threads: usize,
    outputs: &mut Outputs<'_>,
    progress: &Progress,
) -> Result<FileReport> {
    let contract = input.contract;
    let file_label = input.path.file_name().map_or_else(
        || input.path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let file_bytes = std::fs::metadata(&input.path).map_or(0, |meta| meta.len());
    let bytes_read = BytesRead::default();
    let bar = progress.file_bar(&file_label, file_bytes);
    let source = Source::open(&input.path, input.container, bytes_read.clone())?;
    let header = source.header().to_vec();
    let mapper = match &input.profile {
        Some(profile) => Some(Mapper::new(profile, &header, &input.path)?),
        None => None,
    };
    let layout = match &mapper {
        Some(_) => Layout::contract_shaped(contract),
        None => Layout::from_header(contract, &source)?,
    };

    let mut report = FileReport::new(contract.name, &file_label, input.container, file_bytes);
    report.profile = input.profile.as_ref().map(|profile| profile.name.clone());
    report.ignored_columns = layout.ignored.clone();
    for column in &layout.ignored {
        report.warn(format!(
            "column '{column}' is not in the contract and was ignored"
        ));
    }
    for column in &layout.absent_optional {
        report.warn(format!(
            "optional column '{column}' is absent; treated as blank"
        ));
    }
    if let Some(mapper) = &mapper {
        for skipped in &mapper.skipped_rules {
            report.warn(skipped.clone());
        }
    }
    outputs.quarantine.set_file(&file_label)?;

    let file = FileChecks {
        contract,
        layout: &layout,
        mapper: mapper.as_ref(),
        keys,
        path: &input.path,
        header: &header,
    };
    let mut settler = Settler {
        report: &mut report,
        outputs,
        questionnaires: Questionnaires::default(),
        nhs_hits: vec![0; header.len()],
        date_format: None,
    };
    let progress_bar = ProgressAt {
        bar: &bar,
        bytes_read: &bytes_read,
    };
    let source = read_and_check(source, &file, threads, &mut settler, &progress_bar)?;

    // A long layout's questionnaires, each at the line of its first item, checked as
    // contract-shaped records.
    let assembled = std::mem::take(&mut settler.questionnaires).finish();
    if !assembled.is_empty() {
        let records: Vec<RawRecord> = assembled
            .into_iter()
            .map(|(line, fields)| RawRecord { line, fields })
            .collect();
        let chunk = Chunk {
            sequence: 0,
            len: records.len(),
            records,
        };
        let as_contract = FileChecks {
            mapper: None,
            ..file
        };
        let checked = check_chunk(&as_contract, chunk, settler.date_format);
        settler.settle(&as_contract, checked, Origin::Assembled)?;
    }
    let date_format = settler.date_format;
    let rows_read = settler.report.rows_read;
    if let Some(column) = nhs_number_column(&settler.nhs_hits, rows_read, true) {
        return Err(nhs_number_error(&input.path, &header, column, 1));
    }
    if report.rows_read == 0 {
        report.warn("the file has a header but no data rows".to_string());
    }
    report.encoding = source.encoding().to_string();
    report.date_format = date_format;
    report.sha256 = source.sha256();
    report.finish(keys.study.min_linkage_rate);
    bar.finish();
    progress.log(&report.summary_line());
    Ok(report)
}

/// What every chunk of one file is checked against (shared, read-only, by the threads).
#[derive(Clone, Copy)]
struct FileChecks<'a> {
    contract: &'static Contract,
    layout: &'a Layout,
    mapper: Option<&'a Mapper<'a>>,
    keys: &'a Keys,
    path: &'a Path,
    /// The file's header as written.
    header: &'a [String],
}

/// Up to [`CHUNK_RECORDS`] consecutive records of a file; `sequence` is its place in it.
#[derive(Default)]
struct Chunk {
    sequence: u64,
    /// Records in use (the vector keeps spare records for reuse).
    len: usize,
    records: Vec<RawRecord>,
}

impl Chunk {
    fn records(&self) -> &[RawRecord] {
        &self.records[..self.len]
    }
}

/// A chunk after checking: what became of each record, and the rows that passed.
struct Checked {
    chunk: Chunk,
    /// The file's date format the chunk was checked under, and as its records left it.
    format_before: Option<DateFormat>,
    format_after: Option<DateFormat>,
    /// In record order; a record has none (never), one, or several (a profile's also-rows,
    /// a long layout's items).
    outcomes: Vec<Outcome>,
    /// (record, column) of each field that looks like an NHS number.
    nhs_hits: Vec<(usize, usize)>,
    /// The rows of `Loaded` outcomes, in order.
    rows: RecordBatch,
}

struct Outcome {
    /// Index of the record within its chunk.
    record: usize,
    kind: OutcomeKind,
}

enum OutcomeKind {
    /// Passed every check of its own; `key_raw` is the unique key as written, when the
    /// contract has one (a later duplicate is settled in file order). `added` is the reason
    /// of a profile's also-row.
    Loaded {
        added: Option<String>,
        key_raw: Option<String>,
    },
    Rejected {
        added: Option<String>,
        rejection: Rejection,
    },
    Excluded(String),
    /// One item row of a long questionnaire layout, combined in file order.
    QuestionnaireItem(Vec<String>),
}

/// Checks one chunk's records, starting from the file's date format as known then.
fn check_chunk(file: &FileChecks<'_>, chunk: Chunk, date_format: Option<DateFormat>) -> Checked {
    let mut format = date_format;
    let mut table = TableBuilder::new(file.contract);
    let mut outcomes = Vec::with_capacity(chunk.len);
    let mut nhs_hits = Vec::new();
    let width = file.header.len();
    for (index, record) in chunk.records().iter().enumerate() {
        for (column, field) in record.fields.iter().enumerate().take(width) {
            if fields::is_nhs_number(field) {
                nhs_hits.push((index, column));
            }
        }
        let Some(mapper) = file.mapper else {
            let kind = check_row(file, record, None, &mut table, &mut format);
            outcomes.push(Outcome {
                record: index,
                kind,
            });
            continue;
        };
        match map_record(mapper, record, width) {
            Ok(Mapped::Rows(rows)) if mapper.is_long() => {
                outcomes.extend(rows.into_iter().map(|(fields, _)| Outcome {
                    record: index,
                    kind: OutcomeKind::QuestionnaireItem(fields),
                }));
            }
            Ok(Mapped::Rows(rows)) => {
                for (fields, added) in rows {
                    let row = RawRecord {
                        line: record.line,
                        fields,
                    };
                    let mut kind = check_row(file, &row, added, &mut table, &mut format);
                    if let OutcomeKind::Rejected { rejection, .. } = &mut kind {
                        rejection.name_source_column(mapper, record, file.header);
                    }
                    outcomes.push(Outcome {
                        record: index,
                        kind,
                    });
                }
            }
            Ok(Mapped::Excluded(reason)) => outcomes.push(Outcome {
                record: index,
                kind: OutcomeKind::Excluded(reason),
            }),
            Err(rejection) => outcomes.push(Outcome {
                record: index,
                kind: OutcomeKind::Rejected {
                    added: None,
                    rejection,
                },
            }),
        }
    }
    Checked {
        chunk,
        format_before: date_format,
        format_after: format,
        outcomes,
        nhs_hits,
        rows: table.finish_batch(),
    }
}

/// Checks one contract-shaped row; a row that passes is appended to `table`.
fn check_row(
    file: &FileChecks<'_>,
    row: &RawRecord,
    added: Option<String>,
    table: &mut TableBuilder,
    format: &mut Option<DateFormat>,
) -> OutcomeKind {
    match check_fields(file.contract, file.layout, row, file.keys, format) {
        Ok(values) => {
            table.append(&values, row.line);
            let key_raw = file.contract.unique_key.map(|column| {
                file.layout
                    .raw(file.contract, row, column)
                    .unwrap_or_default()
                    .to_string()
            });
            OutcomeKind::Loaded { added, key_raw }
        }
        Err(rejection) => OutcomeKind::Rejected { added, rejection },
    }
}

/// Whether a chunk's records were read from the file (counted as read, searched for NHS
/// numbers) or assembled from it (a long layout's questionnaires).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    File,
    Assembled,
}

/// Settles checked chunks of one file, in file order.
struct Settler<'a, 'o> {
    report: &'a mut FileReport,
    outputs: &'a mut Outputs<'o>,
    questionnaires: Questionnaires,
    /// Per header column, the fields so far that look like NHS numbers.
    nhs_hits: Vec<u64>,
    /// The file's date format as its records so far fixed it.
    date_format: Option<DateFormat>,
}

impl Settler<'_, '_> {
    /// Counts, de-duplicates, quarantines and writes one chunk, the next in file order;
    /// gives the chunk back for reuse.
    fn settle(&mut self, file: &FileChecks<'_>, checked: Checked, origin: Origin) -> Result<Chunk> {
        let checked = if checked.format_before == self.date_format {
            checked
        } else {
            check_chunk(file, checked.chunk, self.date_format)
        };
        self.date_format = checked.format_after;
        let Checked {
            chunk,
            outcomes,
            nhs_hits,
            rows,
            ..
        } = checked;
        let mut hits = nhs_hits.into_iter().peekable();
        let mut outcomes = outcomes.into_iter().peekable();
        let mut row = 0;
        let mut duplicates = Vec::new();
        for (index, record) in chunk.records().iter().enumerate() {
            if origin == Origin::File {
                self.report.rows_read += 1;
                let mut hit = false;
                while let Some((_, column)) = hits.next_if(|(at, _)| *at == index) {
                    self.nhs_hits[column] += 1;
                    hit = true;
                }
                // A column's share of hits can only reach the bar on a hit.
                if hit
                    && let Some(column) =
                        nhs_number_column(&self.nhs_hits, self.report.rows_read, false)
                {
                    return Err(nhs_number_error(
                        file.path,
                        file.header,
                        column,
                        record.line,
                    ));
                }
            }
            while let Some(outcome) = outcomes.next_if(|outcome| outcome.record == index) {
                match outcome.kind {
                    OutcomeKind::Loaded { added, key_raw } => {
                        self.count_added(added);
                        let at = row;
                        row += 1;
                        if let Err(rejection) = self.claim(file, &rows, at, key_raw, record) {
                            duplicates.push(at);
                            self.quarantine(rejection, record.line)?;
                        } else {
                            self.report.rows_loaded += 1;
                        }
                    }
                    OutcomeKind::Rejected { added, rejection } => {
                        self.count_added(added);
                        self.quarantine(rejection, record.line)?;
                    }
                    OutcomeKind::Excluded(reason) => self.report.count_excluded(reason),
                    OutcomeKind::QuestionnaireItem(fields) => {
                        let mapper = file.mapper.expect("items come from a long layout");
                        match self
                            .questionnaires
                            .push(mapper, fields, &record.fields, record.line)
                        {
                            Ok(true) => {}
                            Ok(false) => self.report.rows_combined += 1,
                            Err(problem) => {
                                let rejection = Rejection::new(
                                    Some(&problem.column),
                                    Some(&problem.raw_value),
                                    problem.problem,
                                );
                                self.quarantine(rejection, record.line)?;
                            }
                        }
                    }
                }
            }
        }
        let rows = if duplicates.is_empty() {
            rows
        } else {
            without_rows(&rows, &duplicates, file.path)?
        };
        self.outputs.table.push(rows)?;
        Ok(chunk)
    }

    fn count_added(&mut self, added: Option<String>) {
        if let Some(reason) = added {
            self.report.count_added(reason);
        }
    }

    fn quarantine(&mut self, rejection: Rejection, line: u64) -> Result<()> {
        self.report.count_quarantined(rejection.reason);
        self.outputs.quarantine.push(rejection.into_row(line))
    }

    /// Claims row `at`'s unique key (if the contract has one) for this extract, or says
    /// why not (loaded before).
    fn claim(
        &mut self,
        file: &FileChecks<'_>,
        rows: &RecordBatch,
        at: usize,
        key_raw: Option<String>,
        record: &RawRecord,
    ) -> std::result::Result<(), Rejection> {
        let Some(key_column) = file.contract.unique_key else {
            return Ok(());
        };
        let text = |column: &str| {
            let array = rows
                .column_by_name(column)?
                .as_any()
                .downcast_ref::<StringArray>()?;
            (!array.is_null(at)).then(|| array.value(at))
        };
        let key = text(key_column).unwrap_or_default();
        let person = text("person_id");
        claim_key(
            file.contract,
            self.outputs.extract_keys,
            key,
            person,
            record.line,
        )
        .map_err(|problem| {
            let mut rejection =
                Rejection::new(Some(problem.column), key_raw.as_deref(), problem.problem);
            if let Some(mapper) = file.mapper {
                rejection.name_source_column(mapper, record, file.header);
            }
            rejection
        })
    }
}

/// `rows` without the rows at `dropped` (ascending).
fn without_rows(rows: &RecordBatch, dropped: &[usize], path: &Path) -> Result<RecordBatch> {
    let keep: BooleanArray = (0..rows.num_rows())
        .map(|row| Some(dropped.binary_search(&row).is_err()))
        .collect();
    arrow::compute::filter_record_batch(rows, &keep)
        .map_err(|source| Error::parquet("writing", path, source))
}

/// The progress bar of one file and the bytes its reader has consumed.
struct ProgressAt<'a> {
    bar: &'a ProgressBar,
    bytes_read: &'a BytesRead,
}

/// Reads `source` to its end on one thread, checks its chunks on `threads` others and
/// settles them in file order on this one. Gives the source back (for its hash and
/// encoding). An error settling a chunk stops the reading; an error reading comes after
/// every chunk before it has been settled, as it would reading record by record.
fn read_and_check(
    source: Source,
    file: &FileChecks<'_>,
    threads: usize,
    settler: &mut Settler<'_, '_>,
    progress: &ProgressAt<'_>,
) -> Result<Source> {
    let threads = threads.max(1);
    let in_flight = 2 * threads + 2;
    let date_format = Mutex::new(settler.date_format);
    std::thread::scope(|scope| {
        let (free_sender, free_chunks) = mpsc::channel::<Chunk>();
        for _ in 0..in_flight {
            free_sender.send(Chunk::default()).expect("receiver held");
        }
        let (work_sender, work) = mpsc::sync_channel::<Chunk>(in_flight);
        let work = Arc::new(Mutex::new(work));
        let (done_sender, done) = mpsc::channel::<Checked>();
        let reader = scope.spawn(move || read_chunks(source, &free_chunks, &work_sender));
        for _ in 0..threads {
            let work = Arc::clone(&work);
            let done_sender = done_sender.clone();
            let date_format = &date_format;
            scope.spawn(move || {
                loop {
                    let next = work.lock().expect("work queue lock").recv();
                    let Ok(chunk) = next else { break };
                    let format = *date_format.lock().expect("date format lock");
                    if done_sender.send(check_chunk(file, chunk, format)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((done_sender, work));

        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        let mut settled = Ok(());
        'settling: while let Ok(checked) = done.recv() {
            waiting.insert(checked.chunk.sequence, checked);
            while let Some(checked) = waiting.remove(&next) {
                next += 1;
                match settler.settle(file, checked, Origin::File) {
                    Ok(chunk) => {
                        *date_format.lock().expect("date format lock") = settler.date_format;
                        // The reader may have finished; a chunk it will not need is dropped.
                        let _ = free_sender.send(chunk);
                        progress.bar.set_position(progress.bytes_read.get());
                    }
                    Err(error) => {
                        settled = Err(error);
                        break 'settling;
                    }
                }
            }
        }
        // Stops the reader and the checkers if settling failed.
        drop((done, free_sender));
        let read = reader.join().expect("ingest reader thread panicked");
        settled?;
        read
    })
}

/// Fills free chunks with the next records, in order, and queues them for checking.
fn read_chunks(
    mut source: Source,
    free_chunks: &mpsc::Receiver<Chunk>,
    work: &mpsc::SyncSender<Chunk>,
) -> Result<Source> {
    let mut sequence = 0;
    while let Ok(mut chunk) = free_chunks.recv() {
        chunk.sequence = sequence;
        chunk.len = 0;
        let mut read = Ok(true);
        while chunk.len < CHUNK_RECORDS {
            if chunk.records.len() == chunk.len {
                chunk.records.push(RawRecord::default());
            }
            read = source.next_record(&mut chunk.records[chunk.len]);
            if !matches!(read, Ok(true)) {
                break;
            }
            chunk.len += 1;
        }
        if chunk.len > 0 {
            if work.send(chunk).is_err() {
                break;
            }
            sequence += 1;
        }
        if !read? {
            break;
        }
    }
    Ok(source)
}

/// The column (by header position) that holds NHS numbers, if any. At the end of the file
/// (`at_end`) a single hit in a one-row file counts; mid-file at least a handful must.
fn nhs_number_column(hits: &[u64], rows_read: u64, at_end: bool) -> Option<usize> {
    let min_hits = if at_end {
        1
    } else {
        NHS_NUMBER_COLUMN_MIN_HITS
    };
    hits.iter()
        .position(|&count| count >= min_hits && 2 * count >= rows_read)
}

fn nhs_number_error(path: &Path, header: &[String], column: usize, line: u64) -> Error {
    let name = header.get(column).cloned().unwrap_or_default();
    Error::input(
        Location::file(path).line(line).column(name.clone()),
        format!(
            "this column holds NHS numbers (10 digits passing the modulus-11 check); identifiable \
             data must not be ingested. Pseudonymise it first: sp-impact pseudonymise --key-file KEY \
             --column {name} IN OUT (or remove the column)"
        ),
    )
}

/// An extract's Parquet file, written in batches of exactly [`BATCH_ROWS`] rows (the last
/// one shorter) whatever the chunks the rows came from, so its bytes do not depend on them.
struct TableOutput {
    sink: ParquetSink,
    schema: SchemaRef,
    held: Vec<RecordBatch>,
    held_rows: usize,
}

impl TableOutput {
    fn create(path: std::path::PathBuf, schema: SchemaRef) -> Result<Self> {
        Ok(TableOutput {
            sink: ParquetSink::create(path, schema.clone())?,
            schema,
            held: Vec::new(),
            held_rows: 0,
        })
    }

    fn push(&mut self, rows: RecordBatch) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        self.held_rows += rows.num_rows();
        self.held.push(rows);
        while self.held_rows >= BATCH_ROWS {
            let all = self.take_held()?;
            self.sink.write(&all.slice(0, BATCH_ROWS))?;
            let rest = all.slice(BATCH_ROWS, all.num_rows() - BATCH_ROWS);
            self.held_rows = rest.num_rows();
            self.held.push(rest);
        }
        Ok(())
    }

    fn take_held(&mut self) -> Result<RecordBatch> {
        let held = std::mem::take(&mut self.held);
        self.held_rows = 0;
        arrow::compute::concat_batches(&self.schema, &held)
            .map_err(|source| Error::parquet("writing", self.sink.path(), source))
    }

    fn finish(mut self) -> Result<()> {
        if self.held_rows > 0 {
            let all = self.take_held()?;
            self.sink.write(&all)?;
        }
        self.sink.finish()
    }
}
