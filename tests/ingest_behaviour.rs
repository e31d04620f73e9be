//! Ingest behaviour beyond the corpus: Parquet inputs, byte-identical reruns, and a seeded
//! mutation sweep showing that no input makes ingest panic or lose a row.

use std::path::Path;

use sp_impact::error::Error;
use sp_impact::ingest::IngestOptions;
use sp_impact::ingest::ingest;
use sp_impact::progress::Progress;

use crate::util::{copy_files, fixtures, parquet_column, read_json, sp_impact};

fn base() -> std::path::PathBuf {
    fixtures().join("ingest/base")
}

#[test]
fn parquet_input_loads_like_the_csv_it_came_from() {
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first");
    ingest(
        &base(),
        &IngestOptions::default(),
        &first,
        &Progress::silent(),
    )
    .unwrap();

    // Feed the typed patients table back in as patients.parquet (with its extra source_line).
    let data = work.path().join("data");
    copy_files(&base(), &data);
    std::fs::remove_file(data.join("patients.csv")).unwrap();
    std::fs::copy(
        first.join("data/patients.parquet"),
        data.join("patients.parquet"),
    )
    .unwrap();
    let second = work.path().join("second");
    let report = ingest(
        &data,
        &IngestOptions::default(),
        &second,
        &Progress::silent(),
    )
    .unwrap();

    let patients = &report.files[0];
    assert_eq!((patients.rows_read, patients.rows_loaded), (6, 6));
    assert_eq!(patients.ignored_columns, vec!["source_line".to_string()]);
    for column in [
        "person_id",
        "year_of_birth",
        "sex",
        "ethnic_category",
        "registered_from",
        "date_of_death",
    ] {
        assert_eq!(
            parquet_column(&first.join("data/patients.parquet"), column),
            parquet_column(&second.join("data/patients.parquet"), column),
            "{column} differs after a Parquet round trip"
        );
    }
}

#[test]
fn rerun_gives_byte_identical_outputs() {
    let work = tempfile::tempdir().unwrap();
    let runs: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let out = work.path().join(name);
            let run = sp_impact(&[
                "ingest",
                "-q",
                "--data",
                base().to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(
                run.stderr.is_empty() && run.stdout.is_empty(),
                "-q must print nothing"
            );
            out
        })
        .collect();
    let files = |root: &Path| {
        let mut found = Vec::new();
        for dir in ["data", "quality", "quality/quarantine"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    found.push(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        found.sort();
        found
    };
    assert_eq!(files(&runs[0]), files(&runs[1]));
    assert!(
        files(&runs[0]).len() >= 13,
        "six tables, six quarantine files and the report"
    );
    for file in files(&runs[0]) {
        let a = std::fs::read(runs[0].join(&file)).unwrap();
        let b = std::fs::read(runs[1].join(&file)).unwrap();
        assert!(a == b, "{} differs between identical runs", file.display());
    }
}

#[test]
fn rerun_replaces_the_previous_output_whole() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let data = work.path().join("data");
    copy_files(&base(), &data);
    let args = [
        "ingest",
        "-q",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    assert_eq!(sp_impact(&args).code, 0);
    std::fs::remove_file(data.join("activities.csv")).unwrap();
    assert_eq!(sp_impact(&args).code, 0);
    // An absent optional extract is an empty table (every engine can open it), not the
    // earlier run's rows.
    assert!(
        parquet_column(&out.join("data/activities.parquet"), "person_id").is_empty(),
        "stale rows left from the earlier run"
    );
    let report = read_json(&out.join("quality/ingest.json"));
    assert_eq!(
        report["missing_optional"],
        serde_json::json!(["activities"])
    );
}

/// xorshift64*: a tiny fixed generator so the sweep is the same on every machine.
struct Sweep(u64);

impl Sweep {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b",\"\n\r;/-. 0129xZ\xff\xe9\xc3\x00";

fn mutate(bytes: &mut Vec<u8>, rng: &mut Sweep) {
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            return;
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => {
                bytes.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
            }
            2 => {
                let end = (at + 1 + rng.below(12)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => bytes.truncate(at),
            _ => {
                let end = (at + rng.below(40)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
}

#[test]
fn mutated_inputs_never_panic_and_always_reconcile() {
    let names = [
        "patients.csv",
        "referrals.csv",
        "wellbeing.csv",
        "gp_appointments.csv",
        "hospital_activity.csv",
        "activities.csv",
    ];
    let mut rng = Sweep(0x5eed_2024_0401);
    let (mut loaded, mut refused) = (0, 0);
    for iteration in 0..300 {
        let work = tempfile::tempdir().unwrap();
        let data = work.path().join("data");
        copy_files(&base(), &data);
        let name = names[rng.below(names.len())];
        let mut bytes = std::fs::read(data.join(name)).unwrap();
        mutate(&mut bytes, &mut rng);
        std::fs::write(data.join(name), &bytes).unwrap();
        match ingest(
            &data,
            &IngestOptions::default(),
            &work.path().join("out"),
            &Progress::silent(),
        ) {
            Ok(report) => {
                assert!(
                    report.reconciled,
                    "iteration {iteration} ({name}) did not reconcile"
                );
                loaded += 1;
            }
            Err(error @ Error::Input { .. }) => {
                assert_eq!(error.exit_code(), 2);
                assert!(
                    error.to_string().contains(name.trim_end_matches(".csv")),
                    "iteration {iteration}: {error}"
                );
                refused += 1;
            }
            Err(other) => panic!("iteration {iteration} ({name}): unexpected error kind: {other}"),
        }
    }
    assert!(
        loaded > 100 && refused > 0,
        "sweep exercised both paths: {loaded} loaded, {refused} refused"
    );
}

#[test]
fn a_study_quarantines_a_birth_after_its_data_end_and_sets_the_linkage_warning_threshold() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    copy_files(&base(), &data);
    let patients = std::fs::read_to_string(data.join("patients.csv")).unwrap();
    let mut lines: Vec<String> = patients.lines().map(str::to_string).collect();
    // The first patient is born after the study's data end (2024 here).
    let first: Vec<&str> = lines[1].split(',').collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let year = header
        .iter()
        .position(|name| *name == "year_of_birth")
        .unwrap();
    let mut changed: Vec<String> = first.iter().map(|field| field.to_string()).collect();
    changed[year] = "2030".into();
    lines[1] = changed.join(",");
    std::fs::write(data.join("patients.csv"), lines.join("\n") + "\n").unwrap();

    let options = IngestOptions {
        latest_birth_year: Some(2024),
        min_linkage_rate: 1.0,
        ..IngestOptions::default()
    };
    let out = work.path().join("out");
    let report = ingest(&data, &options, &out, &Progress::silent()).unwrap();
    let patients = &report.files[0];
    assert_eq!(patients.rows_quarantined, 1);
    assert_eq!(patients.quarantined_by_reason["out_of_range"], 1);
    let quarantine = out.join("quality/quarantine/patients.parquet");
    assert_eq!(
        parquet_column(&quarantine, "column"),
        [Some("year_of_birth".into())]
    );
    // That person's rows in other extracts are now orphans, so at a threshold of 100% every
    // file that mentions them warns.
    let warned = report
        .files
        .iter()
        .filter(|file| {
            file.warnings
                .iter()
                .any(|warning| warning.contains("have a person_id found in patients"))
        })
        .count();
    assert!(
        warned >= 1,
        "{:?}",
        report
            .files
            .iter()
            .map(|f| (&f.file, &f.warnings))
            .collect::<Vec<_>>()
    );
    // Without a study (sp-impact ingest alone) the same file loads whole.
    let alone = ingest(
        &data,
        &IngestOptions::default(),
        &work.path().join("alone"),
        &Progress::silent(),
    )
    .unwrap();
    assert_eq!(alone.files[0].rows_quarantined, 0);
}
