//! Ingest: contract extracts in, typed Parquet and a reconciled quality report out.
//!
//! For each extract found in the data folder (README "Input extracts"), rows are streamed from the
//! file, checked against the extract's contract and the extracts loaded before it (orphan
//! person_id, unknown referral_id, duplicate keys), and either loaded into
//! `data/<extract>.parquet` or quarantined with file, line, column, raw value and reason in
//! `quality/quarantine/<extract>.parquet`. `quality/ingest.json` gives per file rows read,
//! loaded and quarantined by reason; read must equal loaded + quarantined or ingest fails.
//!
//! Load order: from the contracts' declared references (`contracts::load_waves`): patients;
//! then referrals, GP appointments and hospital activity in parallel (they need only the
//! person keys, read-only by then); then wellbeing and activities (they also need the
//! referral keys). The report lists files in `contracts::ALL` order whatever the load order. Within a file, records are
//! checked on several threads and settled in file order (`load`). File-level problems (missing
//! required column, empty file, unreadable encoding, a column of NHS numbers) stop ingest.

pub mod contract;
pub mod contracts;
pub mod fields;
pub mod inspect;
mod load;
pub mod profile;
pub mod quarantine;
pub mod report;
pub mod source;
pub mod starter;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use contract::{Contract, Kind, Row, RowProblem, TableBuilder, Value};
use fields::{DateFormat, Problem};
use load::{Loaded, load_extract};
use profile::{Layouts, Mapped, Mapper, Profile};
use quarantine::{QuarantinedRow, Reason};
use report::{FileReport, IngestReport};
use source::{BytesRead, Container, RawRecord, Source};

use crate::error::{Error, Location, Result};
use crate::parquet_out::ParquetSink;
use crate::progress::Progress;

/// Where the loaded tables go inside an output folder.
pub const DATA_DIR: &str = "data";
/// Where the quality report and quarantine files go inside an output folder.
pub const QUALITY_DIR: &str = "quality";

/// An extract file found in the data folder.
#[derive(Clone)]
pub struct InputFile {
    pub contract: &'static Contract,
    pub path: PathBuf,
    pub container: Container,
    /// The layout the file is in when it is not contract-shaped (found by its header, or
    /// pinned in `[inputs.files]`).
    pub profile: Option<Arc<Profile>>,
}

/// Finds the extracts in `data_dir`. A file named after a contract (`<name>.csv`, `.csv.gz`
/// or `.parquet`) is that extract; any other data file is matched by its header to the one
/// input profile whose signature it carries (several files may feed one extract, e.g. SUS+
/// spells, outpatient appointments and emergency care into hospital activity). A data file
/// no profile fits, or more than one does, is an error naming the candidates; so is a
/// missing required extract, or two contract-named files for one extract.
pub fn find_inputs(
    data_dir: &Path,
    layouts: &Layouts,
) -> Result<(Vec<InputFile>, Vec<&'static str>)> {
    if !data_dir.is_dir() {
        return Err(Error::Usage(format!(
            "data folder {} does not exist or is not a folder",
            data_dir.display()
        )));
    }
    let mut found = Vec::new();
    for (path, container) in data_files(data_dir)? {
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let stem = file_name
            .as_deref()
            .and_then(|name| name.strip_suffix(&format!(".{}", container.extension())))
            .unwrap_or_default();
        let pinned = file_name
            .as_deref()
            .and_then(|name| layouts.pinned.get(name))
            .map(String::as_str);
        let input = match contracts::by_name(pinned.unwrap_or(stem)) {
            Some(contract) => InputFile {
                contract,
                path,
                container,
                profile: None,
            },
            None => {
                let profile = match pinned.and_then(|name| layouts.by_name(name)) {
                    Some(profile) => profile,
                    None => profile_for(&path, container, layouts)?,
                };
                InputFile {
                    contract: profile.contract(),
                    path,
                    container,
                    profile: Some(profile),
                }
            }
        };
        found.push(input);
    }
    for file in layouts.pinned.keys() {
        if !found.iter().any(|input| {
            input
                .path
                .file_name()
                .is_some_and(|name| name == file.as_str())
        }) {
            return Err(Error::Usage(format!(
                "[inputs.files] names '{file}', which is not a data file in {}",
                data_dir.display()
            )));
        }
    }

    let mut inputs = Vec::new();
    let mut missing_optional = Vec::new();
    for &contract in contracts::ALL {
        let for_contract: Vec<&InputFile> = found
            .iter()
            .filter(|input| std::ptr::eq(input.contract, contract))
            .collect();
        let named: Vec<&&InputFile> = for_contract
            .iter()
            .filter(|input| input.profile.is_none())
            .collect();
        if named.len() > 1 {
            let names: Vec<String> = named
                .iter()
                .map(|input| input.path.display().to_string())
                .collect();
            return Err(Error::input(
                Location::file(&named[0].path),
                format!(
                    "more than one file for extract '{}' ({}): keep one",
                    contract.name,
                    names.join(", ")
                ),
            ));
        }
        if for_contract.is_empty() {
            if contract.required {
                return Err(Error::input(
                    Location::file(&data_dir.join(format!("{}.csv", contract.name))),
                    format!(
                        "the required extract '{}' is missing: put {0}.csv (or {0}.csv.gz or {0}.parquet) in {}",
                        contract.name,
                        data_dir.display()
                    ),
                ));
            }
            missing_optional.push(contract.name);
        }
        inputs.extend(for_contract.into_iter().cloned());
    }
    Ok((inputs, missing_optional))
}

/// Extensions of spreadsheets, which hold data the pipeline cannot read as they are.
const SPREADSHEET_EXTENSIONS: [&str; 3] = ["xlsx", "xls", "ods"];

/// The data files in a folder (by extension), in file-name order; other files (a README,
/// the study configuration) are not data and are left alone, but a spreadsheet is an error
/// (its rows would otherwise be missed without a word).
fn data_files(data_dir: &Path) -> Result<Vec<(PathBuf, Container)>> {
    let entries =
        std::fs::read_dir(data_dir).map_err(|source| Error::io("reading", data_dir, source))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| Error::io("reading", data_dir, source))?
            .path();
        let Some(name) = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
        else {
            continue;
        };
        let lower = name.to_lowercase();
        if SPREADSHEET_EXTENSIONS
            .iter()
            .any(|extension| lower.ends_with(&format!(".{extension}")))
            && !name.starts_with(['.', '~'])
        {
            return Err(Error::input(
                Location::file(&path),
                "a spreadsheet is not read: save each sheet as CSV (UTF-8) in the data folder, or move it out of the folder",
            ));
        }
        let container = Container::ALL
            .into_iter()
            .find(|container| name.ends_with(&format!(".{}", container.extension())));
        if let Some(container) = container
            && path.is_file()
            && !name.starts_with('.')
        {
            files.push((path, container));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The one built-in profile a file's header fits, or an error listing the near misses.
fn profile_for(path: &Path, container: Container, layouts: &Layouts) -> Result<Arc<Profile>> {
    let source = Source::open(path, container, BytesRead::default())?;
    let all = layouts.all();
    let (fits, near) = profile::fitting(&all, source.header());
    match fits.as_slice() {
        [profile] => Ok(Arc::clone(profile)),
        [] => {
            let closest: Vec<String> = near
                .iter()
                .take(3)
                .map(|(profile, missing)| {
                    format!(
                        "{} ({}) lacks {}",
                        profile.name,
                        profile.title,
                        missing.join(", ")
                    )
                })
                .collect();
            let closest = if closest.is_empty() {
                String::new()
            } else {
                format!(" Closest layouts: {}.", closest.join("; "))
            };
            let extracts: Vec<&str> = contracts::ALL
                .iter()
                .map(|contract| contract.name)
                .collect();
            Err(Error::input(
                Location::file(path).line(1),
                format!(
                    "sp-impact does not know this file: its name is not an extract ({}) and its \
                     header fits none of the input layouts (`sp-impact profiles` lists them).{closest} \
                     Rename it after the extract it holds, or move it out of the data folder",
                    extracts.join(", ")
                ),
            ))
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|profile| format!("{} ({})", profile.name, profile.signature.join(", ")))
                .collect();
            Err(Error::input(
                Location::file(path).line(1),
                format!(
                    "the header fits more than one input layout: {}; pin the file to one in study.toml ([inputs.files] \"{}\" = \"<layout>\")",
                    names.join("; "),
                    path.file_name()
                        .map(|name| name.to_string_lossy())
                        .unwrap_or_default()
                ),
            ))
        }
    }
}

/// Ingests every extract in `data_dir` into `out_dir` (which must exist and be empty of
/// earlier results; callers stage it, see [`crate::output`]).
pub fn ingest(
    data_dir: &Path,
    options: &IngestOptions,
    out_dir: &Path,
    progress: &Progress,
) -> Result<IngestReport> {
    let (inputs, missing_optional) = find_inputs(data_dir, &options.layouts)?;
    for dir in [DATA_DIR, "quality/quarantine"] {
        let dir = out_dir.join(dir);
        std::fs::create_dir_all(&dir).map_err(|source| Error::io("creating", &dir, source))?;
    }
    let files_of = |contract: &Contract| -> Vec<&InputFile> {
        inputs
            .iter()
            .filter(|input| std::ptr::eq(input.contract, contract))
            .collect()
    };

    let mut keys = Keys {
        study: StudyLimits::from(options),
        ..Keys::default()
    };
    let mut files = Vec::new();
    for wave in contracts::load_waves() {
        let wave: Vec<(&'static Contract, Vec<&InputFile>)> = wave
            .into_iter()
            .map(|contract| (contract, files_of(contract)))
            .filter(|(_, files)| !files.is_empty())
            .collect();
        let results: Vec<Result<Loaded>> = std::thread::scope(|scope| {
            let handles: Vec<_> = wave
                .iter()
                .map(|(contract, files)| {
                    let keys = &keys;
                    scope.spawn(move || {
                        load_extract(contract, files, keys, options.threads, out_dir, progress)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("ingest worker thread panicked"))
                .collect()
        });
        for ((contract, _), result) in wave.iter().zip(results) {
            let loaded = result?;
            keys.loaded.insert(contract.name, loaded.keys);
            files.extend(loaded.reports);
        }
    }
    let rank = |file: &FileReport| {
        contracts::ALL
            .iter()
            .position(|contract| contract.name == file.extract)
    };
    files.sort_by_key(rank);
    for name in &missing_optional {
        write_empty_extract(name, out_dir)?;
    }

    warn_of_mixed_sources(&mut files);
    let report = IngestReport::new(files, missing_optional);
    report.write(&out_dir.join(QUALITY_DIR).join("ingest.json"))?;
    if let Some(file) = report.files.iter().find(|file| !file.reconciled) {
        return Err(Error::DataTest(format!(
            "{}: rows read ({}) + added ({}) != loaded ({}) + quarantined ({}) + excluded ({})",
            file.file,
            file.rows_read,
            file.rows_added,
            file.rows_loaded,
            file.rows_quarantined,
            file.rows_excluded
        )));
    }
    Ok(report)
}

/// An extract fed both by a contract-shaped file and by files in source layouts may hold the
/// same records twice (e.g. hospital_activity.csv kept beside the SUS files it was made
/// from): each such file's report says so.
fn warn_of_mixed_sources(files: &mut [FileReport]) {
    let mixed: Vec<&'static str> = contracts::ALL
        .iter()
        .map(|contract| contract.name)
        .filter(|name| {
            let of = |profiled: bool| {
                files
                    .iter()
                    .any(|file| file.extract == *name && file.profile.is_some() == profiled)
            };
            of(true) && of(false)
        })
        .collect();
    for file in files
        .iter_mut()
        .filter(|file| mixed.contains(&file.extract))
    {
        let warning = format!(
            "{} is fed both by a file named after it and by files in source layouts; check that no record is in more than one of them",
            file.extract
        );
        file.warn(warning);
    }
}

/// An absent optional extract is an empty table with its contract's schema, on disk like
/// every other (an engine on another machine must be able to open it).
fn write_empty_extract(name: &str, out_dir: &Path) -> Result<()> {
    let contract = contracts::by_name(name).expect("missing extracts are contract names");
    let path = out_dir.join(DATA_DIR).join(format!("{name}.parquet"));
    ParquetSink::create(path, contract.schema())?.finish()
}

/// What ingest needs besides the data folder: the input layouts, and the study's limits
/// (a study run sets them from study.toml; `sp-impact ingest` alone uses the defaults).
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub layouts: Layouts,
    /// Below this share of rows linked to patients, a file's report carries a warning.
    pub min_linkage_rate: f64,
    /// A year of birth after this (the study's data_end) is quarantined; none without a study.
    pub latest_birth_year: Option<i32>,
    /// Threads checking each file's records (the result does not depend on it).
    pub threads: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            layouts: Layouts::built_in(),
            min_linkage_rate: report::DEFAULT_MIN_LINKAGE_RATE,
            latest_birth_year: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The study-level limits every row is checked against.
#[derive(Default, Clone, Copy)]
struct StudyLimits {
    min_linkage_rate: f64,
    latest_birth_year: Option<i32>,
}

impl From<&IngestOptions> for StudyLimits {
    fn from(options: &IngestOptions) -> Self {
        StudyLimits {
            min_linkage_rate: options.min_linkage_rate,
            latest_birth_year: options.latest_birth_year,
        }
    }
}

/// Keys of the extracts loaded so far, for cross-file checks, and the study's limits.
#[derive(Default)]
struct Keys {
    study: StudyLimits,
    /// By extract name; an extract absent here is not checked against.
    loaded: HashMap<&'static str, ExtractKeys>,
}

/// The unique keys of one extract as loaded: first line of each, and, when another extract
/// requires the same person ([`contracts::keeps_owner`]), its person_id.
#[derive(Default)]
struct ExtractKeys {
    first_line: HashMap<String, u64>,
    owner: Option<HashMap<String, String>>,
}

impl ExtractKeys {
    fn for_contract(contract: &Contract) -> Self {
        ExtractKeys {
            first_line: HashMap::new(),
            owner: contracts::keeps_owner(contract.name).then(HashMap::new),
        }
    }
}

/// Reads and checks every record of one extract's file against its contract, as ingest does,
/// but keeps nothing and has no other extract loaded (so references fail as orphans): the
/// entry point of the fuzz targets in `fuzz/`. Returns (rows read, rows that would load).
#[doc(hidden)]
pub fn check_file(extract: &str, path: &Path, container: Container) -> Result<(u64, u64)> {
    let contract = contracts::by_name(extract)
        .ok_or_else(|| Error::Usage(format!("no extract called {extract}")))?;
    let mut source = Source::open(path, container, BytesRead::default())?;
    let layout = Layout::from_header(contract, &source)?;
    let keys = Keys::default();
    let mut extract_keys = ExtractKeys::default();
    let mut date_format: Option<DateFormat> = None;
    let mut table = TableBuilder::new(contract);
    let mut record = RawRecord::default();
    let (mut read, mut loaded) = (0, 0);
    while source.next_record(&mut record)? {
        read += 1;
        match check_record(
            contract,
            &layout,
            &record,
            &keys,
            &mut extract_keys,
            &mut date_format,
        ) {
            Ok(values) => {
                table.append(&values, record.line);
                loaded += 1;
            }
            Err(rejection) => {
                let _ = rejection.into_row(record.line);
            }
        }
    }
    if !table.is_empty() {
        table.finish_batch();
    }
    Ok((read, loaded))
}

/// Maps one record of a profiled file, or says why it cannot be.
fn map_record(
    mapper: &Mapper<'_>,
    record: &RawRecord,
    source_width: usize,
) -> std::result::Result<Mapped, Rejection> {
    if record.fields.len() != source_width {
        return Err(wrong_field_count(record.fields.len(), source_width));
    }
    mapper.map(&record.fields).map_err(|problem| {
        Rejection::new(
            Some(&problem.column),
            Some(&problem.raw_value),
            problem.problem,
        )
    })
}

fn wrong_field_count(fields: usize, header: usize) -> Rejection {
    Rejection::new(
        None,
        None,
        Problem::new(
            Reason::WrongFieldCount,
            format!("the row has {fields} fields but the header has {header}"),
        ),
    )
}

/// Where each contract column sits in the file's header.
struct Layout {
    /// For each contract input column, its position in the header (None if absent).
    positions: Vec<Option<usize>>,
    header_len: usize,
    ignored: Vec<String>,
    absent_optional: Vec<&'static str>,
}

impl Layout {
    fn from_header(contract: &Contract, source: &Source) -> Result<Layout> {
        let header: Vec<String> = source
            .header()
            .iter()
            .map(|name| normalise_name(name))
            .collect();
        for (index, name) in header.iter().enumerate() {
            if let Some(earlier) = header[..index].iter().position(|other| other == name)
                && !name.is_empty()
            {
                return Err(Error::input(
                    Location::file(source.path()).line(1).column(name.clone()),
                    format!(
                        "column '{name}' appears twice in the header (positions {} and {}); keep one",
                        earlier + 1,
                        index + 1
                    ),
                ));
            }
        }
        let mut positions = Vec::new();
        let mut absent_optional = Vec::new();
        for column in contract.columns {
            let position = header.iter().position(|name| name == column.name);
            if position.is_none() {
                if column.required {
                    return Err(Error::input(
                        Location::file(source.path()).line(1).column(column.name),
                        format!(
                            "required column '{}' is missing from the header; the header has: {}. \
                             Add the column (or rename the one that holds it)",
                            column.name,
                            source.header().join(", ")
                        ),
                    ));
                }
                absent_optional.push(column.name);
            }
            positions.push(position);
        }
        let ignored = source
            .header()
            .iter()
            .zip(&header)
            .filter(|(_, name)| !contract.columns.iter().any(|column| column.name == *name))
            .map(|(raw, _)| raw.clone())
            .collect();
        Ok(Layout {
            positions,
            header_len: header.len(),
            ignored,
            absent_optional,
        })
    }

    /// The layout of records a profile has already put in contract column order.
    fn contract_shaped(contract: &Contract) -> Layout {
        Layout {
            positions: (0..contract.columns.len()).map(Some).collect(),
            header_len: contract.columns.len(),
            ignored: Vec::new(),
            absent_optional: Vec::new(),
        }
    }

    fn raw<'r>(&self, contract: &Contract, record: &'r RawRecord, column: &str) -> Option<&'r str> {
        let index = contract
            .columns
            .iter()
            .position(|spec| spec.name == column)?;
        let position = self.positions[index]?;
        record.fields.get(position).map(String::as_str)
    }
}

/// Header names are matched case-insensitively, ignoring surrounding space, with inner spaces
/// and hyphens read as underscores ("Person ID" matches person_id).
fn normalise_name(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|ch| if ch == ' ' || ch == '-' { '_' } else { ch })
        .collect()
}

/// Why one record was not loaded.
struct Rejection {
    column: Option<String>,
    raw_value: Option<String>,
    reason: Reason,
    detail: String,
}

impl Rejection {
    fn new(column: Option<&str>, raw_value: Option<&str>, problem: Problem) -> Self {
        Rejection {
            column: column.map(str::to_string),
            raw_value: raw_value.map(str::to_string),
            reason: problem.reason,
            detail: problem.detail,
        }
    }

    /// Names the source column (and its value) that fed the contract column blamed, so a
    /// user of a profiled file finds the problem in their own file.
    fn name_source_column(&mut self, mapper: &Mapper<'_>, record: &RawRecord, header: &[String]) {
        let Some(column) = self.column.clone() else {
            return;
        };
        let Some(source_column) = mapper.source_of(&column) else {
            return;
        };
        let wanted = normalise_name(source_column);
        if let Some(position) = header
            .iter()
            .position(|name| normalise_name(name) == wanted)
        {
            self.raw_value = record.fields.get(position).cloned();
        }
        self.detail = format!("{} (read into {column})", self.detail);
        self.column = Some(source_column.to_string());
    }

    /// The quarantine row, with any value that looks like an NHS number redacted (from the
    /// raw value and from the detail, which may quote it).
    fn into_row(self, line: u64) -> QuarantinedRow {
        let identifiable = self.reason == Reason::NhsNumber
            || self.raw_value.as_deref().is_some_and(fields::is_nhs_number);
        if identifiable {
            return QuarantinedRow {
                line,
                column: self.column,
                raw_value: None,
                reason: self.reason,
                detail: "value redacted: it looks like an NHS number".to_string(),
            };
        }
        QuarantinedRow {
            line,
            column: self.column,
            raw_value: self.raw_value,
            reason: self.reason,
            detail: self.detail,
        }
    }
}

/// Checks one record against its contract and the keys loaded so far; returns the typed
/// values to load, or why not. A loaded unique key is remembered for later duplicates.
fn check_record(
    contract: &'static Contract,
    layout: &Layout,
    record: &RawRecord,
    keys: &Keys,
    extract_keys: &mut ExtractKeys,
    date_format: &mut Option<DateFormat>,
) -> Result<Vec<Value>, Rejection> {
    let values = check_fields(contract, layout, record, keys, date_format)?;
    let row = Row { contract, values };
    if let Some(key_column) = contract.unique_key {
        let key = row.get(key_column).as_text().unwrap_or_default();
        let person = row.get("person_id").as_text();
        claim_key(contract, extract_keys, key, person, record.line).map_err(|problem| {
            let raw = layout.raw(contract, record, problem.column);
            Rejection::new(Some(problem.column), raw, problem.problem)
        })?;
    }
    Ok(row.values)
}

/// Checks one record against its contract and the extracts loaded before it (everything
/// but its unique key, which depends on the records before it); returns the typed values.
fn check_fields(
    contract: &'static Contract,
    layout: &Layout,
    record: &RawRecord,
    keys: &Keys,
    date_format: &mut Option<DateFormat>,
) -> Result<Vec<Value>, Rejection> {
    if record.fields.len() != layout.header_len {
        return Err(wrong_field_count(record.fields.len(), layout.header_len));
    }
    let mut values = Vec::with_capacity(contract.columns.len() + contract.derived.len());
    for (spec, position) in contract.columns.iter().zip(&layout.positions) {
        let raw = position.map_or("", |position| record.fields[position].as_str());
        if matches!(spec.kind, Kind::Text) && fields::is_nhs_number(raw) {
            return Err(Rejection::new(
                Some(spec.name),
                None,
                Problem::new(Reason::NhsNumber, "value looks like an NHS number"),
            ));
        }
        let value = contract::parse_field(spec, raw, date_format)
            .map_err(|problem| Rejection::new(Some(spec.name), Some(raw), problem))?;
        values.push(value);
    }
    values.extend(contract.derived.iter().map(|_| Value::Null));

    let mut row = Row { contract, values };
    let blame = |problem: RowProblem| {
        let raw = layout.raw(contract, record, problem.column);
        Rejection::new(Some(problem.column), raw, problem.problem)
    };
    (contract.rules)(&mut row).map_err(blame)?;
    check_references(&row, keys).map_err(blame)?;
    Ok(row.values)
}

/// Claims a unique key for its extract (with the person it belongs to, for later
/// references), or says on which line it was loaded before.
fn claim_key(
    contract: &Contract,
    extract_keys: &mut ExtractKeys,
    key: &str,
    person: Option<&str>,
    line: u64,
) -> Result<(), RowProblem> {
    let Some(key_column) = contract.unique_key else {
        return Ok(());
    };
    if let Some(first) = extract_keys.first_line.get(key) {
        return Err(RowProblem::new(
            key_column,
            Reason::DuplicateKey,
            format!("{key_column} already loaded from line {first}"),
        ));
    }
    if let (Some(person), Some(owner)) = (person, &mut extract_keys.owner) {
        owner.insert(key.to_string(), person.to_string());
    }
    extract_keys.first_line.insert(key.to_string(), line);
    Ok(())
}

/// The study's limits (a year of birth after its data end), then the contract's references
/// ([`Contract::references`]) to the extracts loaded so far.
fn check_references(row: &Row<'_>, keys: &Keys) -> Result<(), RowProblem> {
    if let (Some(latest), Some(year)) = (
        keys.study.latest_birth_year,
        row.get("year_of_birth").as_int(),
    ) && year > i64::from(latest)
    {
        return Err(RowProblem::new(
            "year_of_birth",
            Reason::OutOfRange,
            format!("year of birth {year} is after the study's data_end ({latest})"),
        ));
    }
    for reference in row.contract.references {
        let (Some(value), Some(loaded)) = (
            row.get(reference.column).as_text(),
            keys.loaded.get(reference.extract),
        ) else {
            continue;
        };
        if !loaded.first_line.contains_key(value) {
            return Err(RowProblem::new(
                reference.column,
                reference.unknown,
                format!(
                    "{} is not in {} (as loaded)",
                    reference.column, reference.extract
                ),
            ));
        }
        let owner = loaded.owner.as_ref().and_then(|owners| owners.get(value));
        if reference.same_person
            && let Some(owner) = owner
            && Some(owner.as_str()) != row.get("person_id").as_text()
        {
            return Err(RowProblem::new(
                reference.column,
                Reason::ReferralPersonMismatch,
                format!("{} belongs to a different person_id", reference.column),
            ));
        }
    }
    Ok(())
}
