//! `sp-impact pseudonymise`: keyed HMAC-SHA256 of an identifier column; the key
//! never appears in any output or log.

use crate::util::{read_json, sp_impact};

const KEY: &str = "correct-horse-battery-staple-0123456789";

#[test]
fn nhs_numbers_become_stable_pseudonyms_and_then_ingest() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("key"), format!("{KEY}\n")).unwrap();
    // 943 476 5919 is the worked example of a valid NHS number (docs/domain.md, NHS number).
    std::fs::write(
        dir.join("raw.csv"),
        "nhs_number,practice_code,year_of_birth,sex,registered_from\n\
         943 476 5919,A81001,1950,female,2005-04-01\n\
         9434765919,A81001,1950,female,2005-04-01\n\
         ,A81002,1960,male,2010-01-01\n",
    )
    .unwrap();
    let out = dir.join("patients.csv");
    let run = sp_impact(&[
        "pseudonymise",
        "--key-file",
        dir.join("key").to_str().unwrap(),
        "--column",
        "NHS_Number",
        "--rename-to",
        "person_id",
        dir.join("raw.csv").to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = written
        .lines()
        .map(|line| line.split(',').collect())
        .collect();
    assert_eq!(rows[0][0], "person_id");
    assert_eq!(rows[1][0].len(), 64, "hex HMAC-SHA256");
    assert_eq!(
        rows[1][0], rows[2][0],
        "grouping spaces must not change the pseudonym"
    );
    assert_eq!(rows[3][0], "", "blank stays blank");
    assert_eq!(rows[1][1..], ["A81001", "1950", "female", "2005-04-01"]);
    for text in [&written, &run.stdout, &run.stderr] {
        assert!(
            !text.contains(KEY) && !text.contains("5919"),
            "key or NHS number leaked"
        );
    }

    // The pseudonymised file is accepted by ingest (duplicate person quarantined as such).
    let data = dir.join("data");
    crate::util::copy_files(&crate::util::fixtures().join("ingest/base"), &data);
    std::fs::copy(&out, data.join("patients.csv")).unwrap();
    let result = dir.join("out");
    let run = sp_impact(&[
        "ingest",
        "-q",
        "--data",
        data.to_str().unwrap(),
        "--out",
        result.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = read_json(&result.join("quality/ingest.json"));
    assert_eq!(
        report["files"][0]["quarantined_by_reason"]["missing_required"],
        1
    );
    assert_eq!(
        report["files"][0]["quarantined_by_reason"]["duplicate_key"],
        1
    );
}

#[test]
fn short_key_and_missing_column_are_refused_without_echoing_the_key() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("short.key"), "tiny-secret").unwrap();
    std::fs::write(dir.join("good.key"), KEY).unwrap();
    std::fs::write(dir.join("raw.csv"), "nhs_number,x\n9434765919,1\n").unwrap();
    let attempt = |key: &str, column: &str| {
        sp_impact(&[
            "pseudonymise",
            "--key-file",
            dir.join(key).to_str().unwrap(),
            "--column",
            column,
            dir.join("raw.csv").to_str().unwrap(),
            dir.join("out.csv").to_str().unwrap(),
        ])
    };
    let short = attempt("short.key", "nhs_number");
    assert_eq!(short.code, 2);
    assert!(short.stderr.contains("at least 16 bytes") && !short.stderr.contains("tiny-secret"));
    let missing = attempt("good.key", "nhs_no");
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no column 'nhs_no'") && missing.stderr.contains("line 1"));
    assert!(!missing.stderr.contains(KEY));
}
