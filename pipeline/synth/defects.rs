//! `--defects RATE`: after a share RATE of clean rows, an extra copy of the row with one
//! contract violation, for robustness tests. Clean rows are never altered, so the truth
//! still holds and ingest must quarantine exactly the injected rows, each for the reason
//! recorded here (the names are ingest's quarantine reasons). Only row-level violations are
//! injected: file-level ones stop ingest by design.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::FILES;
use crate::measures::{self, Scoring};

/// A defect: the quarantine reason ingest must give, and how to make it from a clean row.
#[derive(Debug, Clone, Copy)]
enum Defect {
    /// The clean row again (only extracts with a unique key).
    DuplicateKey,
    /// A value that is not a whole number in an integer column.
    BadNumber(&'static str),
    /// A whole number outside the column's range.
    OutOfRange(&'static str, &'static str),
    /// A code outside the column's code list.
    UnknownCode(&'static str),
    /// An impossible calendar date.
    BadDate(&'static str),
    /// The row's date rewritten DD/MM/YYYY in an ISO file.
    DateFormatMismatch(&'static str),
    /// The second date one day before the first.
    DateOrder(&'static str, &'static str),
    /// A required column left blank.
    MissingRequired(&'static str),
    /// One field more than the header.
    WrongFieldCount,
    /// A person_id that is not in patients.
    OrphanPersonId,
    /// A referral_id that is not in referrals.
    UnknownReferralId,
    /// An NHS number (999 test range) where a pseudonym belongs.
    NhsNumber,
    /// An item past the instrument's item count.
    InvalidItems,
    /// A vendor score that disagrees with complete items.
    ScoreMismatch,
}

impl Defect {
    fn reason(self) -> &'static str {
        match self {
            Defect::DuplicateKey => "duplicate_key",
            Defect::BadNumber(_) => "bad_number",
            Defect::OutOfRange(..) => "out_of_range",
            Defect::UnknownCode(_) => "unknown_code",
            Defect::BadDate(_) => "bad_date",
            Defect::DateFormatMismatch(_) => "date_format_mismatch",
            Defect::DateOrder(..) => "date_order",
            Defect::MissingRequired(_) => "missing_required",
            Defect::WrongFieldCount => "wrong_field_count",
            Defect::OrphanPersonId => "orphan_person_id",
            Defect::UnknownReferralId => "unknown_referral_id",
            Defect::NhsNumber => "nhs_number",
            Defect::InvalidItems => "invalid_items",
            Defect::ScoreMismatch => "score_mismatch",
        }
    }
}

/// The defects each extract can carry, by file (in `FILES` order).
const CLASSES: [&[Defect]; 6] = [
    &[
        Defect::DuplicateKey,
        Defect::BadNumber("year_of_birth"),
        Defect::OutOfRange("imd_decile", "11"),
        Defect::UnknownCode("sex"),
        Defect::BadDate("registered_from"),
        Defect::DateFormatMismatch("registered_from"),
        Defect::DateOrder("registered_from", "registered_to"),
        Defect::MissingRequired("practice_code"),
        Defect::WrongFieldCount,
        Defect::NhsNumber,
    ],
    &[
        Defect::DuplicateKey,
        Defect::OrphanPersonId,
        Defect::UnknownCode("status"),
        Defect::BadDate("referral_date"),
        Defect::DateOrder("referral_date", "discharge_date"),
        Defect::MissingRequired("referral_date"),
        Defect::OutOfRange("link_worker_contacts", "-1"),
        Defect::WrongFieldCount,
    ],
    &[
        Defect::OrphanPersonId,
        Defect::UnknownReferralId,
        Defect::InvalidItems,
        Defect::OutOfRange("item_1", "11"),
        Defect::ScoreMismatch,
        Defect::UnknownCode("instrument"),
        Defect::BadDate("survey_date"),
        Defect::WrongFieldCount,
    ],
    &[
        Defect::OrphanPersonId,
        Defect::UnknownCode("hcp_type"),
        Defect::OutOfRange("duration_minutes", "999"),
        Defect::BadDate("appointment_date"),
        Defect::DateFormatMismatch("appointment_date"),
        Defect::MissingRequired("status"),
        Defect::WrongFieldCount,
    ],
    &[
        Defect::OrphanPersonId,
        Defect::UnknownCode("setting"),
        Defect::DateOrder("activity_date", "discharge_date"),
        Defect::BadDate("activity_date"),
    ],
    &[
        Defect::OrphanPersonId,
        Defect::UnknownCode("activity_type"),
        Defect::BadDate("activity_date"),
        Defect::MissingRequired("attended"),
    ],
];

pub struct Defects {
    rate: f64,
    rng: ChaCha8Rng,
    /// Injected rows by file and reason.
    pub counts: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    injected: u64,
}

impl Defects {
    pub fn new(rate: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // A stream no person uses, so defects never disturb the clean data's draws.
        rng.set_stream(u64::MAX);
        Defects {
            rate,
            rng,
            counts: BTreeMap::new(),
            injected: 0,
        }
    }

    /// With probability `rate`, a defective copy of `row` (a row of `FILES[file]`).
    pub fn maybe_inject(&mut self, file: usize, row: &[String]) -> Option<Vec<String>> {
        if self.rate == 0.0 || self.rng.random::<f64>() >= self.rate {
            return None;
        }
        let classes = CLASSES[file];
        let start = self.rng.random_range(0..classes.len());
        // Try each class from a random start; some do not apply to every row (e.g. date
        // order needs a second date).
        for offset in 0..classes.len() {
            let defect = classes[(start + offset) % classes.len()];
            if let Some(copy) = self.apply(file, defect, row) {
                *self
                    .counts
                    .entry(FILES[file].0)
                    .or_default()
                    .entry(defect.reason())
                    .or_default() += 1;
                self.injected += 1;
                return Some(copy);
            }
        }
        None
    }

    fn apply(&mut self, file: usize, defect: Defect, row: &[String]) -> Option<Vec<String>> {
        let header = FILES[file].1;
        let column = |name: &str| {
            header
                .iter()
                .position(|column| *column == name)
                .expect("defect names a real column")
        };
        let mut copy = row.to_vec();
        match defect {
            Defect::DuplicateKey => {}
            Defect::BadNumber(name) => copy[column(name)] = "19x0".into(),
            Defect::OutOfRange(name, value) => copy[column(name)] = value.into(),
            Defect::UnknownCode(name) => copy[column(name)] = "not_a_code".into(),
            Defect::BadDate(name) => copy[column(name)] = "2023-02-30".into(),
            Defect::DateFormatMismatch(name) => {
                let iso = &row[column(name)];
                copy[column(name)] = format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[..4]);
            }
            Defect::DateOrder(first, second) => {
                let date =
                    chrono::NaiveDate::parse_from_str(&row[column(first)], "%Y-%m-%d").ok()?;
                if row[column(second)].is_empty() && file != 0 {
                    return None;
                }
                copy[column(second)] = (date - chrono::Duration::days(1)).to_string();
            }
            Defect::MissingRequired(name) => copy[column(name)].clear(),
            Defect::WrongFieldCount => copy.push("surplus".into()),
            Defect::OrphanPersonId => {
                copy[column("person_id")] = format!("ORPHAN{}", self.injected)
            }
            Defect::UnknownReferralId => {
                copy[column("referral_id")] = format!("R-UNKNOWN-{}", self.injected)
            }
            Defect::NhsNumber => copy[column("person_id")] = test_nhs_number(self.injected),
            Defect::InvalidItems => {
                let instrument = measures::instrument(&row[column("instrument")])?;
                if instrument.items >= measures::MAX_ITEMS {
                    return None;
                }
                copy[column("item_1") + instrument.items] = "1".into();
            }
            Defect::ScoreMismatch => {
                let instrument = measures::instrument(&row[column("instrument")])?;
                let first = column("item_1");
                let items: Option<Vec<Option<i32>>> = (0..instrument.items)
                    .map(|position| row[first + position].parse().ok().map(Some))
                    .collect();
                let items = items?;
                copy[column("score")] = match instrument.scoring {
                    Scoring::SeparateItems(_) => "20".into(),
                    _ => format!("{}", instrument.score(&items)? + 1.5),
                };
            }
        }
        Some(copy)
    }
}

/// A valid NHS number in the 999 range reserved for test data (docs/domain.md, NHS number).
fn test_nhs_number(seed: u64) -> String {
    let mut stem = 999_000_000 + (seed * 7919) % 1_000_000;
    loop {
        let digits: Vec<u64> = stem
            .to_string()
            .bytes()
            .map(|byte| u64::from(byte - b'0'))
            .collect();
        let total: u64 = digits
            .iter()
            .zip((2..=10).rev())
            .map(|(digit, weight)| digit * weight)
            .sum();
        let check = match 11 - total % 11 {
            11 => Some(0),
            10 => None,
            check => Some(check),
        };
        if let Some(check) = check {
            return format!("{stem}{check}");
        }
        stem += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::fields::is_nhs_number;

    #[test]
    fn test_nhs_numbers_are_valid_and_in_the_999_range() {
        for seed in 0..50 {
            let number = test_nhs_number(seed);
            assert!(
                number.starts_with("999") && is_nhs_number(&number),
                "{number}"
            );
        }
    }
}
