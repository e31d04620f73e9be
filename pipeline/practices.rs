//! Practices: the GP contract's measure of social prescribing (people referred per 1,000
//! registered) practice by practice, with acceptance and first contact, each practice placed
//! against funnel-plot control limits around the overall rate (`stats::funnel`), so that a
//! practice is judged against chance, not ranked in a league table. The effect by practice
//! is the "practice" equity breakdown (`estimate::BREAKDOWNS`).
//!
//! Reads the `practice_funnel` mart's rows; writes results.json `practices` (exact counts:
//! restricted, like the rest of results.json).

use serde_json::{Value, json};

use crate::stats::funnel::{LIMITS, limits, position};

/// Points on each drawn control limit.
const CURVE_POINTS: u64 = 60;

/// The `practices` section from the mart's rows (practice_code, registered, referred,
/// accepted, first_contact).
pub fn practices_section(rows: &[Value]) -> Value {
    let count = |row: &Value, key: &str| row[key].as_u64().unwrap_or(0);
    let registered: u64 = rows.iter().map(|row| count(row, "registered")).sum();
    let referred: u64 = rows.iter().map(|row| count(row, "referred")).sum();
    if registered == 0 {
        return json!({"not_estimated": "no data: no one registered in the study window"});
    }
    let overall = referred as f64 / registered as f64;
    let per_1000 = |share: f64| share * 1000.0;
    let practices: Vec<Value> = rows
        .iter()
        .map(|row| {
            let n = count(row, "registered");
            let share = if n > 0 {
                Some(count(row, "referred") as f64 / n as f64)
            } else {
                None
            };
            json!({
                "practice_code": row["practice_code"],
                "registered": n,
                "referred": count(row, "referred"),
                "accepted": count(row, "accepted"),
                "first_contact": count(row, "first_contact"),
                "referrals_per_1000": share.map(per_1000),
                "position": share.and_then(|share| position(share, n, overall)),
            })
        })
        .collect();
    let sizes = rows.iter().map(|row| count(row, "registered"));
    let (smallest, largest) = (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0));
    let (from, to) = ((smallest / 2).max(1), largest + largest / 10 + 1);
    let curve: Vec<Value> = (0..CURVE_POINTS)
        .map(|step| from + (to - from) * step / (CURVE_POINTS - 1))
        .map(|n| {
            let mut point = json!({"registered": n});
            for coverage in LIMITS {
                let key = format!("{}", (coverage * 1000.0).round() / 10.0).replace('.', "_");
                if let Some((lower, upper)) = limits(n, overall, coverage) {
                    point[format!("lower_{key}")] = json!(per_1000(lower));
                    point[format!("upper_{key}")] = json!(per_1000(upper));
                }
            }
            point
        })
        .collect();
    json!({
        "registered": registered,
        "referred": referred,
        "referrals_per_1000": per_1000(overall),
        "limits": "exact binomial with interpolation around the overall rate (Spiegelhalter 2005), 95% and 99.8%",
        "practices": practices,
        "curve": curve,
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
        let section = practices_section(&rows);
        assert_eq!(section["registered"], 30_000);
        assert!((section["referrals_per_1000"].as_f64().unwrap() - 24.166_666).abs() < 1e-5);
        let positions: Vec<&str> = section["practices"]
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
        assert_eq!(
            practices_section(&[])["not_estimated"],
            "no data: no one registered in the study window"
        );
    }
}
