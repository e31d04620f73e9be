//! `wellbeing.csv`: one row per completed questionnaire.
//!
//! Items are checked against their instrument (from [`crate::measures`]): items past the
//! instrument's count must be blank and each response must be in the instrument's range. The
//! `score` column written out is the score to analyse: computed from the items when all are
//! present; the vendor's total only when no items were given (and only if it is a possible
//! score); blank when an item is missing (kept and flagged, not scored) and always blank for
//! ONS4, whose items are never summed. `score_source` says which: `items`, `vendor` or
//! `incomplete_items`.

use crate::ingest::contract::{
    ColumnSpec, Contract, Kind, PERSON, REFERRAL, Row, RowProblem, Value,
};
use crate::ingest::fields::CodeSet;
use crate::ingest::quarantine::Reason;
use crate::measures::{self, MAX_ITEMS};

/// Item columns accept any response a supported instrument allows (0..10); the instrument's
/// own range is checked by the rules.
const ITEM: Kind = Kind::Int { min: 0, max: 10 };

pub const ITEM_COLUMNS: [&str; MAX_ITEMS] = [
    "item_1", "item_2", "item_3", "item_4", "item_5", "item_6", "item_7", "item_8", "item_9",
    "item_10", "item_11", "item_12", "item_13", "item_14",
];

pub static SCORE_SOURCE: CodeSet = CodeSet {
    name: "score source",
    spellings: &[
        ("items", "items"),
        ("vendor", "vendor"),
        ("incomplete_items", "incomplete_items"),
    ],
};

pub static CONTRACT: Contract = Contract {
    name: "wellbeing",
    required: true,
    columns: &[
        ColumnSpec::required("person_id", Kind::Text),
        ColumnSpec::optional("referral_id", Kind::Text),
        ColumnSpec::required("survey_date", Kind::Date),
        ColumnSpec::required("instrument", Kind::Text),
        ColumnSpec::optional(ITEM_COLUMNS[0], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[1], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[2], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[3], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[4], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[5], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[6], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[7], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[8], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[9], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[10], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[11], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[12], ITEM),
        ColumnSpec::optional(ITEM_COLUMNS[13], ITEM),
        ColumnSpec::optional(
            "score",
            Kind::Number {
                min: 0.0,
                max: 100.0,
            },
        ),
    ],
    derived: &[ColumnSpec::required(
        "score_source",
        Kind::Code(&SCORE_SOURCE),
    )],
    unique_key: None,
    rules,
    references: &[PERSON, REFERRAL],
};

fn rules(row: &mut Row<'_>) -> Result<(), RowProblem> {
    let raw_instrument = row
        .get("instrument")
        .as_text()
        .unwrap_or_default()
        .to_string();
    let instrument = measures::instrument(&raw_instrument).ok_or_else(|| {
        let known: Vec<&str> = measures::INSTRUMENTS.iter().map(|i| i.code).collect();
        RowProblem::new(
            "instrument",
            Reason::UnknownCode,
            format!(
                "'{raw_instrument}' is not a known instrument ({})",
                known.join(", ")
            ),
        )
    })?;
    row.set("instrument", Value::Code(instrument.code));

    let mut items = Vec::with_capacity(instrument.items);
    for (position, column) in ITEM_COLUMNS.iter().enumerate() {
        let response = row.get(column).as_int();
        if position >= instrument.items {
            if response.is_some() {
                return Err(RowProblem::new(
                    column,
                    Reason::InvalidItems,
                    format!(
                        "{} has {} items, so {column} must be blank",
                        instrument.code, instrument.items
                    ),
                ));
            }
            continue;
        }
        if let Some(value) = response
            && !(i64::from(instrument.item_min)..=i64::from(instrument.item_max)).contains(&value)
        {
            return Err(RowProblem::new(
                column,
                Reason::OutOfRange,
                format!(
                    "{} items are {}..{}, not {value}",
                    instrument.code, instrument.item_min, instrument.item_max
                ),
            ));
        }
        items.push(response.map(|value| value as i32));
    }

    let vendor_score = row.get("score").as_number();
    let answered = items.iter().filter(|item| item.is_some()).count();
    let (score, source) = if answered == instrument.items {
        let computed = instrument.score(&items);
        match (computed, vendor_score) {
            (Some(computed), Some(vendor)) if (computed - vendor).abs() > 0.005 => {
                return Err(RowProblem::new(
                    "score",
                    Reason::ScoreMismatch,
                    format!("score {vendor} disagrees with the items, which score {computed}"),
                ));
            }
            (None, Some(_)) => {
                return Err(RowProblem::new(
                    "score",
                    Reason::ScoreMismatch,
                    format!(
                        "{} items are analysed separately and have no total score",
                        instrument.code
                    ),
                ));
            }
            _ => (computed, "items"),
        }
    } else if answered > 0 {
        (None, "incomplete_items")
    } else {
        match vendor_score {
            Some(vendor) if instrument.is_possible_score(vendor) => (Some(vendor), "vendor"),
            Some(vendor) => {
                return Err(RowProblem::new(
                    "score",
                    Reason::ScoreMismatch,
                    format!(
                        "{vendor} is not a possible {} score{}",
                        instrument.code,
                        if instrument.code == "SWEMWBS" {
                            " (SWEMWBS scores must be Rasch-converted metric scores)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            None => {
                return Err(RowProblem::new(
                    "item_1",
                    Reason::InvalidItems,
                    "the questionnaire has no item responses and no score",
                ));
            }
        }
    };
    row.set("score", score.map_or(Value::Null, Value::Number));
    row.set("score_source", Value::Code(source));
    Ok(())
}
