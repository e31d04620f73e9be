//! The simulated worlds, and the guards that keep the DiD from publishing numbers the data
//! cannot support.

use std::path::Path;

use serde_json::Value;
use sp_impact::synth::{Effects, SynthOptions, Truth, WorldKind};

use crate::util::synth_and_run;

fn run_world(world: WorldKind, persons: u64, dir: &Path, extra_args: &[&str]) -> (Truth, Value) {
    let options = SynthOptions {
        persons,
        seed: 4711,
        world,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.0,
        threads: 2,
        gzip: Vec::new(),
    };
    synth_and_run(&options, dir, extra_args)
}

fn did<'a>(results: &'a Value, name: &str) -> &'a Value {
    &results["service_use"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["measure"] == name)
        .unwrap()["did"]
}

#[test]
fn the_referral_visit_world_writes_a_gp_visit_on_most_referral_days() {
    let work = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        persons: 6_000,
        seed: 5,
        world: WorldKind::ReferralVisit,
        effects: Effects::none(),
        wellbeing_change: 0.0,
        defects: 0.0,
        threads: 2,
        gzip: Vec::new(),
    };
    let truth = sp_impact::synth::synth(
        &options,
        work.path(),
        &sp_impact::progress::Progress::silent(),
    )
    .unwrap();
    assert_eq!(truth.world, WorldKind::ReferralVisit);
    let read = |name: &str| std::fs::read_to_string(work.path().join(name)).unwrap();
    let visits: std::collections::HashSet<(String, String)> = read("gp_appointments.csv")
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| fields[2] == "attended" && matches!(fields[3], "gp" | "nurse"))
        .map(|fields| (fields[0].to_string(), fields[1].to_string()))
        .collect();
    let (mut gp_route, mut with_visit) = (0, 0);
    for line in read("referrals.csv").lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        if matches!(fields[4], "gp" | "nurse") {
            gp_route += 1;
            with_visit += usize::from(visits.contains(&(fields[1].into(), fields[2].into())));
        }
    }
    let share = with_visit as f64 / gp_route as f64;
    assert!(gp_route > 30 && share > 0.7, "{with_visit} of {gp_route}");
}

#[test]
fn index_day_events_are_not_follow_up() {
    // Every GP- and nurse-route referral in this world is made in a consultation on the
    // referral day that a comparison person's pseudo index date does not have. Counted as
    // follow-up it would add up to one GP event per treated person (GP +4-6% towards harm);
    // follow-up starts the day after the index, so the estimate stays on the truth.
    let work = tempfile::tempdir().unwrap();
    let (truth, results) = run_world(WorldKind::ReferralVisit, 20_000, work.path(), &[]);
    let gp = did(&results, "gp_demand");
    let (low, high) = (
        gp["ci95"][0].as_f64().unwrap(),
        gp["ci95"][1].as_f64().unwrap(),
    );
    let true_ratio = truth.effects.0["gp_demand"];
    assert!(
        low <= true_ratio && true_ratio <= high,
        "GP CI [{low}, {high}] misses {true_ratio}"
    );
}

#[test]
fn a_measure_with_no_data_is_reported_as_no_data_not_as_a_ratio() {
    // Run without the (optional) hospital extract: every hospital measure has zero events in
    // every cell. Today's guard says so instead of publishing DiD 1.01 from nothing.
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let options = SynthOptions {
        persons: 8_000,
        seed: 77,
        world: WorldKind::LatentCrisis,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.0,
        threads: 2,
        gzip: Vec::new(),
    };
    sp_impact::synth::synth(&options, &data, &sp_impact::progress::Progress::silent()).unwrap();
    std::fs::remove_file(data.join("hospital_activity.csv")).unwrap();
    let out = work.path().join("out");
    let config = crate::util::fixtures().join("../../sample-data/study.toml");
    let run = crate::util::sp_impact(&[
        "run",
        "-q",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let results = crate::util::read_json(&out.join("results.json"));
    for name in [
        "ae_attendances",
        "emergency_admissions",
        "outpatient_attendances",
        "elective_admissions",
    ] {
        let estimate = did(&results, name);
        let reason = estimate["not_estimated"].as_str().unwrap_or_default();
        assert!(reason.starts_with("no data"), "{name}: {estimate}");
        assert!(estimate["rate_ratio"].is_null(), "{name}: {estimate}");
    }
    assert!(did(&results, "gp_demand")["rate_ratio"].is_f64());
    let report = std::fs::read_to_string(out.join("published/report.md")).unwrap();
    assert!(
        report.contains("no data"),
        "the report says which measures had no data"
    );
}
