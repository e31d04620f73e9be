//! Reliability and governance: byte-identical outputs whatever the thread count,
//! crash-safe output folders under SIGKILL, and owner-only restricted outputs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sp_impact::synth::{Effects, SynthOptions, WorldKind};

use crate::util::{fixtures, snapshot, sp_impact, synth_and_run};

#[test]
fn every_output_is_byte_identical_across_thread_counts() {
    let work = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        persons: 6_000,
        seed: 11,
        world: WorldKind::LatentCrisis,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.001,
        threads: 2,
        gzip: Vec::new(),
        history_months: sp_impact::synth::DEFAULT_HISTORY_MONTHS,
    };
    let mut snapshots = Vec::new();
    for threads in ["1", "2", "4"] {
        let dir = work.path().join(format!("threads-{threads}"));
        let (_, results) = synth_and_run(&options, &dir, &["--threads", threads]);
        assert!(results["cohort"]["matched_treated"].as_u64().unwrap() > 50);
        snapshots.push((threads, snapshot(&dir.join("out"))));
    }
    let (_, first) = &snapshots[0];
    let names = |files: &[(PathBuf, Vec<u8>)]| {
        files
            .iter()
            .map(|(name, _)| name.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        first
            .iter()
            .any(|(name, _)| name.ends_with("published/report.html"))
    );
    assert!(
        first
            .iter()
            .any(|(name, _)| name.ends_with("published/charts/payback_curve.png"))
    );
    assert!(
        first
            .iter()
            .any(|(name, _)| name.ends_with("tables/comparison_sets.parquet"))
    );
    for (threads, files) in &snapshots[1..] {
        assert_eq!(
            names(first),
            names(files),
            "different files with {threads} threads"
        );
        for ((name, one), (_, other)) in first.iter().zip(files) {
            assert!(
                one == other,
                "{} differs between 1 and {threads} threads",
                name.display()
            );
        }
    }
}

#[test]
fn a_killed_run_leaves_the_previous_output_intact_and_a_rerun_matches() {
    let work = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let out = work.path().join("out");
    let args = |out: &Path| -> Vec<String> {
        vec![
            "run".into(),
            "-q".into(),
            "--config".into(),
            sample.join("study.toml").display().to_string(),
            "--data".into(),
            sample.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let first = sp_impact(&args(&out).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = snapshot(&out);

    // A second run into the same folder, killed (SIGKILL) once it is well under way.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sp-impact"))
        .args(args(&out))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let staging_with_data = || {
        std::fs::read_dir(work.path()).unwrap().any(|entry| {
            let path = entry.unwrap().path();
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".out.partial-")
                && path.join("data/patients.parquet").exists()
        })
    };
    while !staging_with_data() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never started writing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        before == snapshot(&out),
        "the previous output changed under a killed run"
    );

    // A rerun after the crash gives the same results as the uninterrupted run.
    let rerun = sp_impact(&args(&out).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let after = snapshot(&out);
    assert!(
        before == after,
        "the rerun's outputs differ from the first run's"
    );
}

#[cfg(unix)]
#[test]
fn restricted_outputs_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let run = sp_impact(&[
        "run",
        "-q",
        "--config",
        sample.join("study.toml").to_str().unwrap(),
        "--data",
        sample.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o700);
    let mut checked = 0;
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path == out.join("published") {
                continue;
            }
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} restricted files");
    assert!(out.join("results.json").is_file() && out.join("quality/quarantine").is_dir());
}

/// Every case of the bad-input corpus through the whole pipeline (`run`, with a study that
/// fits the corpus' dates): exit 0, 1 or 2, never a panic (exit 101, which `sp_impact`
/// rejects), and every refusal names the file or configuration it is about.
#[test]
fn the_bad_input_corpus_never_panics_through_the_whole_pipeline() {
    let cases = fixtures().join("ingest/cases");
    let mut names: Vec<String> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 25);
    let mut refused = 0;
    for case in &names {
        let work = tempfile::tempdir().unwrap();
        let data = crate::ingest_corpus::case_data(case, work.path());
        let config = work.path().join("study.toml");
        std::fs::write(
            &config,
            "[study]\nname = \"Corpus sweep\"\nstart = 2023-01-01\nend = 2023-12-31\ndata_end = 2024-06-30\n",
        )
        .unwrap();
        let out = work.path().join("out");
        let run = sp_impact(&[
            "run",
            "-q",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            [0, 1, 2].contains(&run.code),
            "{case}: exit {}:\n{}",
            run.code,
            run.stderr
        );
        if run.code == 2 {
            refused += 1;
            let names_a_file = [".csv", ".gz", ".parquet", ".xlsx", "study.toml"]
                .iter()
                .any(|suffix| run.stderr.contains(suffix));
            assert!(
                names_a_file,
                "{case}: the error does not name its file:\n{}",
                run.stderr
            );
        } else {
            assert!(out.join("results.json").is_file(), "{case}: no results");
        }
    }
    assert!(refused >= 5, "only {refused} corpus cases were refused");
}
