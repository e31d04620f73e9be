//! Costed savings over follow-up (docs/methods.md, Economics), from
//! the matched panels.
//!
//! Monthly saving per person referred in follow-up month m (m = k + 1), on the scale of the
//! total-cost rate ratio: E_k = T_pre x C_k / C_pre is what the treated group would have cost
//! per day at risk in relative month k without the service (its own baseline scaled by the
//! comparison group's change: the DiD's multiplicative model, applied month by month), and
//! saving_m = S_k (E_k - T_k), with T, C the treated and comparison NHS cost per day at risk
//! (summed over the cost categories, one per counted measure, at their unit costs), "pre" the
//! DiD baseline (the pre-period less the wash-out months) and S_k the treated group's days at
//! risk in month k per treated person. The bracket is a saving per day *at risk*; S_k makes it
//! a saving per person *referred*: after death (or leaving the practice) no NHS cost is counted
//! in either path, so summing the bracket alone would inflate the saving, most where referred
//! people die more. The additive scale (E_k = T_pre + C_k - C_pre) is a labelled sensitivity
//! (`scales`). Then `econ::payback` discounts, nets off the programme cost per person and
//! finds the break-even month.
//!
//! Uncertainty: the same seeded bootstrap over matched sets as the DiD (savings and return
//! intervals, P(break-even by month 24)); a one-way sensitivity analysis (tornado) over each
//! category's unit costs and the programme cost (each ±20%, the rule for parameters without
//! uncertainty data; Briggs, Claxton & Sculpher 2006), the discount rate from 0% to 3.5% (a
//! convention, not an uncertain parameter) and the savings' own CI
//! bounds; and projections past the observed follow-up only as labelled scenarios.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{Field, Schema};
use datafusion::prelude::SessionContext;
use nalgebra::DMatrix;

use super::service_use::MIN_EVENTS_PER_CELL;
use super::{BOOTSTRAP_REPLICATES, Columns, StillRegistered, finite, not_estimated, parallel};
use crate::config::StudyConfig;
use crate::costs::InflationIndex;
use crate::econ::programme::{ProgrammeCost, STAFFING_PRICE_YEAR, Staffing};
use crate::econ::{Payback, break_even_cost, discount_factor, payback};
use crate::error::Result;
use crate::outcomes::{self, COUNTED};
use crate::results::{
    AcceptabilityPoint, CostEffectiveness, DesignSaving, DiscountRateRow, Economics,
    EconomicsBootstrap, EconomicsMonth, Estimated, FollowUpDays, PlaneReading, Projection, Psa,
    Quadrants, ScaleRow, Scales, ShareNeeded, ShareRow, ThresholdRow, Thresholds, Tornado,
    TornadoBar,
};
use crate::stats::StatsResult;
use crate::stats::bootstrap::{finite_replicates, for_each_resample, percentile_interval};

/// The return-per-£1 months of results.json.
const RETURN_MONTHS: [u32; 3] = [12, 18, 24];
const HORIZON_MONTHS: usize = 24;
/// Cost categories: the counted measures (`outcomes::counted`), each its own unit costs.
const NO_CHANGE: [f64; COUNTED] = [1.0; COUNTED];
/// One-way sensitivity: ±20% where no uncertainty data (Briggs, Claxton & Sculpher 2006).
const SENSITIVITY: (f64, f64) = (0.8, 1.2);
/// NICE's reference-case discount rate and the Green Book's for years 0-30.
const REFERENCE_DISCOUNT_RATE: f64 = 0.035;
/// The discount rates the net saving is shown at: none, the 1.5% NICE's manual (PMG36) allows
/// as a sensitivity, and the reference case.
const CONVENTIONAL_DISCOUNT_RATES: [f64; 3] = [0.0, 0.015, REFERENCE_DISCOUNT_RATE];
/// Projection scenarios run to this month.
const PROJECTION_MONTHS: usize = 36;
/// The projected level is the mean saving over the last observed months, this many.
const PROJECTION_BASE_MONTHS: usize = 6;
/// "Decays 33% a year" (a labelled scenario, README "Methods").
const ANNUAL_DECAY: f64 = 0.33;

/// Cost per category and exposure (days at risk) of one group of one matched set:
/// pre-period, then each follow-up month; and the group's people.
#[derive(Debug, Clone)]
struct Sums {
    pre: Cell,
    months: Vec<Cell>,
    persons: f64,
}

/// Cost per category, events of the cost-effectiveness effect measure
/// (`StudyConfig::cost_effectiveness_effect`) and days at risk; and the people at risk at the
/// start of the period and those whose follow-up ended in it by leaving the practice (the
/// life table of deregistration, `Sums::days_alive`).
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    cost: [f64; COUNTED],
    effect: f64,
    exposure: f64,
    entering: f64,
    left_practice: f64,
}

/// Values per cell in the flat layout of [`Sums::flat`]: the costs, the effect's events, the
/// exposure, the people entering and those leaving the practice.
const CELL_WIDTH: usize = COUNTED + 4;

impl Cell {
    fn add(&mut self, other: &Cell) {
        for (sum, part) in self.cost.iter_mut().zip(other.cost) {
            *sum += part;
        }
        self.effect += other.effect;
        self.exposure += other.exposure;
        self.entering += other.entering;
        self.left_practice += other.left_practice;
    }

    /// Cost per day at risk, with each category scaled by `multipliers`.
    fn rate(&self, multipliers: &[f64; COUNTED]) -> f64 {
        self.cost
            .iter()
            .zip(multipliers)
            .map(|(cost, multiplier)| cost * multiplier)
            .sum::<f64>()
            / self.exposure
    }

    /// Events of the effect measure per day at risk.
    fn effect_rate(&self) -> f64 {
        self.effect / self.exposure
    }
}

impl Sums {
    fn new(horizon: usize) -> Sums {
        Sums {
            pre: Cell::default(),
            months: vec![Cell::default(); horizon],
            persons: 0.0,
        }
    }

    /// Values in a flat layout: each cell's costs, effect and exposure (pre-period first),
    /// then the persons.
    fn width(horizon: usize) -> usize {
        (1 + horizon) * CELL_WIDTH + 1
    }

    fn flat(&self) -> impl Iterator<Item = f64> + '_ {
        std::iter::once(&self.pre)
            .chain(&self.months)
            .flat_map(|cell| {
                cell.cost.iter().copied().chain([
                    cell.effect,
                    cell.exposure,
                    cell.entering,
                    cell.left_practice,
                ])
            })
            .chain([self.persons])
    }

    fn from_flat(values: &[f64], horizon: usize) -> Sums {
        let cell = |at: usize| {
            let values = &values[at * CELL_WIDTH..(at + 1) * CELL_WIDTH];
            Cell {
                cost: values[..COUNTED].try_into().expect("COUNTED costs"),
                effect: values[COUNTED],
                exposure: values[COUNTED + 1],
                entering: values[COUNTED + 2],
                left_practice: values[COUNTED + 3],
            }
        };
        Sums {
            pre: cell(0),
            months: (1..=horizon).map(cell).collect(),
            persons: values[Sums::width(horizon) - 1],
        }
    }
}

impl Sums {
    /// Days alive in follow-up month `month`, per person of the group, whether or not still
    /// registered: leaving the practice ends the data, not the person's NHS use, so it is
    /// censoring, while death ends costs in both paths. The days at risk (registered and
    /// alive) are weighted by the inverse of the probability of still being registered at
    /// mid-month (inverse-probability-of-censoring weighting; Lin et al. 1997, Bang & Tsiatis
    /// 2000) from the group's life table of leaving (`super::still_registered`). Assumes
    /// that, within the group, leaving tells nothing of the cost per day alive afterwards
    /// (docs/methods.md, Economics).
    fn days_alive_per_person(&self, month: usize) -> f64 {
        let registered = self.still_registered(month + 1);
        self.months[month].exposure / registered.mid_month[month] / self.persons
    }

    /// The life table of leaving over the first `months` follow-up months.
    fn still_registered(&self, months: usize) -> StillRegistered {
        super::still_registered(
            self.months[..months]
                .iter()
                .map(|cell| (cell.entering, cell.left_practice)),
        )
    }
}

#[derive(Debug, Clone)]
struct Set {
    treated: Sums,
    comparison: Sums,
}

/// How the comparison group's change over time becomes the treated group's counterfactual
/// cost (what it would have cost without the service) in a follow-up month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// The treated baseline times the comparison group's ratio to its own baseline: the
    /// total-cost DiD's own (multiplicative) model, so savings and rate ratio agree.
    Ratio,
    /// The treated baseline plus the comparison group's difference from its own baseline: a
    /// labelled sensitivity, which parallel trends on the pound scale would justify.
    Additive,
}

impl Scale {
    fn counterfactual(self, treated_pre: f64, comparison_pre: f64, comparison_month: f64) -> f64 {
        match self {
            Scale::Ratio => treated_pre * comparison_month / comparison_pre,
            Scale::Additive => treated_pre + comparison_month - comparison_pre,
        }
    }
}

/// One follow-up month's cost per treated person referred: without the service (the
/// counterfactual on `scale`) and as observed, each a cost per day at risk times
/// the treated group's days alive per treated person (`Sums::days_alive_per_person`).
fn monthly_costs(
    treated: &Sums,
    comparison: &Sums,
    month: usize,
    multipliers: &[f64; COUNTED],
    scale: Scale,
) -> (f64, f64) {
    expected_and_observed(treated, comparison, month, scale, |cell| {
        cell.rate(multipliers)
    })
}

/// One follow-up month's `rate` (a cost or the effect's events per day at risk) per treated
/// person referred, without the service and as observed.
fn expected_and_observed(
    treated: &Sums,
    comparison: &Sums,
    month: usize,
    scale: Scale,
    rate: impl Fn(&Cell) -> f64,
) -> (f64, f64) {
    let at_risk = treated.days_alive_per_person(month);
    let expected = scale.counterfactual(
        rate(&treated.pre),
        rate(&comparison.pre),
        rate(&comparison.months[month]),
    );
    (expected * at_risk, rate(&treated.months[month]) * at_risk)
}

/// Events of the effect measure avoided per treated person over the horizon, discounted as
/// the savings are (NICE's reference case discounts effects and costs alike), on the ratio
/// scale: each month the treated group's baseline event rate times the comparison group's
/// change, less the observed rate, times the treated group's share still at risk.
fn events_avoided(treated: &Sums, comparison: &Sums, horizon: usize, discount_rate: f64) -> f64 {
    (0..horizon)
        .map(|month| {
            let (expected, observed) =
                expected_and_observed(treated, comparison, month, Scale::Ratio, Cell::effect_rate);
            discount_factor(discount_rate, month as u32 + 1) * (expected - observed)
        })
        .sum()
}

/// Monthly savings per treated person over the chosen sets: each month's counterfactual cost
/// less the observed cost.
fn savings<'a>(
    chosen: impl Iterator<Item = &'a Set>,
    horizon: usize,
    multipliers: &[f64; COUNTED],
    scale: Scale,
) -> Vec<f64> {
    let (treated, comparison) = pooled(chosen, horizon);
    savings_of(&treated, &comparison, horizon, multipliers, scale)
}

/// Monthly savings per treated person from the pooled sums of both groups.
fn savings_of(
    treated: &Sums,
    comparison: &Sums,
    horizon: usize,
    multipliers: &[f64; COUNTED],
    scale: Scale,
) -> Vec<f64> {
    (0..horizon)
        .map(|month| {
            let (expected, observed) =
                monthly_costs(treated, comparison, month, multipliers, scale);
            expected - observed
        })
        .collect()
}

/// Monthly savings per treated person on the ratio scale with the counterfactual multiplied
/// by `factor` (a design's outcome model moving it; 1 gives `savings_of` exactly).
fn factored_savings(treated: &Sums, comparison: &Sums, horizon: usize, factor: f64) -> Vec<f64> {
    (0..horizon)
        .map(|month| {
            let (expected, observed) =
                monthly_costs(treated, comparison, month, &NO_CHANGE, Scale::Ratio);
            factor * expected - observed
        })
        .collect()
}

/// The discounted NHS cost per treated person over the horizon had there been no service,
/// as the savings assume it (the ratio-scale counterfactual): the savings are this less what
/// the treated group did cost, so savings / this is the share of its expected NHS costs the
/// service avoided.
fn expected_cost_without_service(
    treated: &Sums,
    comparison: &Sums,
    horizon: usize,
    discount_rate: f64,
) -> f64 {
    (0..horizon)
        .map(|month| {
            let (expected, _) = monthly_costs(treated, comparison, month, &NO_CHANGE, Scale::Ratio);
            discount_factor(discount_rate, month as u32 + 1) * expected
        })
        .sum()
}

/// The treated group's days observed and days alive per person over the horizon.
fn follow_up_days(treated: &Sums, horizon: usize) -> FollowUpDays {
    let observed = (0..horizon)
        .map(|month| treated.months[month].exposure / treated.persons)
        .sum();
    let alive = (0..horizon)
        .map(|month| treated.days_alive_per_person(month))
        .sum();
    let still_registered = treated.still_registered(horizon).after_last;
    FollowUpDays {
        registered_and_alive_per_person: finite(observed),
        alive_per_person: finite(alive),
        left_practice_share: finite(1.0 - still_registered),
        method: "days registered and alive in each follow-up month weighted by the inverse of the probability of still being registered at mid-month, from the treated group's life table of leaving the practice (deaths withdrawn from the risk set); death ends the days".into(),
    }
}

/// The treated and comparison sums over the chosen sets.
fn pooled<'a>(chosen: impl Iterator<Item = &'a Set>, horizon: usize) -> (Sums, Sums) {
    let (mut treated, mut comparison) = (Sums::new(horizon), Sums::new(horizon));
    for set in chosen {
        for (total, part) in [
            (&mut treated, &set.treated),
            (&mut comparison, &set.comparison),
        ] {
            total.pre.add(&part.pre);
            for (sum, month) in total.months.iter_mut().zip(&part.months) {
                sum.add(month);
            }
            total.persons += part.persons;
        }
    }
    (treated, comparison)
}

/// Replicates multiplied at once by [`replicate_sums`].
const REPLICATE_BLOCK: usize = 64;

/// The treated and comparison sums of each bootstrap replicate over matched sets (the
/// seeded resamples of `stats::bootstrap`, as the DiD uses). A replicate's sums are
/// sum_i (times set i was drawn) x set i, so a block of replicates is one matrix product
/// (draw counts x sets), which reads the sets once per block rather than once per
/// replicate: at a million people, 2,000 replicates over 22,000 sets take about a second,
/// where pooling set by set took tens. The draws come from one seeded stream, in order;
/// the products of as many blocks as there are threads run side by side, each exactly as it
/// would alone.
fn replicate_sums(sets: &[Set], horizon: usize, seed: u64) -> StatsResult<Vec<(Sums, Sums)>> {
    let threads = parallel::threads();
    let width = Sums::width(horizon);
    let by_set = DMatrix::from_row_iterator(
        sets.len(),
        2 * width,
        sets.iter()
            .flat_map(|set| set.treated.flat().chain(set.comparison.flat())),
    );
    let mut replicates = Vec::with_capacity(BOOTSTRAP_REPLICATES);
    // Full blocks of draw counts (replicates x sets) waiting to be multiplied.
    let mut waiting: Vec<DMatrix<f64>> = Vec::new();
    let mut counts = DMatrix::<f64>::zeros(REPLICATE_BLOCK, sets.len());
    let mut in_block = 0;
    let multiply = |waiting: &mut Vec<DMatrix<f64>>, out: &mut Vec<(Sums, Sums)>| {
        let products = parallel::map(waiting, |counts| counts * &by_set);
        for row in products.iter().flat_map(|pooled| pooled.row_iter()) {
            let values: Vec<f64> = row.iter().copied().collect();
            out.push((
                Sums::from_flat(&values[..width], horizon),
                Sums::from_flat(&values[width..], horizon),
            ));
        }
        waiting.clear();
    };
    for_each_resample(sets.len(), BOOTSTRAP_REPLICATES, seed, |indices| {
        for &index in indices {
            counts[(in_block, index)] += 1.0;
        }
        in_block += 1;
        if in_block == REPLICATE_BLOCK {
            waiting.push(std::mem::replace(
                &mut counts,
                DMatrix::zeros(REPLICATE_BLOCK, sets.len()),
            ));
            in_block = 0;
            if waiting.len() == threads {
                multiply(&mut waiting, &mut replicates);
            }
        }
    })?;
    if in_block > 0 {
        waiting.push(counts.rows(0, in_block).into_owned());
    }
    multiply(&mut waiting, &mut replicates);
    Ok(replicates)
}

async fn load_sets(ctx: &SessionContext, horizon: usize, config: &StudyConfig) -> Result<Vec<Set>> {
    let washout_months = i64::from(config.washout_months);
    let baseline_start = -i64::from(config.washout_months + config.baseline_months);
    // Each of a set's k comparison people counts 1/k, so every set counts once on each side.
    let weights = super::matched_comparison_weights(ctx).await?;
    let left_practice = super::left_practice_months(ctx, config).await?;
    let mut by_set: BTreeMap<i64, Set> = BTreeMap::new();
    // Read in person order: a set's own rows come in the same order as when sorted by set
    // first, so each set's sums are added up in the same order either way.
    Columns::for_each_batch(ctx, &super::matched_panel_sql(), |columns| {
        let people = columns.texts("person_id")?;
        let set_ids = columns.floats_or_zero("set_id")?;
        let groups = columns.texts("group_name")?;
        let months = columns.floats_or_zero("relative_month")?;
        let exposure = columns.floats_or_zero("exposure_days")?;
        let costs = outcomes::counted()
            .map(|measure| columns.floats_or_zero(&format!("{}_cost_gbp", measure.code)))
            .collect::<Result<Vec<_>>>()?;
        let effect = columns.floats_or_zero(config.cost_effectiveness_effect)?;
        for row in 0..set_ids.len() {
            let set = by_set.entry(set_ids[row] as i64).or_insert_with(|| Set {
                treated: Sums::new(horizon),
                comparison: Sums::new(horizon),
            });
            let (sums, weight) = if groups[row].as_deref() == Some("treated") {
                (&mut set.treated, 1.0)
            } else {
                (&mut set.comparison, weights[&(set_ids[row] as i64)])
            };
            let month = months[row] as i64;
            if month == 0 {
                // Every person has a row for every relative month (person_months).
                sums.persons += weight;
            }
            let cell = if month < baseline_start {
                continue; // before the baseline window
            } else if month < -washout_months {
                &mut sums.pre
            } else if month < 0 {
                continue; // the wash-out months are in no baseline
            } else if (month as usize) < horizon {
                &mut sums.months[month as usize]
            } else {
                continue;
            };
            for (category, cost) in costs.iter().enumerate() {
                cell.cost[category] += weight * cost[row];
            }
            cell.effect += weight * effect[row];
            cell.exposure += weight * exposure[row];
            let (entering, left) =
                super::leaving_counts(exposure[row], people[row].as_ref(), month, &left_practice);
            cell.entering += weight * entering;
            cell.left_practice += weight * left;
        }
        Ok(())
    })
    .await?;
    Ok(by_set.into_values().collect())
}

/// The discounted saving per treated person at the horizon and its bootstrap interval (the
/// same seeded bootstrap over matched sets as the headline): what the design sensitivity
/// compares across designs.
pub async fn saving(
    ctx: &SessionContext,
    config: &StudyConfig,
    counterfactual_factor: f64,
) -> Result<DesignSaving> {
    let horizon = (config.post_months as usize).min(HORIZON_MONTHS);
    let sets = load_sets(ctx, horizon, config).await?;
    // The design's outcome model moves the counterfactual by `counterfactual_factor` (1 for
    // the plain DiD); the bootstrap holds that factor at its point estimate.
    let discounted = |treated: &Sums, comparison: &Sums| {
        let monthly = factored_savings(treated, comparison, horizon, counterfactual_factor);
        payback(&monthly, 0.0, config.discount_rate, &RETURN_MONTHS).discounted_savings_per_person
    };
    let (treated, comparison) = pooled(sets.iter(), horizon);
    let point = discounted(&treated, &comparison);
    let totals = replicate_sums(&sets, horizon, config.seed)
        .map(|replicates| {
            replicates
                .iter()
                .map(|(treated, comparison)| discounted(treated, comparison))
                .collect::<Vec<f64>>()
        })
        .ok();
    let (finite_totals, non_finite) = finite_replicates(totals.as_deref().unwrap_or_default());
    let interval = totals.and_then(|_| percentile_interval(&finite_totals, 0.95).ok());
    Ok(DesignSaving {
        horizon_months: Some(horizon as u64),
        savings_per_person: finite(point),
        ci95: interval.map(|[low, high]| [finite(low), finite(high)]),
        bootstrap_non_finite_replicates: Some(non_finite as u64),
        counterfactual_factor: (counterfactual_factor != 1.0)
            .then_some(counterfactual_factor)
            .and_then(finite),
    })
}

/// The economics section of results.json; writes the restricted monthly series to
/// `tables/economics_monthly.{parquet,csv}`.
pub async fn estimate(
    ctx: &SessionContext,
    config: &StudyConfig,
    tables_dir: &Path,
) -> Result<Estimated<Economics>> {
    let horizon = (config.post_months as usize).min(HORIZON_MONTHS);
    let Some(cost_per_person) = config.programme.per_person_gbp() else {
        return Ok(Estimated::not(
            "the programme cost per person is unknown: the data show nobody to divide the service's total cost among",
        ));
    };
    let sets = load_sets(ctx, horizon, config).await?;
    let curve =
        |monthly: &[f64], cost: f64, rate: f64| payback(monthly, cost, rate, &RETURN_MONTHS);
    let monthly = savings(sets.iter(), horizon, &NO_CHANGE, Scale::Ratio);
    let point = curve(&monthly, cost_per_person, config.discount_rate);

    let (treated, comparison) = pooled(sets.iter(), horizon);
    let expected =
        expected_cost_without_service(&treated, &comparison, horizon, config.discount_rate);
    let mut replicate_shares = Vec::new();
    let mut break_even_by_24 = 0usize;
    let mut replicate_returns = Vec::new();
    let mut replicate_cumulative: Vec<Vec<f64>> = vec![Vec::new(); horizon];
    let replicates = replicate_sums(&sets, horizon, config.seed);
    let totals = replicates.as_ref().map(|replicates| {
        replicates
            .iter()
            .map(|(treated, comparison)| {
                let replicate = curve(
                    &savings_of(treated, comparison, horizon, &NO_CHANGE, Scale::Ratio),
                    cost_per_person,
                    config.discount_rate,
                );
                if replicate.break_even_month.is_some_and(|month| month <= 24) {
                    break_even_by_24 += 1;
                }
                for (month, row) in replicate.monthly.iter().enumerate() {
                    replicate_cumulative[month].push(row.cumulative_net_per_person);
                }
                replicate_returns.push(
                    replicate
                        .return_per_pound
                        .get(&24)
                        .copied()
                        .unwrap_or(f64::NAN),
                );
                replicate_shares.push(
                    replicate.discounted_savings_per_person
                        / expected_cost_without_service(
                            treated,
                            comparison,
                            horizon,
                            config.discount_rate,
                        ),
                );
                replicate.discounted_savings_per_person
            })
            .collect::<Vec<f64>>()
    });
    let totals = totals.map_err(|error| error.clone());
    let replicate_sums = replicates.unwrap_or_default();
    let interval = |values: &[f64]| percentile_interval(&finite_replicates(values).0, 0.95).ok();
    let non_finite = totals
        .as_deref()
        .map_or(0, |totals| finite_replicates(totals).1);
    let (savings_ci, return_ci, share_ci, cumulative_ci) = match &totals {
        Ok(totals) => (
            interval(totals),
            interval(&replicate_returns),
            interval(&replicate_shares),
            replicate_cumulative
                .iter()
                .map(|values| interval(values))
                .collect(),
        ),
        Err(_) => (None, None, None, vec![None; horizon]),
    };
    write_monthly_table(tables_dir, &point, &cumulative_ci)?;

    let tornado = tornado(&sets, horizon, config, cost_per_person, &point, savings_ci);
    let projections = projections(&monthly, cost_per_person, config.discount_rate);
    let thresholds = thresholds(config, cost_per_person, &point, &cumulative_ci)?;
    let share_needed = share_needed(&point, expected, cost_per_person, share_ci);
    let scales = reconciliation(&sets, horizon, config, savings_ci, &replicate_sums);
    let follow_up_days = follow_up_days(&treated, horizon);
    let psa = probabilistic_sensitivity(
        &replicate_sums,
        &(treated, comparison),
        horizon,
        config,
        cost_per_person,
    );
    Ok(Estimated::Done(Economics {
        perspective: "NHS, comparison-adjusted: each follow-up month the treated group's baseline cost per day at risk times the comparison group's ratio to its own baseline (the total-cost rate ratio's model), less the treated group's observed cost, times the treated group's days alive that month per person referred (death ends costs; leaving the practice ends the record, not the costs, so the days after it are weighted back); the additive scale is a sensitivity".into(),
        unit_costs: config.unit_costs.clone(),
        hospital_costing: config.hospital_costing.as_str().into(),
        price_year: config.price_year.clone(),
        unit_cost_table: config.unit_cost_table.clone(),
        discount_rate: config.discount_rate,
        programme: config.programme.clone(),
        programme_cost_per_person: cost_per_person,
        horizon_months: horizon,
        follow_up_days,
        monthly: point
            .monthly
            .iter()
            .zip(&cumulative_ci)
            .map(|(row, ci)| EconomicsMonth {
                month: row.month,
                saving_per_person: finite(row.saving_per_person),
                discounted_saving_per_person: finite(row.discounted_saving_per_person),
                cumulative_net_per_person: finite(row.cumulative_net_per_person),
                cumulative_net_ci95: finite_interval(*ci),
            })
            .collect(),
        savings_per_person_24m: finite(point.discounted_savings_per_person),
        savings_ci95: finite_interval(savings_ci),
        net_per_person: finite(point.discounted_savings_per_person - cost_per_person),
        return_per_pound: returns(&point),
        return_per_pound_24m_ci95: finite_interval(return_ci),
        break_even_month: point.break_even_month,
        p_break_even_by_24m: match &totals {
            Ok(_) => Estimated::Done(finite(
                break_even_by_24 as f64 / BOOTSTRAP_REPLICATES as f64,
            )),
            Err(error) => Estimated::Not(not_estimated(error)),
        },
        bootstrap: EconomicsBootstrap {
            unit: "matched set".into(),
            replicates: BOOTSTRAP_REPLICATES,
            seed: config.seed,
            interval: "percentile".into(),
            non_finite_replicates: non_finite,
        },
        tornado,
        projections,
        thresholds,
        share_needed,
        scales,
        psa,
        note: "savings are discounted gross NHS cost reductions per treated person over the horizon; net = savings - programme cost. Freed GP time is capacity, not cash released.".into(),
    }))
}

/// An interval with non-finite bounds as missing.
fn finite_interval(interval: Option<[f64; 2]>) -> Option<[Option<f64>; 2]> {
    interval.map(|[low, high]| [finite(low), finite(high)])
}

/// The return per £1 by month, keyed by the month's number.
fn returns(curve: &Payback) -> BTreeMap<String, Option<f64>> {
    curve
        .return_per_pound
        .iter()
        .map(|(month, value)| (month.to_string(), finite(*value)))
        .collect()
}

/// Draws of the probabilistic sensitivity analysis.
const PSA_DRAWS: usize = 5000;
/// Coefficient of variation of each cost category's unit costs and of the programme cost in
/// the PSA, where the unit-cost table states no uncertainty (the national tables do not): 0.1,
/// so that about 95% of draws fall within ±20%, the range of the one-way analysis.
const PSA_CV: f64 = 0.1;
/// Draws kept in results.json for the picture of the cost-effectiveness plane (the first ones;
/// the summaries use all of them).
const PLANE_DRAWS_SHOWN: usize = 1000;
/// The acceptability curve runs from £0 to this many times the NHS cost of one event of the
/// effect measure (its mean in the treated baseline), in `ACCEPTABILITY_STEPS` steps: past
/// that, the probability has all but reached its limit, the share of draws avoiding events.
const ACCEPTABILITY_COST_MULTIPLE: f64 = 5.0;
const ACCEPTABILITY_STEPS: usize = 40;

/// Probabilistic sensitivity analysis: the matched-set bootstrap jointly with parameter
/// uncertainty. Draw d takes bootstrap replicate d mod R (its pooled sums, kept from the
/// savings bootstrap) and independent Gamma multipliers, mean 1 and CV `PSA_CV`, on each cost
/// category's unit costs and on the programme cost (Gamma for costs: Briggs, Claxton &
/// Sculpher 2006, chapter 4). A seeded ChaCha8 stream (the study's seed + 1), so the draws are
/// the same on every rerun. Reports the net saving at the horizon (mean and 95% percentile
/// interval), the probability that it is positive, and the same draws on a
/// cost-effectiveness plane (`cost_effectiveness`).
fn probabilistic_sensitivity(
    replicates: &[(Sums, Sums)],
    point: &(Sums, Sums),
    horizon: usize,
    config: &StudyConfig,
    cost: f64,
) -> Estimated<Psa> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Gamma};
    if replicates.is_empty() {
        return Estimated::not("no bootstrap replicates");
    }
    let shape = 1.0 / (PSA_CV * PSA_CV);
    let gamma = Gamma::new(shape, 1.0 / shape).expect("a positive shape and scale");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1));
    let mut nets = Vec::with_capacity(PSA_DRAWS);
    for draw in 0..PSA_DRAWS {
        let (treated, comparison) = &replicates[draw % replicates.len()];
        let multipliers: [f64; COUNTED] = std::array::from_fn(|_| gamma.sample(&mut rng));
        let programme = cost * gamma.sample(&mut rng);
        let monthly = savings_of(treated, comparison, horizon, &multipliers, Scale::Ratio);
        let saving =
            payback(&monthly, programme, config.discount_rate, &[]).discounted_savings_per_person;
        nets.push(saving - programme);
    }
    // A replicate's events avoided do not depend on the unit-cost draws.
    let effects: Vec<f64> = replicates
        .iter()
        .map(|(treated, comparison)| {
            events_avoided(treated, comparison, horizon, config.discount_rate)
        })
        .collect();
    let draws: Vec<[f64; 2]> = nets
        .iter()
        .enumerate()
        .map(|(draw, net)| [effects[draw % effects.len()], -net])
        .collect();
    let cost_effectiveness = plane(&draws, point, horizon, config);
    let (finite_nets, non_finite) = finite_replicates(&nets);
    let mean = finite_nets.iter().sum::<f64>() / finite_nets.len().max(1) as f64;
    let positive = finite_nets.iter().filter(|net| **net > 0.0).count() as f64
        / finite_nets.len().max(1) as f64;
    Estimated::Done(Psa {
        what: format!(
            "net saving per person at month {horizon}: the matched-set bootstrap (draw d uses replicate d mod {}) jointly with Gamma multipliers (mean 1, CV {PSA_CV}) on each cost category's unit costs and on the programme cost",
            replicates.len()
        ),
        draws: PSA_DRAWS,
        cv: PSA_CV,
        seed: config.seed.wrapping_add(1),
        net_mean: finite(mean),
        net_ci95: finite_interval(percentile_interval(&finite_nets, 0.95).ok()),
        p_net_positive: finite(positive),
        non_finite_draws: non_finite,
        cost_effectiveness,
    })
}

/// The PSA's draws, each (events avoided, incremental cost) per person referred, on a
/// cost-effectiveness plane: where their mean lies, the share in each quadrant, the cost per
/// event avoided where more cost buys fewer events, and the acceptability curve, the share of
/// draws whose net benefit λ x events avoided - incremental cost is positive at each
/// willingness to pay λ per event avoided (at λ = 0, the PSA's probability of a net saving).
/// Not estimable where the effect measure's DiD would not be: fewer than
/// `MIN_EVENTS_PER_CELL` events in a group and period.
fn plane(
    draws: &[[f64; 2]],
    (treated, comparison): &(Sums, Sums),
    horizon: usize,
    config: &StudyConfig,
) -> Estimated<CostEffectiveness> {
    let code = config.cost_effectiveness_effect;
    let label = outcomes::by_code(code).map_or(code.to_string(), |measure| measure.events());
    let follow_up = |sums: &Sums| sums.months.iter().map(|cell| cell.effect).sum::<f64>();
    let cells = [
        ("treated group's baseline", treated.pre.effect),
        ("treated group's follow-up", follow_up(treated)),
        ("comparison group's baseline", comparison.pre.effect),
        ("comparison group's follow-up", follow_up(comparison)),
    ];
    if cells.iter().all(|(_, events)| *events == 0.0) {
        return Estimated::not(format!("no data: no {label} in either group"));
    }
    if let Some((cell, events)) = cells
        .iter()
        .find(|(_, events)| *events < MIN_EVENTS_PER_CELL as f64)
    {
        return Estimated::not(format!(
            "too few {label} to estimate how many were avoided: {events:.0} in the {cell}, fewer than {MIN_EVENTS_PER_CELL}"
        ));
    }
    let category = outcomes::counted()
        .position(|measure| measure.code == code)
        .expect("the effect is a counted measure (config)");
    let cost_per_event = treated.pre.cost[category] / treated.pre.effect;
    let up_to = round_up_to_nice(ACCEPTABILITY_COST_MULTIPLE * cost_per_event);
    let finite_draws: Vec<[f64; 2]> = draws
        .iter()
        .copied()
        .filter(|[effect, cost]| effect.is_finite() && cost.is_finite())
        .collect();
    let n = finite_draws.len().max(1) as f64;
    let share = |keep: &dyn Fn(f64, f64) -> bool| {
        finite_draws
            .iter()
            .filter(|[effect, cost]| keep(*effect, *cost))
            .count() as f64
            / n
    };
    let column =
        |index: usize| -> Vec<f64> { finite_draws.iter().map(|draw| draw[index]).collect() };
    let (effects, costs) = (column(0), column(1));
    let mean = |values: &[f64]| values.iter().sum::<f64>() / n;
    let (effect_mean, cost_mean) = (mean(&effects), mean(&costs));
    let reading = quadrant(effect_mean, cost_mean);
    let acceptability = (0..=ACCEPTABILITY_STEPS)
        .map(|step| {
            let willingness_to_pay = up_to * step as f64 / ACCEPTABILITY_STEPS as f64;
            AcceptabilityPoint {
                willingness_to_pay,
                p_cost_effective: share(&|effect, cost| willingness_to_pay * effect - cost > 0.0),
            }
        })
        .collect();
    let in_quadrant =
        |wanted: PlaneReading| share(&|effect, cost| quadrant(effect, cost) == wanted);
    Estimated::Done(CostEffectiveness {
        effect_measure: code.into(),
        what: format!(
            "each PSA draw as {label} avoided per person referred over {horizon} months (the treated group's baseline rate times the comparison group's change, less the observed rate, discounted as the costs are) against the incremental cost per person (programme cost less discounted NHS savings); willingness to pay per event avoided from £0 to {ACCEPTABILITY_COST_MULTIPLE} times the NHS cost of one (£{cost_per_event:.0}, the treated group's mean in the baseline)"
        ),
        effect_mean: finite(effect_mean),
        effect_ci95: finite_interval(percentile_interval(&effects, 0.95).ok()),
        incremental_cost_mean: finite(cost_mean),
        incremental_cost_ci95: finite_interval(percentile_interval(&costs, 0.95).ok()),
        reading,
        cost_per_event_avoided: (reading == PlaneReading::CostsMoreAvoidsEvents)
            .then(|| cost_mean / effect_mean)
            .and_then(finite),
        quadrants: Quadrants {
            dominant: in_quadrant(PlaneReading::Dominant),
            costs_more_avoids_events: in_quadrant(PlaneReading::CostsMoreAvoidsEvents),
            saves_more_events: in_quadrant(PlaneReading::SavesMoreEvents),
            dominated: in_quadrant(PlaneReading::Dominated),
        },
        acceptability,
        acceptability_up_to: up_to,
        plane_draws: draws.iter().take(PLANE_DRAWS_SHOWN).copied().collect(),
    })
}

/// The quadrant of the cost-effectiveness plane a point lies in: avoiding events means more
/// than zero avoided; costing more, an incremental cost above zero.
fn quadrant(effect: f64, cost: f64) -> PlaneReading {
    match (effect > 0.0, cost > 0.0) {
        (true, false) => PlaneReading::Dominant,
        (true, true) => PlaneReading::CostsMoreAvoidsEvents,
        (false, false) => PlaneReading::SavesMoreEvents,
        (false, true) => PlaneReading::Dominated,
    }
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value` (a round axis end).
fn round_up_to_nice(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|nice| *nice >= value * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

/// The total-cost DiD and the savings reconciled: the rate ratio of total NHS cost over the
/// horizon from the same pooled sums (the total-cost DiD's estimate when the horizon is the
/// whole follow-up), and per scale the cost per treated person expected without the service,
/// the cost observed, the saving (undiscounted, and discounted with its bootstrap interval).
/// The ratio scale is the headline; the additive scale, a sensitivity, differs from it where
/// the treated and comparison baselines differ and costs drift over time.
fn reconciliation(
    sets: &[Set],
    horizon: usize,
    config: &StudyConfig,
    headline_ci: Option<[f64; 2]>,
    replicates: &[(Sums, Sums)],
) -> Scales {
    let (treated, comparison) = pooled(sets.iter(), horizon);
    let follow_up = |sums: &Sums| {
        let mut total = Cell::default();
        for month in &sums.months {
            total.add(month);
        }
        total.rate(&NO_CHANGE)
    };
    let rate_ratio = (follow_up(&treated) / treated.pre.rate(&NO_CHANGE))
        / (follow_up(&comparison) / comparison.pre.rate(&NO_CHANGE));
    let discounted = |chosen: &mut dyn Iterator<Item = &Set>, scale: Scale| {
        let monthly = savings(chosen, horizon, &NO_CHANGE, scale);
        payback(&monthly, 0.0, config.discount_rate, &[]).discounted_savings_per_person
    };
    // The headline bootstrap's replicates (its pooled sums), on the additive scale.
    let additive: Vec<f64> = replicates
        .iter()
        .map(|(treated, comparison)| {
            let monthly = savings_of(treated, comparison, horizon, &NO_CHANGE, Scale::Additive);
            payback(&monthly, 0.0, config.discount_rate, &[]).discounted_savings_per_person
        })
        .collect();
    let additive_ci = percentile_interval(&finite_replicates(&additive).0, 0.95).ok();
    let rows: Vec<ScaleRow> = [
        (
            Scale::Ratio,
            "ratio",
            "headline: the total-cost rate ratio's model",
            headline_ci,
        ),
        (
            Scale::Additive,
            "additive",
            "sensitivity: parallel trends in pounds",
            additive_ci,
        ),
    ]
    .into_iter()
    .map(|(scale, name, role, ci)| {
        let (mut expected, mut observed) = (0.0, 0.0);
        for month in 0..horizon {
            let (e, o) = monthly_costs(&treated, &comparison, month, &NO_CHANGE, scale);
            expected += e;
            observed += o;
        }
        ScaleRow {
            scale: name.into(),
            role: role.into(),
            expected_cost_per_person: finite(expected),
            observed_cost_per_person: finite(observed),
            saving_per_person: finite(expected - observed),
            discounted_saving_per_person: finite(discounted(&mut sets.iter(), scale)),
            discounted_ci95: finite_interval(ci),
        }
    })
    .collect();
    Scales {
        what: format!(
            "the total NHS cost per treated person over the first {horizon} months of follow-up (undiscounted unless stated) expected without the service on each scale, as observed (the observed cost per day at risk over the days alive, so the months after leaving the practice count at the rate of those who stayed), and the saving; the rate ratio is total cost's over the same months from the same sums"
        ),
        total_cost_rate_ratio: finite(rate_ratio),
        rows,
    }
}

/// Shares of the treated group's expected NHS costs (without the service) avoided in the grid
/// of `share_needed`.
const SHARES: [f64; 6] = [0.0, 0.05, 0.10, 0.15, 0.20, 0.30];
/// Programme costs of the grid, as multiples of the study's own.
const COST_MULTIPLES: [f64; 5] = [0.5, 0.75, 1.0, 1.25, 1.5];

/// What the service would need to achieve: the discounted NHS cost a treated person would
/// have had over the horizon without it; the share of it the study estimates was avoided
/// (savings / that cost, with the same bootstrap's interval); the share that would pay for the
/// programme; and the net saving per person for a grid of shares avoided and programme costs
/// (net = share x expected cost - programme cost), a two-way sensitivity of effect and cost.
fn share_needed(
    point: &Payback,
    expected: f64,
    cost: f64,
    share_ci: Option<[f64; 2]>,
) -> Estimated<ShareNeeded> {
    if !(expected.is_finite() && expected > 0.0) {
        return Estimated::not("the expected NHS cost without the service is not positive");
    }
    let costs: Vec<f64> = COST_MULTIPLES
        .iter()
        .map(|multiple| cost * multiple)
        .collect();
    Estimated::Done(ShareNeeded {
        what: format!(
            "the discounted NHS cost per treated person over the horizon without the service (the treated group's baseline moved by the comparison group's change, as the savings assume), the share of it avoided, and the net saving per person for shares avoided {:?} and programme costs of {:?} times the study's",
            SHARES, COST_MULTIPLES
        ),
        expected_cost_per_person: finite(expected),
        estimated_share: finite(point.discounted_savings_per_person / expected),
        estimated_share_ci95: finite_interval(share_ci),
        break_even_share: finite(cost / expected),
        programme_costs: costs.iter().map(|c| finite(*c)).collect(),
        grid: SHARES
            .iter()
            .map(|share| ShareRow {
                share: *share,
                net: costs.iter().map(|c| finite(share * expected - c)).collect(),
            })
            .collect(),
    })
}

/// Break-even thresholds at 12, 18 and 24 months: the programme cost per person at which the
/// net saving is zero (with the interval of the same bootstrap), and the caseload per
/// link-worker FTE at which the study's staffing model (or, with a cost per referral, the
/// default Band 5 model) costs that much.
fn thresholds(
    config: &StudyConfig,
    cost: f64,
    point: &Payback,
    cumulative_ci: &[Option<[f64; 2]>],
) -> Result<Thresholds> {
    let (staffing, factor, basis) = match &config.programme {
        ProgrammeCost::Staffing {
            staffing,
            uprating_factor,
            ..
        } => (
            staffing.clone(),
            *uprating_factor,
            "the study's staffing model",
        ),
        ProgrammeCost::PerReferral { .. } | ProgrammeCost::Total { .. } => (
            Staffing::default_band_5(),
            InflationIndex::bundled()?.factor(STAFFING_PRICE_YEAR, &config.price_year)?,
            "the default staffing model: one Band 5 FTE at PSSRU 2024 pay, on-costs and overheads, no grants",
        ),
    };
    let caseload = |threshold: f64| staffing.caseload_for_cost(threshold, factor);
    let caseload = |threshold: f64| caseload(threshold).and_then(finite);
    let rows: Vec<ThresholdRow> = RETURN_MONTHS
        .iter()
        .filter_map(|&month| {
            let ci = cumulative_ci.get(month as usize - 1).copied().flatten();
            let (threshold, threshold_ci) = break_even_cost(point, cost, month, ci)?;
            Some(ThresholdRow {
                months: month,
                cost_per_person: finite(threshold),
                cost_ci95: finite_interval(threshold_ci),
                caseload_per_fte: caseload(threshold),
                // A higher break-even cost needs a smaller caseload, so the bounds swap.
                caseload_ci95: threshold_ci.map(|[low, high]| [caseload(high), caseload(low)]),
            })
        })
        .collect();
    Ok(Thresholds {
        what: "thresholds, not predictions: the programme cost per person at which this study's discounted savings to each month would exactly pay for it, and the link-worker caseload at which the staffing model would cost that much (null: no caseload does, because the savings are not positive)".into(),
        staffing_basis: basis.into(),
        rows,
    })
}

/// One-way sensitivity of the net saving per person at the horizon, bars sorted by range.
fn tornado(
    sets: &[Set],
    horizon: usize,
    config: &StudyConfig,
    cost: f64,
    point: &Payback,
    savings_ci: Option<[f64; 2]>,
) -> Tornado {
    let rate = config.discount_rate;
    let net = |payback: &Payback| payback.discounted_savings_per_person;
    let base = net(point) - cost;
    let mut bars: Vec<(String, String, f64, f64, f64, f64)> = Vec::new();
    for (category, measure) in outcomes::counted().enumerate() {
        let label = measure.unit_cost_label;
        let at = |factor: f64| {
            let mut multipliers = NO_CHANGE;
            multipliers[category] = factor;
            net(&payback(
                &savings(sets.iter(), horizon, &multipliers, Scale::Ratio),
                cost,
                rate,
                &[],
            )) - cost
        };
        bars.push((
            label.to_string(),
            "±20%".into(),
            SENSITIVITY.0,
            SENSITIVITY.1,
            at(SENSITIVITY.0),
            at(SENSITIVITY.1),
        ));
    }
    let monthly = point
        .monthly
        .iter()
        .map(|row| row.saving_per_person)
        .collect::<Vec<_>>();
    bars.push((
        "Programme cost per person".into(),
        "±20%".into(),
        cost * SENSITIVITY.0,
        cost * SENSITIVITY.1,
        net(point) - cost * SENSITIVITY.0,
        net(point) - cost * SENSITIVITY.1,
    ));
    // The discount rate is a convention, not an uncertain parameter: from none to the
    // reference rate of NICE and the Green Book (3.5%), or the study's own if higher.
    let at_rate = |rate: f64| net(&payback(&monthly, cost, rate, &[])) - cost;
    let highest = rate.max(REFERENCE_DISCOUNT_RATE);
    bars.push((
        "Discount rate".into(),
        format!("0% to {:.1}%", highest * 100.0),
        0.0,
        highest,
        at_rate(0.0),
        at_rate(highest),
    ));
    if let Some([low, high]) = savings_ci {
        bars.push((
            "Effect on costs (savings 95% CI bounds)".into(),
            "bootstrap 2.5th and 97.5th percentiles".into(),
            low,
            high,
            low - cost,
            high - cost,
        ));
    }
    bars.sort_by(|a, b| {
        let range = |bar: &(String, String, f64, f64, f64, f64)| (bar.5 - bar.4).abs();
        range(b).total_cmp(&range(a)).then_with(|| a.0.cmp(&b.0))
    });
    Tornado {
        outcome: format!(
            "net saving per treated person at month {horizon} (discounted savings - programme cost)"
        ),
        base_case: finite(base),
        discount_rates: CONVENTIONAL_DISCOUNT_RATES
            .into_iter()
            .map(|rate| DiscountRateRow {
                rate,
                net: finite(at_rate(rate)),
            })
            .collect(),
        bars: bars
            .into_iter()
            .map(
                |(parameter, variation, low, high, net_low, net_high)| TornadoBar {
                    parameter,
                    variation,
                    low_value: finite(low),
                    high_value: finite(high),
                    net_at_low: finite(net_low),
                    net_at_high: finite(net_high),
                },
            )
            .collect(),
    }
}

/// Labelled scenarios past the observed follow-up: the mean saving of the last observed
/// months persists, or decays by 33% a year.
fn projections(monthly: &[f64], cost: f64, rate: f64) -> Vec<Projection> {
    let observed = monthly.len();
    if observed == 0 || observed >= PROJECTION_MONTHS {
        return Vec::new();
    }
    let base_months = PROJECTION_BASE_MONTHS.min(observed);
    let level = monthly[observed - base_months..].iter().sum::<f64>() / base_months as f64;
    let scenarios = [
        ("effect persists", 0.0),
        ("effect decays 33% a year", ANNUAL_DECAY),
    ];
    scenarios
        .iter()
        .map(|(name, annual_decay)| {
            let mut series = monthly.to_vec();
            series.extend((1..=PROJECTION_MONTHS - observed).map(|after| {
                level * (1.0 - annual_decay).powf(after as f64 / 12.0)
            }));
            let curve = payback(&series, cost, rate, &[12, 18, 24, 36]);
            Projection {
                scenario: name.to_string(),
                label: "scenario, not an estimate: months after the observed follow-up are assumed, not measured".into(),
                observed_months: observed,
                projected_to_month: PROJECTION_MONTHS,
                projected_monthly_saving_from: finite(level),
                base: format!("mean saving of the last {base_months} observed months"),
                break_even_month: curve.break_even_month,
                net_per_person_at_end: finite(curve.discounted_savings_per_person - cost),
                return_per_pound: returns(&curve),
                cumulative_net_per_person: curve
                    .monthly
                    .iter()
                    .map(|row| finite(row.cumulative_net_per_person))
                    .collect(),
            }
        })
        .collect()
}

/// `tables/economics_monthly.{parquet,csv}` (restricted): the monthly series with its
/// bootstrap band.
fn write_monthly_table(
    tables_dir: &Path,
    point: &Payback,
    cumulative_ci: &[Option<[f64; 2]>],
) -> Result<()> {
    let floats = |values: Vec<Option<f64>>| Arc::new(Float64Array::from(values)) as ArrayRef;
    let rows = &point.monthly;
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "month",
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|row| i64::from(row.month)),
            )),
        ),
        (
            "saving_per_person_gbp",
            floats(rows.iter().map(|row| Some(row.saving_per_person)).collect()),
        ),
        (
            "discount_factor",
            floats(rows.iter().map(|row| Some(row.discount_factor)).collect()),
        ),
        (
            "discounted_saving_per_person_gbp",
            floats(
                rows.iter()
                    .map(|row| Some(row.discounted_saving_per_person))
                    .collect(),
            ),
        ),
        (
            "cumulative_net_per_person_gbp",
            floats(
                rows.iter()
                    .map(|row| Some(row.cumulative_net_per_person))
                    .collect(),
            ),
        ),
        (
            "cumulative_net_ci95_low_gbp",
            floats(
                cumulative_ci
                    .iter()
                    .map(|ci| ci.map(|[low, _]| low))
                    .collect(),
            ),
        ),
        (
            "cumulative_net_ci95_high_gbp",
            floats(
                cumulative_ci
                    .iter()
                    .map(|ci| ci.map(|[_, high]| high))
                    .collect(),
            ),
        ),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), *name != "month"))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema,
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .map_err(|error| crate::engine::engine_error("economics_monthly", error))?;
    super::write_restricted_table(tables_dir, "economics_monthly", &batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One person's sums: `pre` a month before, `month` in each of two follow-up months.
    fn two_months(pre: f64, month: f64) -> Sums {
        Sums {
            pre: cell(pre, 1.0),
            months: vec![cell(month, 1.0); 2],
            persons: 1.0,
        }
    }

    fn cell(cost: f64, exposure: f64) -> Cell {
        let mut costs = [0.0; COUNTED];
        costs[0] = cost;
        Cell {
            cost: costs,
            exposure,
            ..Cell::default()
        }
    }

    /// The blocked matrix product gives each replicate the sums that pooling its resampled
    /// sets one by one gives (up to rounding), in the same order, for a number of
    /// replicates that is not a multiple of the block.
    #[test]
    fn replicate_sums_are_the_resamples_pooled_set_by_set() {
        let horizon = 3;
        let sets: Vec<Set> = (0..37)
            .map(|set| {
                let value = |offset: usize| ((set * 7 + offset * 13) % 29) as f64 + 0.25;
                let sums = |group: usize| Sums {
                    pre: Cell {
                        cost: std::array::from_fn(|category| value(group + category)),
                        effect: value(group + 40),
                        exposure: value(group + 50),
                        entering: value(group + 55),
                        left_practice: value(group + 57),
                    },
                    months: (0..horizon)
                        .map(|month| Cell {
                            cost: std::array::from_fn(|category| {
                                value(group + month * 11 + category)
                            }),
                            effect: value(group + month + 45),
                            exposure: value(group + month + 60),
                            entering: value(group + month + 65),
                            left_practice: value(group + month + 67),
                        })
                        .collect(),
                    persons: value(group + 70),
                };
                Set {
                    treated: sums(0),
                    comparison: sums(100),
                }
            })
            .collect();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| replicate_sums(&sets, horizon, 11).unwrap())
        };
        let blocked = on(1);
        assert_eq!(blocked.len(), BOOTSTRAP_REPLICATES);
        // On any thread count, the same bits.
        for threads in [2, 3] {
            let parallel = on(threads);
            for ((t1, c1), (t2, c2)) in blocked.iter().zip(&parallel) {
                assert!(t1.flat().chain(c1.flat()).eq(t2.flat().chain(c2.flat())));
            }
        }
        assert_ne!(BOOTSTRAP_REPLICATES % REPLICATE_BLOCK, 0);
        let mut replicate = 0;
        for_each_resample(sets.len(), BOOTSTRAP_REPLICATES, 11, |indices| {
            let (treated, comparison) = pooled(indices.iter().map(|&index| &sets[index]), horizon);
            for (got, want) in [
                (&blocked[replicate].0, &treated),
                (&blocked[replicate].1, &comparison),
            ] {
                for (got, want) in got.flat().zip(want.flat()) {
                    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} {want}");
                }
            }
            replicate += 1;
        })
        .unwrap();
        assert_eq!(replicate, BOOTSTRAP_REPLICATES);
    }

    #[test]
    fn savings_are_per_person_referred_not_per_surviving_person_month() {
        // Two treated people: one dies before follow-up month 0, so the treated group has one
        // person-month at risk out of two people. Per person-month at risk the treated cost
        // fell by 20 against the comparison's change (80 - 100 vs 100 - 100); per person
        // referred that is 10, since no cost follows a death in either path.
        let set = Set {
            treated: Sums {
                pre: cell(200.0, 2.0),
                months: vec![cell(80.0, 1.0)],
                persons: 2.0,
            },
            comparison: Sums {
                pre: cell(200.0, 2.0),
                months: vec![cell(200.0, 2.0)],
                persons: 2.0,
            },
        };
        let monthly = savings(std::iter::once(&set), 1, &NO_CHANGE, Scale::Ratio);
        assert_eq!(monthly, vec![10.0]);
    }

    #[test]
    fn leaving_the_practice_censors_the_saving_and_death_ends_it() {
        // Four treated people, 30-day months, costs £1 a day before. In month 0 two of them
        // leave the practice mid-month (15 days each, the life table's assumption), so 90 days
        // are observed; in month 1 the two who stayed give 60. Nobody died, so every person
        // referred was alive 30 days each month: the still-registered share is 1 - 2/4 = 0.5
        // after month 0, 0.75 at its middle, and 90 / 0.75 / 4 = 60 / 0.5 / 4 = 30. The
        // treated cost falls to £0.80 a day against a flat comparison: £0.20 x 30 = £6 saved
        // a month per person referred, where counting only the observed days (22.5, then 15)
        // would say £4.50 and £3.
        let treated = Sums {
            pre: cell(120.0, 120.0),
            months: vec![
                Cell {
                    entering: 4.0,
                    left_practice: 2.0,
                    ..cell(0.8 * 90.0, 90.0)
                },
                Cell {
                    entering: 2.0,
                    ..cell(0.8 * 60.0, 60.0)
                },
            ],
            persons: 4.0,
        };
        let comparison = Sums {
            pre: cell(120.0, 120.0),
            months: vec![cell(120.0, 120.0); 2],
            persons: 4.0,
        };
        assert_eq!(treated.days_alive_per_person(0), 30.0);
        assert_eq!(treated.days_alive_per_person(1), 30.0);
        assert_eq!(treated.still_registered(2).after_last, 0.5);
        let monthly = savings_of(&treated, &comparison, 2, &NO_CHANGE, Scale::Ratio);
        for saving in monthly {
            assert!((saving - 6.0).abs() < 1e-12, "{saving}");
        }
        let days = follow_up_days(&treated, 2);
        assert_eq!(days.registered_and_alive_per_person, Some(37.5));
        assert_eq!(days.alive_per_person, Some(60.0));
        assert_eq!(days.left_practice_share, Some(0.5));
    }

    #[test]
    fn a_counterfactual_factor_moves_the_saving_to_the_adjusted_models_ratio() {
        // Treated £60 -> £54 a month, comparison flat at £30: the plain ratio is 0.9, a saving
        // of £6 a month. An adjusted model with ratio 0.95 gives the factor 0.9 / 0.95: the
        // counterfactual becomes 60 x 0.9 / 0.95 = 56.84 and the saving 2.84.
        let set = Set {
            treated: two_months(60.0, 54.0),
            comparison: two_months(30.0, 30.0),
        };
        let plain = factored_savings(&set.treated, &set.comparison, 2, 1.0);
        assert_eq!(
            plain,
            savings(std::iter::once(&set), 2, &NO_CHANGE, Scale::Ratio)
        );
        let adjusted = factored_savings(&set.treated, &set.comparison, 2, 0.9 / 0.95);
        for saving in adjusted {
            assert!((54.0 / (54.0 + saving) - 0.95).abs() < 1e-12, "{saving}");
        }
    }

    #[test]
    fn the_ratio_scale_follows_the_rate_ratio_where_the_additive_scale_does_not() {
        // Unequal baselines and a secular rise: the treated cost £60 a person-month before,
        // the comparison £30; the comparison's cost rises 10% to £33, and the treated group's
        // to £66, so the rate ratio is 1 and nothing was saved. The additive scale expects
        // 60 + 3 = 63 and reports a cost of £3 a month.
        let set = Set {
            treated: two_months(60.0, 66.0),
            comparison: two_months(30.0, 33.0),
        };
        let ratio = savings(std::iter::once(&set), 2, &NO_CHANGE, Scale::Ratio);
        assert!(ratio.iter().all(|saving| saving.abs() < 1e-12), "{ratio:?}");
        let additive = savings(std::iter::once(&set), 2, &NO_CHANGE, Scale::Additive);
        assert!(
            additive.iter().all(|saving| (saving + 3.0).abs() < 1e-12),
            "{additive:?}"
        );

        let text =
            "[study]\nname = \"T\"\nstart = 2022-04-01\nend = 2024-03-31\ndata_end = 2026-03-31\n";
        let config = StudyConfig::parse(text, Path::new("study.toml")).unwrap();
        let table = reconciliation(std::slice::from_ref(&set), 2, &config, None, &[]);
        assert!((table.total_cost_rate_ratio.unwrap() - 1.0).abs() < 1e-12);
        let rows = &table.rows;
        assert_eq!(
            (rows[0].scale.as_str(), rows[1].scale.as_str()),
            ("ratio", "additive")
        );
        assert_eq!(rows[0].expected_cost_per_person, Some(132.0));
        assert_eq!(rows[1].expected_cost_per_person, Some(126.0));
        assert_eq!(rows[1].saving_per_person, Some(-6.0));
    }

    #[test]
    fn the_psa_spreads_the_net_saving_by_the_unit_cost_and_programme_cost_draws() {
        // No sampling variation (every replicate the same set): treated cost falls from 100 to
        // 90 a day against a flat comparison, a saving S of 10 a month; net = m S - m' c with
        // independent Gamma multipliers of mean 1 and CV 0.1.
        let sums = |month: f64| Sums {
            pre: cell(100.0, 1.0),
            months: vec![cell(month, 1.0); 24],
            persons: 1.0,
        };
        let replicates = vec![(sums(90.0), sums(100.0)); 10];
        let text =
            "[study]\nname = \"T\"\nstart = 2022-04-01\nend = 2024-03-31\ndata_end = 2026-03-31\n";
        let config = StudyConfig::parse(text, Path::new("study.toml")).unwrap();
        let saving =
            payback(&[10.0; 24], 0.0, config.discount_rate, &[]).discounted_savings_per_person;
        let cost = 200.0;
        let estimated = probabilistic_sensitivity(&replicates, &replicates[0], 24, &config, cost);
        let psa = estimated.done().unwrap();
        assert!(
            (psa.net_mean.unwrap() - (saving - cost)).abs() < 2.0,
            "{psa:?}"
        );
        let sd = PSA_CV * (saving * saving + cost * cost).sqrt();
        let normal = statrs::distribution::Normal::new(0.0, 1.0).unwrap();
        let expected = statrs::distribution::ContinuousCDF::cdf(&normal, (saving - cost) / sd);
        assert!(
            (psa.p_net_positive.unwrap() - expected).abs() < 0.03,
            "{psa:?} vs {expected}"
        );
        let [Some(low), Some(high)] = psa.net_ci95.unwrap() else {
            panic!("an interval")
        };
        assert!(
            ((high - low) / (2.0 * 1.96 * sd) - 1.0).abs() < 0.08,
            "{low}..{high}, sd {sd}"
        );
        // The same seed gives the same draws.
        assert_eq!(
            estimated,
            probabilistic_sensitivity(&replicates, &replicates[0], 24, &config, cost)
        );
    }

    #[test]
    fn the_discount_rate_is_varied_from_none_to_the_reference_rate() {
        // One set whose treated cost falls by 10 per person-month in each of 24 months.
        let sums = |monthly: f64| Sums {
            pre: cell(100.0, 1.0),
            months: vec![cell(monthly, 1.0); 24],
            persons: 1.0,
        };
        let sets = vec![Set {
            treated: sums(90.0),
            comparison: sums(100.0),
        }];
        let text =
            "[study]\nname = \"T\"\nstart = 2022-04-01\nend = 2024-03-31\ndata_end = 2026-03-31\n";
        let config = StudyConfig::parse(text, Path::new("study.toml")).unwrap();
        let cost = config.programme.per_person_gbp().unwrap();
        let point = payback(&[10.0; 24], cost, config.discount_rate, &[]);
        let tornado = tornado(&sets, 24, &config, cost, &point, None);
        let bar = tornado
            .bars
            .iter()
            .find(|bar| bar.parameter == "Discount rate")
            .unwrap();
        assert_eq!(bar.variation, "0% to 3.5%");
        assert_eq!((bar.low_value, bar.high_value), (Some(0.0), Some(0.035)));
        // Undiscounted: 24 x 10 less the programme cost; at 3.5% the base case.
        assert!((bar.net_at_low.unwrap() - (240.0 - cost)).abs() < 1e-9);
        let base = tornado.base_case.unwrap();
        assert!((bar.net_at_high.unwrap() - base).abs() < 1e-9);
        // The three conventional rates: none, 1.5% (sum of 10 x 1.015^-(m-1)/12) and 3.5%.
        let rates: Vec<f64> = tornado.discount_rates.iter().map(|row| row.rate).collect();
        assert_eq!(rates, [0.0, 0.015, 0.035]);
        let at_one_and_a_half: f64 = (1..=24).map(|m| 10.0 * discount_factor(0.015, m)).sum();
        let net = tornado.discount_rates[1].net.unwrap();
        assert!((net - (at_one_and_a_half - cost)).abs() < 1e-9, "{net}");
        assert_eq!(tornado.discount_rates[0].net, bar.net_at_low);
        assert_eq!(tornado.discount_rates[2].net, tornado.base_case);
    }

    #[test]
    fn the_share_avoided_is_the_savings_over_the_cost_expected_without_the_service() {
        // Comparison cost rises from 100 to 110 a person-month; the treated group, also at
        // 100 before, costs 99: without the service it would have cost 110, so 11 of 110
        // (10%) was avoided in each of two months.
        let set = Set {
            treated: two_months(100.0, 99.0),
            comparison: two_months(100.0, 110.0),
        };
        let expected = expected_cost_without_service(&set.treated, &set.comparison, 2, 0.0);
        assert!((expected - 220.0).abs() < 1e-9);
        let point = payback(
            &savings(std::iter::once(&set), 2, &NO_CHANGE, Scale::Ratio),
            11.0,
            0.0,
            &[],
        );
        let estimated = share_needed(&point, expected, 11.0, None);
        let needed = estimated.done().unwrap();
        assert!((needed.estimated_share.unwrap() - 0.1).abs() < 1e-12);
        assert!((needed.break_even_share.unwrap() - 0.05).abs() < 1e-12);
        // 20% of 220 avoided at 1.5 x the programme cost of 11: 44 - 16.5.
        let net = needed.grid[4].net[4].unwrap();
        assert!((net - 27.5).abs() < 1e-9, "{needed:?}");
        assert!(share_needed(&point, 0.0, 11.0, None).reason().is_some());
    }

    fn study_config() -> StudyConfig {
        let text =
            "[study]\nname = \"T\"\nstart = 2022-04-01\nend = 2024-03-31\ndata_end = 2026-03-31\n";
        StudyConfig::parse(text, Path::new("study.toml")).unwrap()
    }

    /// Sums whose only cost is the effect measure's events at £`unit_cost` each.
    fn effect_sums(pre_events: f64, month_events: f64, months: usize, unit_cost: f64) -> Sums {
        let config = study_config();
        let category = outcomes::counted()
            .position(|measure| measure.code == config.cost_effectiveness_effect)
            .unwrap();
        let cell = |events: f64| {
            let mut cost = [0.0; COUNTED];
            cost[category] = events * unit_cost;
            Cell {
                cost,
                effect: events,
                exposure: 30.0,
                ..Cell::default()
            }
        };
        Sums {
            pre: cell(pre_events),
            months: vec![cell(month_events); months],
            persons: 1.0,
        }
    }

    #[test]
    fn events_avoided_are_the_savings_counted_in_events() {
        // Treated 10 events a month before and 8 after, the comparison flat: 2 avoided a
        // month. With every cost the effect's events at £150, the discounted saving is £150
        // times the discounted events avoided.
        let (treated, comparison) = (
            effect_sums(10.0, 8.0, 24, 150.0),
            effect_sums(10.0, 10.0, 24, 150.0),
        );
        let avoided = events_avoided(&treated, &comparison, 24, 0.035);
        let discounted: f64 = (1..=24)
            .map(|month| 2.0 * discount_factor(0.035, month))
            .sum();
        assert!(
            (avoided - discounted).abs() < 1e-9,
            "{avoided} vs {discounted}"
        );
        let monthly = savings_of(&treated, &comparison, 24, &NO_CHANGE, Scale::Ratio);
        let saving = payback(&monthly, 0.0, 0.035, &[]).discounted_savings_per_person;
        assert!(
            (saving - 150.0 * avoided).abs() < 1e-6,
            "{saving} vs {avoided}"
        );
        // The comparison group's own change scales the counterfactual: it rose 10%, so 11
        // were expected and 3 avoided a month.
        let rising = effect_sums(10.0, 11.0, 1, 150.0);
        let one_month = events_avoided(&effect_sums(10.0, 8.0, 1, 150.0), &rising, 1, 0.0);
        assert!((one_month - 3.0).abs() < 1e-12, "{one_month}");
    }

    #[test]
    fn the_plane_reads_each_draw_by_its_quadrant_and_net_benefit() {
        // One draw per quadrant (events avoided, incremental cost).
        let draws = [[0.1, 100.0], [0.2, -50.0], [-0.1, 30.0], [-0.05, -10.0]];
        let point = (
            effect_sums(10.0, 8.0, 2, 150.0),
            effect_sums(10.0, 10.0, 2, 150.0),
        );
        let estimated = plane(&draws, &point, 2, &study_config());
        let plane = estimated.done().unwrap();
        assert_eq!(plane.effect_measure, "emergency_admissions");
        assert_eq!(
            [
                plane.quadrants.dominant,
                plane.quadrants.costs_more_avoids_events,
                plane.quadrants.saves_more_events,
                plane.quadrants.dominated,
            ],
            [0.25; 4]
        );
        // Mean effect 0.0375, mean cost 17.5: more cost, fewer events, £466.67 per event.
        assert_eq!(plane.reading, PlaneReading::CostsMoreAvoidsEvents);
        assert!((plane.cost_per_event_avoided.unwrap() - 17.5 / 0.0375).abs() < 1e-9);
        // Up to 5 x £150 = £750 per event, rounded up to £1,000; at £0 only the dominant draw and the one that
        // saves with more events have a positive net benefit (half); at £750 the draw
        // costing £100 for 0.1 avoided (net benefit -25) still does not.
        assert_eq!(plane.acceptability_up_to, 1000.0);
        let at = |willingness: f64| {
            plane
                .acceptability
                .iter()
                .find(|point| point.willingness_to_pay == willingness)
                .unwrap()
                .p_cost_effective
        };
        assert_eq!(at(0.0), 0.5);
        assert_eq!(at(750.0), 0.25);
        // 0.1 x 1000 - 100 = 0: not positive; -0.05 x 1000 + 10 < 0.
        assert_eq!(at(1000.0), 0.25);
        assert_eq!(plane.acceptability.len(), ACCEPTABILITY_STEPS + 1);
        assert_eq!(plane.plane_draws, draws.to_vec());
    }

    #[test]
    fn the_plane_is_not_estimable_on_too_few_events_or_none() {
        let config = study_config();
        let few = (
            effect_sums(10.0, 8.0, 2, 150.0),
            effect_sums(4.0, 10.0, 2, 150.0),
        );
        let reason = plane(&[[0.1, 1.0]], &few, 2, &config);
        assert!(
            reason
                .reason()
                .unwrap()
                .contains("4 in the comparison group's baseline, fewer than 5"),
            "{reason:?}"
        );
        let none = (
            effect_sums(0.0, 0.0, 2, 150.0),
            effect_sums(0.0, 0.0, 2, 150.0),
        );
        assert!(
            plane(&[[0.0, 1.0]], &none, 2, &config)
                .reason()
                .unwrap()
                .starts_with("no data")
        );
    }

    #[test]
    fn acceptability_axes_end_at_round_values() {
        assert_eq!(round_up_to_nice(17_530.0), 20_000.0);
        assert_eq!(round_up_to_nice(3_506.0), 5_000.0);
        assert_eq!(round_up_to_nice(2_400.0), 2_500.0);
        assert_eq!(round_up_to_nice(750.0), 1_000.0);
        assert_eq!(round_up_to_nice(200.0), 200.0);
        assert_eq!(round_up_to_nice(0.0), 1.0);
    }

    #[test]
    fn projections_are_labelled_and_decay_as_stated() {
        let monthly = vec![30.0; 24];
        let value = projections(&monthly, 500.0, 0.0);
        let persists = &value[0];
        let decays = &value[1];
        assert_eq!(persists.projected_to_month, 36);
        assert!(persists.label.contains("not an estimate"));
        // Undiscounted: 36 × 30 − 500 = 580; decays: 24 × 30 + Σ_{a=1..12} 30 × 0.67^(a/12) − 500.
        assert!((persists.net_per_person_at_end.unwrap() - 580.0).abs() < 1e-9);
        let decayed: f64 = (1..=12).map(|a| 30.0 * 0.67f64.powf(a as f64 / 12.0)).sum();
        assert!((decays.net_per_person_at_end.unwrap() - (720.0 + decayed - 500.0)).abs() < 1e-9);
        assert_eq!(persists.break_even_month, Some(17));
        assert!(projections(&vec![1.0; 36], 1.0, 0.0).is_empty());
    }
}
