//! Estimation: the statistics of docs/methods.md applied to the model tables.
//!
//! Reads finished SQL tables (`matching_covariates`, `person_months`, `wellbeing_pairs`),
//! computes with `stats` (pure functions) and returns the `balance`, `service_use` and
//! `wellbeing` sections of results.json plus the restricted tables it created
//! (`comparison_sets`). Every option used is returned in `methods`.
//!
//! - `comparison.rs`: propensity score, matching, balance, `comparison_sets`;
//! - `service_use.rs`: before/after, difference-in-differences, event study per measure;
//! - `wellbeing.rs`: paired change per instrument and ONS4 item.

mod attrition;
mod comparison;
mod economics;
mod parallel;
mod placebo;
mod service_use;
mod wellbeing;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::config::StudyConfig;
use crate::design::{
    CANDIDATES, ComparisonKind, DISAGREEMENT_RATIO, Design, Matching, e_value, e_value_of_interval,
};
use crate::econ::programme::{CostDivisor, ProgrammeCost};
use crate::engine::engine_error;
use crate::engine::models::Model;
use crate::error::{Error, Result};
use crate::outcomes;
use crate::results::{
    BalanceRow, DesignEstimates, DesignRow, DesignSaving, DesignSensitivity, DesignVerdict, Did,
    Disagreement, EValue, Economics, Equity, Estimated, FollowUpExits, GroupExits, MatchedGroups,
    NotEstimated, PlaceboIndex, RateRatio, ServiceUseRow, WellbeingChange,
};

/// Fewest matched sets (service use) or pairs (wellbeing) for a subgroup estimate (equity
/// breakdowns).
pub(crate) const MIN_SUBGROUP_SETS: usize = 20;

/// An equity breakdown: its results name, the SQL expression giving the level(s) of a person
/// (over `analysis_cohort as c` and `index_dates as i`; reasons are `;`-joined and each
/// counts), and whether it is a fact about every person, referred or not (`c.` only), so that
/// the service-use subgroups rematch exactly on it (`comparison::Pool::rematch_within`).
pub(crate) struct Breakdown {
    pub name: &'static str,
    pub expression: &'static str,
    pub person_level: bool,
}

/// Equity breakdowns, in results order.
pub(crate) const BREAKDOWNS: [Breakdown; 7] = [
    Breakdown {
        name: "imd_quintile",
        expression: "coalesce(cast(c.imd_quintile as varchar), 'unknown')",
        person_level: true,
    },
    Breakdown {
        name: "age_band",
        expression: "c.age_band",
        person_level: true,
    },
    Breakdown {
        name: "sex",
        expression: "c.sex",
        person_level: true,
    },
    Breakdown {
        name: "ethnic_group",
        expression: "c.ethnic_group",
        person_level: true,
    },
    // The referral's own facts: a comparison person has none, so these sets stay the
    // headline's, split by their referred member's level.
    Breakdown {
        name: "referral_route",
        expression: "i.referral_route",
        person_level: false,
    },
    Breakdown {
        name: "referral_reason",
        expression: "coalesce(array_to_string(i.referral_reasons, ';'), 'not recorded')",
        person_level: false,
    },
    // The GP contract funds and counts social prescribing practice by practice; the report
    // shows these estimates in its practice view, not among the equity subgroups.
    Breakdown {
        name: "practice",
        expression: "c.practice_code",
        person_level: true,
    },
];

/// The `BREAKDOWNS` as a SQL select list (`expression as name, ...`).
pub(crate) fn breakdown_columns() -> String {
    BREAKDOWNS
        .iter()
        .map(|breakdown| format!("{} as {}", breakdown.expression, breakdown.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bootstrap replicates for the absolute-change and saving intervals.
pub const BOOTSTRAP_REPLICATES: usize = 2000;

/// The results.json sections this stage adds.
pub struct Estimates {
    /// The matched groups, added to results.json's cohort section.
    pub matched: MatchedGroups,
    pub balance: Estimated<Vec<BalanceRow>>,
    pub service_use: Estimated<Vec<ServiceUseRow>>,
    pub wellbeing: Vec<WellbeingChange>,
    pub economics: Estimated<Economics>,
    /// Subgroup estimates for the equity breakdowns.
    pub equity: Equity,
    /// Every candidate design's rate ratios and saving beside the headline's, the verdict
    /// and the headline's E-values (`design.rs`).
    pub design_sensitivity: Estimated<DesignSensitivity>,
    pub methods: Value,
    /// The programme cost as used, a total cost divided among the people the data show.
    pub programme: ProgrammeCost,
    /// Wall times of parts of the stage, for the manifest (never results.json).
    pub timings: Vec<(&'static str, f64)>,
}

/// Runs every estimate. When the data cannot support a matched comparison (e.g. too few
/// people for the propensity model) the comparison and service-use sections say why and the
/// wellbeing analysis still runs: a small service must still get its report.
/// `models` are the SQL models the run used (the placebo recomputes the matching covariates
/// with theirs).
pub async fn estimate(
    ctx: &SessionContext,
    config: &StudyConfig,
    models: &[Model],
    tables_dir: &Path,
) -> Result<Estimates> {
    let mut laps = Laps::start();
    let config = &with_programme_people(ctx, config).await?;
    let programme = config.programme.clone();
    let wellbeing = wellbeing::estimate(ctx, config.seed).await?;
    laps.lap("wellbeing_seconds");
    let mut methods = json!({ "wellbeing": wellbeing.methods });
    // First, as it swaps the panels for a while and matches into a scratch folder; everything
    // after it matches again.
    let placebo_index = placebo::estimate(ctx, config, models, tables_dir).await?;
    laps.lap("placebo_index_seconds");
    // The matching depends only on what a design matches on (`Design::matching`), so designs
    // that share it share one matching. The designs matched differently from the headline
    // run first, grouped by their matching (each group rematches and overwrites
    // `comparison_sets`); then the headline, whose tables are the ones left behind; then the
    // designs that share its matching, on its matched sets.
    let headline = config.design();
    let (mut before, after): (Vec<&Design>, Vec<&Design>) = CANDIDATES
        .iter()
        .filter(|design| design.name != headline.name)
        .partition(|design| design.matching() != headline.matching());
    before.sort_by_key(|design| design.matching());
    let mut matched = None;
    let mut rows = Vec::new();
    for design in before {
        rows.push(design_row(ctx, config, design, tables_dir, &mut matched, &mut laps).await?);
    }
    let headline_comparison = comparison_sets(ctx, config, &headline, tables_dir).await;
    laps.lap("design_matching_seconds");
    match headline_comparison {
        Ok(mut comparison) => {
            let subgroup_sets = subgroup_sets(ctx, &mut comparison.pool, tables_dir).await?;
            laps.lap("subgroup_matching_seconds");
            let mut service_use = service_use::estimate(ctx, config, &subgroup_sets).await?;
            laps.lap("service_use_seconds");
            let balances = comparison::subgroup_balance(ctx, config, &subgroup_sets).await?;
            // Only where the subgroup was estimated: a handful of sets' balance describes a
            // handful of people.
            for row in service_use
                .subgroups
                .iter_mut()
                .filter(|row| row.not_estimated.is_none())
            {
                row.balance = balances
                    .get(&(row.breakdown.clone(), row.level.clone()))
                    .cloned();
            }
            drop(subgroup_sets);
            laps.lap("subgroup_balance_seconds");
            let economics = economics::estimate(ctx, config, tables_dir).await?;
            laps.lap("economics_seconds");
            rows.push(headline_row(
                &headline,
                &comparison,
                &service_use.results,
                &economics,
            ));
            matched = Some((headline.matching(), comparison.matched_treated));
            for design in after {
                rows.push(
                    design_row(ctx, config, design, tables_dir, &mut matched, &mut laps).await?,
                );
            }
            // Rows in the candidates' order, the headline first.
            rows.sort_by_key(|row| {
                let name = row.design.name.as_str();
                (
                    name != headline.name,
                    CANDIDATES.iter().position(|design| design.name == name),
                )
            });
            let design_sensitivity =
                design_sensitivity(&headline, rows, &service_use.results, placebo_index);
            let exits = follow_up_exits(ctx, config).await?;
            laps.lap("follow_up_exits_seconds");
            methods["matching"] = comparison.methods;
            methods["service_use"] = service_use.methods;
            Ok(Estimates {
                matched: MatchedGroups {
                    matched_treated: Some(comparison.matched_treated as u64),
                    matched_comparison: Some(comparison.matched_comparison as u64),
                    unmatched_treated: Some(comparison.unmatched_treated as u64),
                    follow_up_exits: Some(exits),
                    not_matched: None,
                },
                balance: Estimated::Done(comparison.balance),
                service_use: Estimated::Done(service_use.results),
                wellbeing: wellbeing.results,
                economics,
                equity: Equity {
                    service_use: Estimated::Done(service_use.subgroups),
                    service_use_interactions: Some(service_use.interactions),
                    wellbeing: wellbeing.subgroups,
                },
                design_sensitivity: Estimated::Done(design_sensitivity),
                methods,
                programme,
                timings: laps.laps.into_iter().chain(comparison.timings).collect(),
            })
        }
        Err(Error::DataTest(reason)) => {
            let unmatched = MatchedGroups {
                matched_treated: Some(0),
                matched_comparison: Some(0),
                not_matched: Some(NotEstimated {
                    not_estimated: reason.clone(),
                }),
                ..MatchedGroups::default()
            };
            let balance = Estimated::not(reason.clone());
            let design_sensitivity = Estimated::not(reason.clone());
            Ok(Estimates {
                matched: unmatched,
                balance,
                service_use: Estimated::not(reason.clone()),
                wellbeing: wellbeing.results,
                economics: Estimated::not(reason.clone()),
                equity: Equity {
                    service_use: Estimated::not(reason),
                    service_use_interactions: None,
                    wellbeing: wellbeing.subgroups,
                },
                design_sensitivity,
                methods,
                programme,
                timings: laps.laps,
            })
        }
        Err(other) => Err(other),
    }
}

/// Forms the comparison group `design` asks for and writes and registers it as
/// `comparison_sets` (with the `matched_panel` of its people), the tables service use and
/// economics read whatever the design. `config` carries the design's keys.
async fn comparison_sets(
    ctx: &SessionContext,
    config: &StudyConfig,
    design: &Design,
    tables_dir: &Path,
) -> Result<comparison::Comparison> {
    match design.comparison {
        ComparisonKind::Matched => comparison::match_cohort(ctx, config, tables_dir).await,
    }
}

/// The headline matching redone within the levels of each person-level breakdown
/// (`comparison::Pool::rematch_within`), written to `tables/subgroup_sets`: the sets the
/// service-use subgroups compare.
async fn subgroup_sets(
    ctx: &SessionContext,
    pool: &mut comparison::Pool,
    tables_dir: &Path,
) -> Result<Vec<(&'static str, Vec<comparison::SubgroupMember>)>> {
    let mut sets = Vec::new();
    for breakdown in BREAKDOWNS.iter().filter(|breakdown| breakdown.person_level) {
        sets.push((breakdown.name, pool.rematch_within(ctx, breakdown).await?));
    }
    comparison::register_subgroup_sets(ctx, tables_dir, &sets).await?;
    Ok(sets)
}

/// The configuration with a total programme cost divided among the people the data show:
/// those with an accepted referral in the window (`index_dates`), or every referral made in
/// it, declined and repeated ones included. Other bases are returned unchanged.
async fn with_programme_people(ctx: &SessionContext, config: &StudyConfig) -> Result<StudyConfig> {
    let ProgrammeCost::Total { divided_by, .. } = config.programme else {
        return Ok(config.clone());
    };
    let sql = match divided_by {
        CostDivisor::Accepted => "select cast(count(*) as double) as people from index_dates",
        CostDivisor::Referrals => {
            "select cast(count(*) as double) as people from stg_referrals \
             cross join study_params \
             where stg_referrals.referral_date between study_params.start_date and study_params.end_date"
        }
    };
    let people = Columns::query(ctx, sql).await?.floats_or_zero("people")?;
    let people = people.first().copied().unwrap_or(0.0) as u64;
    Ok(StudyConfig {
        programme: config.programme.with_people(people),
        ..config.clone()
    })
}

/// One candidate design's matching, rate ratios and saving (no subgroups, placebo or tables).
/// `matched` holds the matching now in `comparison_sets` and its matched treated count: a design
/// with the same matching reuses it; another rematches and replaces it.
async fn design_row(
    ctx: &SessionContext,
    config: &StudyConfig,
    design: &Design,
    tables_dir: &Path,
    matched: &mut Option<(Matching, usize)>,
    laps: &mut Laps,
) -> Result<DesignRow> {
    let row = |estimates| DesignRow {
        design: design.into(),
        headline: false,
        estimates,
    };
    let Some(config) = config.with_design(design) else {
        return Ok(row(Estimated::not(format!(
            "needs {} months of history before the index (pre_months is {})",
            design.washout_months + design.baseline_months,
            config.pre_months
        ))));
    };
    let matched_treated = match matched {
        Some((matching, count)) if *matching == design.matching() => *count,
        _ => {
            *matched = None;
            match comparison_sets(ctx, &config, design, tables_dir).await {
                Ok(comparison) => {
                    *matched = Some((design.matching(), comparison.matched_treated));
                    comparison.matched_treated
                }
                Err(Error::DataTest(reason)) => {
                    laps.lap("design_matching_seconds");
                    return Ok(row(Estimated::not(reason)));
                }
                Err(other) => return Err(other),
            }
        }
    };
    laps.lap("design_matching_seconds");
    let ratios = service_use::rate_ratios(ctx, &config).await?;
    let saving = economics::saving(ctx, &config, ratios.counterfactual_factor).await?;
    laps.lap("design_estimates_seconds");
    Ok(row(Estimated::Done(DesignEstimates {
        matched_treated: matched_treated as u64,
        rate_ratios: ratios.ratios,
        saving: Estimated::Done(saving),
    })))
}

/// Wall times of the stage's parts, for the manifest: each lap is the time since the last,
/// added to the part's total (the designs' matchings and estimates are timed one by one).
struct Laps {
    clock: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Laps {
    fn start() -> Self {
        Laps {
            clock: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, part: &'static str) {
        let seconds = self.clock.elapsed().as_secs_f64();
        self.clock = std::time::Instant::now();
        match self.laps.iter_mut().find(|(name, _)| *name == part) {
            Some((_, total)) => *total += seconds,
            None => self.laps.push((part, seconds)),
        }
    }
}

/// A DiD's rate ratio and interval (from its JSON), or the reason it was not estimated.
pub(super) fn rate_ratio(did: &Did) -> RateRatio {
    RateRatio {
        rate_ratio: did.rate_ratio,
        ci95: did.ci95,
    }
}

/// The headline design's row, from the headline estimates themselves.
fn headline_row(
    design: &Design,
    comparison: &comparison::Comparison,
    service_use: &[ServiceUseRow],
    economics: &Estimated<Economics>,
) -> DesignRow {
    let rate_ratios = outcomes::compared_across_designs()
        .map(|measure| measure.code)
        .filter_map(|name| {
            let row = service_use.iter().find(|row| row.measure == name)?;
            Some((name.to_string(), row.did.map(rate_ratio)))
        })
        .collect();
    let economics = economics.done();
    DesignRow {
        design: design.into(),
        headline: true,
        estimates: Estimated::Done(DesignEstimates {
            matched_treated: comparison.matched_treated as u64,
            rate_ratios,
            saving: Estimated::Done(DesignSaving {
                horizon_months: economics.map(|economics| economics.horizon_months as u64),
                savings_per_person: economics
                    .and_then(|economics| economics.savings_per_person_24m),
                ci95: economics.and_then(|economics| economics.savings_ci95),
                bootstrap_non_finite_replicates: None,
                counterfactual_factor: None,
            }),
        }),
    }
}

/// Whether the designs agree, by the stated rule, and the headline's E-values.
fn design_sensitivity(
    headline: &Design,
    rows: Vec<DesignRow>,
    service_use: &[ServiceUseRow],
    placebo_index: Estimated<PlaceboIndex>,
) -> DesignSensitivity {
    let mut disagreements = Vec::new();
    for measure in outcomes::compared_across_designs().map(|measure| measure.code) {
        let estimates: Vec<(&str, f64, f64, f64)> = rows
            .iter()
            .filter_map(|row| {
                let estimate = row.estimates.done()?.rate_ratios.get(measure)?.done()?;
                let [Some(low), Some(high)] = estimate.ci95 else {
                    return None;
                };
                Some((row.design.name.as_str(), estimate.rate_ratio?, low, high))
            })
            .collect();
        for (index, a) in estimates.iter().enumerate() {
            for b in &estimates[index + 1..] {
                let apart = a.3 < b.2 || b.3 < a.2;
                let outside_each_other = (a.1 < b.2 || a.1 > b.3) && (b.1 < a.2 || b.1 > a.3);
                let differ = (a.1 / b.1).ln().abs() > DISAGREEMENT_RATIO.ln();
                if apart || (differ && outside_each_other) {
                    disagreements.push(Disagreement {
                        measure: measure.to_string(),
                        designs: [a.0.to_string(), b.0.to_string()],
                        rate_ratios: [a.1, b.1],
                        intervals_overlap: !apart,
                    });
                }
            }
        }
    }
    let e_values = service_use
        .iter()
        .filter_map(|row| {
            let did = row.did.done()?;
            let ratio = did.rate_ratio?;
            let [Some(low), Some(high)] = did.ci95 else {
                return None;
            };
            Some((
                row.measure.clone(),
                EValue {
                    estimate: finite(e_value(ratio)),
                    ci_limit: finite(e_value_of_interval(low, high)),
                },
            ))
        })
        .collect();
    DesignSensitivity {
        headline_design: headline.name.to_string(),
        designs: rows,
        verdict: if disagreements.is_empty() {
            DesignVerdict::Agree
        } else {
            DesignVerdict::Disagree
        },
        disagreements,
        rule: format!("designs disagree when, for GP demand, A&E attendances, emergency admissions or total cost, two designs' 95% intervals do not overlap, or their rate ratios differ by more than a factor of {DISAGREEMENT_RATIO} and each lies outside the other's interval"),
        e_values,
        e_value_method: "VanderWeele & Ding 2017: RR + sqrt(RR (RR - 1)), with 1/RR for ratios below 1; ci_limit is the E-value of the interval limit nearest 1 (1 when the interval includes 1)".into(),
        placebo_index,
    }
}

/// A query's result, by column.
pub(crate) struct Columns {
    batches: Vec<RecordBatch>,
}

impl Columns {
    pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Columns> {
        Ok(Columns {
            batches: crate::engine::collect(ctx, sql).await?,
        })
    }

    /// Runs a query and hands its result to `each` one batch at a time, in the query's
    /// order: for results too large to hold at once (the matched panel, about 10 million
    /// person-months at five million people), which are read once and summed as they come.
    pub async fn for_each_batch(
        ctx: &SessionContext,
        sql: &str,
        mut each: impl FnMut(Columns) -> Result<()>,
    ) -> Result<()> {
        let mut stream = ctx
            .sql(sql)
            .await
            .map_err(|error| engine_error(sql, error))?
            .execute_stream()
            .await
            .map_err(|error| engine_error(sql, error))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|error| engine_error(sql, error))?;
            each(Columns {
                batches: vec![batch],
            })?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn column(&self, name: &str, to: &DataType) -> Result<Vec<arrow::array::ArrayRef>> {
        self.batches
            .iter()
            .map(|batch| {
                let column = batch
                    .column_by_name(name)
                    .ok_or_else(|| Error::Usage(format!("estimation: no column {name}")))?;
                arrow::compute::cast(column, to).map_err(|error| engine_error(name, error))
            })
            .collect()
    }

    /// A numeric column as f64 (nulls as None).
    pub fn floats(&self, name: &str) -> Result<Vec<Option<f64>>> {
        Ok(self
            .column(name, &DataType::Float64)?
            .iter()
            .flat_map(|array| {
                let array = array
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .expect("cast to Float64");
                (0..array.len())
                    .map(|row| array.is_valid(row).then(|| array.value(row)))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// A numeric column with nulls as zero.
    pub fn floats_or_zero(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .floats(name)?
            .into_iter()
            .map(|value| value.unwrap_or(0.0))
            .collect())
    }

    /// A column as text (nulls as None).
    pub fn texts(&self, name: &str) -> Result<Vec<Option<String>>> {
        Ok(self
            .column(name, &DataType::Utf8)?
            .iter()
            .flat_map(|array| {
                let array = array
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                (0..array.len())
                    .map(|row| array.is_valid(row).then(|| array.value(row).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

/// Writes a restricted table as `tables/<name>.parquet` and `tables/<name>.csv`.
pub(crate) fn write_restricted_table(
    tables_dir: &Path,
    name: &str,
    batch: &RecordBatch,
) -> Result<()> {
    let parquet_path = tables_dir.join(format!("{name}.parquet"));
    let mut sink = crate::parquet_out::ParquetSink::create(parquet_path, batch.schema())?;
    sink.write(batch)?;
    sink.finish()?;
    let csv_path = tables_dir.join(format!("{name}.csv"));
    let file = std::fs::File::create(&csv_path)
        .map_err(|source| Error::io("creating", &csv_path, source))?;
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    writer
        .write(batch)
        .map_err(|error| engine_error(name, error))?;
    Ok(())
}

/// The value when finite: a typed result's `Option<f64>` (written as null otherwise).
pub(crate) fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// A JSON number, or null when not finite.
pub(crate) fn number(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

/// A statistics error as a reportable reason rather than a failed run: small or degenerate
/// groups are expected in subgroups and must not stop an evaluation.
pub(crate) fn not_estimated(error: &crate::stats::StatsError) -> NotEstimated {
    NotEstimated {
        not_estimated: error.to_string(),
    }
}

/// The matched panel's columns that service use and economics sum (each person's set and
/// group, the month, its exposure, every measure's count or cost), one person's months
/// together in order: the order `matched_panel` is written and declared in, so the engine
/// streams the file as it lies rather than sorting it.
pub(super) fn matched_panel_sql() -> String {
    let mut columns: Vec<String> = [
        "person_id",
        "set_id",
        "group_name",
        "relative_month",
        "exposure_days",
    ]
    .map(String::from)
    .into();
    for measure in outcomes::MEASURES {
        columns.push(measure.panel_column());
    }
    columns.extend(outcomes::counted().map(|measure| format!("{}_cost_gbp", measure.code)));
    format!(
        "select {} from matched_panel order by {}",
        columns.join(", "),
        MATCHED_PANEL_ORDER.join(", ")
    )
}

/// The order `tables/matched_panel.parquet` is written in and registered with.
pub(super) const MATCHED_PANEL_ORDER: [&str; 2] = ["person_id", "relative_month"];

/// The weight of each comparison person per matched set (`comparison_weights`) from
/// `comparison_sets`, one row per matched person: known before the matched panel is read.
pub(super) async fn matched_comparison_weights(ctx: &SessionContext) -> Result<BTreeMap<i64, f64>> {
    let columns = Columns::query(
        ctx,
        "select set_id, group_name, person_id from comparison_sets order by set_id, person_id",
    )
    .await?;
    let sets = columns.floats_or_zero("set_id")?;
    let groups = columns.texts("group_name")?;
    let ids = columns.texts("person_id")?;
    Ok(comparison_weights((0..ids.len()).map(|row| {
        (
            sets[row] as i64,
            groups[row].as_deref() == Some("treated"),
            ids[row].as_deref(),
        )
    })))
}

/// The weight of each comparison person per matched set: 1/k, k the set's comparison people
/// among `members` (set, treated?, person key), one entry per row, a person's rows together.
pub(super) fn comparison_weights<K: PartialEq>(
    members: impl Iterator<Item = (i64, bool, K)>,
) -> BTreeMap<i64, f64> {
    let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
    let mut previous: Option<K> = None;
    for (set, treated, person) in members {
        if previous.as_ref() != Some(&person) && !treated {
            *counts.entry(set).or_default() += 1.0;
        }
        previous = Some(person);
    }
    counts.into_iter().map(|(set, k)| (set, 1.0 / k)).collect()
}

/// The matched people with their cohort row (`a`), patient row (`p`) and, for comparison
/// people, their candidate row (`c`, for `censored_at_referral`).
const MATCHED_EXITS: &str = "from comparison_sets as m \
     inner join analysis_cohort as a on m.person_id = a.person_id \
     inner join stg_patients as p on m.person_id = p.person_id \
     left join comparison_candidates as c on m.person_id = c.person_id";

/// SQL over [`MATCHED_EXITS`]: the person's follow-up ended by leaving the practice, not by
/// death or (a comparison person) their own referral.
const LEFT_PRACTICE: &str = "p.registered_to is not null and a.exit_date = p.registered_to \
     and not coalesce(c.censored_at_referral, false) \
     and not (p.date_of_death is not null and a.exit_date = p.date_of_death + interval '1 day')";

/// The matched people whose follow-up ended by leaving the practice within `post_months` of
/// the index date, with the relative month of their last day at risk: the life table of
/// deregistration behind the savings per person referred (`economics`).
pub(super) async fn left_practice_months(
    ctx: &SessionContext,
    config: &StudyConfig,
) -> Result<BTreeMap<String, i64>> {
    let columns = Columns::query(
        ctx,
        &format!(
            "select m.person_id, \
             relative_month(a.index_date, cast(a.exit_date - interval '1 day' as date)) as month \
             {MATCHED_EXITS} \
             where a.exit_date < add_months(a.index_date, {}) and {LEFT_PRACTICE} \
             order by m.person_id",
            config.post_months
        ),
    )
    .await?;
    let people = columns.texts("person_id")?;
    let months = columns.floats_or_zero("month")?;
    Ok(people
        .into_iter()
        .zip(months)
        .filter_map(|(person, month)| Some((person?, month as i64)))
        .collect())
}

/// One matched panel row's part in the life table of leaving the practice: (at risk at the
/// start of the month, left in it). A person with days at risk in the month was at risk at its
/// start; they left in it when their follow-up ended by leaving and this is the month of their
/// last day at risk (`left_practice_months`).
pub(super) fn leaving_counts(
    exposure_days: f64,
    person: Option<&String>,
    month: i64,
    left_practice: &BTreeMap<String, i64>,
) -> (f64, f64) {
    if exposure_days <= 0.0 {
        return (0.0, 0.0);
    }
    let left = person.and_then(|person| left_practice.get(person)) == Some(&month);
    (1.0, f64::from(u8::from(left)))
}

/// The life table of leaving the practice over the follow-up months (docs/methods.md,
/// Economics): the probability of still being registered at the middle of each month and
/// after the last, had nobody died.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StillRegistered {
    pub mid_month: Vec<f64>,
    pub after_last: f64,
}

/// [`StillRegistered`] from each follow-up month's people at risk at its start and those
/// whose follow-up ended in it by leaving (deaths are withdrawn from the risk set, not
/// counted): G(k) = prod_{j<k} (1 - left_j / entering_j), at mid-month
/// G(k) (1 - left_k / (2 entering_k)), the actuarial assumption that leavers are observed
/// half the month on average.
pub(super) fn still_registered(months: impl IntoIterator<Item = (f64, f64)>) -> StillRegistered {
    let mut at_start = 1.0;
    let mut mid_month = Vec::new();
    for (entering, left) in months {
        let share = if entering > 0.0 { left / entering } else { 0.0 };
        mid_month.push(at_start * (1.0 - share / 2.0));
        at_start *= 1.0 - share;
    }
    StillRegistered {
        mid_month,
        after_last: at_start,
    }
}

/// How each matched group's follow-up ended within `post_months` of the index date: death,
/// leaving the practice, (comparison people) their own referral, or followed to the end
/// (the end of follow-up or of the data). Exits end NHS costs in both the factual and the
/// counterfactual path (docs/methods.md, Economics); referred people who die or leave more
/// often than their comparison group are a reason to read the savings with care.
async fn follow_up_exits(ctx: &SessionContext, config: &StudyConfig) -> Result<FollowUpExits> {
    let end = format!("a.index_date + interval '{} months'", config.post_months);
    let columns = Columns::query(
        ctx,
        &format!(
            "select m.group_name, \
             cast(count(*) as double) as people, \
             cast(sum(case when a.exit_date < {end} and p.date_of_death is not null \
                 and a.exit_date = p.date_of_death + interval '1 day' then 1 else 0 end) as double) as died, \
             cast(sum(case when a.exit_date < {end} and coalesce(c.censored_at_referral, false) \
                 then 1 else 0 end) as double) as referred_later, \
             cast(sum(case when a.exit_date < {end} and {LEFT_PRACTICE} \
                 then 1 else 0 end) as double) as left_practice \
             {MATCHED_EXITS} group by m.group_name order by m.group_name"
        ),
    )
    .await?;
    let names = columns.texts("group_name")?;
    let [people, died, referred, left] = ["people", "died", "referred_later", "left_practice"]
        .map(|name| columns.floats_or_zero(name));
    let (people, died, referred, left) = (people?, died?, referred?, left?);
    let groups = (0..names.len())
        .map(|row| GroupExits {
            group: names[row].clone().unwrap_or_default(),
            people: people[row] as u64,
            died: died[row] as u64,
            left_practice: left[row] as u64,
            referred_later: referred[row] as u64,
            followed_to_end: (people[row] - died[row] - referred[row] - left[row]) as u64,
        })
        .collect();
    Ok(FollowUpExits {
        within_months: config.post_months,
        groups,
    })
}
