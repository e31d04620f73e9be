//! Unit costs: the versioned tables in `unit-costs/`, how they are read and validated, how
//! they are uprated to another price year, and the rule that costs each service-use event.
//!
//! Tables (docs/domain.md, Unit costs): `pssru-2024` (PSSRU *Unit Costs of
//! Health and Social Care 2024* and the NHS National Cost Collection 2023/24, 2023/24 prices)
//! and `pssru-2023` (the 2023 manual, 2022/23 prices). Both are embedded in the binary; a user
//! may name a CSV file of their own with the same columns instead, and it is validated like
//! an extract (file, line, column and reason on any error). Uprating uses the NHS cost
//! inflation index, pay and prices (PSSRU 2024 Table 12.1.1), in
//! `unit-costs/nhs-cost-inflation-index.csv`.
//!
//! Costing rules: a GP appointment costs the per-minute rate × recorded
//! duration, the per-consultation cost when duration is missing; nurse and other clinical
//! staff the hourly rate × recorded duration, 15 minutes when missing; an emergency admission
//! the short-stay cost when length of stay is under 2 days, else the long-stay cost; an
//! elective admission classified as a day case the day-case cost; an A&E attendance at a type
//! 3 or 4 department (urgent treatment centre, minor injury unit, walk-in centre) its own
//! cost; outpatient attendances only when attended. The link worker's own appointments are
//! programme cost, never demand.

use std::path::Path;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::fact_csv::FactCsv;

/// The unit-cost set used when the study configuration names none.
pub const DEFAULT_SET: &str = "pssru-2024";

/// The bundled tables, by name.
const BUNDLED: [(&str, &str); 2] = [
    ("pssru-2024", include_str!("../unit-costs/pssru-2024.csv")),
    ("pssru-2023", include_str!("../unit-costs/pssru-2023.csv")),
];

const INFLATION_INDEX: &str = include_str!("../unit-costs/nhs-cost-inflation-index.csv");

/// Minutes charged for a nurse or other clinician's appointment with no recorded duration.
pub const NURSE_DEFAULT_MINUTES: f64 = 15.0;

/// Length of stay (days) from which an emergency admission is a long stay.
pub const LONG_STAY_FROM_DAYS: i64 = 2;

/// The items every unit-cost table must give, in the order tables list them.
pub const ITEMS: [&str; 9] = [
    "gp_per_minute",
    "gp_consultation",
    "nurse_per_hour",
    "ae_attendance",
    "emergency_short_stay",
    "emergency_long_stay",
    "elective_admission",
    "outpatient_attendance",
    "ambulance_see_and_convey",
];

/// Items a table may give, each with the item whose value it takes when absent (so a table
/// written before they existed still runs; the fallback is listed in `fallbacks`). A day case
/// is an elective admission classified as a day case; a type 3 or 4 attendance is at an
/// urgent treatment centre, minor injury unit or walk-in centre.
pub const OPTIONAL_ITEMS: [(&str, &str); 2] = [
    ("day_case", "elective_admission"),
    ("ae_attendance_type_3_4", "ae_attendance"),
];

/// The bundled PSSRU 2024 set at its own price year (used by `synth` for truth.json).
/// The table is part of the binary and parsed by a unit test, so this cannot fail at run time.
pub static PSSRU_2024: LazyLock<UnitCosts> = LazyLock::new(|| {
    UnitCosts::bundled(DEFAULT_SET).expect("the bundled pssru-2024 table is checked by tests")
});

/// One row of a unit-cost table, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostItem {
    pub item: String,
    pub value_gbp: f64,
    pub unit: String,
    pub source: String,
    pub table_reference: String,
}

/// A unit-cost table at one price year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitCosts {
    /// The bundled set's name, or the path of a user's table.
    pub name: String,
    pub price_year: String,
    /// The table's own price year when it was uprated (or deflated) to `price_year`.
    pub uprated_from: Option<String>,
    /// The NHS cost inflation index factor applied (1 when not uprated).
    pub uprating_factor: f64,
    pub items: Vec<CostItem>,
    pub gp_per_minute_gbp: f64,
    pub gp_consultation_gbp: f64,
    pub nurse_per_hour_gbp: f64,
    pub nurse_default_minutes: f64,
    pub ae_attendance_gbp: f64,
    pub emergency_short_stay_gbp: f64,
    pub emergency_long_stay_gbp: f64,
    pub elective_admission_gbp: f64,
    pub outpatient_attendance_gbp: f64,
    pub ambulance_see_and_convey_gbp: f64,
    pub day_case_gbp: f64,
    pub ae_attendance_type_3_4_gbp: f64,
    /// Optional items the table lacks, each as "item = fallback item".
    pub fallbacks: Vec<String>,
}

impl UnitCosts {
    /// A table bundled with the tool, by name.
    pub fn bundled(name: &str) -> Result<UnitCosts> {
        let (_, text) = BUNDLED
            .iter()
            .find(|(bundled, _)| *bundled == name)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unit-cost set '{name}' is not bundled; the bundled sets are {}",
                    bundled_names()
                ))
            })?;
        UnitCosts::parse(text, name, Path::new(&format!("unit-costs/{name}.csv")))
    }

    /// A bundled set by name, or else a CSV file (relative paths from `base_dir`), uprated to
    /// `price_year`.
    pub fn resolve(spec: &str, base_dir: &Path, price_year: &str) -> Result<UnitCosts> {
        let table = if BUNDLED.iter().any(|(name, _)| *name == spec) {
            UnitCosts::bundled(spec)?
        } else {
            let path = base_dir.join(spec);
            if !path.is_file() {
                return Err(Error::Usage(format!(
                    "unit_costs = \"{spec}\" is neither a bundled set ({}) nor a file ({})",
                    bundled_names(),
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|source| Error::io("reading", &path, source))?;
            UnitCosts::parse(&text, spec, &path)?
        };
        table.uprated(&InflationIndex::bundled()?, price_year)
    }

    /// Reads a unit-cost table (columns item, value_gbp, price_year, source; unit and
    /// table_reference optional). Every item of [`ITEMS`] must appear exactly once, with a
    /// finite value of 0 or more, and all rows must share one price year.
    pub fn parse(text: &str, name: &str, path: &Path) -> Result<UnitCosts> {
        let table = FactCsv::new(text, path)?;
        let at = |line: u64, column: &str| Location::file(path).line(line).column(column);
        let (item_at, value_at, year_at, source_at) = (
            table.required("item")?,
            table.required("value_gbp")?,
            table.required("price_year")?,
            table.required("source")?,
        );
        let (unit_at, reference_at) = (table.column("unit"), table.column("table_reference"));
        let mut items: Vec<CostItem> = Vec::new();
        let mut price_year: Option<String> = None;
        for row in table.records() {
            let (line, record) = row?;
            let field = |index: Option<usize>| {
                index
                    .and_then(|index| record.get(index))
                    .unwrap_or("")
                    .to_string()
            };
            let item = field(Some(item_at));
            let optional = OPTIONAL_ITEMS.iter().any(|(known, _)| *known == item);
            if !ITEMS.contains(&item.as_str()) && !optional {
                let known: Vec<&str> = ITEMS
                    .iter()
                    .copied()
                    .chain(OPTIONAL_ITEMS.iter().map(|(known, _)| *known))
                    .collect();
                return Err(Error::input(
                    at(line, "item"),
                    format!(
                        "'{item}' is not a unit-cost item; expected one of {}",
                        known.join(", ")
                    ),
                ));
            }
            if items.iter().any(|known| known.item == item) {
                return Err(Error::input(
                    at(line, "item"),
                    format!("'{item}' is given twice"),
                ));
            }
            let raw_value = field(Some(value_at));
            let value_gbp = raw_value
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite() && *value >= 0.0)
                .ok_or_else(|| {
                    Error::input(
                        at(line, "value_gbp"),
                        format!("'{raw_value}' is not a cost in pounds of 0 or more"),
                    )
                })?;
            let year = field(Some(year_at));
            InflationIndex::check_year_format(&year)
                .map_err(|reason| Error::input(at(line, "price_year"), reason))?;
            match &price_year {
                Some(first) if *first != year => {
                    return Err(Error::input(
                        at(line, "price_year"),
                        format!(
                            "price year {year} differs from the table's {first}; uprate rows to one year first"
                        ),
                    ));
                }
                _ => price_year = Some(year),
            }
            let source = field(Some(source_at));
            if source.is_empty() {
                return Err(Error::input(
                    at(line, "source"),
                    "every unit cost needs its source",
                ));
            }
            items.push(CostItem {
                item,
                value_gbp,
                unit: field(unit_at),
                source,
                table_reference: field(reference_at),
            });
        }
        let value = |wanted: &str| {
            items
                .iter()
                .find(|item| item.item == wanted)
                .map(|item| item.value_gbp)
                .ok_or_else(|| {
                    Error::input(
                        Location::file(path).column("item"),
                        format!("the table has no '{wanted}' row"),
                    )
                })
        };
        let mut fallbacks = Vec::new();
        let mut optional = |wanted: &str| {
            let (_, fallback) = OPTIONAL_ITEMS
                .iter()
                .find(|(item, _)| *item == wanted)
                .expect("an optional item");
            match items.iter().find(|item| item.item == wanted) {
                Some(item) => Ok(item.value_gbp),
                None => {
                    fallbacks.push(format!("{wanted} = {fallback}"));
                    value(fallback)
                }
            }
        };
        let day_case_gbp = optional("day_case")?;
        let ae_attendance_type_3_4_gbp = optional("ae_attendance_type_3_4")?;
        Ok(UnitCosts {
            name: name.to_string(),
            price_year: price_year.unwrap_or_default(),
            uprated_from: None,
            uprating_factor: 1.0,
            gp_per_minute_gbp: value("gp_per_minute")?,
            gp_consultation_gbp: value("gp_consultation")?,
            nurse_per_hour_gbp: value("nurse_per_hour")?,
            nurse_default_minutes: NURSE_DEFAULT_MINUTES,
            ae_attendance_gbp: value("ae_attendance")?,
            emergency_short_stay_gbp: value("emergency_short_stay")?,
            emergency_long_stay_gbp: value("emergency_long_stay")?,
            elective_admission_gbp: value("elective_admission")?,
            outpatient_attendance_gbp: value("outpatient_attendance")?,
            ambulance_see_and_convey_gbp: value("ambulance_see_and_convey")?,
            day_case_gbp,
            ae_attendance_type_3_4_gbp,
            fallbacks,
            items,
        })
    }

    /// The same table at another price year (NHS cost inflation index, pay and prices).
    pub fn uprated(&self, index: &InflationIndex, price_year: &str) -> Result<UnitCosts> {
        if price_year == self.price_year {
            return Ok(self.clone());
        }
        let factor = index.factor(&self.price_year, price_year)?;
        let scale = |value: f64| value * factor;
        Ok(UnitCosts {
            name: self.name.clone(),
            price_year: price_year.to_string(),
            uprated_from: Some(self.uprated_from.clone().unwrap_or(self.price_year.clone())),
            uprating_factor: self.uprating_factor * factor,
            items: self
                .items
                .iter()
                .map(|item| CostItem {
                    value_gbp: scale(item.value_gbp),
                    ..item.clone()
                })
                .collect(),
            gp_per_minute_gbp: scale(self.gp_per_minute_gbp),
            gp_consultation_gbp: scale(self.gp_consultation_gbp),
            nurse_per_hour_gbp: scale(self.nurse_per_hour_gbp),
            nurse_default_minutes: self.nurse_default_minutes,
            ae_attendance_gbp: scale(self.ae_attendance_gbp),
            emergency_short_stay_gbp: scale(self.emergency_short_stay_gbp),
            emergency_long_stay_gbp: scale(self.emergency_long_stay_gbp),
            elective_admission_gbp: scale(self.elective_admission_gbp),
            outpatient_attendance_gbp: scale(self.outpatient_attendance_gbp),
            ambulance_see_and_convey_gbp: scale(self.ambulance_see_and_convey_gbp),
            day_case_gbp: scale(self.day_case_gbp),
            ae_attendance_type_3_4_gbp: scale(self.ae_attendance_type_3_4_gbp),
            fallbacks: self.fallbacks.clone(),
        })
    }

    /// Cost of one attended GP-demand appointment (`hcp_type` gp, nurse or other_clinical);
    /// zero for any other clinician type.
    pub fn gp_appointment(&self, hcp_type: &str, duration_minutes: Option<u32>) -> f64 {
        match hcp_type {
            "gp" => duration_minutes.map_or(self.gp_consultation_gbp, |minutes| {
                f64::from(minutes) * self.gp_per_minute_gbp
            }),
            "nurse" | "other_clinical" => {
                let minutes = duration_minutes.map_or(self.nurse_default_minutes, f64::from);
                minutes / 60.0 * self.nurse_per_hour_gbp
            }
            _ => 0.0,
        }
    }

    /// Cost of one hospital event by setting; admissions by length of stay (an emergency
    /// admission with unknown length of stay is costed as a short stay).
    pub fn hospital_event(
        &self,
        setting: &str,
        length_of_stay_days: Option<i64>,
        attended: bool,
    ) -> f64 {
        match setting {
            "ae" => self.ae_attendance_gbp,
            "emergency_admission" => match length_of_stay_days {
                Some(days) if days >= LONG_STAY_FROM_DAYS => self.emergency_long_stay_gbp,
                _ => self.emergency_short_stay_gbp,
            },
            "elective_admission" => self.elective_admission_gbp,
            "outpatient" if attended => self.outpatient_attendance_gbp,
            "ambulance" => self.ambulance_see_and_convey_gbp,
            _ => 0.0,
        }
    }
}

fn bundled_names() -> String {
    BUNDLED
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The NHS cost inflation index (pay and prices): a level per financial year, the first year
/// before the series at 1.
#[derive(Debug, Clone, PartialEq)]
pub struct InflationIndex {
    levels: Vec<(String, f64)>,
}

impl InflationIndex {
    pub fn bundled() -> Result<InflationIndex> {
        InflationIndex::parse(
            INFLATION_INDEX,
            Path::new("unit-costs/nhs-cost-inflation-index.csv"),
        )
    }

    /// Reads `price_year,pay_and_prices_pct` rows in consecutive years.
    pub fn parse(text: &str, path: &Path) -> Result<InflationIndex> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut levels: Vec<(String, f64)> = Vec::new();
        for record in reader.records() {
            let record =
                record.map_err(|error| Error::input(Location::file(path), error.to_string()))?;
            let line = record.position().map_or(0, |position| position.line());
            let at = |column: &str| Location::file(path).line(line).column(column);
            let year = record.get(0).unwrap_or("").to_string();
            let start = InflationIndex::check_year_format(&year)
                .map_err(|reason| Error::input(at("price_year"), reason))?;
            let pct: f64 = record
                .get(1)
                .and_then(|value| value.parse().ok())
                .filter(|value: &f64| value.is_finite() && *value > -100.0)
                .ok_or_else(|| Error::input(at("pay_and_prices_pct"), "not a percentage"))?;
            let previous = match levels.last() {
                Some(last) => last.clone(),
                None => (financial_year(start - 1), 1.0),
            };
            if previous.0 != financial_year(start - 1) {
                return Err(Error::input(
                    at("price_year"),
                    format!("{year} does not follow {}", previous.0),
                ));
            }
            if levels.is_empty() {
                levels.push(previous.clone());
            }
            levels.push((year, previous.1 * (1.0 + pct / 100.0)));
        }
        Ok(InflationIndex { levels })
    }

    /// The factor that takes a cost at `from` prices to `to` prices.
    pub fn factor(&self, from: &str, to: &str) -> Result<f64> {
        let level = |year: &str| {
            self.levels
                .iter()
                .find(|(known, _)| known == year)
                .map(|(_, level)| *level)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "price year {year} is outside the NHS cost inflation index ({} to {})",
                        self.levels.first().map_or("", |(year, _)| year.as_str()),
                        self.levels.last().map_or("", |(year, _)| year.as_str()),
                    ))
                })
        };
        Ok(level(to)? / level(from)?)
    }

    /// The financial years the index covers.
    pub fn years(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().map(|(year, _)| year.as_str())
    }

    /// A financial year is written "2023/24"; returns its first calendar year.
    pub fn check_year_format(year: &str) -> std::result::Result<i32, String> {
        let parsed = year.split_once('/').and_then(|(start, end)| {
            let start: i32 = start.parse().ok()?;
            let end: i32 = end.parse().ok()?;
            (start.to_string().len() == 4 && end == (start + 1) % 100 && end.to_string().len() <= 2)
                .then_some(start)
        });
        parsed.ok_or_else(|| format!("'{year}' is not a financial year like 2023/24"))
    }
}

fn financial_year(start: i32) -> String {
    format!("{start}/{:02}", (start + 1) % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSED_FORM: f64 = 1e-12;

    #[test]
    fn bundled_2024_table_holds_the_design_values() {
        let costs = UnitCosts::bundled("pssru-2024").unwrap();
        assert_eq!(costs.price_year, "2023/24");
        assert_eq!(
            [
                costs.gp_per_minute_gbp,
                costs.gp_consultation_gbp,
                costs.nurse_per_hour_gbp,
                costs.ae_attendance_gbp,
                costs.emergency_short_stay_gbp,
                costs.emergency_long_stay_gbp,
                costs.elective_admission_gbp,
                costs.outpatient_attendance_gbp,
                costs.ambulance_see_and_convey_gbp
            ],
            [4.47, 45.0, 47.0, 273.0, 792.0, 5134.0, 6215.0, 198.0, 459.0]
        );
        assert!(
            costs
                .items
                .iter()
                .all(|item| !item.table_reference.is_empty())
        );
        assert_eq!(costs.day_case_gbp, 1031.0);
        assert_eq!(costs.ae_attendance_type_3_4_gbp, 123.75);
        assert!(costs.fallbacks.is_empty());
        let older = UnitCosts::bundled("pssru-2023").unwrap();
        assert_eq!(older.price_year, "2022/23");
        assert_eq!(older.gp_consultation_gbp, 49.0);
        assert_eq!(older.day_case_gbp, 1111.0);
        // The 2023 manual gives no type 3/4 cost: such attendances take the all-types rate.
        assert_eq!(older.ae_attendance_type_3_4_gbp, older.ae_attendance_gbp);
        assert_eq!(older.fallbacks, ["ae_attendance_type_3_4 = ae_attendance"]);
        assert_eq!(&*PSSRU_2024, &costs);
    }

    #[test]
    fn costing_rules_follow_the_design() {
        let costs = UnitCosts::bundled("pssru-2024").unwrap();
        assert_eq!(costs.gp_appointment("gp", None), 45.0);
        assert!((costs.gp_appointment("gp", Some(12)) - 53.64).abs() < CLOSED_FORM);
        assert!((costs.gp_appointment("nurse", None) - 11.75).abs() < CLOSED_FORM);
        assert!((costs.gp_appointment("other_clinical", Some(30)) - 23.5).abs() < CLOSED_FORM);
        assert_eq!(costs.gp_appointment("social_prescriber", Some(45)), 0.0);
        assert_eq!(
            costs.hospital_event("emergency_admission", Some(1), true),
            792.0
        );
        assert_eq!(
            costs.hospital_event("emergency_admission", Some(2), true),
            5134.0
        );
        assert_eq!(costs.hospital_event("outpatient", None, false), 0.0);
    }

    #[test]
    fn uprating_follows_the_index_and_round_trips() {
        let index = InflationIndex::bundled().unwrap();
        // One year: 2022/23 -> 2023/24 is the 2023/24 rate, 4.31%.
        assert!((index.factor("2022/23", "2023/24").unwrap() - 1.0431).abs() < CLOSED_FORM);
        // Chained: 2020/21 -> 2023/24 = 1.0258 x 1.0732 x 1.0431.
        let chained = 1.0258 * 1.0732 * 1.0431;
        assert!((index.factor("2020/21", "2023/24").unwrap() - chained).abs() < CLOSED_FORM);
        assert_eq!(index.years().next(), Some("2014/15"));
        let costs = UnitCosts::bundled("pssru-2024").unwrap();
        let there = costs.uprated(&index, "2015/16").unwrap();
        let back = there.uprated(&index, "2023/24").unwrap();
        assert_eq!(there.uprated_from.as_deref(), Some("2023/24"));
        for (original, round_trip) in costs.items.iter().zip(&back.items) {
            assert!((original.value_gbp - round_trip.value_gbp).abs() < CLOSED_FORM * 1e4);
            assert!(((round_trip.value_gbp / original.value_gbp) - 1.0).abs() < CLOSED_FORM);
        }
        assert!((back.uprating_factor - 1.0).abs() < CLOSED_FORM);
        // The 2023 table uprated to 2023/24: its two derived rows (stored to the penny) return
        // to the 2024 values within half a penny times the factor.
        let older = UnitCosts::resolve("pssru-2023", Path::new("."), "2023/24").unwrap();
        assert!((older.nurse_per_hour_gbp - 47.0).abs() < 0.006);
        assert!((older.ae_attendance_gbp - 273.0).abs() < 0.006);
        let error = costs.uprated(&index, "2031/32").unwrap_err().to_string();
        assert!(
            error.contains("outside the NHS cost inflation index"),
            "{error}"
        );
    }

    #[test]
    fn a_user_table_is_validated_like_an_extract() {
        let good = include_str!("../unit-costs/pssru-2024.csv");
        let path = Path::new("my_costs.csv");
        let check = |text: &str| {
            UnitCosts::parse(text, "my_costs.csv", path)
                .unwrap_err()
                .to_string()
        };
        let bad_value = good.replace("ae_attendance,273,", "ae_attendance,27x3,");
        let error = check(&bad_value);
        assert!(
            error.contains("my_costs.csv, line 5, column 'value_gbp'") && error.contains("27x3"),
            "{error}"
        );
        let missing = good
            .lines()
            .filter(|line| !line.starts_with("elective_admission"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(check(&missing).contains("no 'elective_admission' row"));
        let unknown = good.replace("ambulance_see_and_convey,", "ambulance,");
        assert!(check(&unknown).contains("line 10, column 'item'"));
        let twice = format!("{good}ae_attendance,300,x,2023/24,src,ref\n");
        assert!(check(&twice).contains("given twice"));
        let mixed = good.replace(
            "outpatient_attendance,198,per attendance,2023/24",
            "outpatient_attendance,198,per attendance,2022/23",
        );
        assert!(check(&mixed).contains("column 'price_year'"));
        let no_source = good.replace(
            "value_gbp,unit,price_year,source,",
            "value_gbp,unit,price_year,origin,",
        );
        assert!(check(&no_source).contains("required column 'source'"));
        let negative = good.replace("gp_consultation,45,", "gp_consultation,-45,");
        assert!(check(&negative).contains("line 3"));
    }
}
