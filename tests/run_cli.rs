//! `run`, `check` and `query` from the command line, and the SQL stage checked
//! against a synthetic dataset's truth.

use sp_impact::synth::{Effects, SynthOptions, WorldKind};

use crate::util::{copy_files, fixtures, read_json, sp_impact};

#[test]
fn sql_panels_agree_exactly_with_the_generators_truth() {
    let work = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        persons: 6_000,
        seed: 99,
        world: WorldKind::LatentCrisis,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.0,
        threads: 2,
        gzip: vec!["gp_appointments"],
        history_months: sp_impact::synth::DEFAULT_HISTORY_MONTHS,
    };
    let (truth, results) = crate::util::synth_and_run(&options, work.path(), &[]);
    let out = work.path().join("out");
    // Eligibility in SQL and in the generator are independent implementations of the
    // same rules: they must find the same people.
    assert_eq!(
        results["cohort"]["eligible_treated"],
        truth.treated.eligible_treated
    );

    // Follow-up events of the treated in the SQL panel = the generator's factual events,
    // less those after leaving the practice (in the truth, in no extract).
    let query = sp_impact(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "select use.measure, sum(use.events) as events from person_month_use as use \
         inner join analysis_cohort as cohort on use.person_id = cohort.person_id \
         where cohort.group_name = 'treated' and use.relative_month >= 0 group by use.measure",
    ]);
    assert_eq!(query.code, 0, "{}", query.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&query.stdout).unwrap();
    let sums: std::collections::BTreeMap<&str, u64> = rows
        .iter()
        .map(|row| {
            (
                row["measure"].as_str().unwrap(),
                row["events"].as_u64().unwrap(),
            )
        })
        .collect();
    for (measure, events) in &truth.treated.follow_up_events {
        let panel = sums.get(measure).copied().unwrap_or(0);
        assert!(
            events.unrecorded_factual > 0 || events.factual < 200,
            "{measure}"
        );
        assert_eq!(
            panel,
            events.factual - events.unrecorded_factual,
            "{measure}"
        );
    }
}

#[test]
fn check_passes_on_the_fixture_and_fails_with_exit_1_on_a_broken_model_test() {
    let fixture = fixtures().join("models");
    let config = fixture.join("study.toml");
    let ok = sp_impact(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--data",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("0 failed"), "{}", ok.stderr);

    // Copy the models and add a test that cannot hold: check reports it and exits 1.
    let work = tempfile::tempdir().unwrap();
    let queries = work.path().join("queries");
    for layer in ["staging", "cohort", "panel", "outcome", "marts"] {
        copy_files(
            &fixtures().join("../../queries").join(layer),
            &queries.join(layer),
        );
    }
    let funnel = queries.join("marts/funnel.sql");
    let text = std::fs::read_to_string(&funnel).unwrap();
    std::fs::write(
        &funnel,
        text.replacen(
            "-- key: referral_route",
            "-- key: referral_route\n-- test: expression(referred < 0)",
            1,
        ),
    )
    .unwrap();
    // A key that is not unique (every row of participation has the same referred count): the
    // runner finds the equal keys while writing the sorted table.
    let participation = queries.join("marts/participation.sql");
    let text = std::fs::read_to_string(&participation).unwrap();
    std::fs::write(
        &participation,
        text.replacen("-- key: activity_type", "-- key: referred_persons", 1),
    )
    .unwrap();
    let failed = sp_impact(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--data",
        fixture.to_str().unwrap(),
        "--queries",
        queries.to_str().unwrap(),
    ]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("funnel: expression(referred < 0) failed for 3 rows"),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("participation: unique(referred_persons) failed for 1 rows"),
        "{}",
        failed.stderr
    );

    // A model that depends on an unknown name is a clear error naming it (exit 2).
    std::fs::write(
        queries.join("marts/orphan.sql"),
        "-- model: orphan\n-- grain: one row\n-- depends_on: nowhere\nselect 1 as x\n",
    )
    .unwrap();
    let unknown = sp_impact(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--data",
        fixture.to_str().unwrap(),
        "--queries",
        queries.to_str().unwrap(),
    ]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("orphan.sql")
            && unknown.stderr.contains("unknown model or source 'nowhere'"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn bad_config_is_exit_2_naming_key_and_line() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("study.toml");
    let text = std::fs::read_to_string(fixtures().join("models/study.toml")).unwrap();
    std::fs::write(&config, format!("{text}\n[cohort]\nmatch_ration = 2\n")).unwrap();
    let data = fixtures().join("models");
    let run = sp_impact(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("match_ration") && run.stderr.contains("line 13"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_users_unit_cost_table_is_checked_like_an_extract() {
    let work = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("models/study.toml")).unwrap();
    let bundled = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("unit-costs/pssru-2024.csv"),
    )
    .unwrap();
    let config = work.path().join("study.toml");
    std::fs::write(
        &config,
        format!("{text}\n[costs]\nunit_costs = \"local_costs.csv\"\n"),
    )
    .unwrap();
    let data = fixtures().join("models");
    let check = |table: &str| {
        std::fs::write(work.path().join("local_costs.csv"), table).unwrap();
        sp_impact(&[
            "check",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
    };
    let good = check(&bundled);
    assert_eq!(good.code, 0, "{}", good.stderr);
    let bad = check(&bundled.replace("outpatient_attendance,198,", "outpatient_attendance,£198,"));
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("local_costs.csv, line 9, column 'value_gbp'")
            && bad.stderr.contains("£198"),
        "{}",
        bad.stderr
    );
}

#[test]
fn query_prints_tables_csv_and_writes_parquet() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let fixture = fixtures().join("models");
    let config = fixture.join("study.toml");
    // Six treated people: the outputs are written, but with no matched comparison the run
    // exits 1 and says why, instead of passing off a report without its main estimate.
    let run = sp_impact(&[
        "run",
        "-q",
        "--config",
        config.to_str().unwrap(),
        "--data",
        fixture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the service-use analysis could not be estimated"),
        "{}",
        run.stderr
    );
    let out_arg = out.to_str().unwrap();
    let csv = sp_impact(&[
        "query",
        "--out",
        out_arg,
        "--format",
        "csv",
        "select referral_route, referred from funnel order by referral_route",
    ]);
    assert_eq!(
        csv.stdout,
        "referral_route,referred\nall,10\nmedical,6\nnon_medical,4\n"
    );
    let table = sp_impact(&[
        "query",
        "--out",
        out_arg,
        "select count(*) as people from stg_patients",
    ]);
    assert!(
        table.stdout.contains("| people |") && table.stdout.contains("| 13 "),
        "{}",
        table.stdout
    );
    let parquet = work.path().join("flow.parquet");
    let written = sp_impact(&[
        "query",
        "--out",
        out_arg,
        "--format",
        "parquet",
        "--output",
        parquet.to_str().unwrap(),
        "select * from cohort_flow",
    ]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert_eq!(crate::util::parquet_column(&parquet, "step").len(), 14);
    let bad = sp_impact(&["query", "--out", out_arg, "select * from no_such_table"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no_such_table"), "{}", bad.stderr);
    // Ad-hoc SQL can ask the calendar functions for dates outside chrono's range: a clear
    // error (exit 2), never a panic (exit 101, which sp_impact() also rejects).
    let huge = sp_impact(&[
        "query",
        "--out",
        out_arg,
        "select add_months(cast('2020-01-01' as date), 2000000000) as d",
    ]);
    assert_eq!(huge.code, 2);
    assert!(
        huge.stderr
            .contains("add_months: date outside the supported range"),
        "{}",
        huge.stderr
    );
}

#[test]
fn run_with_no_arguments_works_from_an_empty_directory_on_the_bundled_sample() {
    // A new user outside the repository: no sample-data/ here, so the bundled sample runs and
    // writes to ./sp-impact-output/.
    let work = tempfile::tempdir().unwrap();
    let run = crate::util::sp_impact_in(work.path(), &["run", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let results = read_json(&work.path().join("sp-impact-output/results.json"));
    let truth = read_json(&fixtures().join("../../sample-data/truth.json"));
    assert_eq!(
        results["cohort"]["eligible_treated"],
        truth["treated"]["eligible_treated"]
    );
    assert!(
        work.path()
            .join("sp-impact-output/published/report.html")
            .is_file()
    );

    // `sample --out` writes the same files as the repository's sample-data/, and never
    // overwrites them.
    let copy = work.path().join("copy");
    let written = crate::util::sp_impact_in(
        work.path(),
        &["sample", "-q", "--out", copy.to_str().unwrap()],
    );
    assert_eq!(written.code, 0, "{}", written.stderr);
    for (name, _) in sp_impact::sample::FILES {
        let bundled = std::fs::read(copy.join(name)).unwrap();
        let repository = std::fs::read(fixtures().join("../../sample-data").join(name)).unwrap();
        assert!(bundled == repository, "{name} differs from sample-data/");
    }
    let files_in_repository = std::fs::read_dir(fixtures().join("../../sample-data"))
        .unwrap()
        .count();
    assert_eq!(files_in_repository, sp_impact::sample::FILES.len());
    let again = crate::util::sp_impact_in(
        work.path(),
        &["sample", "-q", "--out", copy.to_str().unwrap()],
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

/// `run --pdf` with no Chromium to print it stops at once, exit 2, saying how to get one; it
/// neither runs the analysis nor leaves an output folder.
#[test]
fn run_pdf_without_a_browser_stops_at_once_saying_how_to_get_one() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let run = |env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sp-impact"));
        command
            .args(["run", "--pdf", "--out", out.to_str().unwrap()])
            .current_dir(work.path())
            .env_remove("SP_IMPACT_CHROMIUM");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let empty_path = work.path().join("no-browsers-here");
    std::fs::create_dir(&empty_path).unwrap();
    let (code, stderr) = run(&[("PATH", empty_path.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--pdf needs a headless Chromium")
            && stderr.contains("apt-get install chromium")
            && stderr.contains("SP_IMPACT_CHROMIUM"),
        "{stderr}"
    );
    let (code, stderr) = run(&[("SP_IMPACT_CHROMIUM", "/nowhere/chromium")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("/nowhere/chromium, which is not a file"),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused run left an output folder");
}
