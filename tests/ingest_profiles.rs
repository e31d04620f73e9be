//! Input profiles: hospital extracts in the SUS+/NCDR, SUS Unified and HES layouts, and GP
//! appointments from OLIDS, SystmOne and EMIS Web, dropped into a data folder with no
//! configuration, load to exactly the rows of their contract-shaped twin
//! (`tests/fixtures/profiles/hospital_activity.csv`, `tests/fixtures/models/gp_appointments.csv`;
//! the layouts are written from them by `make_fixtures.py`), with every other row excluded by a
//! stated rule and counted; a file no layout fits is an exit-2 error that names the nearest
//! layouts.

use std::path::Path;

use crate::util::{Run, copy_files, fixtures, parquet_column, read_json, sp_impact};

const HOSPITAL_COLUMNS: [&str; 7] = [
    "person_id",
    "activity_date",
    "setting",
    "discharge_date",
    "attended",
    "patient_classification",
    "department_type",
];

/// A data folder holding the golden fixture's other extracts and `hospital` files.
fn data_folder(root: &Path, hospital: &Path) -> std::path::PathBuf {
    data_folder_for(root, "hospital_activity", hospital)
}

/// A data folder holding the golden fixture's extracts, `extract` replaced by `files` (a
/// contract-shaped file, or a folder of files in other layouts).
fn data_folder_for(root: &Path, extract: &str, files: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let replaced = format!("{extract}.csv");
    for entry in std::fs::read_dir(fixtures().join("models")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".csv") && name != replaced {
            std::fs::copy(&path, data.join(&name)).unwrap();
        }
    }
    if files.is_dir() {
        copy_files(files, &data);
    } else {
        std::fs::copy(files, data.join(&replaced)).unwrap();
    }
    data
}

fn ingest(root: &Path, hospital: &Path) -> std::path::PathBuf {
    ingest_extract(root, "hospital_activity", hospital)
}

fn ingest_extract(root: &Path, extract: &str, files: &Path) -> std::path::PathBuf {
    let data = data_folder_for(root, extract, files);
    let out = root.join("out");
    let run = ingest_cli(&data, &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

/// `sp-impact ingest -q --data DATA --out OUT` with `extra` arguments.
fn ingest_cli(data: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "ingest",
        "-q",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sp_impact(&args)
}

/// The loaded hospital rows (every contract column, not the source line), sorted.
fn hospital_rows(out: &Path) -> Vec<Vec<Option<String>>> {
    loaded_rows(out, "hospital_activity", &HOSPITAL_COLUMNS)
}

/// The loaded rows of an extract, the given columns, sorted.
fn loaded_rows(out: &Path, extract: &str, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let path = out.join(format!("data/{extract}.parquet"));
    let columns: Vec<Vec<Option<String>>> = columns
        .iter()
        .map(|column| parquet_column(&path, column))
        .collect();
    let mut rows: Vec<Vec<Option<String>>> = (0..columns[0].len())
        .map(|row| columns.iter().map(|column| column[row].clone()).collect())
        .collect();
    rows.sort();
    rows
}

/// The quality report's entry for one file.
fn file_report(out: &Path, file: &str) -> serde_json::Value {
    let report = read_json(&out.join("quality/ingest.json"));
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["file"] == file)
        .unwrap_or_else(|| panic!("no report for {file}"))
        .clone()
}

#[test]
fn every_hospital_layout_loads_exactly_the_rows_of_its_contract_shaped_twin() {
    let profiles = fixtures().join("profiles");
    let twin_dir = tempfile::tempdir().unwrap();
    let twin = hospital_rows(&ingest(
        twin_dir.path(),
        &profiles.join("hospital_activity.csv"),
    ));
    assert_eq!(twin.len(), 12);
    // Each folder, and the prefix of the layouts its files are read as.
    let dialects = [
        ("ncdr", "ncdr"),
        ("ncdr-episodes", "ncdr"),
        ("sus-unified", "sus-unified"),
        ("hes", "hes"),
    ];
    for (dialect, layout) in dialects {
        let work = tempfile::tempdir().unwrap();
        let out = ingest(work.path(), &profiles.join(dialect));
        assert_eq!(hospital_rows(&out), twin, "{dialect}");

        let report = read_json(&out.join("quality/ingest.json"));
        let files: Vec<&serde_json::Value> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|file| file["extract"] == "hospital_activity")
            .collect();
        assert_eq!(
            files.len(),
            3,
            "{dialect}: three files feed hospital activity"
        );
        for file in &files {
            assert!(file["profile"].as_str().unwrap().starts_with(layout));
            assert_eq!(file["linkage_rate"], 1.0, "{dialect}: {file}");
            assert_eq!(file["reconciled"], true, "{dialect}: {file}");
            assert_eq!(file["rows_quarantined"], 0, "{dialect}: {file}");
        }
        let total =
            |key: &str| -> u64 { files.iter().map(|file| file[key].as_u64().unwrap()).sum() };
        // Two ambulance arrivals are also ambulance conveyances.
        assert_eq!(total("rows_added"), 2, "{dialect}");
        assert_eq!(
            total("rows_read") + total("rows_added"),
            total("rows_loaded") + total("rows_excluded")
        );
        assert_eq!(total("rows_loaded"), 12, "{dialect}");
    }
}

#[test]
fn every_gp_system_layout_loads_the_rows_of_its_contract_shaped_twin() {
    let twin_dir = tempfile::tempdir().unwrap();
    let twin_out = ingest_extract(
        twin_dir.path(),
        "gp_appointments",
        &fixtures().join("models/gp_appointments.csv"),
    );
    // Each layout is compared on the columns it carries (SRAppointment has no contact mode
    // beyond a telephone flag; EMIS slots have neither a mode nor cancellations).
    let carried_by_systmone = [
        "person_id",
        "appointment_date",
        "status",
        "hcp_type",
        "duration_minutes",
    ];
    let carried_by_emis = [
        "person_id",
        "appointment_date",
        "status",
        "hcp_type",
        "duration_minutes",
    ];
    let every_column: Vec<&str> = sp_impact::ingest::contracts::gp_appointments::CONTRACT
        .columns
        .iter()
        .map(|spec| spec.name)
        .collect();
    let layouts: [(&str, &str, &[&str], bool, u64); 3] = [
        ("olids", "olids-appointments", &every_column, true, 2),
        (
            "systmone",
            "systmone-appointments",
            &carried_by_systmone,
            true,
            3,
        ),
        ("emis", "emis-appointments", &carried_by_emis, false, 2),
    ];
    for (folder, profile, columns, holds_cancellations, excluded) in layouts {
        let cancelled = Some("cancelled".to_string());
        let twin: Vec<Vec<Option<String>>> = loaded_rows(&twin_out, "gp_appointments", columns)
            .into_iter()
            .filter(|row| holds_cancellations || row[2] != cancelled)
            .collect();
        let work = tempfile::tempdir().unwrap();
        let out = ingest_extract(
            work.path(),
            "gp_appointments",
            &fixtures().join("profiles/gp-systems").join(folder),
        );
        assert_eq!(
            loaded_rows(&out, "gp_appointments", columns),
            twin,
            "{folder}"
        );

        let report = read_json(&out.join("quality/ingest.json"));
        let file = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["extract"] == "gp_appointments")
            .unwrap();
        assert_eq!(file["profile"], profile, "{folder}");
        assert_eq!(file["rows_excluded"], excluded, "{folder}: {file}");
        assert_eq!(file["rows_quarantined"], 0, "{folder}: {file}");
        assert_eq!(file["reconciled"], true, "{folder}: {file}");
    }
}

#[test]
fn a_systmone_appointment_file_without_the_staff_role_says_how_to_add_it() {
    let work = tempfile::tempdir().unwrap();
    let layouts = work.path().join("layouts");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("SRAppointment.csv"),
        "RowIdentifier,DateStart,AppointmentStatus,IDProfileClinician,IDPatient\n\
         1,30/10/2022 09:10:00,Finished,50,A\n",
    )
    .unwrap();
    let data = data_folder_for(work.path(), "gp_appointments", &layouts);
    let run = ingest_cli(&data, &work.path().join("out"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for expected in [
        "SRAppointment.csv",
        "systmone-appointments",
        "lacks column 'StaffRole'",
        "join SRStaffMemberProfile on IDProfileClinician = RowIdentifier",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}

#[test]
fn excluded_rows_are_counted_by_the_rule_that_dropped_them() {
    let work = tempfile::tempdir().unwrap();
    let out = ingest(work.path(), &fixtures().join("profiles/hes"));
    let apc = file_report(&out, "hes_apc_2223.csv");
    assert_eq!(apc["profile"], "hes-apc");
    let excluded = &apc["excluded_by_reason"];
    assert_eq!(
        excluded["maternity admission or birth (not an elective or emergency admission)"],
        1
    );
    assert_eq!(
        excluded["regular day or night attender (not an admission)"],
        1
    );
    assert_eq!(excluded["unfinished episode (EPISTAT not 3)"], 1);
    assert_eq!(
        excluded["not the discharge episode of its spell (a spell is counted once, at its last episode)"],
        2,
        "the first episodes of the two two-episode emergency spells"
    );
}

#[test]
fn a_bad_code_in_a_profiled_file_is_quarantined_naming_the_source_column() {
    let work = tempfile::tempdir().unwrap();
    let layouts = work.path().join("layouts");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("opa.csv"),
        "Der_Pseudo_NHS_Number,Appointment_Date,Attendance_Status\n\
         A,2023-03-01,5\n\
         A,2023-03-02,8\n\
         A,2023-13-02,5\n\
         Z,2023-03-05,5\n",
    )
    .unwrap();
    let out = ingest(work.path(), &layouts);
    let quarantine = out.join("quality/quarantine/hospital_activity.parquet");
    assert_eq!(
        parquet_column(&quarantine, "column"),
        [
            Some("Attendance_Status".to_string()),
            Some("Appointment_Date".to_string()),
            Some("Der_Pseudo_NHS_Number".to_string())
        ]
    );
    assert_eq!(
        parquet_column(&quarantine, "raw_value"),
        [
            Some("8".to_string()),
            Some("2023-13-02".to_string()),
            Some("Z".to_string())
        ]
    );
    assert_eq!(
        parquet_column(&quarantine, "file"),
        vec![Some("opa.csv".to_string()); 3]
    );
    // One of the two rows that reached the person check links to patients: a warning.
    let opa = file_report(&out, "opa.csv");
    assert_eq!(opa["linkage_rate"], 0.5);
    assert!(
        opa["warnings"]
            .to_string()
            .contains("only 50.0% of rows have a person_id found in patients"),
        "{opa}"
    );
    let detail = parquet_column(&quarantine, "detail");
    assert!(
        detail[0].as_deref().unwrap().contains("ncdr-opa"),
        "{detail:?}"
    );
    assert!(
        detail[1]
            .as_deref()
            .unwrap()
            .contains("read into activity_date"),
        "{detail:?}"
    );
}

#[test]
fn a_data_file_no_layout_fits_is_an_error_naming_the_nearest_layouts() {
    let work = tempfile::tempdir().unwrap();
    let layouts = work.path().join("layouts");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("apcs.csv"),
        "Der_Pseudo_NHS_Number,Admission_Date,Discharge_Date\nA,2023-01-01,2023-01-02\n",
    )
    .unwrap();
    let data = data_folder(work.path(), &layouts);
    let run = ingest_cli(&data, &work.path().join("out"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("apcs.csv"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "ncdr-apcs (SUS+/NCDR admitted patient care spells (APCS)) lacks Admission_Method"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn inspect_shows_the_layout_mapping_values_and_linkage_of_each_file() {
    let work = tempfile::tempdir().unwrap();
    let layouts = work.path().join("layouts");
    std::fs::create_dir_all(&layouts).unwrap();
    copy_files(&fixtures().join("profiles/ncdr"), &layouts);
    std::fs::write(
        layouts.join("opa_2023.csv"),
        "Der_Pseudo_NHS_Number,Appointment_Date,Attendance_Status,Clinic\n\
         A,2023-03-01,5,X1\n\
         A,2023-03-02,2,X1\n\
         Z,2023-03-05,8,X1\n",
    )
    .unwrap();
    std::fs::write(layouts.join("mystery.csv"), "NHSNO,When\n1,2023-01-01\n").unwrap();
    let data = data_folder(work.path(), &layouts);
    let run = sp_impact(&["inspect", "--data", data.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout;
    let section = |file: &str| -> String {
        let start = text
            .find(&format!("{file}  ->"))
            .unwrap_or_else(|| panic!("{file}:\n{text}"));
        let rest = &text[start..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
    };
    let apcs = section("apcs_2023.csv");
    assert!(
        apcs.contains("hospital_activity, read as ncdr-apcs"),
        "{apcs}"
    );
    assert!(
        apcs.contains("why: its header has Admission_Date, Admission_Method"),
        "{apcs}"
    );
    assert!(
        apcs.contains(
            "setting                 <- Admission_Method (through code map 'admission_method')"
        ),
        "{apcs}"
    );
    assert!(
        apcs.contains("not used: APCS_Ident, Der_Provider_Code, Der_Dominant_Treatment_Function"),
        "{apcs}"
    );
    assert!(
        apcs.contains("11 x2 -> setting elective_admission"),
        "{apcs}"
    );
    assert!(
        apcs.contains("31 x1 -> not counted (maternity admission or birth"),
        "{apcs}"
    );
    assert!(apcs.contains("outcome: 4 rows would load (0 of them added by the layout's rules), 0 would be quarantined, 3 not counted"), "{apcs}");
    assert!(
        apcs.contains("person ids: 3 distinct, 3 found in patients (100.0%)"),
        "{apcs}"
    );
    let ec = section("ec_2023.csv");
    assert!(
        ec.contains("1048031000000100 x2 -> also ambulance conveyance (arrival by ambulance)"),
        "{ec}"
    );
    let opa = section("opa_2023.csv");
    assert!(opa.contains("5 x1 -> attended true"), "{opa}");
    assert!(
        opa.contains("2 x1 -> not counted (appointment cancelled"),
        "{opa}"
    );
    assert!(opa.contains("8 x1 -> UNMAPPED (quarantined)"), "{opa}");
    assert!(opa.contains("outcome: 1 rows would load (0 of them added by the layout's rules), 1 would be quarantined, 1 not counted"), "{opa}");
    assert!(
        opa.contains("person ids: 2 distinct, 1 found in patients (50.0%)"),
        "{opa}"
    );
    assert!(
        opa.contains("note: column 'First_Attendance' is absent"),
        "{opa}"
    );
    let mystery = section("mystery.csv");
    assert!(mystery.contains("NOT RECOGNISED"), "{mystery}");
    let gp = section("gp_appointments.csv");
    assert!(gp.contains("contract-shaped"), "{gp}");
    assert!(gp.contains("status: attended x"), "{gp}");
}

#[test]
fn a_starter_profile_for_an_unknown_export_reads_it_once_its_codes_are_mapped() {
    let work = tempfile::tempdir().unwrap();
    let layouts = work.path().join("layouts");
    std::fs::create_dir_all(&layouts).unwrap();
    // A GP system's appointment export in its own words (not a built-in layout).
    std::fs::write(
        layouts.join("practice_appts.csv"),
        "Patient Ref,Appointment Status,Appointment Date,Clinician Role,Mode,Duration\n\
         A,Finished,2023-02-01,GP,Face to face,10\n\
         A,Did Not Attend,2023-02-08,Nurse,Face to face,\n\
         B,Finished,2023-02-09,GP,Telephone,5\n",
    )
    .unwrap();
    let data = data_folder(work.path(), &layouts);
    std::fs::remove_file(data.join("gp_appointments.csv")).unwrap();
    let starter = work.path().join("practice.toml");
    let run = sp_impact(&[
        "inspect",
        "--data",
        data.to_str().unwrap(),
        "--write-profile",
        starter.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("practice_appts.csv  ->  NOT RECOGNISED")
    );
    let text = std::fs::read_to_string(&starter).unwrap();
    assert!(text.contains("extract = \"gp_appointments\""), "{text}");
    for (to, from) in [
        ("person_id", "Patient Ref"),
        ("appointment_date", "Appointment Date"),
        ("status", "Appointment Status"),
        ("hcp_type", "Clinician Role"),
        ("mode", "Mode"),
        ("duration_minutes", "Duration"),
    ] {
        assert!(
            text.contains(&format!("to = \"{to}\"\nfrom = \"{from}\"")),
            "{to} <- {from}:\n{text}"
        );
    }
    assert!(text.contains("# \"Did Not Attend\" = \"\""), "{text}");

    // The user maps the status and mode words; the file then loads through the profile.
    let edited =
        text.replace(
            "to = \"status\"\nfrom = \"Appointment Status\"",
            "to = \"status\"\nfrom = \"Appointment Status\"\ncodes = \"status\"",
        )
        .replace(
            "to = \"mode\"\nfrom = \"Mode\"",
            "to = \"mode\"\nfrom = \"Mode\"\ncodes = \"mode\"",
        ) + "\n[codes.status]\n\"Finished\" = \"attended\"\n\"Did Not Attend\" = \"dna\"\n\
           [codes.mode]\n\"Face to face\" = \"face_to_face\"\n\"Telephone\" = \"telephone\"\n";
    std::fs::write(&starter, edited).unwrap();
    let out = work.path().join("out");
    let run = ingest_cli(&data, &out, &["--profile", starter.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let loaded = out.join("data/gp_appointments.parquet");
    assert_eq!(
        parquet_column(&loaded, "status"),
        [
            Some("attended".into()),
            Some("dna".into()),
            Some("attended".into())
        ]
    );
    assert_eq!(
        parquet_column(&loaded, "hcp_type"),
        [Some("gp".into()), Some("nurse".into()), Some("gp".into())]
    );
    assert_eq!(
        file_report(&out, "practice_appts.csv")["profile"],
        "practice-appts"
    );

    // A profile that reuses a built-in name is refused, naming the file.
    std::fs::write(
        &starter,
        std::fs::read_to_string(&starter)
            .unwrap()
            .replace("name = \"practice-appts\"", "name = \"ncdr-apcs\""),
    )
    .unwrap();
    let run = sp_impact(&[
        "inspect",
        "--data",
        data.to_str().unwrap(),
        "--profile",
        starter.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("practice.toml") && run.stderr.contains("already a layout"),
        "{}",
        run.stderr
    );
}

/// A data folder with the golden fixture's extracts but `referrals` from `referrals_dir`.
fn ingest_with_referrals(root: &Path, referrals: &Path) -> std::path::PathBuf {
    let data = data_folder(root, &fixtures().join("profiles/hospital_activity.csv"));
    std::fs::remove_file(data.join("referrals.csv")).unwrap();
    std::fs::copy(referrals, data.join(referrals.file_name().unwrap())).unwrap();
    let out = root.join("out");
    let run = ingest_cli(&data, &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

#[test]
fn coded_gp_events_load_as_the_referrals_they_record() {
    let fixture = fixtures().join("profiles/referrals");
    let rows = |out: &Path| -> Vec<Vec<Option<String>>> {
        let path = out.join("data/referrals.parquet");
        let columns: Vec<Vec<Option<String>>> = [
            "referral_id",
            "person_id",
            "referral_date",
            "snomed_code",
            "status",
        ]
        .iter()
        .map(|column| parquet_column(&path, column))
        .collect();
        let mut rows: Vec<Vec<Option<String>>> = (0..columns[0].len())
            .map(|row| columns.iter().map(|column| column[row].clone()).collect())
            .collect();
        rows.sort();
        rows
    };
    let twin = tempfile::tempdir().unwrap();
    let expected = rows(&ingest_with_referrals(
        twin.path(),
        &fixture.join("referrals.csv"),
    ));
    assert_eq!(expected.len(), 5);
    let coded = tempfile::tempdir().unwrap();
    let out = ingest_with_referrals(coded.path(), &fixture.join("coded_events.csv"));
    assert_eq!(rows(&out), expected);
    let report = file_report(&out, "coded_events.csv");
    assert_eq!(report["profile"], "gp-coded-referrals");
    assert_eq!(
        report["excluded_by_reason"]["not a social prescribing referral or decline code"],
        2
    );
    // The same code twice on one day is one referral recorded twice.
    assert_eq!(report["quarantined_by_reason"]["duplicate_key"], 1);

    // The referrals coded in CTV3 (XaaEC; CTV3 has no decline code): the same rows but the
    // decline, with identifiers made from the CTV3 code.
    let without_id = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<Option<String>>> {
        let mut rows: Vec<Vec<Option<String>>> =
            rows.into_iter().map(|row| row[1..].to_vec()).collect();
        rows.sort();
        rows
    };
    let referral = Some("871731000000106".to_string());
    let referrals_only: Vec<Vec<Option<String>>> = without_id(expected)
        .into_iter()
        .filter(|row| row[2] == referral)
        .collect();
    assert_eq!(referrals_only.len(), 4);
    let ctv3 = tempfile::tempdir().unwrap();
    let out = ingest_with_referrals(ctv3.path(), &fixture.join("coded_events_ctv3.csv"));
    assert_eq!(without_id(rows(&out)), referrals_only);
    let report = file_report(&out, "coded_events_ctv3.csv");
    assert_eq!(report["profile"], "gp-coded-referrals-ctv3");
    assert_eq!(report["rows_excluded"], 2);
}

#[test]
fn questionnaires_exported_one_row_per_item_load_as_the_wide_questionnaires() {
    let wellbeing_rows = |out: &Path| -> Vec<Vec<Option<String>>> {
        let path = out.join("data/wellbeing.parquet");
        let mut columns = vec![
            "person_id",
            "referral_id",
            "survey_date",
            "instrument",
            "score",
            "score_source",
        ];
        let items: Vec<String> = (1..=14).map(|k| format!("item_{k}")).collect();
        columns.extend(items.iter().map(String::as_str));
        let values: Vec<Vec<Option<String>>> = columns
            .iter()
            .map(|column| parquet_column(&path, column))
            .collect();
        (0..values[0].len())
            .map(|row| values.iter().map(|column| column[row].clone()).collect())
            .collect()
    };
    let twin = tempfile::tempdir().unwrap();
    let expected = wellbeing_rows(&ingest(
        twin.path(),
        &fixtures().join("profiles/hospital_activity.csv"),
    ));
    assert_eq!(expected.len(), 11);

    let work = tempfile::tempdir().unwrap();
    let data = data_folder(
        work.path(),
        &fixtures().join("profiles/hospital_activity.csv"),
    );
    std::fs::remove_file(data.join("wellbeing.csv")).unwrap();
    std::fs::copy(
        fixtures().join("profiles/wellbeing/tracker_export.csv"),
        data.join("tracker_export.csv"),
    )
    .unwrap();
    let out = work.path().join("out");
    let run = ingest_cli(&data, &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Same questionnaires, same order, same scores (computed from the combined items).
    assert_eq!(wellbeing_rows(&out), expected);
    let report = file_report(&out, "tracker_export.csv");
    assert_eq!(report["profile"], "long-questionnaires");
    assert_eq!(report["rows_read"], 98);
    assert_eq!(report["rows_loaded"], 11);
    assert_eq!(report["rows_combined"], 85);
    assert_eq!(report["rows_quarantined"], 2);
    assert_eq!(report["reconciled"], true);
    let quarantine = out.join("quality/quarantine/wellbeing.parquet");
    assert_eq!(
        parquet_column(&quarantine, "column"),
        [Some("item".to_string()), Some("item".to_string())]
    );
    let detail = parquet_column(&quarantine, "detail");
    assert!(
        detail[0]
            .as_deref()
            .unwrap()
            .contains("item_1 of this questionnaire was already given on line 2"),
        "{detail:?}"
    );
    assert!(
        detail[1]
            .as_deref()
            .unwrap()
            .contains("'Q15' is not an item of WEMWBS"),
        "{detail:?}"
    );
}

#[test]
fn an_extract_fed_by_both_shapes_is_flagged_as_possibly_double_counted() {
    let work = tempfile::tempdir().unwrap();
    let data = data_folder(
        work.path(),
        &fixtures().join("profiles/hospital_activity.csv"),
    );
    std::fs::copy(
        fixtures().join("profiles/ncdr/opa_2023.csv"),
        data.join("opa_2023.csv"),
    )
    .unwrap();
    let out = work.path().join("out");
    let run = ingest_cli(&data, &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in ["hospital_activity.csv", "opa_2023.csv"] {
        let warnings = file_report(&out, file)["warnings"].to_string();
        assert!(
            warnings.contains("fed both by a file named after it and by files in source layouts"),
            "{file}: {warnings}"
        );
    }
    assert!(
        !file_report(&out, "patients.csv")["warnings"]
            .to_string()
            .contains("fed both")
    );
}

#[test]
fn a_spreadsheet_in_the_data_folder_is_an_error_not_silently_skipped() {
    let work = tempfile::tempdir().unwrap();
    let data = data_folder(
        work.path(),
        &fixtures().join("profiles/hospital_activity.csv"),
    );
    std::fs::write(data.join("apcs.xlsx"), b"PK\x03\x04").unwrap();
    let run = ingest_cli(&data, &work.path().join("out"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("apcs.xlsx") && run.stderr.contains("save each sheet as CSV"),
        "{}",
        run.stderr
    );
}
