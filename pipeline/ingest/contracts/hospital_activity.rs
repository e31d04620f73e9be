//! `hospital_activity.csv` (optional): one row per A&E attendance, outpatient appointment,
//! admission or ambulance conveyance.

use crate::ingest::contract::{
    ColumnSpec, Contract, Kind, PERSON, Row, RowProblem, check_not_before,
};
use crate::ingest::fields::CodeSet;

pub static SETTING: CodeSet = CodeSet {
    name: "hospital setting",
    spellings: &[
        ("ae", "ae"),
        ("a&e", "ae"),
        ("outpatient", "outpatient"),
        ("elective_admission", "elective_admission"),
        ("emergency_admission", "emergency_admission"),
        ("ambulance", "ambulance"),
    ],
};

/// Patient classification of an admission (NHS Data Dictionary, PATIENT CLASSIFICATION):
/// ordinary admission or day case. Regular day and night attenders are not admissions and
/// have no code here (profiles exclude them). Blank means an ordinary admission.
pub static PATIENT_CLASSIFICATION: CodeSet = CodeSet {
    name: "patient classification",
    spellings: &[
        ("ordinary", "ordinary"),
        ("day_case", "day_case"),
        ("day case", "day_case"),
    ],
};

/// Emergency care department type (NHS Data Dictionary, EMERGENCY CARE DEPARTMENT TYPE):
/// 01 consultant-led 24-hour major emergency department, 02 consultant-led single-specialty
/// department, 03 other department (urgent treatment centre, minor injury unit), 04 NHS
/// walk-in centre (retired in 2019, still seen in older data). Blank means not recorded.
pub static DEPARTMENT_TYPE: CodeSet = CodeSet {
    name: "emergency care department type",
    spellings: &[
        ("01", "01"),
        ("1", "01"),
        ("02", "02"),
        ("2", "02"),
        ("03", "03"),
        ("3", "03"),
        ("04", "04"),
        ("4", "04"),
    ],
};

pub static CONTRACT: Contract = Contract {
    name: "hospital_activity",
    required: false,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::required("activity_date", Kind::Date),
        ColumnSpec::required("setting", Kind::Code(&SETTING)),
        ColumnSpec::optional("discharge_date", Kind::Date),
        ColumnSpec::optional("attended", Kind::Bool),
        ColumnSpec::optional(
            "patient_classification",
            Kind::Code(&PATIENT_CLASSIFICATION),
        ),
        ColumnSpec::optional("department_type", Kind::Code(&DEPARTMENT_TYPE)),
        // The record's own cost in pounds (e.g. the SUS tariff final price), used instead of
        // the unit-cost rules when study.toml says `[costs] hospital = "record"`.
        ColumnSpec::optional(
            "cost_gbp",
            Kind::Number {
                min: 0.0,
                max: 10_000_000.0,
            },
        ),
    ],
    derived: &[],
    unique_key: None,
    rules,
    references: &[PERSON],
};

fn rules(row: &mut Row<'_>) -> Result<(), RowProblem> {
    check_not_before(row, "activity_date", "discharge_date")
}
