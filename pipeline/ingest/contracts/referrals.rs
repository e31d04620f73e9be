//! `referrals.csv`: one row per referral to a social prescribing link worker. SNOMED CT
//! codes: docs/domain.md, Referral codes.

use crate::ingest::contract::{
    ColumnSpec, Contract, Kind, PERSON, Row, RowProblem, check_not_before,
};
use crate::ingest::fields::CodeSet;

/// SNOMED CT 871731000000106 "Referral to social prescribing service (procedure)".
pub const SNOMED_REFERRAL: &str = "871731000000106";
/// SNOMED CT 871711000000103 "Social prescribing declined (situation)".
pub const SNOMED_DECLINED: &str = "871711000000103";

pub static REFERRAL_SOURCE: CodeSet = CodeSet {
    name: "referral source",
    spellings: &[
        ("gp", "gp"),
        ("nurse", "nurse"),
        ("other_primary_care", "other_primary_care"),
        ("secondary_care", "secondary_care"),
        ("local_authority", "local_authority"),
        ("vcse", "vcse"),
        ("self", "self"),
        ("other", "other"),
    ],
};

pub static REFERRAL_REASON: CodeSet = CodeSet {
    name: "referral reason",
    spellings: &[
        ("mental_wellbeing", "mental_wellbeing"),
        ("loneliness_isolation", "loneliness_isolation"),
        ("physical_activity", "physical_activity"),
        ("long_term_condition", "long_term_condition"),
        ("financial", "financial"),
        ("housing", "housing"),
        ("employment", "employment"),
        ("carer_support", "carer_support"),
        ("bereavement", "bereavement"),
        ("other", "other"),
    ],
};

pub static REFERRAL_STATUS: CodeSet = CodeSet {
    name: "referral status",
    spellings: &[
        ("completed", "completed"),
        ("ongoing", "ongoing"),
        ("declined", "declined"),
        ("did_not_engage", "did_not_engage"),
        ("referred_on", "referred_on"),
    ],
};

pub static CONTRACT: Contract = Contract {
    name: "referrals",
    required: true,
    columns: &[
        ColumnSpec::required("referral_id", Kind::Text),
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::required("referral_date", Kind::Date),
        ColumnSpec::optional("snomed_code", Kind::Text),
        ColumnSpec::optional("referral_source", Kind::Code(&REFERRAL_SOURCE)),
        ColumnSpec::optional("referral_reasons", Kind::CodeList(&REFERRAL_REASON)),
        ColumnSpec::optional("first_contact_date", Kind::Date),
        ColumnSpec::optional("discharge_date", Kind::Date),
        ColumnSpec::optional(
            "link_worker_contacts",
            Kind::Int {
                min: 0,
                max: 10_000,
            },
        ),
        ColumnSpec::optional("status", Kind::Code(&REFERRAL_STATUS)),
    ],
    derived: &[],
    unique_key: Some("referral_id"),
    rules,
    references: &[PERSON],
};

fn rules(row: &mut Row<'_>) -> Result<(), RowProblem> {
    check_not_before(row, "referral_date", "first_contact_date")?;
    check_not_before(row, "referral_date", "discharge_date")
}
