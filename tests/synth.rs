//! `sp-impact synth`: determinism, truth consistent with the extracts, defects
//! that ingest quarantines exactly, and the regression to the mean it was built to show.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use sp_impact::calendar::add_months;
use sp_impact::ingest::IngestOptions;
use sp_impact::ingest::ingest;
use sp_impact::progress::Progress;
use sp_impact::synth::{Effects, SynthOptions, Truth, WorldKind, synth};

use crate::util::read_json;

fn options(persons: u64, effects: Effects, threads: usize) -> SynthOptions {
    SynthOptions {
        persons,
        seed: 20240401,
        world: WorldKind::LatentCrisis,
        effects,
        wellbeing_change: 3.0,
        defects: 0.0,
        threads,
        gzip: Vec::new(),
        history_months: sp_impact::synth::DEFAULT_HISTORY_MONTHS,
    }
}

fn generate(options: &SynthOptions, dir: &Path) -> Truth {
    synth(options, dir, &Progress::silent()).expect("synth runs")
}

const EXTRACTS: [&str; 7] = [
    "patients.csv",
    "referrals.csv",
    "wellbeing.csv",
    "gp_appointments.csv",
    "hospital_activity.csv",
    "activities.csv",
    "truth.json",
];

#[test]
fn same_seed_gives_byte_identical_files_on_any_thread_count() {
    let work = tempfile::tempdir().unwrap();
    let one = work.path().join("one");
    let four = work.path().join("four");
    generate(&options(5_000, Effects::default_effect(), 1), &one);
    generate(&options(5_000, Effects::default_effect(), 4), &four);
    for name in EXTRACTS {
        let a = std::fs::read(one.join(name)).unwrap();
        let b = std::fs::read(four.join(name)).unwrap();
        assert!(a == b, "{name} differs between 1 and 4 threads");
    }
    let other_seed = work.path().join("other");
    generate(
        &SynthOptions {
            seed: 7,
            ..options(5_000, Effects::default_effect(), 2)
        },
        &other_seed,
    );
    assert_ne!(
        std::fs::read(one.join("patients.csv")).unwrap(),
        std::fs::read(other_seed.join("patients.csv")).unwrap(),
        "a different seed must give different people"
    );
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn truth_is_consistent_with_the_extracts() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let truth = generate(&options(8_000, Effects::default_effect(), 2), dir);
    let json = read_json(&dir.join("truth.json"));
    for name in &EXTRACTS[..6] {
        let rows = csv_rows(&dir.join(name)).len() as u64;
        let extract = name.trim_end_matches(".csv");
        assert_eq!(json["rows"][extract], rows, "{extract}: truth rows vs file");
    }
    let referrals = csv_rows(&dir.join("referrals.csv"));
    let referred: HashSet<&str> = referrals
        .iter()
        .map(|row| row["person_id"].as_str())
        .collect();
    assert_eq!(truth.treated.referred_persons, referred.len() as u64);
    assert!(
        referrals.len() > referred.len(),
        "some people are referred more than once"
    );
    assert!(
        referrals
            .iter()
            .any(|row| row["status"] == "declined" && row["snomed_code"] == "871711000000103")
    );
    assert_eq!(json["effects"]["gp_demand"], 0.9);
    // Realised ratios (same draws, factual / counterfactual) sit near the true parameters,
    // and measures without an effect are untouched.
    let events = &truth.treated.follow_up_events;
    assert!((events["gp_demand"].realised_rate_ratio.unwrap() - 0.9).abs() < 0.03);
    assert_eq!(
        events["outpatient_attendances"].realised_rate_ratio,
        Some(1.0)
    );
    assert!(truth.treated.saving_per_person_24m > truth.treated.saving_per_person_18m);
    assert!(truth.treated.discounted_saving_per_person_24m < truth.treated.saving_per_person_24m);
    // Events avoided discounted by their follow-up month (month 1 at 1, month 24 at
    // DF24 = 0.936191) lie between the undiscounted count and DF24 times it.
    let gp = &events["gp_demand"];
    assert!(
        gp.discounted_avoided_per_person < gp.avoided_per_person
            && gp.discounted_avoided_per_person > 0.936191 * gp.avoided_per_person,
        "{gp:?}"
    );
    // Link workers' own appointments appear, as social_prescriber.
    let gp = csv_rows(&dir.join("gp_appointments.csv"));
    assert!(gp.iter().any(|row| row["hcp_type"] == "social_prescriber"));
    assert!(gp.iter().any(|row| row["status"] == "dna"));
}

#[test]
fn no_effect_means_no_true_saving() {
    let work = tempfile::tempdir().unwrap();
    let truth = generate(&options(4_000, Effects::none(), 2), work.path());
    for (measure, events) in &truth.treated.follow_up_events {
        assert_eq!(events.factual, events.counterfactual, "{measure}");
        assert_eq!(events.discounted_avoided_per_person, 0.0, "{measure}");
    }
    assert_eq!(truth.treated.saving_per_person_24m, 0.0);
}

#[test]
fn injected_defects_are_exactly_what_ingest_quarantines() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // 6,000 people: enough questionnaire rows (about 3% of them defective) for every
    // wellbeing defect class to appear.
    let truth = generate(
        &SynthOptions {
            defects: 0.03,
            ..options(6_000, Effects::default_effect(), 2)
        },
        &data,
    );
    let clean = work.path().join("clean");
    let clean_truth = generate(&options(6_000, Effects::default_effect(), 2), &clean);
    assert_eq!(
        truth.rows, clean_truth.rows,
        "defects must not change the clean rows"
    );

    let report = ingest(
        &data,
        &IngestOptions::default(),
        &work.path().join("out"),
        &Progress::silent(),
    )
    .unwrap();
    assert!(report.reconciled);
    let mut classes = HashSet::new();
    for file in &report.files {
        assert_eq!(
            file.rows_loaded, truth.rows[file.extract],
            "{}: loaded = clean rows",
            file.extract
        );
        let expected = truth.defects.get(file.extract).cloned().unwrap_or_default();
        assert_eq!(
            file.quarantined_by_reason, expected,
            "{}: quarantine by reason",
            file.extract
        );
        classes.extend(expected.keys().copied());
    }
    assert!(
        classes.len() >= 12,
        "defects cover most row-level classes: {classes:?}"
    );
}

/// GP demand (attended gp/nurse/other_clinical) per person-year in the 12 months before and
/// the 24 months after the index date, for eligible treated people followed for 24 months,
/// computed straight from the extracts (independently of the pipeline).
fn naive_before_after_gp_ratio(dir: &Path) -> f64 {
    let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let (start, end, data_end) = (
        date("2022-04-01").unwrap(),
        date("2024-03-31").unwrap(),
        date("2026-03-31").unwrap(),
    );
    let patients: HashMap<String, HashMap<String, String>> = csv_rows(&dir.join("patients.csv"))
        .into_iter()
        .map(|row| (row["person_id"].clone(), row))
        .collect();
    let mut index: HashMap<String, NaiveDate> = HashMap::new();
    for row in csv_rows(&dir.join("referrals.csv")) {
        if row["status"] == "declined" {
            continue;
        }
        let referral = date(&row["referral_date"]).unwrap();
        let entry = index.entry(row["person_id"].clone()).or_insert(referral);
        *entry = (*entry).min(referral);
    }
    let cohort: HashMap<String, NaiveDate> = index
        .into_iter()
        .filter(|(person, index)| {
            let patient = &patients[person];
            let exit = [
                date(&patient["registered_to"]),
                date(&patient["date_of_death"]),
                Some(data_end.succ_opt().unwrap()),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
            *index >= start
                && *index <= end
                && chrono::Datelike::year(index) - patient["year_of_birth"].parse::<i32>().unwrap()
                    >= 18
                && date(&patient["registered_from"]).unwrap() <= add_months(*index, -12).unwrap()
                && exit > add_months(*index, 24).unwrap()
        })
        .collect();
    let (mut pre, mut post) = (0.0, 0.0);
    // Columns: person_id, appointment_date, status, hcp_type, mode, duration_minutes.
    let mut reader = csv::Reader::from_path(dir.join("gp_appointments.csv")).unwrap();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).unwrap() {
        let Some(index) = cohort.get(&record[0]) else {
            continue;
        };
        if &record[2] != "attended" || !matches!(&record[3], "gp" | "nurse" | "other_clinical") {
            continue;
        }
        let day = date(&record[1]).unwrap();
        if day >= add_months(*index, -12).unwrap() && day < *index {
            pre += 1.0;
        } else if day >= *index && day < add_months(*index, 24).unwrap() {
            post += 1.0;
        }
    }
    assert!(
        cohort.len() > 200,
        "enough treated people for a stable comparison: {}",
        cohort.len()
    );
    (post / 2.0) / pre
}

#[test]
fn naive_before_after_overstates_the_true_effect_through_regression_to_the_mean() {
    let work = tempfile::tempdir().unwrap();
    let none = work.path().join("none");
    let effect = work.path().join("effect");
    generate(&options(20_000, Effects::none(), 2), &none);
    let truth = generate(&options(20_000, Effects::default_effect(), 2), &effect);

    // No effect at all, yet the referred group's GP demand falls after referral.
    let naive_none = naive_before_after_gp_ratio(&none);
    assert!(
        naive_none < 0.93,
        "uncontrolled before/after with no effect: {naive_none}"
    );
    // With a true rate ratio of 0.90 the naive ratio claims a much larger fall.
    let naive_effect = naive_before_after_gp_ratio(&effect);
    let true_ratio = truth.treated.follow_up_events["gp_demand"]
        .realised_rate_ratio
        .unwrap();
    assert!(
        naive_effect < true_ratio - 0.06,
        "naive {naive_effect} vs true {true_ratio}"
    );
}
