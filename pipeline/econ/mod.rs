//! Health economics (docs/methods.md, Economics): pure functions.
//!
//! - discount factor DF_m = (1 + r)^(-(m-1)/12) for follow-up month m = 1.. (month 1
//!   undiscounted; HM Treasury Green Book / NICE 3.5%);
//! - cumulative net savings NS(M) = sum_{m <= M} DF_m saving_m - programme cost;
//! - break-even month = first M from which NS stays >= 0 to the end of the horizon, else none;
//! - return per £1 at month M = discounted savings to M / programme cost;
//! - break-even threshold at month M = the programme cost per person at which NS(M) = 0, that
//!   is the discounted savings to M (a threshold the study's savings imply, not a prediction),
//!   and the caseload per link-worker FTE at which a staffing model costs that much.
//!
//! Savings are per treated person per month, comparison-adjusted (computed from the matched
//! panels by `estimate`); this module never sees people.

pub mod programme;

use std::collections::BTreeMap;

use serde::Serialize;

/// DF_m = (1 + r)^(-(m - 1) / 12).
pub fn discount_factor(rate: f64, month: u32) -> f64 {
    (1.0 + rate).powf(-(f64::from(month) - 1.0) / 12.0)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthRow {
    pub month: u32,
    pub saving_per_person: f64,
    pub discount_factor: f64,
    pub discounted_saving_per_person: f64,
    /// NS(M): discounted savings to this month minus the programme cost.
    pub cumulative_net_per_person: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payback {
    pub monthly: Vec<MonthRow>,
    /// The first month from which NS(M) >= 0 to the end of the horizon (a curve that crosses
    /// zero and falls back below has not broken even); None when NS at the horizon is < 0.
    pub break_even_month: Option<u32>,
    /// Discounted savings over the whole horizon, per person.
    pub discounted_savings_per_person: f64,
    /// Discounted savings to month M / programme cost, at the months asked for.
    pub return_per_pound: BTreeMap<u32, f64>,
}

/// The payback curve of monthly savings (index 0 = follow-up month 1) against a one-off
/// programme cost per person.
pub fn payback(
    savings_by_month: &[f64],
    programme_cost_per_person: f64,
    discount_rate: f64,
    return_months: &[u32],
) -> Payback {
    let mut monthly = Vec::with_capacity(savings_by_month.len());
    let mut discounted_total = 0.0;
    for (index, saving) in savings_by_month.iter().enumerate() {
        let month = index as u32 + 1;
        let factor = discount_factor(discount_rate, month);
        discounted_total += factor * saving;
        let net = discounted_total - programme_cost_per_person;
        monthly.push(MonthRow {
            month,
            saving_per_person: *saving,
            discount_factor: factor,
            discounted_saving_per_person: factor * saving,
            cumulative_net_per_person: net,
        });
    }
    let break_even_month = match monthly
        .iter()
        .rposition(|row| row.cumulative_net_per_person < 0.0)
    {
        None if !monthly.is_empty() => Some(1),
        Some(last_below) if last_below + 1 < monthly.len() => Some(last_below as u32 + 2),
        _ => None,
    };
    let return_per_pound = return_months
        .iter()
        .filter(|month| (**month as usize) <= monthly.len() && **month > 0)
        .map(|&month| {
            let savings: f64 = monthly[..month as usize]
                .iter()
                .map(|row| row.discounted_saving_per_person)
                .sum();
            (
                month,
                if programme_cost_per_person > 0.0 {
                    savings / programme_cost_per_person
                } else {
                    f64::NAN
                },
            )
        })
        .collect();
    Payback {
        monthly,
        break_even_month,
        discounted_savings_per_person: discounted_total,
        return_per_pound,
    }
}

/// The programme cost per person at which the net saving at `month` is zero: the discounted
/// savings to that month. `cumulative_net_ci` is the bootstrap interval of NS(month) at the
/// programme cost `cost` (a constant in every replicate), so the threshold's interval is it
/// shifted by that cost. None when the month is past the horizon.
pub fn break_even_cost(
    payback: &Payback,
    cost: f64,
    month: u32,
    cumulative_net_ci: Option<[f64; 2]>,
) -> Option<(f64, Option<[f64; 2]>)> {
    let row = payback.monthly.get((month as usize).checked_sub(1)?)?;
    Some((
        row.cumulative_net_per_person + cost,
        cumulative_net_ci.map(|[low, high]| [low + cost, high + cost]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_break_even_cost_is_the_discounted_savings_to_that_month() {
        let result = payback(&[10.0; 24], 100.0, 0.035, &[]);
        let savings_12: f64 = (1..=12).map(|m| 10.0 * discount_factor(0.035, m)).sum();
        let (threshold, ci) = break_even_cost(&result, 100.0, 12, Some([-50.0, 30.0])).unwrap();
        assert!((threshold - savings_12).abs() < 1e-12);
        assert_eq!(ci, Some([50.0, 130.0]));
        // At that programme cost the net saving at month 12 is zero.
        let at_threshold = payback(&[10.0; 24], threshold, 0.035, &[]);
        assert!(at_threshold.monthly[11].cumulative_net_per_person.abs() < 1e-12);
        assert_eq!(break_even_cost(&result, 100.0, 25, None), None);
        assert_eq!(break_even_cost(&result, 100.0, 0, None), None);
    }

    /// Closed forms (tolerance 1e-12).
    const CLOSED_FORM: f64 = 1e-12;

    #[test]
    fn discount_factors_at_3_5_percent() {
        assert_eq!(discount_factor(0.035, 1), 1.0);
        // Month 13 is exactly one year on: 1 / 1.035; month 25 two years: 1 / 1.035^2.
        assert!((discount_factor(0.035, 13) - 1.0 / 1.035).abs() < CLOSED_FORM);
        assert!((discount_factor(0.035, 25) - 1.0 / (1.035 * 1.035)).abs() < CLOSED_FORM);
        // DF_12 = 0.96896, DF_24 = 0.93619 to 5 digits (1.035^(-11/12) = 0.9689574,
        // 1.035^(-23/12) = 0.9361907; docs/methods.md, Economics).
        assert!((discount_factor(0.035, 12) - 0.96896).abs() < 5e-6);
        assert!((discount_factor(0.035, 24) - 0.93619).abs() < 5e-6);
    }

    #[test]
    fn break_even_edge_cases() {
        // Never: savings too small for the cost within the horizon.
        let never = payback(&[10.0; 24], 466.0, 0.035, &[12, 18, 24]);
        assert_eq!(never.break_even_month, None);
        // Exactly at a month, undiscounted: 3 x 100 = 300 at month 3, NS = 0 counts as break-even.
        let exact = payback(&[100.0, 100.0, 100.0, 100.0], 300.0, 0.0, &[]);
        assert_eq!(exact.break_even_month, Some(3));
        assert_eq!(exact.monthly[2].cumulative_net_per_person, 0.0);
        // Negative savings (the service costs the NHS more): the curve falls, no break-even,
        // return per £1 is negative.
        let negative = payback(&[-20.0; 24], 466.0, 0.035, &[24]);
        assert_eq!(negative.break_even_month, None);
        assert!(negative.return_per_pound[&24] < 0.0);
        assert!(
            negative.monthly[23].cumulative_net_per_person
                < negative.monthly[0].cumulative_net_per_person
        );
        // A curve that crosses zero and falls back has not broken even until it stays above:
        // net -50, +50, -10, +90, +190 from month 1 breaks even in month 4.
        let crossing = payback(&[50.0, 100.0, -60.0, 100.0, 100.0], 100.0, 0.0, &[]);
        assert_eq!(crossing.break_even_month, Some(4));
        let falls_back = payback(&[150.0, -100.0], 100.0, 0.0, &[]);
        assert_eq!(falls_back.break_even_month, None);
        // Zero cost breaks even at once.
        assert_eq!(
            payback(&[0.0; 3], 0.0, 0.035, &[]).break_even_month,
            Some(1)
        );
    }

    #[test]
    fn return_per_pound_is_discounted_savings_over_cost() {
        let result = payback(&[50.0; 24], 600.0, 0.035, &[12, 18, 24]);
        let expected_12: f64 = (1..=12)
            .map(|m| 50.0 * 1.035f64.powf(-(f64::from(m) - 1.0) / 12.0))
            .sum::<f64>()
            / 600.0;
        assert!((result.return_per_pound[&12] - expected_12).abs() < CLOSED_FORM);
        assert!(result.return_per_pound[&24] > result.return_per_pound[&18]);
        assert_eq!(result.break_even_month, Some(13));
    }
}
