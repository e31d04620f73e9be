//! `gp_appointments.csv`: one row per general-practice appointment.
//! GP demand is derived later (attended gp/nurse/other_clinical); ingest keeps every row.

use crate::ingest::contract::{ColumnSpec, Contract, Kind, PERSON};
use crate::ingest::fields::CodeSet;

pub static STATUS: CodeSet = CodeSet {
    name: "appointment status",
    spellings: &[
        ("attended", "attended"),
        ("dna", "dna"),
        ("did not attend", "dna"),
        ("cancelled", "cancelled"),
        ("unknown", "unknown"),
    ],
};

pub static HCP_TYPE: CodeSet = CodeSet {
    name: "clinician type",
    spellings: &[
        ("gp", "gp"),
        ("nurse", "nurse"),
        ("other_clinical", "other_clinical"),
        ("social_prescriber", "social_prescriber"),
        ("admin", "admin"),
        ("unknown", "unknown"),
    ],
};

pub static MODE: CodeSet = CodeSet {
    name: "appointment mode",
    spellings: &[
        ("face_to_face", "face_to_face"),
        ("telephone", "telephone"),
        ("video", "video"),
        ("online", "online"),
        ("home_visit", "home_visit"),
        ("unknown", "unknown"),
    ],
};

pub static CONTRACT: Contract = Contract {
    name: "gp_appointments",
    required: true,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::required("appointment_date", Kind::Date),
        ColumnSpec::required("status", Kind::Code(&STATUS)),
        ColumnSpec::required("hcp_type", Kind::Code(&HCP_TYPE)),
        ColumnSpec::required("mode", Kind::Code(&MODE)),
        ColumnSpec::optional("duration_minutes", Kind::Int { min: 0, max: 480 }),
    ],
    derived: &[],
    unique_key: None,
    rules: super::no_rules,
    references: &[PERSON],
};
