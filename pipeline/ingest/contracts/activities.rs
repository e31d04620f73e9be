//! `activities.csv` (optional): one row per community activity session a referred person was
//! connected to; feeds the "impact on the community" participation measures.

use crate::ingest::contract::{ColumnSpec, Contract, Kind, PERSON, REFERRAL};
use crate::ingest::fields::CodeSet;

pub static ACTIVITY_TYPE: CodeSet = CodeSet {
    name: "activity type",
    spellings: &[
        ("physical_activity", "physical_activity"),
        ("arts_creative", "arts_creative"),
        ("learning", "learning"),
        ("peer_support", "peer_support"),
        ("practical_advice", "practical_advice"),
        ("volunteering", "volunteering"),
        ("nature_based", "nature_based"),
        ("befriending", "befriending"),
        ("other", "other"),
    ],
};

pub static CONTRACT: Contract = Contract {
    name: "activities",
    required: false,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::optional("referral_id", Kind::Text),
        ColumnSpec::required("activity_date", Kind::Date),
        ColumnSpec::required("activity_type", Kind::Code(&ACTIVITY_TYPE)),
        ColumnSpec::optional("provider", Kind::Text),
        ColumnSpec::required("attended", Kind::Bool),
    ],
    derived: &[],
    unique_key: None,
    rules: super::no_rules,
    references: &[PERSON, REFERRAL],
};
