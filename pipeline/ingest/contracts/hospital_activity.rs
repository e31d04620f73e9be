//! `hospital_activity.csv` (optional): one row per A&E attendance, outpatient appointment,
//! admission or ambulance conveyance (design section 3).

use crate::ingest::contract::{ColumnSpec, Contract, Kind, Row, RowProblem, check_not_before};
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

pub static CONTRACT: Contract = Contract {
    name: "hospital_activity",
    required: false,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::required("activity_date", Kind::Date),
        ColumnSpec::required("setting", Kind::Code(&SETTING)),
        ColumnSpec::optional("discharge_date", Kind::Date),
        ColumnSpec::optional("attended", Kind::Bool),
    ],
    derived: &[],
    unique_key: None,
    rules,
};

fn rules(row: &mut Row<'_>) -> Result<(), RowProblem> {
    check_not_before(row, "activity_date", "discharge_date")
}
