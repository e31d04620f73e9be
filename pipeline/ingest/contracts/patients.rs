//! `patients.csv`: the registered population of the participating practices, one row per
//! person, referred or not.

use crate::ingest::contract::{ColumnSpec, Contract, Kind, Row, RowProblem, check_not_before};
use chrono::Datelike;

use crate::calendar::date_from_days;
use crate::ingest::fields::CodeSet;
use crate::ingest::quarantine::Reason;

/// Sex: words, or the NHS Data Dictionary PERSON STATED GENDER codes 1/2/9/X.
pub static SEX: CodeSet = CodeSet {
    name: "sex",
    spellings: &[
        ("male", "male"),
        ("m", "male"),
        ("1", "male"),
        ("female", "female"),
        ("f", "female"),
        ("2", "female"),
        ("indeterminate", "indeterminate"),
        ("9", "indeterminate"),
        ("unknown", "unknown"),
        ("u", "unknown"),
        ("x", "unknown"),
        ("not known", "unknown"),
    ],
};

/// NHS Data Dictionary ETHNIC CATEGORY (2001 census 16+1): A-H, J-N, P, R, S, Z not stated,
/// 99 not known (NHS Data Dictionary ETHNIC CATEGORY; docs/domain.md, Ethnicity).
pub static ETHNIC_CATEGORY: CodeSet = CodeSet {
    name: "NHS ethnic category",
    spellings: &[
        ("a", "A"),
        ("b", "B"),
        ("c", "C"),
        ("d", "D"),
        ("e", "E"),
        ("f", "F"),
        ("g", "G"),
        ("h", "H"),
        ("j", "J"),
        ("k", "K"),
        ("l", "L"),
        ("m", "M"),
        ("n", "N"),
        ("p", "P"),
        ("r", "R"),
        ("s", "S"),
        ("z", "Z"),
        ("99", "99"),
    ],
};

/// Latest year of birth accepted; ingest has no study dates, so the upper bound is fixed
/// rather than read from the clock, keeping reruns byte-identical.
pub const LATEST_YEAR_OF_BIRTH: i64 = 2100;

pub static CONTRACT: Contract = Contract {
    name: "patients",
    required: true,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::required("practice_code", Kind::Text),
        ColumnSpec::required(
            "year_of_birth",
            Kind::Int {
                min: 1900,
                max: LATEST_YEAR_OF_BIRTH,
            },
        ),
        ColumnSpec::required("sex", Kind::Code(&SEX)),
        ColumnSpec::optional("ethnic_category", Kind::Code(&ETHNIC_CATEGORY)).blank_means("99"),
        ColumnSpec::optional("imd_decile", Kind::Int { min: 1, max: 10 }),
        ColumnSpec::optional("ltc_count", Kind::Int { min: 0, max: 100 }),
        ColumnSpec::required("registered_from", Kind::Date),
        ColumnSpec::optional("registered_to", Kind::Date),
        ColumnSpec::optional("date_of_death", Kind::Date),
    ],
    derived: &[],
    unique_key: Some("person_id"),
    rules,
    references: &[],
};

fn rules(row: &mut Row<'_>) -> Result<(), RowProblem> {
    check_not_before(row, "registered_from", "registered_to")?;
    if let (Some(death), Some(year_of_birth)) = (
        row.get("date_of_death").as_date(),
        row.get("year_of_birth").as_int(),
    ) && date_from_days(death).is_some_and(|death| i64::from(death.year()) < year_of_birth)
    {
        return Err(RowProblem::new(
            "date_of_death",
            Reason::DateOrder,
            "date_of_death is before year_of_birth",
        ));
    }
    Ok(())
}
