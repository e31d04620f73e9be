//! `sp-impact inspect --write-profile FILE`: an editable starter input profile for the one
//! data file in a folder that no layout fits.
//!
//! The starter is a valid profile from the start (so `inspect --profile FILE` reads the file
//! through it at once): the extract whose columns the header best covers, a `from` guessed
//! for each contract column whose name the header shares or hints at, the whole header as the
//! signature, and, as comments, the values seen in each mapped code column beside the codes
//! the contract accepts, ready to become a code map. Every guess is marked for checking.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use super::contract::{Contract, Kind};
use super::profile::{self, Layouts, Profile};
use super::source::{BytesRead, RawRecord, Source};
use super::{contracts, data_files, normalise_name};
use crate::error::{Error, Result};

/// Distinct values of a code column written into the starter as comments.
const MAX_VALUES: usize = 40;

/// Writes a starter profile for the one unrecognised data file in `data_dir` to `path`;
/// returns that data file's name.
pub fn write_starter(data_dir: &Path, layouts: &Layouts, path: &Path) -> Result<String> {
    if path.exists() {
        return Err(Error::Usage(format!(
            "{} exists; give --write-profile a new file name",
            path.display()
        )));
    }
    let all = layouts.all();
    let mut unknown = Vec::new();
    for (file, container) in data_files(data_dir)? {
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name
            .strip_suffix(&format!(".{}", container.extension()))
            .unwrap_or(&name)
            .to_string();
        if contracts::by_name(&stem).is_some() || layouts.pinned.contains_key(&name) {
            continue;
        }
        let source = Source::open(&file, container, BytesRead::default())?;
        if profile::fitting(&all, source.header()).0.is_empty() {
            unknown.push((file, container, stem, name));
        }
    }
    let (file, container, stem, name) = match unknown.len() {
        1 => unknown.remove(0),
        0 => {
            return Err(Error::Usage(format!(
                "every data file in {} is an extract or fits a layout; there is no file to write a profile for",
                data_dir.display()
            )));
        }
        _ => {
            let names: Vec<&str> = unknown
                .iter()
                .map(|(_, _, _, name)| name.as_str())
                .collect();
            return Err(Error::Usage(format!(
                "{} data files fit no layout ({}); move all but one out of the folder and write their profiles one at a time",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let mut source = Source::open(&file, container, BytesRead::default())?;
    let text = starter(&stem, &name, &mut source)?;
    // The starter must itself be a valid profile.
    Profile::parse(&text, &path.display().to_string())?;
    std::fs::write(path, text).map_err(|source| Error::io("writing", path, source))?;
    Ok(name)
}

/// The header column a contract column probably comes from.
fn guess(column: &str, header: &[String]) -> Option<usize> {
    let normalised: Vec<String> = header.iter().map(|name| normalise_name(name)).collect();
    if let Some(at) = normalised.iter().position(|name| name == column) {
        return Some(at);
    }
    let first_word = column.split('_').next().unwrap_or(column);
    let hints: Vec<&str> = match column {
        "person_id" => vec!["person", "patient", "pseudo", "hesid", "nhs"],
        "activity_date" => vec![
            "activity",
            "arrival",
            "admission",
            "appointment",
            "start",
            "date",
        ],
        "appointment_date" => vec!["appointment", "start", "session", "date"],
        "discharge_date" => vec!["discharge"],
        "hcp_type" => vec!["role", "clinician", "staff", "hcp"],
        "duration_minutes" => vec!["duration", "minutes", "length"],
        "referral_date" => vec!["referral", "date"],
        _ => vec![first_word],
    };
    // A date column prefers a header column that says "date" (or "start") as well.
    let dated = |name: &String| name.contains("date") || name.contains("start");
    let preferred = |hint: &&str| {
        normalised
            .iter()
            .position(|name| name.contains(hint) && (!column.ends_with("_date") || dated(name)))
    };
    hints.iter().find_map(preferred).or_else(|| {
        hints
            .iter()
            .find_map(|hint| normalised.iter().position(|name| name.contains(hint)))
    })
}

/// The contract whose columns the header covers best (required columns first).
fn best_contract(header: &[String]) -> &'static Contract {
    contracts::ALL
        .iter()
        .copied()
        .max_by_key(|contract| {
            let covered = |required: bool| {
                contract
                    .columns
                    .iter()
                    .filter(|spec| spec.required == required && guess(spec.name, header).is_some())
                    .count()
            };
            (
                covered(true) * 10 + covered(false),
                std::cmp::Reverse(contract.name),
            )
        })
        .expect("there are contracts")
}

fn starter(stem: &str, file_name: &str, source: &mut Source) -> Result<String> {
    let header: Vec<String> = source.header().to_vec();
    let contract = best_contract(&header);
    let guesses: Vec<Option<usize>> = contract
        .columns
        .iter()
        .map(|spec| guess(spec.name, &header))
        .collect();
    // Distinct values of the columns guessed for code columns.
    let code_positions: Vec<usize> = contract
        .columns
        .iter()
        .zip(&guesses)
        .filter(|(spec, _)| matches!(spec.kind, Kind::Code(_)))
        .filter_map(|(_, at)| *at)
        .collect();
    let mut values: Vec<BTreeSet<String>> =
        code_positions.iter().map(|_| BTreeSet::new()).collect();
    let mut record = RawRecord::default();
    while source.next_record(&mut record)? {
        for (at, seen) in code_positions.iter().zip(&mut values) {
            if let Some(value) = record.fields.get(*at)
                && seen.len() < MAX_VALUES
            {
                seen.insert(value.trim().to_string());
            }
        }
    }

    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Starter input profile for {file_name}, written by `sp-impact inspect --write-profile`."
    );
    let _ = writeln!(
        out,
        "# Check every line marked CHECK, keep in `signature` only the columns that identify"
    );
    let _ = writeln!(
        out,
        "# this layout, add [[exclude]] rules for rows that must not count, then pass the file"
    );
    let _ = writeln!(
        out,
        "# with --profile or list it in study.toml under [inputs] profiles. The keys are"
    );
    let _ = writeln!(
        out,
        "# explained in docs/architecture.md (\"A source layout\") and the built-in profiles"
    );
    let _ = writeln!(out, "# (`sp-impact profiles`) are examples.");
    let _ = writeln!(
        out,
        "name = {}",
        quote(&stem.to_lowercase().replace(['_', ' '], "-"))
    );
    let _ = writeln!(
        out,
        "title = {}  # CHECK: what the layout is and where it comes from",
        quote(&format!("{stem} export"))
    );
    let _ = writeln!(
        out,
        "extract = {}  # CHECK: the best cover of the header's columns",
        quote(contract.name)
    );
    let _ = writeln!(
        out,
        "sources = [\"CHECK: where the column names and code values come from\"]"
    );
    let signature: Vec<String> = header.iter().map(|name| quote(name)).collect();
    let _ = writeln!(out, "signature = [{}]", signature.join(", "));
    let mut value_lists = values.iter();
    for (spec, at) in contract.columns.iter().zip(&guesses) {
        let _ = writeln!(out);
        match at {
            Some(at) => {
                let _ = writeln!(out, "[[columns]]");
                let _ = writeln!(out, "to = {}", quote(spec.name));
                let _ = writeln!(
                    out,
                    "from = {}  # CHECK (guessed from the column names)",
                    quote(&header[*at])
                );
                if let Kind::Code(set) = spec.kind {
                    let seen = value_lists.next().cloned().unwrap_or_default();
                    let accepted: BTreeSet<&str> =
                        set.spellings.iter().map(|(_, code)| *code).collect();
                    let _ = writeln!(
                        out,
                        "# Values not already one of {}: map them with `codes = \"{}\"` and a [codes.{}] table:",
                        accepted.into_iter().collect::<Vec<_>>().join(", "),
                        spec.name,
                        spec.name
                    );
                    let _ = writeln!(out, "# [codes.{}]", spec.name);
                    for value in seen {
                        let _ = writeln!(out, "# {} = \"\"", quote(&value));
                    }
                }
            }
            None => {
                let need = if spec.required {
                    "REQUIRED"
                } else {
                    "optional"
                };
                let _ = writeln!(
                    out,
                    "# [[columns]]  # {need}: no column of the file looked like it"
                );
                let _ = writeln!(out, "# to = {}", quote(spec.name));
                let _ = writeln!(out, "# from = \"<column>\"   (or value = \"<a constant>\")");
            }
        }
    }
    Ok(out)
}
