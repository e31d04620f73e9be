//! Ingest behaviour beyond the corpus: Parquet inputs, byte-identical reruns, and a seeded
//! mutation sweep showing that no input makes ingest panic or lose a row.

use std::path::Path;

use sp_impact::error::Error;
use sp_impact::ingest::IngestOptions;
use sp_impact::ingest::ingest;
use sp_impact::progress::Progress;

use crate::util::{copy_files, fixtures, parquet_column, read_json, sample_data, sp_impact};

fn base() -> std::path::PathBuf {
    fixtures().join("ingest/base")
}

/// Ingests `data` into `out` with the default options, quietly.
fn ingest_quietly(data: &Path, out: &Path) -> sp_impact::ingest::report::IngestReport {
    ingest(data, &IngestOptions::default(), out, &Progress::silent()).unwrap()
}

#[test]
fn parquet_input_loads_like_the_csv_it_came_from() {
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first");
    ingest_quietly(&base(), &first);

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
    let report = ingest_quietly(&data, &second);

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

/// Ingest's own output is a valid input: every extract it wrote (referrals' reasons as a
/// list column, read back as `a;b`) loads again with every row and the same values.
#[test]
fn ingests_own_parquet_output_reads_back_whole() {
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first");
    ingest_quietly(&base(), &first);
    let second = work.path().join("second");
    let report = ingest_quietly(&first.join("data"), &second);
    for file in &report.files {
        assert_eq!(
            (file.rows_loaded, file.rows_quarantined),
            (file.rows_read, 0),
            "{}: {:?}",
            file.file,
            file.quarantined_by_reason
        );
    }
    let reasons =
        |run: &Path| parquet_column(&run.join("data/referrals.parquet"), "referral_reasons");
    assert!(
        reasons(&first)
            .iter()
            .flatten()
            .any(|list| list.contains(','))
    );
    assert_eq!(reasons(&first), reasons(&second));
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
    assert!(
        output_files(&runs[0]).len() >= 13,
        "six tables, six quarantine files and the report"
    );
    assert_same_outputs(&runs[0], &runs[1]);
}

/// The files an ingest writes, relative to its output folder.
fn output_files(root: &Path) -> Vec<std::path::PathBuf> {
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
}

fn assert_same_outputs(a: &Path, b: &Path) {
    assert_eq!(output_files(a), output_files(b));
    for file in output_files(a) {
        let left = std::fs::read(a.join(&file)).unwrap();
        let right = std::fs::read(b.join(&file)).unwrap();
        assert!(left == right, "{} differs", file.display());
    }
}

/// Records are checked in chunks of 8,192 on several threads; what depends on earlier
/// records is settled in file order. Here the file's date format is fixed only in the second
/// chunk (every earlier date is invalid, so none fixes it), later ISO dates are then the
/// wrong format, and a duplicate key comes three chunks after its first: the outcome must be
/// what reading record by record gives, on any number of threads.
#[test]
fn chunked_checking_settles_date_format_and_keys_in_file_order_on_any_thread_count() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    copy_files(&sample_data(), &data);
    let patients = std::fs::read_to_string(data.join("patients.csv")).unwrap();
    let mut lines: Vec<String> = patients.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let at = |name: &str| header.iter().position(|column| *column == name).unwrap();
    let (from, to, died) = (
        at("registered_from"),
        at("registered_to"),
        at("date_of_death"),
    );
    let invalid = 9_000;
    let rewrite = |line: &str, edit: &dyn Fn(&mut Vec<String>)| {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        edit(&mut fields);
        fields.join(",")
    };
    for line in &mut lines[1..=invalid] {
        *line = rewrite(line, &|fields| {
            fields[from] = "2019-02-30".into();
            fields[to].clear();
            fields[died].clear();
        });
    }
    // Record 9,001 (line 9,002) fixes the file's format as DD/MM/YYYY.
    let first_valid = invalid + 1;
    lines[first_valid] = rewrite(&lines[first_valid], &|fields| {
        fields[from] = "01/02/2019".into();
        fields[to].clear();
        fields[died].clear();
    });
    let duplicate = lines[first_valid].clone();
    lines.push(duplicate);
    let records = lines.len() - 1;
    std::fs::write(data.join("patients.csv"), lines.join("\n") + "\n").unwrap();

    let outs: Vec<std::path::PathBuf> = ["1", "4"]
        .iter()
        .map(|threads| {
            let out = work.path().join(format!("threads-{threads}"));
            let run = sp_impact(&[
                "ingest",
                "-q",
                "--threads",
                threads,
                "--data",
                data.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            out
        })
        .collect();
    assert_same_outputs(&outs[0], &outs[1]);

    let report = read_json(&outs[0].join("quality/ingest.json"));
    let file = &report["files"][0];
    assert_eq!(file["file"], "patients.csv");
    assert_eq!(file["rows_read"], records as u64);
    assert_eq!(file["rows_loaded"], 1);
    let by_reason = &file["quarantined_by_reason"];
    assert_eq!(by_reason["bad_date"], invalid as u64);
    assert_eq!(by_reason["duplicate_key"], 1);
    // Every other record has ISO dates, after the file's format was fixed as UK.
    assert_eq!(
        by_reason["date_format_mismatch"],
        (records - invalid - 2) as u64
    );
    let quarantine = outs[0].join("quality/quarantine/patients.parquet");
    let details = parquet_column(&quarantine, "detail");
    let last = details.last().unwrap().as_deref().unwrap();
    assert_eq!(
        last,
        format!("person_id already loaded from line {}", first_valid + 1)
    );
    assert_eq!(
        parquet_column(&quarantine, "line").last().unwrap(),
        &Some((records + 1).to_string())
    );
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
