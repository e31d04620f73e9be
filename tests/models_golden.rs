//! Golden tests of the SQL models on the hand-made fixture in
//! `tests/fixtures/models/`, whose right answers are worked out by hand below.
//!
//! Study: start 2023-01-01, end 2024-03-31, data_end 2024-12-31, pre 3 and post 3 months, so
//! relative months run -3..2; exit defaults to 2025-01-01.
//!
//! People and what each exercises:
//! - A: index on the last day of a month (2023-01-31): months are clamped to month ends
//!   ([2022-10-31, 2022-11-30) ... [2023-01-31, 2023-02-28) ...). Link worker, DNA, cancelled
//!   and admin appointments are not demand; 2022-10-30 is before the window and 2023-04-30
//!   (= index + 3 months) after it. The GP visit on the index day itself is not follow-up.
//!   An A&E attendance at a type 3 department and a day case are costed at their own rates.
//! - B: died 2023-05-20 (mid-month): exit is the day after death, so month 2 [05-15, 06-15)
//!   has 6 days of exposure and the A&E attendances on 05-19 and on 05-20 (the day of death)
//!   both count. Emergency admissions: 3-day stay (long,
//!   £5,134) in month -3, 1-day stay (short, £792) in month -2.
//! - C: deregistered 2023-07-10: month 1 has 9 days, month 2 none; GP on 07-09 counts, on
//!   07-15 does not; the outpatient DNA is not counted, the attended one is.
//! - D: index 29 February 2024, registered exactly index - 3 months (2023-11-29): eligible.
//! - E: referred twice: indexed at the first referral. F: declined, then accepted: indexed at
//!   the accepted one. G: declined only (2023-08-01): no index; a comparison candidate until
//!   that referral.
//! - H: registered too recently; I: under 18; L: referred before the window and again in it:
//!   not a new starter.
//! - J, K: never referred: the comparison pool, with seeded pseudo index dates. M: declined
//!   before the window, so referred before any pseudo index date: not a comparison candidate.

use std::collections::BTreeMap;
use std::path::Path;

use sp_impact::engine::EngineOptions;
use sp_impact::engine::models::QuerySource;
use sp_impact::engine::udfs::seeded_draw_value;
use sp_impact::progress::Progress;
use sp_impact::run::{RunOptions, run};

use crate::util::{fixtures, parquet_column, read_json};

type Row = BTreeMap<String, Option<String>>;

/// A table as rows of text values, in file order.
fn table(out: &Path, name: &str) -> Vec<Row> {
    let path = out.join("tables").join(format!("{name}.parquet"));
    let file = std::fs::File::open(&path).unwrap();
    let schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .schema()
        .clone();
    let columns: Vec<(String, Vec<Option<String>>)> = schema
        .fields()
        .iter()
        .filter(|field| !matches!(field.data_type(), arrow::datatypes::DataType::List(_)))
        .map(|field| (field.name().clone(), parquet_column(&path, field.name())))
        .collect();
    let rows = columns.first().map_or(0, |(_, values)| values.len());
    (0..rows)
        .map(|row| {
            columns
                .iter()
                .map(|(name, values)| (name.clone(), values[row].clone()))
                .collect()
        })
        .collect()
}

fn value<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column)
        .and_then(|value| value.as_deref())
        .unwrap_or("NULL")
}

fn run_fixture(out: &Path, threads: usize) {
    run_fixture_with(out, threads, "");
}

/// Runs the fixture with `extra` appended to its study.toml (in a copy beside `out`).
fn run_fixture_with(out: &Path, threads: usize, extra: &str) {
    let fixture = fixtures().join("models");
    let config = out.with_extension("study.toml");
    let text = std::fs::read_to_string(fixture.join("study.toml")).unwrap();
    std::fs::write(&config, text + extra).unwrap();
    let options = RunOptions {
        config,
        data: fixture.clone(),
        out: Some(out.to_path_buf()),
        queries: QuerySource::Embedded,
        engine: EngineOptions {
            threads,
            memory_limit: 512 << 20,
            kind: sp_impact::engine::EngineKind::Local,
        },
    };
    // Every model and its tests run; with 6 treated people there is no matched comparison,
    // so the run writes its outputs and then exits 1 saying the service-use analysis could
    // not be estimated (never exit 0 with the main estimate missing).
    match run(&options, &Progress::silent()) {
        Err(sp_impact::Error::DataTest(reason))
            if reason.starts_with("the service-use analysis could not be estimated") => {}
        other => panic!("expected the service-use refusal after all models ran: {other:?}"),
    }
    let results = read_json(&out.join("results.json"));
    assert!(
        results["service_use"]["not_estimated"].is_string(),
        "{}",
        results["service_use"]
    );
}

#[test]
fn cohort_index_dates_and_eligibility() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    run_fixture(&out, 2);

    let treated: BTreeMap<String, (String, String, String)> = table(&out, "treated")
        .iter()
        .map(|row| {
            (
                value(row, "person_id").to_string(),
                (
                    value(row, "index_date").into(),
                    value(row, "index_referral_id").into(),
                    value(row, "exclusion_reason").into(),
                ),
            )
        })
        .collect();
    let expected = [
        ("A", "2023-01-31", "RA1", "NULL"),
        ("B", "2023-03-15", "RB1", "NULL"),
        ("C", "2023-06-01", "RC1", "NULL"),
        ("D", "2024-02-29", "RD1", "NULL"),
        ("E", "2023-05-01", "RE1", "NULL"),
        ("F", "2023-06-15", "RF2", "NULL"),
        ("H", "2023-02-01", "RH1", "registered_too_recently"),
        ("I", "2023-05-01", "RI1", "under_min_age"),
        ("L", "2023-07-01", "RL2", "referred_before_start"),
    ];
    assert_eq!(treated.len(), expected.len(), "{treated:?}");
    for (person, index, referral, exclusion) in expected {
        assert_eq!(
            treated[person],
            (index.into(), referral.into(), exclusion.into()),
            "person {person}"
        );
    }

    // Comparison pool: everyone without an index date (G, J, K, M). Their pseudo index dates
    // are the seeded draw over the six eligible index dates ordered by (date, person):
    // A 2023-01-31, B 2023-03-15, E 2023-05-01, C 2023-06-01, F 2023-06-15, D 2024-02-29.
    let dates = [
        "2023-01-31",
        "2023-03-15",
        "2023-05-01",
        "2023-06-01",
        "2023-06-15",
        "2024-02-29",
    ];
    let candidates = table(&out, "comparison_candidates");
    let ids: Vec<&str> = candidates
        .iter()
        .map(|row| value(row, "person_id"))
        .collect();
    assert_eq!(ids, ["G", "J", "K", "M"]);
    for row in &candidates {
        let person = value(row, "person_id");
        let draw = seeded_draw_value(person, 42, 6).unwrap();
        let index = dates[draw as usize - 1];
        assert_eq!(value(row, "index_date"), index, "person {person}");
        // (exclusion, exit, censored): J and K are followed to the end of the data; G until
        // the referral they declined if it came after their pseudo index date; M's referral
        // (2022-12-01) came before any index date.
        let expected = match person {
            "G" if index < "2023-08-01" => ("NULL", "2023-08-01", "true"),
            "G" => ("referred_before_index", "2025-01-01", "false"),
            "M" => ("referred_before_index", "2025-01-01", "false"),
            _ => ("NULL", "2025-01-01", "false"),
        };
        assert_eq!(
            (
                value(row, "exclusion_reason"),
                value(row, "exit_date"),
                value(row, "censored_at_referral")
            ),
            expected,
            "person {person}"
        );
    }

    // G declined and was never referred again: the only decliner. F declined, then accepted.
    let decliners: Vec<String> = table(&out, "decliners")
        .iter()
        .map(|row| value(row, "person_id").to_string())
        .collect();
    assert_eq!(decliners, ["G"]);

    let results = read_json(&out.join("results.json"));
    let cohort = &results["cohort"];
    assert_eq!(
        (
            &cohort["referrals"],
            &cohort["persons_referred"],
            &cohort["persons_with_index_date"],
            &cohort["eligible_treated"]
        ),
        (
            &serde_json::json!(12),
            &serde_json::json!(10),
            &serde_json::json!(9),
            &serde_json::json!(6)
        )
    );
    let eligible = candidates
        .iter()
        .filter(|row| value(row, "exclusion_reason") == "NULL")
        .count();
    let censored = candidates
        .iter()
        .filter(|row| value(row, "censored_at_referral") == "true")
        .count();
    assert_eq!(
        (
            &cohort["comparison_pool"],
            &cohort["eligible_comparison_candidates"],
            &cohort["comparison_censored_at_referral"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(eligible),
            &serde_json::json!(censored)
        )
    );
}

#[test]
fn person_month_exposure_counts_and_costs() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    run_fixture(&out, 2);
    let panel: BTreeMap<(String, i64), Row> = table(&out, "person_months")
        .into_iter()
        .map(|row| {
            (
                (
                    value(&row, "person_id").to_string(),
                    value(&row, "relative_month").parse().unwrap(),
                ),
                row,
            )
        })
        .collect();
    assert_eq!(
        panel.len(),
        9 * 6,
        "six months for each of 6 treated and 3 comparison people (G censored at referral)"
    );
    // G's exposure stops at the referral they declined (2023-08-01, after their pseudo index
    // date): their panel covers [index - 3 months, min(index + 3 months, 2023-08-01)).
    let date = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    let g_index = date(value(&panel[&("G".to_string(), 0)], "month_start"));
    let g_start = sp_impact::calendar::add_months(g_index, -3).unwrap();
    let g_end = sp_impact::calendar::add_months(g_index, 3)
        .unwrap()
        .min(date("2023-08-01"));
    let g_exposure: i64 = (-3..3)
        .map(|month| {
            value(&panel[&("G".to_string(), month)], "exposure_days")
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(g_exposure, (g_end - g_start).num_days(), "G from {g_index}");
    assert!(g_end < sp_impact::calendar::add_months(g_index, 3).unwrap());

    // Use is long and sparse: (person, month, measure) -> (events, cost in micro-pounds),
    // only for cells with events.
    let use_rows: BTreeMap<(String, i64, String), (i64, i64)> = table(&out, "person_month_use")
        .into_iter()
        .map(|row| {
            (
                (
                    value(&row, "person_id").to_string(),
                    value(&row, "relative_month").parse().unwrap(),
                    value(&row, "measure").to_string(),
                ),
                (
                    value(&row, "events").parse().unwrap(),
                    value(&row, "cost_micro_gbp").parse().unwrap(),
                ),
            )
        })
        .collect();
    assert!(use_rows.values().all(|(events, _)| *events > 0));
    let events = |person: &str, month: i64, measure: &str| -> i64 {
        use_rows
            .get(&(person.to_string(), month, measure.to_string()))
            .map_or(0, |(events, _)| *events)
    };
    let check =
        |person: &str, month: i64, start: &str, end: &str, exposure: i64, gp: i64, cost: f64| {
            let row = &panel[&(person.to_string(), month)];
            let context = format!("{person} month {month}");
            assert_eq!(
                (value(row, "month_start"), value(row, "month_end")),
                (start, end),
                "{context}"
            );
            assert_eq!(
                value(row, "exposure_days"),
                exposure.to_string(),
                "{context}: exposure"
            );
            assert_eq!(
                events(person, month, "gp_demand"),
                gp,
                "{context}: gp_demand"
            );
            let micro_gbp: i64 = use_rows
                .range((person.to_string(), month, String::new())..)
                .take_while(|((who, when, _), _)| who == person && *when == month)
                .map(|(_, (_, cost))| cost)
                .sum();
            let actual = micro_gbp as f64 / 1e6;
            // Costs are carried to the millionth of a pound (person_month_use.sql).
            assert!(
                (actual - cost).abs() <= 5e-7,
                "{context}: cost {actual} vs {cost}"
            );
        };
    // A: month ends clamp; one GP-demand appointment per month; costs by the design's rules:
    // GP 10 min x £4.47 = £44.70; nurse, no duration, 15 min at £47/h = £11.75; GP, no
    // duration, £45; other clinical 30 min = £23.50.
    check("A", -3, "2022-10-31", "2022-11-30", 30, 1, 44.70);
    check("A", -2, "2022-11-30", "2022-12-31", 31, 1, 11.75);
    check("A", -1, "2022-12-31", "2023-01-31", 31, 1, 45.0);
    // The GP consultation on the index day (where the referral is made) is neither group's
    // follow-up: follow-up starts the day after the index.
    check("A", 0, "2023-01-31", "2023-02-28", 28, 0, 0.0);
    // A type 3 A&E attendance (urgent treatment centre) at its own rate, £123.75 (NCC 2023/24
    // VB11Z), and a day case at the day-case rate, £1,031, not the elective £6,215.
    check("A", 1, "2023-02-28", "2023-03-31", 31, 1, 23.50 + 123.75);
    check("A", 2, "2023-03-31", "2023-04-30", 30, 1, 44.70 + 1031.0);
    assert_eq!(events("A", 1, "ae_attendances"), 1);
    assert_eq!(events("A", 2, "elective_admissions"), 1);
    // B: long stay £5,134 in month -3, short stay £792 in month -2, death on 05-20.
    check("B", -3, "2022-12-15", "2023-01-15", 31, 0, 5134.0);
    check("B", -2, "2023-01-15", "2023-02-15", 31, 0, 792.0);
    check("B", 2, "2023-05-15", "2023-06-15", 6, 0, 2.0 * 273.0);
    assert_eq!(events("B", 2, "ae_attendances"), 2);
    assert_eq!(events("B", -3, "emergency_admissions"), 1);
    // C: elective £6,215 in month 0 (its record's own cost, £5,000, is not used by default);
    // deregistered 07-10; GP 07-09 + attended outpatient.
    check("C", 0, "2023-06-01", "2023-07-01", 30, 0, 6215.0);
    check("C", 1, "2023-07-01", "2023-08-01", 9, 1, 44.70 + 198.0);
    check("C", 2, "2023-08-01", "2023-09-01", 0, 0, 0.0);
    assert_eq!(events("C", 1, "outpatient_attendances"), 1);
    assert_eq!(
        events("C", 0, "outpatient_attendances"),
        0,
        "the DNA is not counted"
    );
    // D: 29 February index; the GP visit the day before the window does not count.
    check("D", -3, "2023-11-29", "2023-12-29", 30, 1, 44.70);
    check("D", 0, "2024-02-29", "2024-03-29", 29, 1, 44.70);
    check(
        "D",
        1,
        "2024-03-29",
        "2024-04-29",
        31,
        1,
        20.0 / 60.0 * 47.0,
    );
    // Exposure in person-years and person-months follow from days.
    let row = &panel[&("C".into(), 1)];
    assert!((value(row, "exposure_years").parse::<f64>().unwrap() - 9.0 / 365.25).abs() < 1e-12);
    assert!((value(row, "exposure_months").parse::<f64>().unwrap() - 9.0 / 31.0).abs() < 1e-12);
}

#[test]
fn a_total_programme_cost_is_divided_among_the_people_accepted_or_the_referrals() {
    let work = tempfile::tempdir().unwrap();
    let accepted = work.path().join("accepted");
    run_fixture_with(&accepted, 1, "[costs]\nprogramme_total_cost_gbp = 9000\n");
    // Accepted in the window: everyone referred but G (A-F, H, I, L): 9 people.
    let programme = &read_json(&accepted.join("results.json"))["programme"];
    assert_eq!(
        (
            &programme["basis"],
            &programme["people"],
            &programme["cost_per_person_gbp"]
        ),
        (
            &serde_json::json!("total"),
            &serde_json::json!(9),
            &serde_json::json!(1000.0)
        )
    );
    let referrals = work.path().join("referrals");
    run_fixture_with(
        &referrals,
        1,
        "[costs]\nprogramme_total_cost_gbp = 9000\nprogramme_cost_divided_by = \"referrals\"\n",
    );
    // Every referral dated in the window, declined and repeated ones included: A-D, E twice,
    // F twice (declined, then accepted), G (declined), H, I, L: 12.
    let programme = &read_json(&referrals.join("results.json"))["programme"];
    assert_eq!(
        (&programme["people"], &programme["cost_per_person_gbp"]),
        (&serde_json::json!(12), &serde_json::json!(750.0))
    );
}

#[test]
fn record_costing_uses_a_hospital_records_own_cost_where_it_has_one() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    run_fixture_with(&out, 1, "[costs]\nhospital = \"record\"\n");
    let cost = |person: &str, month: i64, measure: &str| -> f64 {
        table(&out, "person_month_use")
            .iter()
            .filter(|row| {
                value(row, "person_id") == person
                    && value(row, "relative_month") == month.to_string()
                    && value(row, "measure") == measure
            })
            .map(|row| value(row, "cost_micro_gbp").parse::<f64>().unwrap() / 1e6)
            .sum()
    };
    // C's elective admission carries £5,000 (its tariff price): used instead of £6,215.
    assert_eq!(cost("C", 0, "elective_admissions"), 5000.0);
    // Records without a cost keep the unit-cost rules: A's day case £1,031, B's long stay.
    assert_eq!(cost("A", 2, "elective_admissions"), 1031.0);
    assert_eq!(cost("B", -3, "emergency_admissions"), 5134.0);
}

#[test]
fn wellbeing_pairs_funnel_and_participation() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    run_fixture(&out, 1);
    let pairs: Vec<(String, String, String, String, String, String)> =
        table(&out, "wellbeing_pairs")
            .iter()
            .map(|row| {
                (
                    value(row, "person_id").into(),
                    value(row, "instrument").into(),
                    value(row, "item").into(),
                    value(row, "baseline_value").into(),
                    value(row, "followup_value").into(),
                    value(row, "followup_date").into(),
                )
            })
            .collect();
    let pair = |p: &str, i: &str, item: &str, b: &str, f: &str, d: &str| {
        (
            p.into(),
            i.into(),
            item.into(),
            b.into(),
            f.into(),
            d.into(),
        )
    };
    assert_eq!(
        pairs,
        vec![
            // A: the questionnaire closest to the index within [-60, 30] days, 2023-02-03 (+3,
            // score 42), came after A's first contact (2023-02-02), so the baseline is
            // 2022-12-20 (-42, score 28); the follow-up is the one within [56, 365] nearest day
            // 90: 2023-06-01 (+121, 14 x 4 = 56), not the latest, 2023-09-01 (+213), nor
            // 2024-03-01 (+395, outside).
            pair("A", "WEMWBS", "NULL", "28.0", "56.0", "2023-06-01"),
            // B: ONS4 items, each its own row; follow-up exactly on day 56.
            pair("B", "ONS4", "anxiety", "7.0", "6.0", "2023-05-10"),
            pair("B", "ONS4", "happiness", "4.0", "5.0", "2023-05-10"),
            pair("B", "ONS4", "life_satisfaction", "5.0", "6.0", "2023-05-10"),
            pair("B", "ONS4", "worthwhile", "6.0", "7.0", "2023-05-10"),
            // D: MYCaW items each their own row (as ONS4); the second concern was left blank,
            // so it has no pair.
            pair("D", "MYCAW", "concern_1", "5.0", "3.0", "2024-05-01"),
            pair("D", "MYCAW", "wellbeing", "4.0", "3.0", "2024-05-01"),
            // E: SWEMWBS raw 21 -> 19.25 and raw 28 -> 25.03 (Warwick metric table).
            pair("E", "SWEMWBS", "NULL", "19.25", "25.03", "2023-08-01"),
        ]
    );

    let results = read_json(&out.join("results.json"));
    let funnel = &results["funnel"];
    // Referred in window: A-I and L (10). Declined: F, G. Accepted: all but G. First contact
    // on the index referral: A, B, D, E, F, H. Completed index referral: A, E, F.
    assert_eq!(
        [
            &funnel["referred"],
            &funnel["declined"],
            &funnel["accepted"],
            &funnel["first_contact"],
            &funnel["completed"]
        ],
        [10, 2, 9, 6, 3].map(serde_json::Value::from).each_ref()
    );
    // By practice, everyone registered at some time in the window: A81001 has A, B, E, G,
    // I, J, L (referred: all but J; accepted: A, B, E, I, L; seen: A, B, E); A81002 has C,
    // D, F, H, K, M (referred: C, D, F, H, all accepted; seen: D, F, H).
    let practices: Vec<(String, [u64; 4])> = table(&out, "practice_funnel")
        .iter()
        .map(|row| {
            let number = |column: &str| value(row, column).parse::<u64>().unwrap();
            (
                value(row, "practice_code").to_string(),
                [
                    number("registered"),
                    number("referred"),
                    number("accepted"),
                    number("first_contact"),
                ],
            )
        })
        .collect();
    assert_eq!(
        practices,
        vec![
            ("A81001".to_string(), [7, 6, 5, 3]),
            ("A81002".to_string(), [6, 4, 4, 3]),
        ]
    );
    assert_eq!(results["practices"]["registered"], 13);
    assert_eq!(results["practices"]["referred"], 10);
    let participation = &results["participation"];
    // Of the indexed people, A (1 of 2 sessions attended) and E (2 attended) took part; G's
    // session is ignored (never indexed).
    assert_eq!(participation["referred_with_activity_data"], 2);
    assert_eq!(participation["attended_any"], 2);
    assert_eq!(participation["sessions_per_person"], 1.5);
}

#[test]
fn tables_are_byte_identical_across_thread_counts() {
    let work = tempfile::tempdir().unwrap();
    let one = work.path().join("one");
    let four = work.path().join("four");
    run_fixture(&one, 1);
    run_fixture(&four, 4);
    assert_eq!(
        std::fs::read(one.join("results.json")).unwrap(),
        std::fs::read(four.join("results.json")).unwrap()
    );
    for entry in std::fs::read_dir(one.join("tables")).unwrap() {
        let name = entry.unwrap().file_name();
        let a = std::fs::read(one.join("tables").join(&name)).unwrap();
        let b = std::fs::read(four.join("tables").join(&name)).unwrap();
        assert!(a == b, "{name:?} differs between 1 and 4 threads");
    }
}
