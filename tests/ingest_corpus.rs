//! The ingest bad-input corpus: `tests/fixtures/ingest/cases/<case>/` overlays
//! `base/` (a valid data folder); each case has one asserted outcome below. The files are
//! written by `tests/fixtures/ingest/make_corpus.py`; each case folder holds `case.txt` (its
//! name) and, where files are taken away, `REMOVE` (their names).
//!
//! Loaded cases assert rows read / loaded / quarantined by reason for the files named, that
//! every other file loads with nothing quarantined, and that every file reconciles. Refused
//! cases assert exit code 2 and that the message names the file and the problem.

use std::path::{Path, PathBuf};

use crate::util::{copy_files, fixtures, parquet_column, read_json, sp_impact};

/// Rows in each base file.
const BASE_ROWS: [(&str, u64); 6] = [
    ("patients", 6),
    ("referrals", 4),
    ("wellbeing", 5),
    ("gp_appointments", 7),
    ("hospital_activity", 5),
    ("activities", 4),
];

struct FileExpect {
    extract: &'static str,
    read: u64,
    loaded: u64,
    quarantined: &'static [(&'static str, u64)],
}

const fn file(
    extract: &'static str,
    read: u64,
    loaded: u64,
    quarantined: &'static [(&'static str, u64)],
) -> FileExpect {
    FileExpect {
        extract,
        read,
        loaded,
        quarantined,
    }
}

enum Outcome {
    Loaded(&'static [FileExpect]),
    Refused(&'static [&'static str]),
}

use Outcome::{Loaded, Refused};

const CASES: &[(&str, Outcome)] = &[
    // Valid but awkward files.
    ("valid_base", Loaded(&[])),
    ("utf8_bom_crlf", Loaded(&[file("patients", 6, 6, &[])])),
    (
        "windows_1252_converted",
        Loaded(&[file("activities", 5, 5, &[])]),
    ),
    (
        "quoted_fields_with_newlines",
        Loaded(&[file("activities", 6, 5, &[("unknown_code", 1)])]),
    ),
    ("uk_dates", Loaded(&[file("gp_appointments", 3, 3, &[])])),
    (
        "case_insensitive_codes_and_headers",
        Loaded(&[file("patients", 6, 6, &[])]),
    ),
    (
        "extra_column_ignored",
        Loaded(&[file("referrals", 4, 4, &[])]),
    ),
    (
        "missing_optional_column",
        Loaded(&[file("patients", 6, 6, &[])]),
    ),
    (
        "header_only_optional_extract",
        Loaded(&[file("hospital_activity", 0, 0, &[])]),
    ),
    ("optional_extracts_absent", Loaded(&[])),
    ("gzip_input", Loaded(&[file("gp_appointments", 7, 7, &[])])),
    (
        "midnight_times_and_excel_integers",
        Loaded(&[file("gp_appointments", 2, 2, &[])]),
    ),
    (
        "blank_lines_and_no_final_newline",
        Loaded(&[file("hospital_activity", 5, 5, &[])]),
    ),
    // Row-level defects: quarantined with a reason, everything else loaded.
    (
        "mixed_date_formats",
        Loaded(&[file(
            "gp_appointments",
            8,
            7,
            &[("date_format_mismatch", 1)],
        )]),
    ),
    (
        "us_and_impossible_dates",
        Loaded(&[file(
            "hospital_activity",
            9,
            5,
            &[("bad_date", 3), ("date_format_mismatch", 1)],
        )]),
    ),
    (
        "bad_numbers",
        Loaded(&[file("patients", 8, 6, &[("bad_number", 2)])]),
    ),
    (
        "out_of_range",
        Loaded(&[
            file("patients", 9, 6, &[("out_of_range", 3)]),
            file("gp_appointments", 8, 7, &[("out_of_range", 1)]),
        ]),
    ),
    (
        "unknown_codes",
        Loaded(&[
            file("referrals", 5, 4, &[("unknown_code", 1)]),
            file("gp_appointments", 10, 7, &[("unknown_code", 3)]),
        ]),
    ),
    (
        "missing_required_values",
        Loaded(&[file("referrals", 6, 4, &[("missing_required", 2)])]),
    ),
    (
        "orphan_person_id",
        Loaded(&[
            file("referrals", 5, 4, &[("orphan_person_id", 1)]),
            file("gp_appointments", 8, 7, &[("orphan_person_id", 1)]),
        ]),
    ),
    (
        "duplicate_keys",
        Loaded(&[
            file("patients", 7, 6, &[("duplicate_key", 1)]),
            file("referrals", 5, 4, &[("duplicate_key", 1)]),
        ]),
    ),
    (
        "date_order",
        Loaded(&[
            file("patients", 7, 6, &[("date_order", 1)]),
            file("referrals", 6, 4, &[("date_order", 2)]),
            file("hospital_activity", 6, 5, &[("date_order", 1)]),
        ]),
    ),
    (
        "wrong_field_count",
        Loaded(&[file("gp_appointments", 9, 7, &[("wrong_field_count", 2)])]),
    ),
    (
        "wellbeing_item_rules",
        Loaded(&[file(
            "wellbeing",
            14,
            7,
            &[
                ("invalid_items", 2),
                ("out_of_range", 1),
                ("score_mismatch", 3),
                ("unknown_code", 1),
            ],
        )]),
    ),
    (
        "referral_links",
        Loaded(&[
            file(
                "wellbeing",
                7,
                5,
                &[("referral_person_mismatch", 1), ("unknown_referral_id", 1)],
            ),
            file("activities", 5, 4, &[("referral_person_mismatch", 1)]),
        ]),
    ),
    (
        "stray_nhs_number_redacted",
        Loaded(&[file("activities", 13, 12, &[("nhs_number", 1)])]),
    ),
    // File-level defects: refused with exit code 2 and a message naming file and problem.
    ("empty_file", Refused(&["patients.csv", "empty", "header"])),
    (
        "missing_required_column",
        Refused(&["patients.csv", "line 1", "year_of_birth", "missing"]),
    ),
    (
        "duplicate_header_column",
        Refused(&["gp_appointments.csv", "line 1", "'status'", "twice"]),
    ),
    (
        "utf16_refused",
        Refused(&["referrals.csv", "UTF-16", "CSV UTF-8"]),
    ),
    (
        "xlsx_refused",
        Refused(&["patients.csv", "spreadsheet", "CSV UTF-8"]),
    ),
    (
        "binary_nul_refused",
        Refused(&["activities.csv", "line 2", "'attended'", "NUL"]),
    ),
    (
        "mixed_encoding_refused",
        Refused(&["activities.csv", "line 7", "'provider'", "mixes encodings"]),
    ),
    ("corrupt_gzip_refused", Refused(&["gp_appointments.csv.gz"])),
    (
        "nhs_number_column_refused",
        Refused(&["patients.csv", "'person_id'", "NHS numbers", "pseudonymise"]),
    ),
    (
        "missing_required_extract",
        Refused(&["gp_appointments", "missing"]),
    ),
    (
        "two_files_for_one_extract",
        Refused(&["referrals", "more than one file"]),
    ),
];

/// Builds the data folder of a case: base files, minus any listed in REMOVE, plus the case's.
pub(crate) fn case_data(case: &str, work: &Path) -> PathBuf {
    let data = work.join("data");
    copy_files(&fixtures().join("ingest/base"), &data);
    let case_dir = fixtures().join("ingest/cases").join(case);
    assert!(case_dir.is_dir(), "no fixture folder for case {case}");
    if let Ok(removed) = std::fs::read_to_string(case_dir.join("REMOVE")) {
        for name in removed.lines() {
            std::fs::remove_file(data.join(name)).unwrap();
        }
    }
    copy_files(&case_dir, &data);
    for marker in ["REMOVE", "case.txt"] {
        let _ = std::fs::remove_file(data.join(marker));
    }
    data
}

/// Runs ingest on a case; returns the output folder and the run.
fn ingest_case(case: &str, work: &Path) -> (PathBuf, crate::util::Run) {
    let data = case_data(case, work);
    let out = work.join("out");
    let run = sp_impact(&[
        "ingest",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    (out, run)
}

fn file_report<'a>(report: &'a serde_json::Value, extract: &str) -> Option<&'a serde_json::Value> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["extract"] == extract)
}

fn check_loaded(case: &str, out: &Path, expected: &[FileExpect]) {
    let report = read_json(&out.join("quality/ingest.json"));
    assert_eq!(report["reconciled"], true, "{case}: report not reconciled");
    for file in report["files"].as_array().unwrap() {
        let (read, loaded, quarantined) = (
            &file["rows_read"],
            &file["rows_loaded"],
            &file["rows_quarantined"],
        );
        assert_eq!(
            file["reconciled"], true,
            "{case}: {} not reconciled",
            file["file"]
        );
        assert_eq!(
            read.as_u64().unwrap(),
            loaded.as_u64().unwrap() + quarantined.as_u64().unwrap(),
            "{case}: {} counts",
            file["file"]
        );
    }
    for (extract, base_rows) in BASE_ROWS {
        let Some(actual) = file_report(&report, extract) else {
            continue;
        };
        let context = format!("{case}: {extract}");
        match expected.iter().find(|file| file.extract == extract) {
            Some(expect) => {
                assert_eq!(actual["rows_read"], expect.read, "{context}: rows_read");
                assert_eq!(
                    actual["rows_loaded"], expect.loaded,
                    "{context}: rows_loaded"
                );
                let reasons = actual["quarantined_by_reason"].as_object().unwrap();
                assert_eq!(
                    reasons.len(),
                    expect.quarantined.len(),
                    "{context}: reasons {reasons:?}"
                );
                for (reason, count) in expect.quarantined {
                    assert_eq!(
                        reasons.get(*reason).and_then(|c| c.as_u64()),
                        Some(*count),
                        "{context}: {reason} in {reasons:?}"
                    );
                }
                let quarantine_rows =
                    parquet_column(&out.join(actual["quarantine"].as_str().unwrap()), "reason");
                let total: u64 = expect.quarantined.iter().map(|(_, count)| count).sum();
                assert_eq!(
                    quarantine_rows.len() as u64,
                    total,
                    "{context}: quarantine file rows"
                );
            }
            None => {
                assert_eq!(actual["rows_read"], base_rows, "{context}: rows_read");
                assert_eq!(
                    actual["rows_quarantined"], 0,
                    "{context}: unexpected quarantine"
                );
            }
        }
        let loaded = parquet_column(&out.join(actual["output"].as_str().unwrap()), "person_id");
        assert_eq!(
            Some(loaded.len() as u64),
            actual["rows_loaded"].as_u64(),
            "{context}: parquet rows"
        );
    }
}

#[test]
fn every_corpus_case_has_its_asserted_outcome() {
    let listed: Vec<&str> = CASES.iter().map(|(name, _)| *name).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("ingest/cases"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(
        listed_sorted, on_disk,
        "corpus folders and asserted cases differ"
    );
    assert!(CASES.len() >= 25, "the corpus must have at least 25 cases");

    for (case, outcome) in CASES {
        let work = tempfile::tempdir().unwrap();
        let (out, run) = ingest_case(case, work.path());
        match outcome {
            Loaded(expected) => {
                assert_eq!(
                    run.code, 0,
                    "{case}: expected success, got:\n{}",
                    run.stderr
                );
                check_loaded(case, &out, expected);
            }
            Refused(mentions) => {
                assert_eq!(
                    run.code, 2,
                    "{case}: expected exit 2, got {}:\n{}",
                    run.code, run.stderr
                );
                for mention in *mentions {
                    assert!(
                        run.stderr.contains(mention),
                        "{case}: message lacks {mention:?}:\n{}",
                        run.stderr
                    );
                }
                assert!(
                    !out.exists(),
                    "{case}: a refused ingest must not leave an output folder"
                );
                let leftovers: Vec<_> = std::fs::read_dir(work.path())
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name())
                    .filter(|name| name.to_string_lossy().contains("partial"))
                    .collect();
                assert!(
                    leftovers.is_empty(),
                    "{case}: staging folder left behind: {leftovers:?}"
                );
            }
        }
    }
}

#[test]
fn bom_and_windows_1252_are_decoded_not_garbled() {
    let work = tempfile::tempdir().unwrap();
    let (out, run) = ingest_case("windows_1252_converted", work.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let providers = parquet_column(&out.join("data/activities.parquet"), "provider");
    assert!(
        providers.contains(&Some("Café Conversación".to_string())),
        "{providers:?}"
    );
    let report = read_json(&out.join("quality/ingest.json"));
    let activities = file_report(&report, "activities").unwrap();
    assert_eq!(activities["encoding"], "windows-1252 (converted to utf-8)");

    let work = tempfile::tempdir().unwrap();
    let (out, _) = ingest_case("utf8_bom_crlf", work.path());
    let report = read_json(&out.join("quality/ingest.json"));
    assert_eq!(
        file_report(&report, "patients").unwrap()["encoding"],
        "utf-8 with BOM"
    );
    let ids = parquet_column(&out.join("data/patients.parquet"), "person_id");
    assert_eq!(
        ids.first(),
        Some(&Some("P001".to_string())),
        "BOM must not stick to the first value"
    );
    let deaths = parquet_column(&out.join("data/patients.parquet"), "date_of_death");
    assert_eq!(
        deaths[3].as_deref(),
        Some("2024-02-29"),
        "CRLF must not stick to the last field"
    );
}

#[test]
fn quoted_multiline_field_is_one_value_and_later_lines_are_counted_right() {
    let work = tempfile::tempdir().unwrap();
    let (out, run) = ingest_case("quoted_fields_with_newlines", work.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let providers = parquet_column(&out.join("data/activities.parquet"), "provider");
    assert!(providers.contains(&Some(
        "Smith, Jones\nand Partners \"Peer\" Group".to_string()
    )));
    // Header line 1, four base rows on lines 2-5, the quoted row spans lines 6-7.
    let lines = parquet_column(&out.join("quality/quarantine/activities.parquet"), "line");
    assert_eq!(lines, vec![Some("8".to_string())]);
    let raw = parquet_column(
        &out.join("quality/quarantine/activities.parquet"),
        "raw_value",
    );
    assert_eq!(raw, vec![Some("maybe".to_string())]);
}

#[test]
fn codes_are_normalised_and_uk_dates_read_day_first() {
    let work = tempfile::tempdir().unwrap();
    let (out, run) = ingest_case("case_insensitive_codes_and_headers", work.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sex = parquet_column(&out.join("data/patients.parquet"), "sex");
    let sex: Vec<&str> = sex.iter().map(|value| value.as_deref().unwrap()).collect();
    assert_eq!(
        sex,
        [
            "female",
            "male",
            "female",
            "male",
            "indeterminate",
            "unknown"
        ]
    );
    let ethnic = parquet_column(&out.join("data/patients.parquet"), "ethnic_category");
    let ethnic: Vec<&str> = ethnic
        .iter()
        .map(|value| value.as_deref().unwrap())
        .collect();
    assert_eq!(
        ethnic,
        ["A", "B", "H", "M", "99", "Z"],
        "blank ethnic category means 99 not known"
    );

    let work = tempfile::tempdir().unwrap();
    let (out, _) = ingest_case("uk_dates", work.path());
    let dates = parquet_column(
        &out.join("data/gp_appointments.parquet"),
        "appointment_date",
    );
    let dates: Vec<&str> = dates
        .iter()
        .map(|value| value.as_deref().unwrap())
        .collect();
    assert_eq!(dates, ["2023-01-05", "2023-02-01", "2024-02-29"]);
    let report = read_json(&out.join("quality/ingest.json"));
    assert_eq!(
        file_report(&report, "gp_appointments").unwrap()["date_format"],
        "uk"
    );
}

#[test]
fn wellbeing_scores_come_from_items_and_incomplete_questionnaires_are_kept_unscored() {
    let work = tempfile::tempdir().unwrap();
    let (out, run) = ingest_case("wellbeing_item_rules", work.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = out.join("data/wellbeing.parquet");
    let instrument = parquet_column(&path, "instrument");
    let score = parquet_column(&path, "score");
    let source = parquet_column(&path, "score_source");
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = instrument
        .into_iter()
        .zip(score)
        .zip(source)
        .map(|((instrument, score), source)| (instrument, score, source))
        .collect();
    let row = |i: &str, s: Option<&str>, src: &str| {
        (
            Some(i.to_string()),
            s.map(str::to_string),
            Some(src.to_string()),
        )
    };
    assert_eq!(
        rows,
        vec![
            row("WEMWBS", Some("42.0"), "items"),
            row("WEMWBS", Some("56.0"), "items"),
            // SWEMWBS raw 2+3+3+2+3+3+2 = 18 -> metric 17.43 (Warwick table).
            row("SWEMWBS", Some("17.43"), "items"),
            row("ONS4", None, "items"),
            row("SWEMWBS", Some("19.25"), "vendor"),
            row("WEMWBS", None, "incomplete_items"),
            row("PHQ9", Some("9.0"), "items"),
        ]
    );
}

#[test]
fn stray_nhs_number_is_quarantined_and_redacted_everywhere() {
    let work = tempfile::tempdir().unwrap();
    let (out, run) = ingest_case("stray_nhs_number_redacted", work.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let quarantine = out.join("quality/quarantine/activities.parquet");
    assert_eq!(parquet_column(&quarantine, "raw_value"), vec![None]);
    for column in ["raw_value", "detail", "column"] {
        for value in parquet_column(&quarantine, column).into_iter().flatten() {
            assert!(
                !value.contains("943") && !value.contains("5919"),
                "{column}: {value}"
            );
        }
    }
    for value in parquet_column(&out.join("data/activities.parquet"), "provider")
        .into_iter()
        .flatten()
    {
        assert!(
            !value.contains("943 476"),
            "an NHS number reached the loaded table"
        );
    }
    assert!(
        !run.stderr.contains("943 476"),
        "an NHS number reached the log"
    );
}
