//! Costed savings over follow-up (design section 5 "Economics"), from the matched panels.
//!
//! Monthly saving per treated person in follow-up month m (m = k + 1):
//! saving_m = -[(T_k - T_pre) - (C_k - C_pre)], with T_k, C_k the treated and comparison cost
//! per person-month of exposure in relative month k and T_pre, C_pre their means over the
//! pre-period (NHS cost perspective; costs from `unit_costs` in person_months). Then
//! `econ::payback` discounts, nets off the programme cost per person and finds the
//! break-even month. Uncertainty: the same seeded bootstrap over matched sets as the DiD,
//! giving the savings interval and P(break-even by month 24).

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;
use serde_json::{Value, json};

use super::{BOOTSTRAP_REPLICATES, Columns, number};
use crate::config::StudyConfig;
use crate::econ::payback;
use crate::error::Result;
use crate::stats::bootstrap::{percentile_interval, resample};

/// The return-per-£1 months of results.json.
const RETURN_MONTHS: [u32; 3] = [12, 18, 24];
const HORIZON_MONTHS: usize = 24;

/// Cost and exposure (person-months) of one group of one matched set: pre-period, then
/// each follow-up month.
#[derive(Debug, Clone, Default)]
struct Sums {
    pre: (f64, f64),
    months: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Default)]
struct Set {
    treated: Sums,
    comparison: Sums,
}

pub async fn estimate(ctx: &SessionContext, config: &StudyConfig) -> Result<Value> {
    let columns = Columns::query(
        ctx,
        "select m.set_id, m.group_name, p.relative_month, p.exposure_months, p.total_cost_gbp \
         from person_months as p inner join matched_sets as m on p.person_id = m.person_id \
         order by m.set_id, p.person_id, p.relative_month",
    )
    .await?;
    let horizon = (config.post_months as usize).min(HORIZON_MONTHS);
    let sets_column = columns.floats_or_zero("set_id")?;
    let groups = columns.texts("group_name")?;
    let months = columns.floats_or_zero("relative_month")?;
    let exposure = columns.floats_or_zero("exposure_months")?;
    let cost = columns.floats_or_zero("total_cost_gbp")?;
    let mut by_set: BTreeMap<i64, Set> = BTreeMap::new();
    for row in 0..sets_column.len() {
        let set = by_set.entry(sets_column[row] as i64).or_default();
        let sums = if groups[row].as_deref() == Some("treated") {
            &mut set.treated
        } else {
            &mut set.comparison
        };
        if sums.months.is_empty() {
            sums.months = vec![(0.0, 0.0); horizon];
        }
        let month = months[row] as i64;
        if month < 0 {
            sums.pre.0 += cost[row];
            sums.pre.1 += exposure[row];
        } else if (month as usize) < horizon {
            sums.months[month as usize].0 += cost[row];
            sums.months[month as usize].1 += exposure[row];
        }
    }
    let sets: Vec<Set> = by_set.into_values().collect();
    let savings = |chosen: &mut dyn Iterator<Item = &Set>| -> Vec<f64> {
        let mut treated = Sums {
            pre: (0.0, 0.0),
            months: vec![(0.0, 0.0); horizon],
        };
        let mut comparison = treated.clone();
        for set in chosen {
            for (total, part) in [
                (&mut treated, &set.treated),
                (&mut comparison, &set.comparison),
            ] {
                total.pre.0 += part.pre.0;
                total.pre.1 += part.pre.1;
                for (sum, month) in total.months.iter_mut().zip(&part.months) {
                    sum.0 += month.0;
                    sum.1 += month.1;
                }
            }
        }
        let (t_pre, c_pre) = (
            treated.pre.0 / treated.pre.1,
            comparison.pre.0 / comparison.pre.1,
        );
        (0..horizon)
            .map(|k| {
                let t = treated.months[k].0 / treated.months[k].1;
                let c = comparison.months[k].0 / comparison.months[k].1;
                -((t - t_pre) - (c - c_pre))
            })
            .collect()
    };
    let cost_per_person = config.programme_cost_per_referral;
    let point = payback(
        &savings(&mut sets.iter()),
        cost_per_person,
        config.discount_rate,
        &RETURN_MONTHS,
    );

    let mut break_even_by_24 = 0usize;
    let mut replicate_paybacks = Vec::new();
    let totals = resample(sets.len(), BOOTSTRAP_REPLICATES, config.seed, |indices| {
        let replicate = payback(
            &savings(&mut indices.iter().map(|&index| &sets[index])),
            cost_per_person,
            config.discount_rate,
            &RETURN_MONTHS,
        );
        if replicate.break_even_month.is_some_and(|month| month <= 24) {
            break_even_by_24 += 1;
        }
        let total = replicate.discounted_savings_per_person;
        replicate_paybacks.push(
            replicate
                .return_per_pound
                .get(&24)
                .copied()
                .unwrap_or(f64::NAN),
        );
        total
    });
    let (savings_ci, return_ci) = match totals {
        Ok(totals) => {
            let finite = |values: &[f64]| {
                values
                    .iter()
                    .copied()
                    .filter(|value| value.is_finite())
                    .collect::<Vec<_>>()
            };
            let ci = |values: Vec<f64>| {
                percentile_interval(&values, 0.95).map_or(Value::Null, |[low, high]| {
                    json!([number(low), number(high)])
                })
            };
            (ci(finite(&totals)), ci(finite(&replicate_paybacks)))
        }
        Err(error) => (super::note(&error), Value::Null),
    };
    Ok(json!({
        "perspective": "NHS, comparison-adjusted (matched difference in cost per person-month)",
        "unit_costs": crate::costs::PSSRU_2024.name,
        "price_year": config.price_year,
        "discount_rate": config.discount_rate,
        "programme_cost_per_person": cost_per_person,
        "horizon_months": horizon,
        "monthly": point.monthly.iter().map(|row| json!({
            "month": row.month,
            "saving_per_person": number(row.saving_per_person),
            "discounted_saving_per_person": number(row.discounted_saving_per_person),
            "cumulative_net_per_person": number(row.cumulative_net_per_person),
        })).collect::<Vec<_>>(),
        "savings_per_person_24m": number(point.discounted_savings_per_person),
        "savings_ci95": savings_ci,
        "return_per_pound": point.return_per_pound.iter().map(|(month, value)| (month.to_string(), number(*value))).collect::<serde_json::Map<_, _>>(),
        "return_per_pound_24m_ci95": return_ci,
        "break_even_month": point.break_even_month,
        "p_break_even_by_24m": number(break_even_by_24 as f64 / BOOTSTRAP_REPLICATES as f64),
        "bootstrap": {"unit": "matched set", "replicates": BOOTSTRAP_REPLICATES, "seed": config.seed, "interval": "percentile"},
        "note": "savings are discounted gross NHS cost reductions per treated person over the horizon; net = savings - programme cost",
    }))
}
