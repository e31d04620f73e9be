//! Practices: the GP contract's measure of social prescribing (people referred per 1,000
//! registered) practice by practice, with acceptance and first contact, each practice placed
//! against funnel-plot control limits around the overall rate (`stats::funnel`), so that a
//! practice is judged against chance, not ranked in a league table. The effect by practice
//! is the "practice" equity breakdown (`estimate::BREAKDOWNS`).
//!
//! Practices group into primary care networks (PCNs), which is how an integrated care board
//! funds link workers; the extracts do not say which, so a study may name a lookup
//! (`[inputs] pcn_lookup`, as NHS England's ePCN file gives it: practice code, PCN code, PCN
//! name), and the same view is then drawn PCN by PCN.
//!
//! Reads the `practice_funnel` mart's rows; writes results.json `practices` (exact counts:
//! restricted, like the rest of results.json).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Location, Result};
use crate::fact_csv::FactCsv;
use crate::results::{CurvePoint, Estimated, FunnelUnit, FunnelView};
use crate::stats::funnel::{LIMITS, limits, position};

/// The PCN of each practice, from a study's lookup file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PcnLookup {
    /// practice code -> (PCN code, PCN name).
    practices: BTreeMap<String, (String, String)>,
}

/// What a practice missing from the lookup is grouped under.
pub const NOT_IN_LOOKUP: &str = "not in the PCN lookup";

impl PcnLookup {
    /// Reads a lookup CSV: `practice_code` and `pcn_code` required, `pcn_name` optional; one
    /// row per practice. Errors name the file, line and column.
    pub fn read(path: &Path) -> Result<PcnLookup> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::io("reading", path, source))?;
        let table = FactCsv::new(&text, path)?;
        let at = |line: u64, column: &str| Location::file(path).line(line).column(column);
        let (practice_at, pcn_at) = (
            table.required("practice_code")?,
            table.required("pcn_code")?,
        );
        let name_at = table.column("pcn_name");
        let mut practices = BTreeMap::new();
        let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
        for row in table.records() {
            let (line, record) = row?;
            let field = |at_index: usize, name: &str| -> Result<String> {
                match record.get(at_index) {
                    Some(value) if !value.is_empty() => Ok(value.to_string()),
                    _ => Err(Error::input(at(line, name), "empty")),
                }
            };
            let practice = field(practice_at, "practice_code")?;
            let pcn = field(pcn_at, "pcn_code")?;
            let name = name_at
                .and_then(|at_index| record.get(at_index))
                .filter(|name| !name.is_empty())
                .unwrap_or(&pcn)
                .to_string();
            if let Some(earlier) = first_line.insert(practice.clone(), line) {
                return Err(Error::input(
                    at(line, "practice_code"),
                    format!("practice {practice} is listed again (first on line {earlier})"),
                ));
            }
            practices.insert(practice, (pcn, name));
        }
        Ok(PcnLookup { practices })
    }

    /// How many practices the lookup lists.
    pub fn len(&self) -> usize {
        self.practices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.practices.is_empty()
    }

    /// The PCN (code, name) of a practice, if the lookup lists it.
    fn pcn_of(&self, practice: &str) -> Option<&(String, String)> {
        self.practices.get(practice)
    }
}

/// Points on each drawn control limit.
const CURVE_POINTS: u64 = 60;

/// The `practices` section from the mart's rows (practice_code, registered, referred,
/// accepted, first_contact), with `pcns`, the same per PCN, when a lookup is given.
pub fn practices_section(rows: &[Value], lookup: Option<&PcnLookup>) -> Estimated<FunnelView> {
    let mut section = funnel_section(rows, "practice_code");
    if let (Estimated::Done(view), Some(lookup)) = (&mut section, lookup) {
        view.pcns = Some(Box::new(funnel_section(&by_pcn(rows, lookup), "pcn")));
    }
    section
}

/// The practices' rows summed per PCN (keys `pcn`, `pcn_name` and the counts), in PCN order;
/// practices the lookup does not list together under [`NOT_IN_LOOKUP`].
fn by_pcn(rows: &[Value], lookup: &PcnLookup) -> Vec<Value> {
    const COUNTS: [&str; 4] = ["registered", "referred", "accepted", "first_contact"];
    let mut pcns: BTreeMap<(String, String), [u64; 4]> = BTreeMap::new();
    for row in rows {
        let practice = row["practice_code"].as_str().unwrap_or("");
        let pcn = lookup
            .pcn_of(practice)
            .cloned()
            .unwrap_or_else(|| (NOT_IN_LOOKUP.to_string(), NOT_IN_LOOKUP.to_string()));
        let sums = pcns.entry(pcn).or_default();
        for (sum, key) in sums.iter_mut().zip(COUNTS) {
            *sum += row[key].as_u64().unwrap_or(0);
        }
    }
    pcns.into_iter()
        .map(|((pcn, name), sums)| {
            let mut row = json!({"pcn": pcn, "pcn_name": name});
            for (sum, key) in sums.into_iter().zip(COUNTS) {
                row[key] = json!(sum);
            }
            row
        })
        .collect()
}

/// Each unit's (practice's or PCN's, named by `key`) referral rate placed against funnel
/// limits around the overall rate, and the limits' curves.
fn funnel_section(rows: &[Value], key: &str) -> Estimated<FunnelView> {
    let count = |row: &Value, key: &str| row[key].as_u64().unwrap_or(0);
    let registered: u64 = rows.iter().map(|row| count(row, "registered")).sum();
    let referred: u64 = rows.iter().map(|row| count(row, "referred")).sum();
    if registered == 0 {
        return Estimated::not("no data: no one registered in the study window");
    }
    let overall = referred as f64 / registered as f64;
    let per_1000 = |share: f64| share * 1000.0;
    let units: Vec<FunnelUnit> = rows
        .iter()
        .map(|row| {
            let n = count(row, "registered");
            let share = if n > 0 {
                Some(count(row, "referred") as f64 / n as f64)
            } else {
                None
            };
            let code = row[key].as_str().map(str::to_string);
            FunnelUnit {
                practice_code: code.clone().filter(|_| key == "practice_code"),
                pcn: code.filter(|_| key == "pcn"),
                pcn_name: row["pcn_name"].as_str().map(str::to_string),
                registered: n,
                referred: count(row, "referred"),
                accepted: count(row, "accepted"),
                first_contact: count(row, "first_contact"),
                referrals_per_1000: share.map(per_1000),
                position: share.and_then(|share| position(share, n, overall)),
            }
        })
        .collect();
    let sizes = rows.iter().map(|row| count(row, "registered"));
    let (smallest, largest) = (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0));
    let (from, to) = ((smallest / 2).max(1), largest + largest / 10 + 1);
    let curve: Vec<CurvePoint> = (0..CURVE_POINTS)
        .map(|step| from + (to - from) * step / (CURVE_POINTS - 1))
        .map(|n| {
            let mut point = CurvePoint {
                registered: n,
                limits: BTreeMap::new(),
            };
            for coverage in LIMITS {
                let key = format!("{}", (coverage * 1000.0).round() / 10.0).replace('.', "_");
                if let Some((lower, upper)) = limits(n, overall, coverage) {
                    point.limits.insert(format!("lower_{key}"), per_1000(lower));
                    point.limits.insert(format!("upper_{key}"), per_1000(upper));
                }
            }
            point
        })
        .collect();
    Estimated::Done(FunnelView {
        registered,
        referred,
        referrals_per_1000: per_1000(overall),
        limits: "exact binomial with interpolation around the overall rate (Spiegelhalter 2005), 95% and 99.8%".into(),
        units,
        curve,
        pcns: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_practice_far_from_the_overall_rate_is_placed_outside_the_limits() {
        let rows = vec![
            json!({"practice_code": "A1", "registered": 10_000, "referred": 200, "accepted": 180, "first_contact": 150}),
            json!({"practice_code": "A2", "registered": 10_000, "referred": 205, "accepted": 190, "first_contact": 160}),
            json!({"practice_code": "A3", "registered": 10_000, "referred": 320, "accepted": 300, "first_contact": 250}),
        ];
        let section = serde_json::to_value(practices_section(&rows, None)).unwrap();
        assert_eq!(section["registered"], 30_000);
        assert!((section["referrals_per_1000"].as_f64().unwrap() - 24.166_666).abs() < 1e-5);
        let positions: Vec<&str> = section["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|practice| practice["position"].as_str().unwrap())
            .collect();
        assert_eq!(positions, ["below 95%", "below 95%", "above 99.8%"]);
        let curve = section["curve"].as_array().unwrap();
        assert_eq!(curve.len(), 60);
        let first = &curve[0];
        assert_eq!(first["registered"], 5_000);
        assert!(first["lower_99_8"].as_f64() < first["lower_95"].as_f64());
        assert!(first["upper_95"].as_f64() < first["upper_99_8"].as_f64());
        assert!(section["pcns"].is_null());
        assert_eq!(
            serde_json::to_value(practices_section(&[], None)).unwrap()["not_estimated"],
            "no data: no one registered in the study window"
        );
    }

    #[test]
    fn practices_are_summed_into_their_pcns_from_a_lookup_checked_like_an_extract() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pcns.csv");
        std::fs::write(
            &path,
            "practice_code,pcn_code,pcn_name\nA1,U001,North PCN\nA2,U001,North PCN\nA3,U002,\n",
        )
        .unwrap();
        let lookup = PcnLookup::read(&path).unwrap();
        let rows = vec![
            json!({"practice_code": "A1", "registered": 10_000, "referred": 200, "accepted": 180, "first_contact": 150}),
            json!({"practice_code": "A2", "registered": 5_000, "referred": 100, "accepted": 90, "first_contact": 80}),
            json!({"practice_code": "A3", "registered": 8_000, "referred": 300, "accepted": 250, "first_contact": 200}),
            json!({"practice_code": "A9", "registered": 2_000, "referred": 10, "accepted": 9, "first_contact": 8}),
        ];
        let section = serde_json::to_value(practices_section(&rows, Some(&lookup))).unwrap();
        let pcns = section["pcns"]["units"].as_array().unwrap();
        let summary: Vec<(&str, &str, u64, u64)> = pcns
            .iter()
            .map(|pcn| {
                (
                    pcn["pcn"].as_str().unwrap(),
                    pcn["pcn_name"].as_str().unwrap(),
                    pcn["registered"].as_u64().unwrap(),
                    pcn["referred"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("U001", "North PCN", 15_000, 300),
                // No name: the code stands for it.
                ("U002", "U002", 8_000, 300),
                (NOT_IN_LOOKUP, NOT_IN_LOOKUP, 2_000, 10),
            ]
        );
        assert_eq!(section["pcns"]["registered"], 25_000);

        // Bad lookups: a missing column and a practice listed twice, by file, line, column.
        std::fs::write(&path, "practice,pcn_code\nA1,U1\n").unwrap();
        let error = PcnLookup::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("required column 'practice_code' is missing"),
            "{error}"
        );
        std::fs::write(&path, "practice_code,pcn_code\nA1,U1\nA2,U1\nA1,U2\n").unwrap();
        let error = PcnLookup::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("line 4")
                && error.contains("practice A1 is listed again (first on line 2)"),
            "{error}"
        );
        std::fs::write(&path, "practice_code,pcn_code\nA1,\n").unwrap();
        let error = PcnLookup::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("pcn_code") && error.contains("empty"),
            "{error}"
        );
    }
}
