//! Service-use outcomes per measure (docs/methods.md, Service use):
//! - before/after of the treated group alone (labelled uncontrolled: regression to the mean);
//! - difference-in-differences on the matched sample: Poisson GLM of person x period counts,
//!   `count ~ treated + post + treated:post + offset(log(exposure years))`, rate ratio
//!   exp(treated:post) with a cluster-robust CI by matched set (statsmodels' factor); for
//!   total cost the same model is Poisson pseudo-maximum likelihood (valid for non-negative
//!   outcomes with robust SEs);
//! - the absolute change in events per person-year (difference in rate changes) with a
//!   percentile bootstrap CI over matched sets (seeded ChaCha8);
//! - ANCOVA on the lagged outcome as a sensitivity analysis (it brackets the truth with the
//!   DiD where the groups' baselines differ); the comparison group's own before/after (its change over
//!   the same months without referral: a secular change, and regression to the mean only in
//!   so far as matching selected it on high use too); the event study (monthly rates of both
//!   groups, exact Poisson 95% CIs for counts) and the event study as a regression
//!   (`stats::event_study`: monthly contrasts and a pre-trend test).
//!
//! Sums over months are taken in Rust over rows ordered by person and month, so results do
//! not depend on how the engine partitioned the work.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::prelude::SessionContext;
use nalgebra::DMatrix;
use serde_json::{Value, json};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use super::comparison::SubgroupMember;
use super::{
    BOOTSTRAP_REPLICATES, BREAKDOWNS, Columns, MIN_SUBGROUP_SETS, StillRegistered,
    breakdown_columns, comparison_weights, finite, leaving_counts, left_practice_months,
    matched_comparison_weights, matched_panel_sql, not_estimated, still_registered,
};
use crate::config::StudyConfig;
use crate::error::{Error, Result};
use crate::outcomes::{self, MEASURES};
use crate::results::{
    Avoided, BeforeAfter, ChiSquared as ChiSquaredTest, Contrast, Did, Estimated, EventStudyMonth,
    EventStudyRegression, Interaction, MeasureDid, MinimumDetectable, PreTrend, RateRatio,
    RatioTest, ServiceUseRow, ServiceUseSubgroup,
};
use crate::stats::bootstrap::{bca_interval, finite_replicates, percentile_interval, resample};
use crate::stats::event_study::{CellSums, event_study};
use crate::stats::glm::{self, Covariance, Family, WaldTest};
use crate::stats::multiplicity::{benjamini_hochberg, holm};
use crate::stats::power::minimum_detectable_rate_ratios;
use crate::stats::{StatsError, StatsResult};

const DAYS_PER_YEAR: f64 = 365.25;

/// A Poisson DiD needs at least this many events in each of its four cells (group x period):
/// with fewer, a zero cell sends the interaction to minus infinity with a tight, meaningless
/// interval, and a handful of events gives a ratio driven by a few people.
pub const MIN_EVENTS_PER_CELL: usize = 5;

/// Refuses a DiD the data cannot support: no data at all (e.g. no hospital extract), or a
/// cell with fewer than `MIN_EVENTS_PER_CELL` events (any cell without cost, for cost).
fn check_cells(people: &[Person], measure: usize) -> StatsResult<()> {
    let mut cells = [[0.0; 2]; 2];
    for person in people {
        for (period, cell) in cells[usize::from(person.treated)].iter_mut().enumerate() {
            *cell += person.events[measure][period];
        }
    }
    let name = MEASURES[measure].code;
    let cost = MEASURES[measure].is_cost();
    if cells.iter().flatten().all(|&total| total == 0.0) {
        return Err(StatsError::NoData(if cost {
            "costed use".into()
        } else {
            format!("{name} events")
        }));
    }
    let needed = if cost { 1 } else { MIN_EVENTS_PER_CELL };
    for (group, periods) in ["comparison group's", "treated group's"].iter().zip(cells) {
        for (period, total) in ["baseline", "follow-up"].iter().zip(periods) {
            if total < needed as f64 {
                return Err(StatsError::TooFewEvents {
                    cell: format!("{group} {period}"),
                    events: total,
                    needed,
                });
            }
        }
    }
    Ok(())
}

/// Breakdowns with no interaction test: referral reason, whose levels overlap (a person may
/// have several reasons), so no single model compares them; and practice, whose levels can
/// number hundreds (one fully interacted model per measure would have two columns per
/// practice).
const NO_INTERACTION_TEST: [&str; 2] = ["referral_reason", "practice"];

/// DiD per measure within each level of each breakdown, each p-value also Benjamini-Hochberg
/// adjusted across every subgroup estimate of its measure; and, per breakdown with separate
/// levels, whether the rate ratio differs between them. A person-level breakdown (sex, age
/// band, IMD quintile, ethnicity, practice) uses its own sets, rematched exactly on it
/// (`rematched`, from `Pool::rematch_within`); the referral's own facts (route, reasons) split
/// the headline's sets by their referred member's level.
async fn subgroups(
    ctx: &SessionContext,
    config: &StudyConfig,
    people: &[Person],
    adjustment: Adjustment,
    rematched: &[(&str, Vec<SubgroupMember>)],
) -> Result<(Vec<ServiceUseSubgroup>, Vec<Interaction>)> {
    let columns = Columns::query(
        ctx,
        &format!(
            "select m.set_id, {} from comparison_sets as m \
             inner join analysis_cohort as c on m.person_id = c.person_id \
             inner join index_dates as i on m.person_id = i.person_id \
             where m.group_name = 'treated' order by m.set_id",
            breakdown_columns()
        ),
    )
    .await?;
    let sets: Vec<i64> = columns
        .floats_or_zero("set_id")?
        .into_iter()
        .map(|set| set as i64)
        .collect();
    let own = if rematched.is_empty() {
        BTreeMap::new()
    } else {
        load_subgroup_people(ctx, config).await?
    };
    let mut rows = Vec::new();
    let mut interactions = Vec::new();
    for breakdown in &BREAKDOWNS {
        let estimates = match rematched.iter().find(|(name, _)| *name == breakdown.name) {
            Some((_, members)) => {
                let (members_people, levels) = rematched_people(members, &own)?;
                breakdown_estimates(breakdown.name, &members_people, levels, adjustment)
            }
            None => {
                let levels = levels_of_sets(&sets, &columns.texts(breakdown.name)?);
                breakdown_estimates(breakdown.name, people, levels, adjustment)
            }
        };
        rows.extend(estimates.0);
        interactions.extend(estimates.1);
    }
    adjust_subgroup_p_values(&mut rows);
    Ok((rows, interactions))
}

/// The matched sets of each level of a breakdown.
type SetsByLevel = BTreeMap<String, BTreeSet<i64>>;

/// The matched sets in each level, from each set's referred member's level(s) (`;`-joined
/// levels each count; none is "unknown").
fn levels_of_sets(sets: &[i64], values: &[Option<String>]) -> SetsByLevel {
    let mut levels = SetsByLevel::new();
    for (set, value) in sets.iter().zip(values) {
        for level in value
            .as_deref()
            .unwrap_or("unknown")
            .split(';')
            .filter(|level| !level.is_empty())
        {
            levels.entry(level.to_string()).or_default().insert(*set);
        }
    }
    levels
}

/// A rematched breakdown's people (their own sums from `own`, with their set, group and
/// weight 1/k among their set's k comparison people) and the sets in each level.
fn rematched_people(
    members: &[SubgroupMember],
    own: &BTreeMap<String, Person>,
) -> Result<(Vec<Person>, SetsByLevel)> {
    let weights = comparison_weights(
        members
            .iter()
            .enumerate()
            .map(|(row, member)| (member.set, member.treated, row)),
    );
    let mut levels = SetsByLevel::new();
    let people = members
        .iter()
        .map(|member| {
            // Everyone matched has a panel row for every month (person_months); a member
            // without one would count as a person with no use and no exposure.
            let Some(own) = own.get(&member.person_id) else {
                return Err(Error::Engine(format!(
                    "a member of a subgroup's matched set has no person-month panel (breakdown level '{}')",
                    member.level
                )));
            };
            if member.treated {
                levels
                    .entry(member.level.clone())
                    .or_default()
                    .insert(member.set);
            }
            Ok(Person {
                set: member.set,
                treated: member.treated,
                weight: if member.treated {
                    1.0
                } else {
                    weights[&member.set]
                },
                ..own.clone()
            })
        })
        .collect::<Result<_>>()?;
    Ok((people, levels))
}

/// One breakdown's subgroup rows (a DiD per measure in each level with at least
/// `MIN_SUBGROUP_SETS` matched sets) and, unless `NO_INTERACTION_TEST`, its interaction tests.
/// The levels' fits, and then the measures' tests, run side by side.
fn breakdown_estimates(
    breakdown: &str,
    people: &[Person],
    levels: SetsByLevel,
    adjustment: Adjustment,
) -> (Vec<ServiceUseSubgroup>, Vec<Interaction>) {
    let levels: Vec<(String, BTreeSet<i64>)> = levels.into_iter().collect();
    let fits = super::parallel::map(&levels, |(_, members)| {
        (members.len() >= MIN_SUBGROUP_SETS).then(|| {
            let chosen: Vec<Person> = people
                .iter()
                .filter(|person| members.contains(&person.set))
                .cloned()
                .collect();
            (0..MEASURES.len())
                .map(|index| did_with(&chosen, index, None, adjustment))
                .collect::<Vec<_>>()
        })
    });
    let mut rows = Vec::new();
    // For the interaction test, per measure: the group number of each matched set in a
    // level estimated for that measure, and how many such levels there are.
    let mut estimated: Vec<(BTreeMap<i64, usize>, usize)> =
        vec![(BTreeMap::new(), 0); MEASURES.len()];
    for ((level, members), fits) in levels.into_iter().zip(fits) {
        let mut row = ServiceUseSubgroup {
            breakdown: breakdown.to_string(),
            level,
            matched_sets: members.len() as u64,
            balance: None,
            not_estimated: None,
            measures: None,
        };
        match fits {
            None => {
                row.not_estimated = Some(format!("fewer than {MIN_SUBGROUP_SETS} matched sets"));
            }
            Some(fits) => {
                let measures: Vec<MeasureDid> = MEASURES
                    .iter()
                    .zip(fits)
                    .enumerate()
                    .map(|(index, (measure, fit))| {
                        let did = match fit {
                            Ok(estimate) => {
                                let (group_of, groups) = &mut estimated[index];
                                group_of.extend(members.iter().map(|set| (*set, *groups)));
                                *groups += 1;
                                Estimated::Done(estimate)
                            }
                            Err(error) => Estimated::Not(not_estimated(&error)),
                        };
                        MeasureDid {
                            measure: measure.code.to_string(),
                            did,
                        }
                    })
                    .collect();
                row.measures = Some(measures);
            }
        }
        rows.push(row);
    }
    if NO_INTERACTION_TEST.contains(&breakdown) {
        return (rows, Vec::new());
    }
    let measures: Vec<usize> = (0..MEASURES.len()).collect();
    let interactions = super::parallel::map(&measures, |&index| {
        let (group_of, groups) = &estimated[index];
        let test = match interaction(people, group_of, *groups, index) {
            Ok(test) => Estimated::Done(ChiSquaredTest {
                chi2: finite(test.statistic),
                df: test.df,
                p: finite(test.p),
            }),
            Err(error) => Estimated::Not(not_estimated(&error)),
        };
        Interaction {
            breakdown: breakdown.to_string(),
            measure: MEASURES[index].code.to_string(),
            levels: *groups,
            test,
        }
    });
    (rows, interactions)
}

/// Benjamini-Hochberg across every subgroup estimate of a measure (all breakdowns and
/// levels): a reader scans them all for the one that stands out, so the false discovery
/// rate is controlled over that whole family (`p_bh` beside each `p`).
fn adjust_subgroup_p_values(rows: &mut [ServiceUseSubgroup]) {
    for measure in MEASURES {
        let mut found: Vec<(&mut Did, f64)> = rows
            .iter_mut()
            .flat_map(|row| row.measures.iter_mut().flatten())
            .filter(|estimate| estimate.measure == measure.code)
            .filter_map(|estimate| match &mut estimate.did {
                Estimated::Done(did) => did.p.map(|p| (did, p)),
                Estimated::Not(_) => None,
            })
            .collect();
        let p: Vec<f64> = found.iter().map(|(_, p)| *p).collect();
        if let Ok(adjusted) = benjamini_hochberg(&p) {
            for ((did, _), value) in found.iter_mut().zip(adjusted) {
                did.p_bh = finite(value);
            }
        }
    }
}

/// Whether a measure's DiD rate ratio differs between a breakdown's levels (`group_of`: each
/// matched set's level number, 0..`groups`; sets not in it are left out): one Poisson GLM fully interacted by level (for each level the columns
/// 1, treated, post, treated x post), cluster-robust by matched set, and the joint Wald test
/// that every level's treated x post coefficient equals the first level's (chi-squared with
/// levels - 1 degrees of freedom). Checked against statsmodels (`tests/fixtures/stats/wald.json`).
fn interaction(
    people: &[Person],
    group_of: &BTreeMap<i64, usize>,
    groups: usize,
    measure: usize,
) -> StatsResult<WaldTest> {
    if groups < 2 {
        return Err(StatsError::NotApplicable(
            "fewer than two groups could be estimated".into(),
        ));
    }
    let width = 4 * groups;
    let (mut values, mut y, mut offset, mut clusters, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for person in people {
        let Some(&level) = group_of.get(&person.set) else {
            continue;
        };
        for period in 0..2 {
            let days = person.exposure_days[period];
            if days <= 0.0 {
                continue;
            }
            let (treated, post) = (f64::from(u8::from(person.treated)), period as f64);
            let mut row = vec![0.0; width];
            row[4 * level..4 * level + 4].copy_from_slice(&[1.0, treated, post, treated * post]);
            values.extend(row);
            y.push(person.events[measure][period]);
            offset.push((days / DAYS_PER_YEAR).ln());
            clusters.push(person.set as u64);
            weights.push(person.weight);
        }
    }
    let x = DMatrix::from_row_slice(y.len(), width, &values);
    let fit = glm::fit_weighted(&x, &y, Some(&offset), Some(&weights), Family::Poisson)?;
    let contrast = DMatrix::from_fn(groups - 1, width, |row, column| {
        if column == 3 {
            -1.0
        } else if column == 4 * (row + 1) + 3 {
            1.0
        } else {
            0.0
        }
    });
    fit.wald_test(&contrast, &Covariance::Cluster(&clusters))
}

/// The placebo DiD inside the baseline window (its second half against its first) per count
/// measure, on the matched sets whose members all have the data for it (`placebo_periods`).
/// Nobody was referred then, so a rate ratio away from 1 is a pre-existing trend difference.
async fn placebo(ctx: &SessionContext) -> Result<BTreeMap<usize, Estimated<Did>>> {
    let columns = Columns::query(ctx, &placebo_sql()).await?;
    let sets = columns.floats_or_zero("set_id")?;
    let groups = columns.texts("group_name")?;
    let pre_days = columns.floats_or_zero("placebo_pre_days")?;
    let post_days = columns.floats_or_zero("placebo_post_days")?;
    let mut people: Vec<Person> = (0..sets.len())
        .map(|row| Person {
            set: sets[row] as i64,
            treated: groups[row].as_deref() == Some("treated"),
            exposure_days: [pre_days[row], post_days[row]],
            ..Person::default()
        })
        .collect();
    for (measure, counted) in MEASURES
        .iter()
        .enumerate()
        .filter(|(_, measure)| !measure.is_cost())
    {
        let pre = columns.floats_or_zero(&format!("{}_pre", counted.code))?;
        let post = columns.floats_or_zero(&format!("{}_post", counted.code))?;
        for (row, person) in people.iter_mut().enumerate() {
            person.events[measure] = [pre[row], post[row]];
        }
    }
    // Only complete sets: a treated person and at least one comparison.
    let mut complete: BTreeMap<i64, [bool; 2]> = BTreeMap::new();
    for person in &people {
        complete.entry(person.set).or_default()[usize::from(person.treated)] = true;
    }
    people.retain(|person| complete[&person.set] == [true, true]);
    // Weights among the comparison people with placebo data (one row per person).
    let weights = comparison_weights(
        people
            .iter()
            .enumerate()
            .map(|(row, person)| (person.set, person.treated, row)),
    );
    for person in people.iter_mut().filter(|person| !person.treated) {
        person.weight = weights[&person.set];
    }
    let set_count = complete
        .values()
        .filter(|groups| **groups == [true, true])
        .count();
    let mut results = BTreeMap::new();
    for (measure, entry) in MEASURES.iter().enumerate() {
        let value = if entry.is_cost() {
            Estimated::not("the placebo is for event counts")
        } else if set_count < MIN_SUBGROUP_SETS {
            Estimated::not(format!(
                "{set_count} matched sets have data over the whole baseline window (fewer than {MIN_SUBGROUP_SETS})"
            ))
        } else {
            // Unadjusted whatever the design: the placebo people carry no prior-use windows.
            match did_with(&people, measure, None, Adjustment::None) {
                Ok(estimate) => Estimated::Done(Did {
                    matched_sets: Some(set_count as u64),
                    ..estimate
                }),
                Err(error) => Estimated::Not(not_estimated(&error)),
            }
        };
        results.insert(measure, value);
    }
    Ok(results)
}

/// The matched people with placebo periods, one row each with their two halves' days and `<measure>_pre` / `<measure>_post` events per counted measure (from the long
/// `placebo_use`), ordered by set and person.
fn placebo_sql() -> String {
    let mut pivot = Vec::new();
    let mut coalesced = Vec::new();
    for measure in outcomes::counted() {
        for period in ["pre", "post"] {
            let (code, column) = (measure.code, format!("{}_{period}", measure.code));
            pivot.push(format!(
                "sum(case when measure = '{code}' then {period}_events else 0 end) as {column}"
            ));
            coalesced.push(format!("coalesce(use_wide.{column}, 0) as {column}"));
        }
    }
    format!(
        "with use_wide as (select person_id, {} from placebo_use \
         where person_id in (select person_id from comparison_sets) group by person_id) \
         select p.person_id, p.placebo_pre_days, p.placebo_post_days, m.set_id, m.group_name, {} \
         from placebo_periods as p inner join comparison_sets as m on p.person_id = m.person_id \
         left join use_wide on p.person_id = use_wide.person_id order by m.set_id, p.person_id",
        pivot.join(", "),
        coalesced.join(", ")
    )
}

pub struct ServiceUse {
    pub results: Vec<ServiceUseRow>,
    /// DiD by equity breakdown (results.json `equity.service_use`).
    pub subgroups: Vec<ServiceUseSubgroup>,
    /// Per breakdown and measure, whether the DiD differs between groups (results.json
    /// `equity.service_use_interactions`).
    pub interactions: Vec<Interaction>,
    pub methods: Value,
}

/// The uncontrolled before/after compares the follow-up with the 12 months before referral,
/// as published uncontrolled evaluations do, whatever the DiD's baseline.
const NAIVE_BEFORE_MONTHS: i64 = 12;

/// Totals of one matched person: [baseline, post] for the difference-in-differences (months
/// outside the baseline window and the follow-up are in neither), and the 12 months before
/// referral for the uncontrolled before/after.
#[derive(Debug, Clone)]
struct Person {
    set: i64,
    treated: bool,
    /// 1 for the referred person; 1/k for each of the k comparison people matched to them, so
    /// every matched set counts once on each side whatever its size (`match_ratio` > 1).
    weight: f64,
    exposure_days: [f64; 2],
    events: [[f64; 2]; MEASURES.len()],
    naive_before_days: f64,
    naive_before_events: [f64; MEASURES.len()],
    /// Exposure days and events per measure in the months the matching looks at, -12..-4 and
    /// -3..-1 (`PRIOR_USE_WINDOWS`), for designs that adjust for prior use.
    prior_days: [f64; 2],
    prior_events: [[f64; 2]; MEASURES.len()],
}

/// The windows of prior use a design may adjust for (the matching's windows,
/// `queries/panel/matching_covariates.sql`): months -12..-4 and -3..-1.
const PRIOR_USE_WINDOWS: [std::ops::Range<i64>; 2] = [-12..-3, -3..0];

impl Default for Person {
    fn default() -> Person {
        Person {
            set: 0,
            treated: false,
            weight: 1.0,
            exposure_days: [0.0; 2],
            events: [[0.0; 2]; MEASURES.len()],
            naive_before_days: 0.0,
            naive_before_events: [0.0; MEASURES.len()],
            prior_days: [0.0; 2],
            prior_events: [[0.0; 2]; MEASURES.len()],
        }
    }
}

impl Person {
    /// Adds one month of the person's panel (`counts[measure][row]`) to their own sums: the
    /// uncontrolled before/after, the prior-use windows and the DiD's two periods.
    fn add_month(
        &mut self,
        month: i64,
        exposure: f64,
        counts: &[Vec<f64>],
        row: usize,
        config: &StudyConfig,
    ) {
        if (-NAIVE_BEFORE_MONTHS..0).contains(&month) {
            self.naive_before_days += exposure;
            for (measure, values) in counts.iter().enumerate() {
                self.naive_before_events[measure] += values[row];
            }
        }
        if let Some(window) = PRIOR_USE_WINDOWS
            .iter()
            .position(|window| window.contains(&month))
        {
            self.prior_days[window] += exposure;
            for (measure, values) in counts.iter().enumerate() {
                self.prior_events[measure][window] += values[row];
            }
        }
        let baseline_start = -i64::from(config.washout_months + config.baseline_months);
        if month < 0 && (month >= -i64::from(config.washout_months) || month < baseline_start) {
            return; // the wash-out, or before the baseline window: in no DiD period
        }
        let period = usize::from(month >= 0);
        self.exposure_days[period] += exposure;
        for (measure, values) in counts.iter().enumerate() {
            self.events[measure][period] += values[row];
        }
    }

    /// Multiplies every sum of one measure by `factor` (a change of unit).
    fn scale_measure(&mut self, measure: usize, factor: f64) {
        for value in self.events[measure]
            .iter_mut()
            .chain(self.prior_events[measure].iter_mut())
            .chain(std::iter::once(&mut self.naive_before_events[measure]))
        {
            *value *= factor;
        }
    }

    /// Events and exposure days of a period of the uncontrolled before/after.
    fn naive(&self, measure: usize, period: usize) -> (f64, f64) {
        if period == 0 {
            (self.naive_before_events[measure], self.naive_before_days)
        } else {
            (self.events[measure][1], self.exposure_days[1])
        }
    }

    /// ln(1 + rate per person-year) of a measure in each prior-use window (0 without
    /// exposure there): the covariates of a design that adjusts for prior use.
    fn prior_use(&self, measure: usize) -> [f64; 2] {
        let mut covariates = [0.0; 2];
        for (window, covariate) in covariates.iter_mut().enumerate() {
            let days = self.prior_days[window];
            if days > 0.0 {
                *covariate = (self.prior_events[measure][window] / (days / DAYS_PER_YEAR)).ln_1p();
            }
        }
        covariates
    }
}

/// Event-study cells: (treated?, month) -> (exposure days, events per measure).
type Monthly = BTreeMap<(bool, i64), (f64, [f64; MEASURES.len()])>;

/// Exposure days and events per measure of each matched set in each (group, month) cell, for
/// the event-study regression: `by_set[set][group * months + month index]` = [exposure,
/// events of measure 0, ...]; `rows` counts the person-months with exposure behind them.
#[derive(Default)]
struct EventCells {
    by_set: BTreeMap<i64, Vec<[f64; MEASURES.len() + 1]>>,
    rows: usize,
    months: usize,
    first_month: i64,
    /// Per follow-up month, the treated people at risk at its start and those whose
    /// follow-up ended in it by leaving the practice (`super::still_registered`).
    treated_leaving: Vec<(f64, f64)>,
}

/// The own sums (`Person::add_month`; no set or group yet) of everyone in a rematched
/// subgroup's sets (`subgroup_sets`), by person id, from their person-month panel. Every sum
/// is of whole numbers (events, days, cost in micro-pounds, scaled to pounds once summed), so
/// it is exact in any order and the panel is read as the engine produces it, unsorted.
async fn load_subgroup_people(
    ctx: &SessionContext,
    config: &StudyConfig,
) -> Result<BTreeMap<String, Person>> {
    let sql = outcomes::wide_panel_sql(
        "p.person_id, p.relative_month, p.exposure_days",
        "(select distinct person_id from subgroup_sets)",
        "",
    );
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    Columns::for_each_batch(ctx, &sql, |columns| {
        let ids = columns.texts("person_id")?;
        let months = columns.floats_or_zero("relative_month")?;
        let exposure = columns.floats_or_zero("exposure_days")?;
        let counts: Vec<Vec<f64>> = MEASURES
            .iter()
            .map(|measure| {
                let values = columns.floats_or_zero(&measure.panel_column())?;
                Ok(if measure.is_cost() {
                    values.iter().map(|pounds| (pounds * 1e6).round()).collect()
                } else {
                    values
                })
            })
            .collect::<Result<_>>()?;
        for row in 0..ids.len() {
            let person = people
                .entry(ids[row].clone().unwrap_or_default())
                .or_default();
            person.add_month(months[row] as i64, exposure[row], &counts, row, config);
        }
        Ok(())
    })
    .await?;
    for person in people.values_mut() {
        for (measure, entry) in MEASURES.iter().enumerate() {
            if entry.is_cost() {
                person.scale_measure(measure, 1e-6);
            }
        }
    }
    Ok(people)
}

/// Each matched person's baseline and follow-up totals, the monthly event-study cells and,
/// when `with_set_cells` (the headline estimate; not the rate ratios of every candidate
/// design), the per-set cells of the event-study regression and the treated group's life
/// table of leaving the practice (people entering and leaving per follow-up month).
async fn load_people(
    ctx: &SessionContext,
    config: &StudyConfig,
    with_set_cells: bool,
) -> Result<(Vec<Person>, Monthly, EventCells)> {
    let weights = matched_comparison_weights(ctx).await?;
    let left_practice = if with_set_cells {
        left_practice_months(ctx, config).await?
    } else {
        BTreeMap::new()
    };
    let mut people: Vec<Person> = Vec::new();
    let mut monthly = Monthly::new();
    let mut cells = EventCells {
        months: (config.pre_months + config.post_months) as usize,
        first_month: -i64::from(config.pre_months),
        treated_leaving: vec![(0.0, 0.0); config.post_months as usize],
        ..EventCells::default()
    };
    let mut last_id: Option<String> = None;
    Columns::for_each_batch(ctx, &matched_panel_sql(), |columns| {
        let ids = columns.texts("person_id")?;
        let sets = columns.floats_or_zero("set_id")?;
        let groups = columns.texts("group_name")?;
        let months = columns.floats_or_zero("relative_month")?;
        let exposure = columns.floats_or_zero("exposure_days")?;
        let counts: Vec<Vec<f64>> = MEASURES
            .iter()
            .map(|measure| columns.floats_or_zero(&measure.panel_column()))
            .collect::<Result<_>>()?;
        for row in 0..ids.len() {
            if ids[row] != last_id {
                let (set, treated) = (sets[row] as i64, groups[row].as_deref() == Some("treated"));
                people.push(Person {
                    set,
                    treated,
                    weight: if treated { 1.0 } else { weights[&set] },
                    ..Person::default()
                });
                last_id.clone_from(&ids[row]);
            }
            let person = people.last_mut().expect("a person was pushed");
            let weight = person.weight;
            let month = months[row] as i64;
            let cell = monthly.entry((person.treated, month)).or_default();
            cell.0 += weight * exposure[row];
            for (measure, values) in counts.iter().enumerate() {
                cell.1[measure] += weight * values[row];
            }
            let index = month - cells.first_month;
            if with_set_cells && exposure[row] > 0.0 && (0..cells.months as i64).contains(&index) {
                let months = cells.months;
                let set = cells
                    .by_set
                    .entry(person.set)
                    .or_insert_with(|| vec![[0.0; MEASURES.len() + 1]; 2 * months]);
                let sums = &mut set[usize::from(person.treated) * months + index as usize];
                sums[0] += weight * exposure[row];
                for (measure, values) in counts.iter().enumerate() {
                    sums[measure + 1] += weight * values[row];
                }
                cells.rows += 1;
                if person.treated && month >= 0 {
                    let (entering, left) =
                        leaving_counts(exposure[row], ids[row].as_ref(), month, &left_practice);
                    let leaving = &mut cells.treated_leaving[month as usize];
                    leaving.0 += entering;
                    leaving.1 += left;
                }
            }
            person.add_month(month, exposure[row], &counts, row, config);
        }
        Ok(())
    })
    .await?;
    Ok((people, monthly, cells))
}

/// The event study as a regression for one counted measure (`stats::event_study`): per
/// month the treated-comparison rate ratio relative to the reference month (the last month
/// of the DiD baseline, just before the wash-out), with a cluster-robust 95% CI by matched
/// set, and the joint Wald test that the other baseline months' contrasts are all zero (a
/// pre-trend test; it cannot see the wash-out months, where referral selects the peak).
fn event_study_regression(
    cells: &EventCells,
    measure: usize,
    config: &StudyConfig,
) -> StatsResult<EventStudyRegression> {
    if MEASURES[measure].is_cost() {
        return Err(StatsError::NotApplicable(
            "a count model; not applied to cost".into(),
        ));
    }
    let clusters: Vec<Vec<CellSums>> = cells
        .by_set
        .values()
        .map(|set| {
            set.iter()
                .map(|sums| CellSums {
                    exposure: sums[0],
                    events: sums[measure + 1],
                })
                .collect()
        })
        .collect();
    let reference_month = -i64::from(config.washout_months) - 1;
    let baseline_start = -i64::from(config.washout_months + config.baseline_months);
    let index = |month: i64| (month - cells.first_month) as usize;
    let pre: Vec<usize> = (baseline_start..reference_month).map(index).collect();
    let study = event_study(
        &clusters,
        cells.months,
        cells.rows,
        index(reference_month),
        &pre,
        cells.first_month,
    )?;
    let contrasts: Vec<Contrast> = study
        .contrasts
        .iter()
        .enumerate()
        .map(|(position, (estimate, se))| {
            let month = position as i64 + cells.first_month;
            if month == reference_month {
                return Contrast {
                    month,
                    rate_ratio: Some(1.0),
                    ci95: None,
                    reference: true,
                };
            }
            let (_, [low, high]) = wald_ci(*estimate, *se, Some(clusters.len()));
            Contrast {
                month,
                rate_ratio: finite(estimate.exp()),
                ci95: Some([finite(low.exp()), finite(high.exp())]),
                reference: false,
            }
        })
        .collect();
    Ok(EventStudyRegression {
        reference_month,
        contrasts,
        pre_trend: study.pre_trend.map(|test| PreTrend {
            chi2: finite(test.statistic),
            df: test.df,
            p: finite(test.p),
            months: [baseline_start, reference_month - 1],
        }),
    })
}

/// The DiD rate ratio and its interval per measure compared across designs (no bootstrap):
/// what the design sensitivity compares.
pub struct DesignRatios {
    pub ratios: BTreeMap<String, Estimated<RateRatio>>,
    /// What the g-computation counterfactual of the savings is multiplied by so that it
    /// follows the design's outcome model: 1 for the plain DiD (its pooled counterfactual
    /// already gives the total-cost rate ratio); for a design adjusted for prior use, the
    /// plain total-cost DiD ratio over the adjusted one, so that the pooled saving implies
    /// the adjusted ratio.
    pub counterfactual_factor: f64,
}

pub async fn rate_ratios(ctx: &SessionContext, config: &StudyConfig) -> Result<DesignRatios> {
    let (people, _, _) = load_people(ctx, config, false).await?;
    let adjustment = Adjustment::of(config);
    let compared: Vec<usize> = (0..MEASURES.len())
        .filter(|&index| MEASURES[index].compared_across_designs)
        .collect();
    let ratios = super::parallel::map(&compared, |&index| {
        let estimate = estimated(did_with(&people, index, None, adjustment));
        (
            MEASURES[index].code.to_string(),
            estimate.map(super::rate_ratio),
        )
    })
    .into_iter()
    .collect();
    let counterfactual_factor = match adjustment {
        Adjustment::None => 1.0,
        Adjustment::PriorUse => {
            let cost = MEASURES
                .iter()
                .position(|measure| measure.is_cost())
                .expect("the registry has total cost");
            let log_ratio = |adjustment| -> Option<f64> {
                check_cells(&people, cost).ok()?;
                let fit = design(&people, cost, |_| true, Some(adjustment))
                    .fit()
                    .ok()?;
                Some(fit.coef[3])
            };
            match (log_ratio(Adjustment::None), log_ratio(Adjustment::PriorUse)) {
                (Some(plain), Some(adjusted)) => (plain - adjusted).exp(),
                _ => f64::NAN,
            }
        }
    };
    Ok(DesignRatios {
        ratios,
        counterfactual_factor,
    })
}

pub async fn estimate(
    ctx: &SessionContext,
    config: &StudyConfig,
    subgroup_sets: &[(&str, Vec<SubgroupMember>)],
) -> Result<ServiceUse> {
    let (people, monthly, cells) = load_people(ctx, config, true).await?;
    let registered = still_registered(cells.treated_leaving.iter().copied());
    let adjustment = Adjustment::of(config);
    let (subgroups, interactions) =
        subgroups(ctx, config, &people, adjustment, subgroup_sets).await?;
    let mut placebo = placebo(ctx).await?;
    // Each measure's estimates on their own thread (the DiD's bootstrap is seeded per measure).
    let measures: Vec<usize> = (0..MEASURES.len()).collect();
    let mut results = super::parallel::map(&measures, |&measure| {
        let entry = &MEASURES[measure];
        let before_after = before_after(&people, measure, true);
        let comparison = before_after_ratio(&people, measure, false);
        let observed = observed_per_person_referred(&people, &monthly, &registered, measure);
        let did = did(&people, measure, config.seed, adjustment, observed);
        let ancova = ancova(&people, measure);
        let event_study: Vec<EventStudyMonth> = (-config.pre_months..config.post_months)
            .map(|month| {
                let rate = |treated: bool| {
                    monthly
                        .get(&(treated, i64::from(month)))
                        .map(|(days, events)| (events[measure], days / DAYS_PER_YEAR))
                };
                let (t, c) = (rate(true), rate(false));
                let entry = |cell: Option<(f64, f64)>| match cell {
                    Some((events, years)) if years > 0.0 => (
                        finite(events / years),
                        (!entry.is_cost()).then(|| exact_poisson_ci(events, years)),
                    ),
                    _ => (None, None),
                };
                let ((treated_rate, treated_ci95), (comparison_rate, comparison_ci95)) =
                    (entry(t), entry(c));
                EventStudyMonth {
                    month,
                    treated_rate,
                    treated_ci95,
                    comparison_rate,
                    comparison_ci95,
                }
            })
            .collect();
        ServiceUseRow {
            measure: entry.code.to_string(),
            unit: entry.rate_unit().to_string(),
            role: String::new(),
            before_after: estimated(before_after),
            did: estimated(did),
            ancova_sensitivity: estimated(ancova),
            comparison_before_after_rate_ratio: comparison.ok().and_then(finite),
            placebo_did: None,
            event_study,
            event_study_regression: estimated(event_study_regression(&cells, measure, config)),
        }
    });
    for (measure, row) in results.iter_mut().enumerate() {
        row.placebo_did = placebo.remove(&measure);
    }
    adjust_secondary_p_values(&mut results, config.primary_outcome);
    Ok(ServiceUse {
        results,
        subgroups,
        interactions,
        methods: json!({
            "before_after": "treated group only, rate per person-year in the 12 months before referral vs the follow-up; UNCONTROLLED: subject to regression to the mean",
            "did_model": "Poisson GLM: count ~ treated + post + treated:post, offset log(exposure years); total cost by Poisson pseudo-ML",
            "did_se": "cluster-robust by matched set, factor G/(G-1) x (N-1)/(N-K) (statsmodels cov_type='cluster'); 95% CI and p from t(G-1) below 50 matched sets, normal otherwise",
            "weights": "the referred person 1, each of a matched set's k comparison people 1/k (prior weights in every model and sum), so each set counts once on each side",
            "not_estimable": format!("a DiD with fewer than {MIN_EVENTS_PER_CELL} events in any group x period cell is not estimated; a measure with no events at all is reported as no data"),
            "follow_up_start": "the day after the index date for both groups: index-day events are neither group's outcome",
            "change_per_person_year": "(treated post - pre rate) - (comparison post - pre rate), rates = events / person-years",
            "bootstrap": {"unit": "matched set", "replicates": BOOTSTRAP_REPLICATES, "seed": config.seed, "rng": "ChaCha8", "interval": "percentile (type-7 quantiles); BCa (jackknife over matched sets) also reported as change_ci95_bca"},
            "sensitivity": "ANCOVA on the lagged outcome: Poisson GLM of each matched person's follow-up count ~ treated + ln(1 + baseline rate per person-year), offset ln(follow-up years), cluster-robust by matched set; the DiD assumes parallel changes, ANCOVA a common follow-up for a common baseline: where they differ the truth lies between them under either (bracketing)",
            "event_study_ci": "exact Poisson (Garwood) 95% interval for counts; none for cost",
            "event_study_regression": "saturated Poisson model, one rate per group and month, cluster-robust by matched set (statsmodels cov_type='cluster' factor); per month the treated-comparison rate ratio relative to the last baseline month before the wash-out, 95% CI as the DiD's; pre_trend: joint Wald test (chi-squared) that the other baseline months' contrasts are all zero; counts only",
            "periods": {"pre_months": config.pre_months, "post_months": config.post_months, "washout_months": config.washout_months, "baseline_months": config.baseline_months},
            "baseline": format!("the DiD baseline is months -{}..-{}; the uncontrolled before/after uses the 12 months before referral", config.washout_months + config.baseline_months, config.washout_months + 1),
            "placebo": "the DiD repeated inside the baseline window: its second half against its first (default design: months -18..-13 against -24..-19), on matched sets whose members have data over the whole window; nobody was referred then, so a rate ratio away from 1 is a difference in pre-existing trends (it cannot see regression to the mean from the referral peak itself)",
            "subgroups": format!("DiD rate ratio with cluster-robust CI by IMD quintile, age band, sex, ethnicity group and practice in sets rematched exactly on the breakdown (the headline's propensity scores, caliper, ratio and exact strata, with the level added: every comparison person shares their referred person's level; tables/subgroup_sets), and by referral route and each referral reason in the headline's sets split by their referred person's level; not estimated below {MIN_SUBGROUP_SETS} matched sets; no bootstrap; p_bh: Benjamini-Hochberg across every subgroup estimate of the measure"),
            "subgroup_interaction": "per breakdown with separate groups (not referral reason, whose groups overlap, nor practice, which can have hundreds): one Poisson GLM fully interacted by group, cluster-robust by matched set, joint Wald test that every group's treated x post coefficient equals the first's (chi-squared, groups - 1 df), over the groups estimated for that measure",
            "multiplicity": format!("primary outcome {} (study.toml primary_outcome), unadjusted; p_holm: Holm across the secondary measures' DiD p-values", config.primary_outcome),
        }),
    })
}

/// Marks each measure primary or secondary and adds `p_holm` to every secondary DiD: Holm
/// across the secondary measures with a DiD, so that claiming any of them changed keeps the
/// family-wise error at 5%. The primary outcome, named before the analysis, is not adjusted.
fn adjust_secondary_p_values(results: &mut [ServiceUseRow], primary: &str) {
    let mut secondary: Vec<(&mut Did, f64)> = Vec::new();
    for result in results.iter_mut() {
        let is_primary = result.measure == primary;
        result.role = if is_primary { "primary" } else { "secondary" }.to_string();
        if let (false, Estimated::Done(did)) = (is_primary, &mut result.did)
            && let Some(p) = did.p
        {
            secondary.push((did, p));
        }
    }
    let p: Vec<f64> = secondary.iter().map(|(_, p)| *p).collect();
    if let Ok(adjusted) = holm(&p) {
        for ((did, _), value) in secondary.iter_mut().zip(adjusted) {
            did.p_holm = finite(value);
        }
    }
}

/// A statistic, or why it could not be computed.
fn estimated<T>(result: StatsResult<T>) -> Estimated<T> {
    result.map_or_else(
        |error| Estimated::Not(not_estimated(&error)),
        Estimated::Done,
    )
}

/// Below this many clusters a cluster-robust Wald interval uses t(G - 1), not the normal:
/// with few clusters the normal interval under-covers (Cameron & Miller 2015, J Hum Resour
/// 50:317, section VI; Stata's default for clustered regressions).
pub const T_BELOW_CLUSTERS: usize = 50;

/// Two-sided p-value and 95% Wald interval of `estimate`: normal, or t(G - 1) when the
/// standard error is clustered on fewer than `T_BELOW_CLUSTERS` clusters.
fn wald_ci(estimate: f64, standard_error: f64, clusters: Option<usize>) -> (f64, [f64; 2]) {
    let statistic = (estimate / standard_error).abs();
    let (critical, p) = match clusters {
        Some(clusters) if (2..T_BELOW_CLUSTERS).contains(&clusters) => {
            let t = StudentsT::new(0.0, 1.0, (clusters - 1) as f64).expect("df >= 1");
            (t.inverse_cdf(0.975), 2.0 * t.sf(statistic))
        }
        _ => {
            let normal = Normal::new(0.0, 1.0).expect("standard normal");
            (normal.inverse_cdf(0.975), 2.0 * normal.sf(statistic))
        }
    };
    (
        p,
        [
            estimate - critical * standard_error,
            estimate + critical * standard_error,
        ],
    )
}

/// Distinct clusters (matched sets) in a design's cluster column.
fn cluster_count(clusters: &[u64]) -> usize {
    clusters
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// A Poisson model's rows, person x period with exposure.
struct Rows {
    x: DMatrix<f64>,
    y: Vec<f64>,
    offset: Vec<f64>,
    clusters: Vec<u64>,
    weights: Vec<f64>,
}

impl Rows {
    /// The Poisson fit with each row's person weight (R `glm(weights = )`).
    fn fit(&self) -> StatsResult<glm::GlmFit> {
        glm::fit_weighted(
            &self.x,
            &self.y,
            Some(&self.offset),
            Some(&self.weights),
            Family::Poisson,
        )
    }

    /// Rate ratio exp(coef), 95% CI and p of coefficient `column`, cluster-robust.
    fn rate_ratio(&self, fit: &glm::GlmFit, column: usize) -> StatsResult<(f64, [f64; 2], f64)> {
        let se = fit.standard_errors(&Covariance::Cluster(&self.clusters))?[column];
        let (p, [low, high]) = wald_ci(fit.coef[column], se, Some(cluster_count(&self.clusters)));
        Ok((fit.coef[column].exp(), [low.exp(), high.exp()], p))
    }
}

/// How the DiD's outcome model treats prior use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjustment {
    /// `count ~ treated + post + treated:post`.
    None,
    /// Also each person's prior use of the measure and its interaction with the period,
    /// `+ h + post:h` for h = ln(1 + rate) in months -12..-4 and -3..-1: the change from
    /// baseline to follow-up may depend on prior use, so comparison people with a given history
    /// stand for treated people with that history (regression adjustment on top of matching:
    /// Rubin 1973, Biometrics 29:185; Ho, Imai, King & Stuart 2007, Political Analysis
    /// 15:199). The rate ratio is still exp(treated:post).
    PriorUse,
}

impl Adjustment {
    fn of(config: &StudyConfig) -> Adjustment {
        if config.adjust_for_prior_use {
            Adjustment::PriorUse
        } else {
            Adjustment::None
        }
    }
}

/// Rows person x period with exposure: the DiD's (1, treated, post, treated x post [, h1, h2,
/// post x h1, post x h2]), clustered by matched set, or the before/after's (1, post),
/// clustered by person.
fn design(
    people: &[Person],
    measure: usize,
    include: impl Fn(&Person) -> bool,
    did: Option<Adjustment>,
) -> Rows {
    let (mut values, mut y, mut offset, mut clusters, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (index, person) in people
        .iter()
        .enumerate()
        .filter(|(_, person)| include(person))
    {
        for period in 0..2 {
            let (events, days) = if did.is_some() {
                (person.events[measure][period], person.exposure_days[period])
            } else {
                person.naive(measure, period)
            };
            if days <= 0.0 {
                continue;
            }
            let (treated, post) = (f64::from(u8::from(person.treated)), period as f64);
            match did {
                Some(adjustment) => {
                    values.extend([1.0, treated, post, treated * post]);
                    if adjustment == Adjustment::PriorUse {
                        let [recent, peak] = person.prior_use(measure);
                        values.extend([recent, peak, post * recent, post * peak]);
                    }
                }
                None => values.extend([1.0, post]),
            }
            y.push(events);
            offset.push((days / DAYS_PER_YEAR).ln());
            clusters.push(if did.is_some() {
                person.set as u64
            } else {
                index as u64
            });
            weights.push(person.weight);
        }
    }
    let columns = match did {
        Some(Adjustment::PriorUse) => 8,
        Some(Adjustment::None) => 4,
        None => 2,
    };
    Rows {
        x: DMatrix::from_row_slice(y.len(), columns, &values),
        y,
        offset,
        clusters,
        weights,
    }
}

fn rate(people: &[Person], measure: usize, treated: bool, period: usize) -> f64 {
    let (events, days) = people
        .iter()
        .filter(|person| person.treated == treated)
        .fold((0.0, 0.0), |(events, days), person| {
            let (more_events, more_days) = person.naive(measure, period);
            (
                events + person.weight * more_events,
                days + person.weight * more_days,
            )
        });
    events / (days / DAYS_PER_YEAR)
}

fn before_after(people: &[Person], measure: usize, treated: bool) -> StatsResult<BeforeAfter> {
    let mut periods = [0.0; 2];
    for person in people.iter().filter(|person| person.treated == treated) {
        for (period, total) in periods.iter_mut().enumerate() {
            *total += person.naive(measure, period).0;
        }
    }
    let name = MEASURES[measure].code;
    if periods == [0.0, 0.0] {
        return Err(StatsError::NoData(format!("{name} events")));
    }
    let needed = if MEASURES[measure].is_cost() {
        1
    } else {
        MIN_EVENTS_PER_CELL
    };
    for (period, total) in ["before", "after"].iter().zip(periods) {
        if total < needed as f64 {
            return Err(StatsError::TooFewEvents {
                cell: format!("{period} period"),
                events: total,
                needed,
            });
        }
    }
    let rows = design(people, measure, |person| person.treated == treated, None);
    let (ratio, [low, high], p) = rows.rate_ratio(&rows.fit()?, 1)?;
    Ok(BeforeAfter {
        pre_rate: finite(rate(people, measure, treated, 0)),
        post_rate: finite(rate(people, measure, treated, 1)),
        rate_ratio: finite(ratio),
        ci95: [finite(low), finite(high)],
        p: finite(p),
        label: "uncontrolled: subject to regression to the mean".into(),
    })
}

fn before_after_ratio(people: &[Person], measure: usize, treated: bool) -> StatsResult<f64> {
    let ratio = rate(people, measure, treated, 1) / rate(people, measure, treated, 0);
    if ratio.is_finite() {
        Ok(ratio)
    } else {
        Err(StatsError::NoVariation)
    }
}

/// The headline DiD of one measure, with the bootstrap and what the rate ratio means per
/// treated person (`avoided_per_person`, from the observed follow-up total per person
/// referred, `observed_per_person_referred`).
fn did(
    people: &[Person],
    measure: usize,
    seed: u64,
    adjustment: Adjustment,
    observed: f64,
) -> StatsResult<Did> {
    let estimate = did_with(people, measure, Some(seed), adjustment)?;
    Ok(Did {
        avoided_per_person: Some(avoided_per_person(observed, &estimate)),
        ..estimate
    })
}

/// The treated group's follow-up events (or pounds) of `measure` per person referred: each
/// follow-up month's observed total weighted by the inverse of the probability of still
/// being registered at mid-month, so the months after a person left the practice count at
/// the rate of those who stayed (the savings' weighting, docs/methods.md, Economics), while
/// death ends a person's events (everyone treated is in the denominator, living or not).
fn observed_per_person_referred(
    people: &[Person],
    monthly: &Monthly,
    registered: &StillRegistered,
    measure: usize,
) -> f64 {
    let treated = people.iter().filter(|person| person.treated).count() as f64;
    registered
        .mid_month
        .iter()
        .enumerate()
        .map(|(month, share)| {
            monthly
                .get(&(true, month as i64))
                .map_or(0.0, |(_, events)| events[measure] / share)
        })
        .sum::<f64>()
        / treated
}

/// Events (or pounds, for cost) avoided per treated person over the follow-up, from the same
/// model as the rate ratio: the treated group's follow-up total per person referred O, and
/// what the model says it would have been without the service, O / RR, so avoided =
/// O x (1 / RR - 1), its interval from the rate ratio's (O taken as observed). Positive means
/// fewer than expected.
fn avoided_per_person(observed: f64, did: &Did) -> Avoided {
    let avoided =
        |ratio: Option<f64>| ratio.and_then(|ratio| finite(observed * (1.0 / ratio - 1.0)));
    Avoided {
        observed: finite(observed),
        avoided: avoided(did.rate_ratio),
        // A higher rate ratio means fewer avoided, so the bounds swap.
        ci95: [avoided(did.ci95[1]), avoided(did.ci95[0])],
        basis: "per treated person over the follow-up: observed x (1 / rate ratio - 1), the DiD model's counterfactual less what was observed, the months after leaving the practice weighted back as the savings are; positive = fewer than expected".into(),
    }
}

/// The DiD of one measure; the bootstrap CI of the absolute change only when `seed` is given.
/// The absolute change is always the unadjusted difference of rate changes.
fn did_with(
    people: &[Person],
    measure: usize,
    seed: Option<u64>,
    adjustment: Adjustment,
) -> StatsResult<Did> {
    check_cells(people, measure)?;
    let rows = design(people, measure, |_| true, Some(adjustment));
    let fit = rows.fit()?;
    let se = fit.standard_errors(&Covariance::Cluster(&rows.clusters))?[3];
    let (p, [low, high]) = wald_ci(fit.coef[3], se, Some(cluster_count(&rows.clusters)));
    // Events and exposure days per matched set, [comparison, treated] x [pre, post]: the
    // bootstrap resamples sets and only adds these up (no per-person work per replicate).
    type Cells = [[(f64, f64); 2]; 2];
    let mut by_set: BTreeMap<i64, Cells> = BTreeMap::new();
    for person in people {
        let cells = by_set.entry(person.set).or_default();
        let group = &mut cells[usize::from(person.treated)];
        for ((cell, events), days) in group
            .iter_mut()
            .zip(person.events[measure])
            .zip(person.exposure_days)
        {
            cell.0 += person.weight * events;
            cell.1 += person.weight * days;
        }
    }
    let sets: Vec<Cells> = by_set.into_values().collect();
    let add = |total: &mut Cells, cells: &Cells, sign: f64| {
        for (total_group, group) in total.iter_mut().zip(cells) {
            for (total_cell, cell) in total_group.iter_mut().zip(group) {
                total_cell.0 += sign * cell.0;
                total_cell.1 += sign * cell.1;
            }
        }
    };
    let change_of = |total: &Cells| {
        let rate = |group: usize, period: usize| {
            total[group][period].0 / (total[group][period].1 / DAYS_PER_YEAR)
        };
        (rate(1, 1) - rate(1, 0)) - (rate(0, 1) - rate(0, 0))
    };
    let change = |chosen: &mut dyn Iterator<Item = &Cells>| {
        let mut total: Cells = Default::default();
        for cells in chosen {
            add(&mut total, cells, 1.0);
        }
        change_of(&total)
    };
    let estimate = change(&mut sets.iter());
    // Replicates whose change is undefined (a resample with no exposure in some cell) are
    // counted and reported, never dropped silently.
    let mut non_finite = 0;
    let (change_ci, change_ci_bca) = match seed {
        Some(seed) => {
            let replicates = resample(sets.len(), BOOTSTRAP_REPLICATES, seed, |indices| {
                change(&mut indices.iter().map(|&index| &sets[index]))
            })?;
            let finite_values;
            (finite_values, non_finite) = finite_replicates(&replicates);
            let interval = percentile_interval(&finite_values, 0.95)?;
            // Leave-one-set-out values for the BCa acceleration, by subtracting each set from
            // the total (linear in the number of sets).
            let mut total: Cells = Default::default();
            for cells in &sets {
                add(&mut total, cells, 1.0);
            }
            let jackknife: Vec<f64> = sets
                .iter()
                .map(|cells| {
                    let mut without = total;
                    add(&mut without, cells, -1.0);
                    change_of(&without)
                })
                .collect();
            let bca = bca_interval(&finite_values, estimate, &jackknife, 0.95)
                .ok()
                .map(|[low, high]| [finite(low), finite(high)]);
            (Some([finite(interval[0]), finite(interval[1])]), bca)
        }
        None => (None, None),
    };
    let df = (2..T_BELOW_CLUSTERS)
        .contains(&sets.len())
        .then(|| (sets.len() - 1) as f64);
    let [mde_lower, mde_higher] = minimum_detectable_rate_ratios(se, df);
    Ok(Did {
        rate_ratio: finite(fit.coef[3].exp()),
        ci95: [finite(low.exp()), finite(high.exp())],
        p: finite(p),
        p_holm: None,
        p_bh: None,
        minimum_detectable_rate_ratio: MinimumDetectable {
            lower: finite(mde_lower),
            higher: finite(mde_higher),
            basis: "80% power, 5% two-sided, from this run's cluster-robust standard error (Bloom 1995)".into(),
        },
        change_per_person_year: finite(estimate),
        change_ci95: change_ci,
        change_ci95_bca: change_ci_bca,
        bootstrap_non_finite_replicates: seed.map(|_| non_finite as u64),
        clusters: sets.len() as u64,
        interval: if (2..T_BELOW_CLUSTERS).contains(&sets.len()) {
            "t(G-1), G = matched sets"
        } else {
            "normal"
        }
        .into(),
        avoided_per_person: None,
        matched_sets: None,
    })
}

/// ANCOVA on the lagged outcome, a sensitivity that can differ from the DiD: a Poisson GLM of
/// each matched person's follow-up count (cost: pounds, by pseudo-ML),
/// `count_post ~ treated + ln(1 + baseline rate per person-year)`, offset ln(follow-up years),
/// cluster-robust by matched set, rate ratio exp(treated). The DiD assumes the groups would
/// have changed alike from their own baselines; ANCOVA assumes people with the same baseline
/// would have had the same follow-up (baselines regress to a common mean). Where matching left
/// the groups' baselines apart the two differ, and under either assumption the truth lies
/// between them (the bracketing property: Angrist & Pischke 2009, Mostly Harmless
/// Econometrics, section 5.4; Ding & Li 2019, Political Analysis 27:605). Checked against
/// statsmodels (`tests/fixtures/stats/ancova.json`).
fn ancova(people: &[Person], measure: usize) -> StatsResult<RatioTest> {
    check_cells(people, measure)?;
    let (mut values, mut y, mut offset, mut clusters, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for person in people {
        let [pre_days, post_days] = person.exposure_days;
        if pre_days <= 0.0 || post_days <= 0.0 {
            continue;
        }
        let baseline_rate = person.events[measure][0] / (pre_days / DAYS_PER_YEAR);
        values.extend([
            1.0,
            f64::from(u8::from(person.treated)),
            baseline_rate.ln_1p(),
        ]);
        y.push(person.events[measure][1]);
        offset.push((post_days / DAYS_PER_YEAR).ln());
        clusters.push(person.set as u64);
        weights.push(person.weight);
    }
    let rows = Rows {
        x: DMatrix::from_row_slice(y.len(), 3, &values),
        y,
        offset,
        clusters,
        weights,
    };
    let (ratio, [low, high], p) = rows.rate_ratio(&rows.fit()?, 1)?;
    Ok(RatioTest {
        rate_ratio: finite(ratio),
        ci95: [finite(low), finite(high)],
        p: finite(p),
    })
}

/// Exact (Garwood) 95% interval for a Poisson count over `years` person-years.
fn exact_poisson_ci(events: f64, years: f64) -> [Option<f64>; 2] {
    let lower = if events > 0.0 {
        ChiSquared::new(2.0 * events)
            .map(|chi| chi.inverse_cdf(0.025) / 2.0)
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    let upper = ChiSquared::new(2.0 * (events + 1.0))
        .map(|chi| chi.inverse_cdf(0.975) / 2.0)
        .unwrap_or(f64::NAN);
    [finite(lower / years), finite(upper / years)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An oracle fixture of `tests/fixtures/stats/` and its people: one row each with the
    /// matched set, group, baseline and follow-up days and events of measure 0, and where the
    /// fixture has them a prior weight and the prior-use windows' days and events.
    fn oracle_people(file: &str) -> (Value, Vec<Person>) {
        let path = format!("{}/tests/fixtures/stats/{file}", env!("CARGO_MANIFEST_DIR"));
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let people = fixture["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                let value = |key: &str| row[key].as_f64().unwrap();
                let optional = |key: &str| row[key].as_f64().unwrap_or(0.0);
                let mut person = Person {
                    set: row["set"].as_i64().unwrap(),
                    treated: row["treated"] == 1,
                    weight: row["weight"].as_f64().unwrap_or(1.0),
                    exposure_days: [value("pre_days"), value("post_days")],
                    prior_days: [optional("recent_days"), optional("peak_days")],
                    ..Person::default()
                };
                person.events[0] = [value("pre_events"), value("post_events")];
                person.prior_events[0] = [optional("recent_events"), optional("peak_events")];
                person
            })
            .collect();
        (fixture, people)
    }

    /// The rate ratio, its interval and p agree with the oracle's to 1e-8 (relative).
    fn assert_matches_oracle(estimate: &RatioTest, oracle: &Value, what: &str) {
        for (actual, expected) in [
            (estimate.rate_ratio, &oracle["rate_ratio"]),
            (estimate.ci95[0], &oracle["ci95"][0]),
            (estimate.ci95[1], &oracle["ci95"][1]),
            (estimate.p, &oracle["p"]),
        ] {
            let (actual, expected) = (actual.unwrap(), expected.as_f64().unwrap());
            assert!(
                ((actual - expected) / expected).abs() < 1e-8,
                "{what}: {actual} vs statsmodels {expected}"
            );
        }
    }

    #[test]
    fn the_did_adjusted_for_prior_use_matches_statsmodels() {
        let (fixture, people) = oracle_people("adjusted_did.json");
        for (adjustment, oracle) in [
            (Adjustment::PriorUse, &fixture["adjusted"]),
            (Adjustment::None, &fixture["unadjusted"]),
        ] {
            let estimate = did_with(&people, 0, None, adjustment).unwrap();
            let estimate = RatioTest {
                rate_ratio: estimate.rate_ratio,
                ci95: estimate.ci95,
                p: estimate.p,
            };
            assert_matches_oracle(&estimate, oracle, &format!("{adjustment:?}"));
        }
    }

    /// Matched pairs with the given events per person in [comparison, treated] x [pre, post].
    fn pairs(sets: i64, events: [[f64; 2]; 2]) -> Vec<Person> {
        (0..sets)
            .flat_map(|set| {
                [false, true].map(|treated| {
                    let mut person = Person {
                        set,
                        treated,
                        exposure_days: [365.0, 730.0],
                        ..Person::default()
                    };
                    person.events[0] = events[usize::from(treated)];
                    person
                })
            })
            .collect()
    }

    #[test]
    fn ancova_on_the_lagged_outcome_matches_statsmodels() {
        let (fixture, people) = oracle_people("ancova.json");
        assert_matches_oracle(&ancova(&people, 0).unwrap(), &fixture, "ANCOVA");
    }

    #[test]
    fn each_matched_set_counts_once_whatever_its_number_of_comparison_people() {
        // Set 0: one comparison person, no change (10 and 10 events a year). Set 1: three
        // comparison people, each 2 then 4. The treated: 10 then 10, and 2 then 1. Weighted
        // 1/k the comparison group goes from 12 to 14, the treated from 12 to 11: rate ratio
        // 11/14. Unweighted, set 1 would count three times (16 to 22): 2/3.
        let person = |set: i64, treated: bool, pre: f64, post: f64| {
            let mut person = Person {
                set,
                treated,
                exposure_days: [365.25, 365.25],
                ..Person::default()
            };
            person.events[0] = [pre, post];
            person
        };
        let mut people = vec![
            person(0, true, 10.0, 10.0),
            person(0, false, 10.0, 10.0),
            person(1, true, 2.0, 1.0),
        ];
        people.extend((0..3).map(|_| person(1, false, 2.0, 4.0)));
        let weights = comparison_weights(
            people
                .iter()
                .enumerate()
                .map(|(row, person)| (person.set, person.treated, row)),
        );
        assert_eq!(weights, BTreeMap::from([(0, 1.0), (1, 1.0 / 3.0)]));
        for person in people.iter_mut().filter(|person| !person.treated) {
            person.weight = weights[&person.set];
        }
        let estimate = did_with(&people, 0, None, Adjustment::None).unwrap();
        let ratio = estimate.rate_ratio.unwrap();
        assert!((ratio - 11.0 / 14.0).abs() < 1e-9, "{ratio}");
        // The absolute change per person-year uses the same weights: two (weighted) people a
        // side, so (5.5 - 6) - (7 - 6) a person-year.
        let change = estimate.change_per_person_year.unwrap();
        assert!((change + 1.5).abs() < 1e-9, "{change}");
        assert!(
            (rate(&people, 0, false, 1) - 7.0).abs() < 1e-9,
            "the comparison group's follow-up rate is weighted too"
        );
    }

    #[test]
    fn a_zero_cell_is_not_estimable_instead_of_a_ratio_near_zero() {
        // No treated event after the index: the Poisson interaction would run to -infinity
        // (rate ratio ~5e-12 with a tight CI, "converged").
        let people = pairs(40, [[1.0, 2.0], [1.0, 0.0]]);
        let error = did_with(&people, 0, None, Adjustment::None).unwrap_err();
        assert_eq!(
            error,
            StatsError::TooFewEvents {
                cell: "treated group's follow-up".into(),
                events: 0.0,
                needed: MIN_EVENTS_PER_CELL,
            }
        );
        assert!(error.to_string().starts_with("not estimable"));
        assert!(ancova(&people, 0).is_err());
    }

    #[test]
    fn four_events_in_a_cell_are_too_few_and_five_are_enough() {
        let mut people = pairs(40, [[1.0, 2.0], [1.0, 2.0]]);
        let treated_pre: Vec<usize> = (0..people.len()).filter(|&i| people[i].treated).collect();
        for (rank, &index) in treated_pre.iter().enumerate() {
            people[index].events[0][0] = f64::from(u8::from(rank < 4));
        }
        assert!(matches!(
            did_with(&people, 0, None, Adjustment::None),
            Err(StatsError::TooFewEvents { events, .. }) if events == 4.0
        ));
        people[treated_pre[4]].events[0][0] = 1.0;
        let estimate = did_with(&people, 0, None, Adjustment::None).unwrap();
        assert!(estimate.rate_ratio.unwrap() > 1.0);
    }

    #[test]
    fn few_clusters_use_t_with_g_minus_1_degrees_of_freedom() {
        // scipy 1.17.1: stats.t.ppf(0.975, 19) = 2.0930240544083087,
        // 2 * stats.t.cdf(-1, 19) = 0.329876800921125, stats.norm.ppf(0.975) = 1.959963984540054.
        let (p, [low, high]) = wald_ci(0.0, 1.0, Some(20));
        assert!((high - 2.0930240544083087).abs() < 1e-9 && (low + high).abs() < 1e-12);
        let (p_one, _) = wald_ci(1.0, 1.0, Some(20));
        assert!((p_one - 0.329876800921125).abs() < 1e-9, "{p_one}");
        assert!((p - 1.0).abs() < 1e-12);
        let (_, [_, high]) = wald_ci(0.0, 1.0, Some(T_BELOW_CLUSTERS));
        assert!((high - 1.959963984540054).abs() < 1e-9);
    }

    #[test]
    fn the_primary_outcome_is_unadjusted_and_the_secondary_measures_holm_adjusted() {
        // statsmodels multipletests([0.01, 0.04, 0.03], method="holm"): 0.03, 0.06, 0.06.
        let mut results = [
            json!({"measure": "gp_demand", "did": {"p": 0.01}}),
            json!({"measure": "ae_attendances", "did": {"p": 0.04}}),
            json!({"measure": "elective_admissions", "did": {"not_estimated": "no data"}}),
            json!({"measure": "ambulance_conveyances", "did": {"p": 0.03}}),
            json!({"measure": "total_cost", "did": {"p": 0.02}}),
        ]
        .map(crate::results::service_use_row_with);
        adjust_secondary_p_values(&mut results, "total_cost");
        let holm: Vec<Option<f64>> = results
            .iter()
            .map(|r| r.did.done().and_then(|did| did.p_holm))
            .collect();
        let expected = [Some(0.03), Some(0.06), None, Some(0.06), None];
        for (actual, expected) in holm.iter().zip(expected) {
            match (actual, expected) {
                (Some(a), Some(e)) => assert!((a - e).abs() < 1e-12, "{holm:?}"),
                (a, e) => assert_eq!(*a, e, "{holm:?}"),
            }
        }
        assert_eq!(results[4].role, "primary");
        assert_eq!(results[0].role, "secondary");
    }

    #[test]
    fn a_subgroup_interaction_needs_two_groups_and_finds_a_real_difference() {
        // Two groups of 60 pairs: the treated follow-up rate halves in the second only.
        let mut people = pairs(60, [[20.0, 20.0], [20.0, 20.0]]);
        let second: Vec<Person> = pairs(60, [[20.0, 20.0], [20.0, 10.0]])
            .into_iter()
            .map(|person| Person {
                set: person.set + 1000,
                ..person
            })
            .collect();
        people.extend(second);
        let first: BTreeMap<i64, usize> = (0..60).map(|set| (set, 0)).collect();
        assert!(interaction(&people, &first, 1, 0).is_err());
        let both: BTreeMap<i64, usize> = first
            .into_iter()
            .chain((1000..1060).map(|set| (set, 1)))
            .collect();
        let test = interaction(&people, &both, 2, 0).unwrap();
        assert_eq!(test.df, 1);
        assert!(test.p < 1e-6, "{test:?}");
    }

    #[test]
    fn no_events_anywhere_is_no_data() {
        let people = pairs(40, [[0.0, 0.0], [0.0, 0.0]]);
        let error = did_with(&people, 1, None, Adjustment::None).unwrap_err();
        assert!(error.to_string().starts_with("no data"), "{error}");
        assert!(
            before_after(&people, 1, true)
                .unwrap_err()
                .to_string()
                .starts_with("no data")
        );
    }
}
