//! `sp-impact inspect`: what ingest would make of each file in a data folder, without loading
//! anything. Per file: the extract and layout chosen and why (or why none fits, with the
//! nearest layouts), how each contract column is filled, every value seen in the columns a
//! layout maps or tests (with its count and what it becomes; unmapped values flagged), the
//! date format, the row outcome (would load, not counted by which rule, would be quarantined
//! by the contract's own checks; references to other extracts are not checked here) and how
//! many of its person ids are in the patients extract.
//!
//! Values of identifier and date columns are never listed (only counted), so the output
//! holds no person-level data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use super::contract::{Contract, Kind, PERSON};
use super::fields::DateFormat;
use super::profile::{self, Layouts, Mapped, Mapper, Profile, Questionnaires};
use super::source::{BytesRead, Container, RawRecord, Source};
use super::{ExtractKeys, Keys, Layout, check_record, contracts, data_files, normalise_name};
use crate::error::{Error, Result};

/// How a value of an identifier or date column is shown (never as itself).
const PRIVATE_VALUE: &str = "(any value)";

/// How many distinct values of one column are listed before the rest are summed.
const MAX_VALUES_LISTED: usize = 25;

/// The inspection of every data file in `data_dir`, as text for people.
pub fn inspect(data_dir: &Path, layouts: &Layouts) -> Result<String> {
    if !data_dir.is_dir() {
        return Err(Error::Usage(format!(
            "data folder {} does not exist or is not a folder",
            data_dir.display()
        )));
    }
    let files = data_files(data_dir)?;
    let patients = patient_ids(&files)?;
    let mut text = String::new();
    for (path, container) in &files {
        text.push_str(&inspect_file(path, *container, layouts, patients.as_ref())?);
        text.push('\n');
    }
    if files.is_empty() {
        text.push_str("no data files (.csv, .csv.gz, .parquet) in this folder\n");
    }
    Ok(text)
}

/// The person ids of the contract-shaped patients extract, if the folder has one.
fn patient_ids(files: &[(std::path::PathBuf, Container)]) -> Result<Option<BTreeSet<String>>> {
    let Some((path, container)) = files
        .iter()
        .find(|(path, container)| file_stem(path, *container) == PERSON.extract)
    else {
        return Ok(None);
    };
    let mut source = Source::open(path, *container, BytesRead::default())?;
    let wanted = normalise_name("person_id");
    let Some(position) = source
        .header()
        .iter()
        .position(|name| normalise_name(name) == wanted)
    else {
        return Ok(None);
    };
    let mut ids = BTreeSet::new();
    let mut record = RawRecord::default();
    while source.next_record(&mut record)? {
        if let Some(id) = record.fields.get(position) {
            ids.insert(id.trim().to_string());
        }
    }
    Ok(Some(ids))
}

fn file_stem(path: &Path, container: Container) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_suffix(&format!(".{}", container.extension()))
        .unwrap_or(&name)
        .to_string()
}

fn inspect_file(
    path: &Path,
    container: Container,
    layouts: &Layouts,
    patients: Option<&BTreeSet<String>>,
) -> Result<String> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    let mut source = Source::open(path, container, BytesRead::default())?;
    let header: Vec<String> = source.header().to_vec();
    let stem = file_stem(path, container);
    let pinned = layouts.pinned.get(&name).cloned();
    if let Some(contract) = contracts::by_name(pinned.as_deref().unwrap_or(&stem)) {
        let _ = writeln!(
            out,
            "{name}  ->  {}, contract-shaped (named after the extract)",
            contract.name
        );
        out.push_str(&contract_shaped(contract, &mut source, &header, patients)?);
        return Ok(out);
    }
    let all = layouts.all();
    let (mut fits, near) = profile::fitting(&all, &header);
    let pinned_profile = pinned.and_then(|target| layouts.by_name(&target));
    if let Some(profile) = &pinned_profile {
        fits = vec![profile];
    }
    match fits.as_slice() {
        [profile] => {
            let _ = writeln!(
                out,
                "{name}  ->  {}, read as {} ({})",
                profile.extract, profile.name, profile.title
            );
            let _ = writeln!(
                out,
                "  why: its header has {}",
                profile.signature.join(", ")
            );
            out.push_str(&profiled(profile, &mut source, &header, patients)?);
        }
        [] => {
            let _ = writeln!(
                out,
                "{name}  ->  NOT RECOGNISED: its name is not an extract and its header fits no layout"
            );
            let _ = writeln!(out, "  header: {}", header.join(", "));
            for (profile, missing) in near.iter().take(3) {
                let _ = writeln!(
                    out,
                    "  nearest: {} ({}) lacks {}",
                    profile.name,
                    profile.title,
                    missing.join(", ")
                );
            }
        }
        many => {
            let names: Vec<&str> = many.iter().map(|profile| profile.name.as_str()).collect();
            let _ = writeln!(
                out,
                "{name}  ->  AMBIGUOUS: its header fits {}; rename it after its extract",
                names.join(" and ")
            );
        }
    }
    Ok(out)
}

/// Value counts of one column, listed as `value xN -> outcome`.
#[derive(Default)]
struct ValueCounts(BTreeMap<String, u64>);

impl ValueCounts {
    fn add(&mut self, value: &str) {
        *self.0.entry(value.trim().to_string()).or_default() += 1;
    }

    fn render(&self, outcome: impl Fn(&str) -> String) -> String {
        let mut parts: Vec<String> = self
            .0
            .iter()
            .take(MAX_VALUES_LISTED)
            .map(|(value, count)| {
                let shown = if value.is_empty() { "(blank)" } else { value };
                format!("{shown} x{count} -> {}", outcome(value))
            })
            .collect();
        if self.0.len() > MAX_VALUES_LISTED {
            let rest: u64 = self.0.values().skip(MAX_VALUES_LISTED).sum();
            parts.push(format!(
                "{} more values x{rest}",
                self.0.len() - MAX_VALUES_LISTED
            ));
        }
        parts.join("; ")
    }
}

fn contract_shaped(
    contract: &'static Contract,
    source: &mut Source,
    header: &[String],
    patients: Option<&BTreeSet<String>>,
) -> Result<String> {
    let normalised: Vec<String> = header.iter().map(|name| normalise_name(name)).collect();
    let position = |column: &str| normalised.iter().position(|name| name == column);
    let code_columns: Vec<(usize, &'static str, Kind)> = contract
        .columns
        .iter()
        .filter(|spec| matches!(spec.kind, Kind::Code(_)))
        .filter_map(|spec| position(spec.name).map(|at| (at, spec.name, spec.kind)))
        .collect();
    let mut counts: Vec<ValueCounts> = code_columns
        .iter()
        .map(|_| ValueCounts::default())
        .collect();
    let person_at = position("person_id");
    let mut persons = BTreeSet::new();
    let mut rows = 0u64;
    let mut record = RawRecord::default();
    while source.next_record(&mut record)? {
        rows += 1;
        for ((at, _, _), counts) in code_columns.iter().zip(&mut counts) {
            counts.add(record.fields.get(*at).map_or("", String::as_str));
        }
        if let Some(at) = person_at
            && let Some(id) = record.fields.get(at)
            && !id.trim().is_empty()
        {
            persons.insert(id.trim().to_string());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "  rows: {rows}");
    let missing: Vec<&str> = contract
        .columns
        .iter()
        .filter(|spec| position(spec.name).is_none())
        .map(|spec| if spec.required { spec.name } else { "" })
        .filter(|name| !name.is_empty())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(out, "  MISSING required columns: {}", missing.join(", "));
    }
    for ((_, column, kind), counts) in code_columns.iter().zip(&counts) {
        let Kind::Code(set) = kind else { continue };
        let rendered = counts.render(|value| match set.normalise(value) {
            Ok(code) => code.to_string(),
            Err(_) if value.is_empty() => "blank".to_string(),
            Err(_) => "UNKNOWN (quarantined)".to_string(),
        });
        let _ = writeln!(out, "  {column}: {rendered}");
    }
    if contract.refers_to(PERSON.extract) {
        out.push_str(&linkage(&persons, patients));
    }
    Ok(out)
}

fn profiled(
    profile: &Profile,
    source: &mut Source,
    header: &[String],
    patients: Option<&BTreeSet<String>>,
) -> Result<String> {
    let mapper = Mapper::new(profile, header, source.path())?;
    let contract = profile.contract();
    let mut out = String::new();
    let _ = writeln!(out, "  columns:");
    let combined_columns =
        |name: &str| profile.long.is_some() && (name.starts_with("item_") || name == "score");
    for spec in contract.columns {
        if combined_columns(spec.name) {
            continue;
        }
        let map = profile.columns.iter().find(|map| map.to == spec.name);
        let fill = match (map, mapper.source_of(spec.name)) {
            (Some(map), Some(source)) if map.codes.is_some() => {
                format!(
                    "<- {source} (through code map '{}')",
                    map.codes.as_deref().unwrap_or("")
                )
            }
            (Some(map), Some(source)) if map.unit.is_some() => {
                format!("<- {source} (in {})", map.unit.as_deref().unwrap_or(""))
            }
            (Some(map), Some(source)) if !map.between.is_empty() => {
                format!("<- minutes from {source}")
            }
            (_, Some(source)) => format!("<- {source}"),
            (Some(map), None) if map.value.is_some() => {
                format!("= \"{}\"", map.value.as_deref().unwrap_or(""))
            }
            (Some(map), None) => format!(
                "blank ({} is not in this file)",
                map.candidates().join(" or ")
            ),
            (None, None) => "blank (this layout has no such column)".to_string(),
        };
        let _ = writeln!(out, "    {:<24}{fill}", spec.name);
    }
    if let Some(long) = &profile.long {
        let _ = writeln!(
            out,
            "    {:<24}<- {} (item number or name) and {} (response), one row per item",
            "item_1..item_14, score",
            long.item.names().join(" or "),
            long.value.names().join(" or ")
        );
    }
    let long_columns = profile
        .long
        .iter()
        .flat_map(|long| long.item.names().iter().chain(long.value.names()))
        .map(String::as_str);
    let used: BTreeSet<String> = profile
        .columns
        .iter()
        .flat_map(|map| {
            map.candidates()
                .iter()
                .chain(&map.join)
                .chain(&map.between)
                .map(String::as_str)
        })
        .chain(long_columns)
        .chain(profile.exclude.iter().map(|rule| rule.column.as_str()))
        .chain(profile.recode.iter().map(|rule| rule.column.as_str()))
        .chain(profile.also.iter().map(|rule| rule.column.as_str()))
        .map(normalise_name)
        .collect();
    let unused: Vec<&str> = header
        .iter()
        .filter(|name| !used.contains(&normalise_name(name)))
        .map(String::as_str)
        .collect();
    if !unused.is_empty() {
        let _ = writeln!(out, "  not used: {}", unused.join(", "));
    }
    for skipped in &mapper.skipped_rules {
        let _ = writeln!(out, "  note: {skipped}");
    }

    // Columns whose values are listed: those through a code map or tested by a rule.
    let normalised: Vec<String> = header.iter().map(|name| normalise_name(name)).collect();
    let mut listed: Vec<(String, usize)> = Vec::new();
    let tested = profile
        .columns
        .iter()
        .filter(|map| map.codes.is_some())
        .filter_map(|map| mapper.source_of(&map.to).map(str::to_string))
        .chain(profile.exclude.iter().map(|rule| rule.column.clone()))
        .chain(profile.recode.iter().map(|rule| rule.column.clone()))
        .chain(profile.also.iter().map(|rule| rule.column.clone()));
    for column in tested {
        let wanted = normalise_name(&column);
        if let Some(at) = normalised.iter().position(|name| *name == wanted)
            && !listed.iter().any(|(_, known)| *known == at)
        {
            listed.push((column, at));
        }
    }
    // Columns that feed an identifier or a date are summarised as blank or not, never listed.
    let private: BTreeSet<usize> = listed
        .iter()
        .filter(|(column, _)| {
            profile.columns.iter().any(|map| {
                map.candidates()
                    .iter()
                    .any(|from| normalise_name(from) == normalise_name(column))
                    && contract.columns.iter().any(|spec| {
                        spec.name == map.to && matches!(spec.kind, Kind::Text | Kind::Date)
                    })
            })
        })
        .map(|(_, at)| *at)
        .collect();
    let null_values: Vec<String> = profile
        .null_values
        .iter()
        .map(|v| v.trim().to_lowercase())
        .collect();
    let shown = |at: usize, raw: &str| -> String {
        let blank = raw.trim().is_empty() || null_values.contains(&raw.trim().to_lowercase());
        match (private.contains(&at), blank) {
            (_, true) => String::new(),
            (true, false) => PRIVATE_VALUE.to_string(),
            (false, false) => raw.to_string(),
        }
    };
    let mut counts: Vec<ValueCounts> = listed.iter().map(|_| ValueCounts::default()).collect();
    let person_source = mapper.source_of("person_id").map(normalise_name);
    let person_at = person_source
        .as_ref()
        .and_then(|wanted| normalised.iter().position(|name| name == wanted));
    let layout = Layout::contract_shaped(contract);
    let keys = Keys::default();
    let mut extract_keys = ExtractKeys::default();
    let mut date_format: Option<DateFormat> = None;
    let mut persons = BTreeSet::new();
    let (mut rows, mut load, mut added, mut problems, mut combined) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut questionnaires = Questionnaires::default();
    // Whether a contract-shaped record passes the contract's own checks (references to other
    // extracts are not checked here).
    let mut would_load = |line: u64, fields: Vec<String>| {
        check_record(
            contract,
            &layout,
            &RawRecord { line, fields },
            &keys,
            &mut extract_keys,
            &mut date_format,
        )
        .is_ok()
    };
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    let mut record = RawRecord::default();
    while source.next_record(&mut record)? {
        rows += 1;
        for ((_, at), counts) in listed.iter().zip(&mut counts) {
            counts.add(&shown(
                *at,
                record.fields.get(*at).map_or("", String::as_str),
            ));
        }
        if let Some(at) = person_at
            && let Some(id) = record.fields.get(at)
            && !id.trim().is_empty()
        {
            persons.insert(id.trim().to_string());
        }
        if record.fields.len() != header.len() {
            problems += 1;
            continue;
        }
        match mapper.map(&record.fields) {
            Ok(Mapped::Rows(mapped)) if mapper.is_long() => {
                for (fields, _) in mapped {
                    match questionnaires.push(&mapper, fields, &record.fields, record.line) {
                        Ok(true) => {}
                        Ok(false) => combined += 1,
                        Err(_) => problems += 1,
                    }
                }
            }
            Ok(Mapped::Rows(mapped)) => {
                for (fields, extra) in mapped {
                    if extra.is_some() {
                        added += 1;
                    }
                    if would_load(record.line, fields) {
                        load += 1;
                    } else {
                        problems += 1;
                    }
                }
            }
            Ok(Mapped::Excluded(reason)) => *excluded.entry(reason).or_default() += 1,
            Err(_) => problems += 1,
        }
    }
    for (line, fields) in questionnaires.finish() {
        if would_load(line, fields) {
            load += 1;
        } else {
            problems += 1;
        }
    }
    if mapper.is_long() {
        let _ = writeln!(
            out,
            "  one row per questionnaire item: {combined} rows combined into the questionnaire begun on an earlier row"
        );
    }
    let format = date_format.map_or("none seen".to_string(), |format| {
        format.pattern().to_string()
    });
    let _ = writeln!(out, "  rows: {rows}; dates written {format}");
    let _ = writeln!(out, "  values:");
    for ((column, _), counts) in listed.iter().zip(&counts) {
        let rendered = counts.render(|value| value_outcome(profile, column, value));
        let _ = writeln!(out, "    {column}: {rendered}");
    }
    let _ = writeln!(
        out,
        "  outcome: {load} rows would load ({added} of them added by the layout's rules), {problems} would be quarantined, {} not counted",
        excluded.values().sum::<u64>()
    );
    for (reason, count) in &excluded {
        let _ = writeln!(out, "    not counted x{count}: {reason}");
    }
    out.push_str(&linkage(&persons, patients));
    Ok(out)
}

/// What one source value of a column becomes: the first exclusion it meets, else its mapped
/// code (or UNMAPPED), the recodes and the also-rows it triggers.
fn value_outcome(profile: &Profile, column: &str, value: &str) -> String {
    // A profile's null values were shown as blank already; any other private value is "not
    // blank", which no rule lists.
    let key = if value == PRIVATE_VALUE {
        "\u{0}not blank".to_string()
    } else {
        value.trim().to_lowercase()
    };
    let same = |other: &str| normalise_name(other) == normalise_name(column);
    if let Some(rule) = profile
        .exclude
        .iter()
        .filter(|rule| same(&rule.column))
        .find(|rule| profile::rule_applies(&rule.values, &rule.not_in, &key))
    {
        return format!("not counted ({})", rule.reason);
    }
    let mut outcomes = Vec::new();
    for map in profile
        .columns
        .iter()
        .filter(|map| map.candidates().iter().any(|from| same(from)))
    {
        if let Some(codes) = map.codes.as_ref().and_then(|name| profile.codes.get(name)) {
            outcomes.push(match codes.get(&key) {
                Some(code) if code.is_empty() => format!("{} blank", map.to),
                Some(code) => format!("{} {code}", map.to),
                None if key.is_empty() => format!("{} blank", map.to),
                None => "UNMAPPED (quarantined)".to_string(),
            });
        }
    }
    for rule in profile.recode.iter().filter(|rule| same(&rule.column)) {
        if profile::rule_applies(&rule.values, &rule.not_in, &key) {
            let set: Vec<String> = rule
                .set
                .iter()
                .map(|(column, value)| format!("{column} {value}"))
                .collect();
            outcomes.push(format!("recoded: {} ({})", set.join(", "), rule.reason));
        }
    }
    for rule in profile.also.iter().filter(|rule| same(&rule.column)) {
        if rule
            .values
            .iter()
            .any(|listed| listed.trim().to_lowercase() == key)
        {
            outcomes.push(format!("also {}", rule.reason));
        }
    }
    if outcomes.is_empty() {
        "counted".to_string()
    } else {
        outcomes.join(", ")
    }
}

/// How many of a file's distinct (non-blank) person ids are in the patients extract.
fn linkage(persons: &BTreeSet<String>, patients: Option<&BTreeSet<String>>) -> String {
    match patients {
        None => format!(
            "  person ids: {} distinct (no patients extract in the folder to link them to)\n",
            persons.len()
        ),
        Some(patients) => {
            let found = persons.iter().filter(|id| patients.contains(*id)).count();
            let share = if persons.is_empty() {
                "n/a".to_string()
            } else {
                format!("{:.1}%", 100.0 * found as f64 / persons.len() as f64)
            };
            format!(
                "  person ids: {} distinct, {found} found in patients ({share})\n",
                persons.len()
            )
        }
    }
}
