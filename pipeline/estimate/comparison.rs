//! The matched comparison cohort: a logistic propensity score on age, sex, IMD quintile,
//! ethnicity group, LTC count and, as `match_on_prior_use` says, prior use (GP demand, A&E
//! attendances and emergency admissions in months -12..-4 and -3..-1), greedy 1:k matching
//! on its logit within the exact strata of the config (and, with `exact_on_prior_use_bands`,
//! within bands of prior use), and the balance table. Writes and registers `comparison_sets` and
//! the matched people's panel `matched_panel` (both restricted: person-level).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use nalgebra::DMatrix;
use serde_json::{Value, json};

use super::{Breakdown, Columns, MATCHED_PANEL_ORDER, finite, number};
use crate::config::{PriorUse, StudyConfig};
use crate::engine::engine_error;
use crate::engine::models::KeyOrder;
use crate::error::{Error, Result};
use crate::outcomes;
use crate::results::{BalanceRow, CovariateBalance, Estimated, SubgroupBalance};
use crate::stats::StatsError;
use crate::stats::glm::{self, Family};
use crate::stats::matching::{
    CaliperScale, MatchOptions, Matching, SMD_TARGET, Unit, Weighted, balance, greedy_match,
    largest_abs_smd,
};

pub struct Comparison {
    /// Everyone the matching chose from: what the subgroup estimates rematch within.
    pub pool: Pool,
    pub matched_treated: usize,
    pub matched_comparison: usize,
    pub unmatched_treated: usize,
    pub balance: Vec<BalanceRow>,
    pub methods: Value,
    /// Wall time of the propensity fit and of the matching (for the manifest, never results).
    pub timings: [(&'static str, f64); 2],
}

/// The people a matching chose from, in `matching_covariates` order (by person), with their
/// logit propensity scores, exact strata and the matching's options.
pub struct Pool {
    units: Vec<Unit>,
    options: MatchOptions,
}

/// One member of a subgroup's matched set.
pub struct SubgroupMember {
    pub person_id: String,
    pub set: i64,
    pub treated: bool,
    /// The member's level of the breakdown (the same for every member of a set).
    pub level: String,
}

impl Pool {
    /// Matched sets within the levels of a person-level breakdown (`Breakdown::person_level`):
    /// the same propensity scores, caliper, ratio and exact strata as the headline matching,
    /// with the breakdown's level added to the strata, so that every comparison person shares
    /// their referred person's level and a subgroup's DiD compares like with like (at a
    /// million people a propensity-matched pair shares its sex 55% of the time, its age band
    /// 25%, its practice under 1%). Set ids are the treated members' ranks in matching order.
    pub async fn rematch_within(
        &mut self,
        ctx: &SessionContext,
        breakdown: &Breakdown,
    ) -> Result<Vec<SubgroupMember>> {
        let texts = Columns::query(
            ctx,
            &format!(
                "select {} as level from matching_covariates as c order by c.person_id",
                breakdown.expression
            ),
        )
        .await?
        .texts("level")?;
        if texts.len() != self.units.len() {
            return Err(Error::Engine(format!(
                "matching_covariates changed under the matching: {} rows, {} matched from",
                texts.len(),
                self.units.len()
            )));
        }
        // Each person's level as a number into `names`: the pool can be millions of people.
        let mut names: Vec<String> = Vec::new();
        let mut number_of: BTreeMap<String, usize> = BTreeMap::new();
        let levels: Vec<usize> = texts
            .into_iter()
            .map(|text| {
                let name = text.unwrap_or_else(|| "unknown".into());
                *number_of.entry(name.clone()).or_insert_with(|| {
                    names.push(name);
                    names.len() - 1
                })
            })
            .collect();
        // The level is appended to each stratum for this matching and taken off after, rather
        // than the pool copied.
        let lengths: Vec<usize> = self.units.iter().map(|unit| unit.stratum.len()).collect();
        for (unit, level) in self.units.iter_mut().zip(&levels) {
            unit.stratum.push_str(&names[*level]);
            unit.stratum.push('|');
        }
        let matching = greedy_match(&self.units, &self.options);
        for (unit, length) in self.units.iter_mut().zip(lengths) {
            unit.stratum.truncate(length);
        }
        let matching =
            matching.map_err(|error| Error::DataTest(format!("matching failed: {error}")))?;
        let set_of = set_ids(&matching, self.units.len());
        Ok((0..self.units.len())
            .filter(|&row| set_of[row] > 0)
            .map(|row| SubgroupMember {
                person_id: self.units[row].id.clone(),
                set: set_of[row],
                treated: self.units[row].treated,
                level: names[levels[row]].clone(),
            })
            .collect())
    }
}

/// Whether each row of a query over `matching_covariates` is a referred person.
fn treated_flags(columns: &Columns) -> Result<Vec<bool>> {
    Ok(columns
        .texts("group_name")?
        .iter()
        .map(|group| group.as_deref() == Some("treated"))
        .collect())
}

/// Balance within each level of each rematched breakdown, keyed by (breakdown, level): for
/// every covariate of the headline's balance table, the standardised mean difference between
/// the level's matched treated people and their comparison people (each weighing 1/k in a
/// set of k, as in the headline), over the level's matched treated people's SD. Reads the
/// covariates of the rematched people only (`subgroup_sets` joined to
/// `matching_covariates`), not the whole pool.
pub async fn subgroup_balance(
    ctx: &SessionContext,
    config: &StudyConfig,
    sets: &[(&str, Vec<SubgroupMember>)],
) -> Result<BTreeMap<(String, String), SubgroupBalance>> {
    let columns = Columns::query(
        ctx,
        "select s.breakdown, s.set_id, c.* from subgroup_sets as s \
         join matching_covariates as c on s.person_id = c.person_id \
         order by s.breakdown, c.person_id",
    )
    .await?;
    let breakdowns = columns.texts("breakdown")?;
    let persons = columns.texts("person_id")?;
    let set_ids = columns.floats_or_zero("set_id")?;
    let treated = treated_flags(&columns)?;
    let all = covariates(&columns, config.match_on_prior_use)?;
    drop(columns);
    let level_of: BTreeMap<(&str, &str), &str> = sets
        .iter()
        .flat_map(|(breakdown, members)| {
            members.iter().map(move |member| {
                (
                    (*breakdown, member.person_id.as_str()),
                    member.level.as_str(),
                )
            })
        })
        .collect();
    // Rows by (breakdown, level), and each set's comparison people, for the 1/k weights.
    let mut rows_of: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut controls_in_set: BTreeMap<(&str, i64), f64> = BTreeMap::new();
    for row in 0..treated.len() {
        let (Some(breakdown), Some(person)) = (breakdowns[row].as_deref(), persons[row].as_deref())
        else {
            continue;
        };
        let Some(level) = level_of.get(&(breakdown, person)) else {
            continue;
        };
        rows_of
            .entry((breakdown.to_string(), level.to_string()))
            .or_default()
            .push(row);
        if !treated[row] {
            *controls_in_set
                .entry((breakdown, set_ids[row] as i64))
                .or_default() += 1.0;
        }
    }
    let mut balances = BTreeMap::new();
    for (key, rows) in rows_of {
        let (treated_rows, control_rows): (Vec<usize>, Vec<usize>) =
            rows.iter().partition(|&&row| treated[row]);
        let weights: Vec<f64> = control_rows
            .iter()
            .map(|&row| 1.0 / controls_in_set[&(key.0.as_str(), set_ids[row] as i64)])
            .collect();
        let smds: Vec<(&str, f64)> = all
            .iter()
            .filter_map(|covariate| {
                let pick = |rows: &[usize]| -> Vec<f64> {
                    rows.iter().map(|&row| covariate.values[row]).collect()
                };
                let (t, c) = (pick(&treated_rows), pick(&control_rows));
                let weighted = Weighted {
                    values: &c,
                    weights: Some(&weights),
                };
                let smd = balance(&covariate.name, &t, &c, &t, &weighted)
                    .ok()?
                    .smd_after;
                smd.is_finite().then_some((covariate.name.as_str(), smd))
            })
            .collect();
        let Some((covariate, largest)) = largest_abs_smd(&smds) else {
            continue;
        };
        balances.insert(
            key,
            SubgroupBalance {
                largest_abs_smd: largest.abs(),
                covariate: covariate.to_string(),
                outside_target: smds
                    .iter()
                    .filter(|(_, smd)| smd.abs() >= SMD_TARGET)
                    .count() as u64,
                covariates: smds.len() as u64,
            },
        );
    }
    Ok(balances)
}

/// Each person's matched set (0 when unmatched): set id = rank of the treated unit in
/// matching order (1-based).
fn set_ids(matching: &Matching, rows: usize) -> Vec<i64> {
    let mut set_of = vec![0i64; rows];
    let mut next_set = 0i64;
    for &(t, c) in &matching.pairs {
        if set_of[t] == 0 {
            next_set += 1;
            set_of[t] = next_set;
        }
        set_of[c] = set_of[t];
    }
    set_of
}

/// One covariate of the balance table: its name, value per person, and whether the
/// propensity model uses it.
struct Covariate {
    name: String,
    values: Vec<f64>,
    in_model: bool,
}

fn indicator(name: &str, values: &[Option<String>], level: &str) -> Covariate {
    Covariate {
        name: name.to_string(),
        values: values
            .iter()
            .map(|value| f64::from(u8::from(value.as_deref() == Some(level))))
            .collect(),
        in_model: true,
    }
}

/// The propensity model's covariates (docs/methods.md, Comparison cohort), with indicator columns for the
/// categories and "unknown" flags for missing IMD and LTC.
fn covariates(columns: &Columns, prior_use: PriorUse) -> Result<Vec<Covariate>> {
    let mut covariates = vec![Covariate {
        name: "age".into(),
        values: columns.floats_or_zero("age_at_index")?,
        in_model: true,
    }];
    let sex = columns.texts("sex")?;
    covariates.push(indicator("sex_female", &sex, "female"));
    let imd = columns.floats("imd_quintile")?;
    for quintile in 1..=4 {
        covariates.push(Covariate {
            name: format!("imd_quintile_{quintile}"),
            values: imd
                .iter()
                .map(|value| f64::from(u8::from(*value == Some(f64::from(quintile)))))
                .collect(),
            in_model: true,
        });
    }
    covariates.push(Covariate {
        name: "imd_unknown".into(),
        values: imd
            .iter()
            .map(|value| f64::from(u8::from(value.is_none())))
            .collect(),
        in_model: true,
    });
    let ethnicity = columns.texts("ethnic_group")?;
    for group in ["Mixed", "Asian", "Black", "Other", "Unknown"] {
        covariates.push(indicator(
            &format!("ethnic_group_{}", group.to_lowercase()),
            &ethnicity,
            group,
        ));
    }
    let ltc = columns.floats("ltc_count")?;
    covariates.push(Covariate {
        name: "ltc_count".into(),
        values: ltc.iter().map(|value| value.unwrap_or(0.0)).collect(),
        in_model: true,
    });
    covariates.push(Covariate {
        name: "ltc_unknown".into(),
        values: ltc
            .iter()
            .map(|value| f64::from(u8::from(value.is_none())))
            .collect(),
        in_model: true,
    });
    // Prior use: matched on as `match_on_prior_use` says, otherwise a balance diagnostic.
    // Which is right depends on how people come to be referred (docs/validation.md).
    let (baseline, peak) = prior_use.windows();
    let older = prior_use.older_year();
    for (column, in_model) in [
        ("gp_demand_baseline", baseline),
        ("ae_attendances_baseline", baseline),
        ("emergency_admissions_baseline", baseline),
        ("gp_demand_m3_m1", peak),
        ("ae_attendances_m3_m1", peak),
        ("emergency_admissions_m3_m1", peak),
        ("gp_demand_m24_m13", older),
        ("ae_attendances_m24_m13", older),
        ("emergency_admissions_m24_m13", older),
    ] {
        covariates.push(Covariate {
            name: column.into(),
            values: columns.floats_or_zero(column)?,
            in_model,
        });
    }
    Ok(covariates)
}

pub async fn match_cohort(
    ctx: &SessionContext,
    config: &StudyConfig,
    tables_dir: &Path,
) -> Result<Comparison> {
    let columns =
        Columns::query(ctx, "select * from matching_covariates order by person_id").await?;
    let mut ids: Vec<String> = columns
        .texts("person_id")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let treated = treated_flags(&columns)?;
    let all = covariates(&columns, config.match_on_prior_use)?;
    let mut strata = exact_strata(&columns, &config.exact)?;
    if config.exact_on_prior_use_bands {
        for (stratum, band) in strata
            .iter_mut()
            .zip(prior_use_bands(&columns, config.match_on_prior_use)?)
        {
            stratum.push_str(&band);
        }
    }
    // The pool is everyone who could be matched (most of the registered population): each
    // population-sized buffer is freed as soon as it has been read, so that the query's
    // columns, the design matrix and the fitted model's copy of it are never held at once.
    drop(columns);
    // A covariate that cannot be estimated is left out and reported: constant overall (e.g. no
    // unknown IMD), or an indicator constant within one group (a rare category with no treated
    // member), which separates the groups and would send its coefficient to infinity.
    let varies_within = |covariate: &Covariate, group: bool| {
        let mut values = covariate
            .values
            .iter()
            .zip(&treated)
            .filter(|(_, t)| **t == group)
            .map(|(value, _)| *value);
        let first = values.next();
        values.any(|value| Some(value) != first)
    };
    let estimable = |covariate: &&Covariate| {
        let binary = covariate
            .values
            .iter()
            .all(|value| *value == 0.0 || *value == 1.0);
        if binary {
            varies_within(covariate, true) && varies_within(covariate, false)
        } else {
            varies_within(covariate, true) || varies_within(covariate, false)
        }
    };
    let used: Vec<&Covariate> = all
        .iter()
        .filter(|covariate| covariate.in_model)
        .filter(estimable)
        .collect();
    let rows = ids.len();
    let mut design = DMatrix::from_element(rows, used.len() + 1, 1.0);
    for (column, covariate) in used.iter().enumerate() {
        for (row, value) in covariate.values.iter().enumerate() {
            design[(row, column + 1)] = *value;
        }
    }
    let outcome: Vec<f64> = treated.iter().map(|t| f64::from(u8::from(*t))).collect();
    let clock = std::time::Instant::now();
    // Fitted probabilities of 0 or 1 for some people are not a failure (as R's glm); only
    // true separation, where no finite maximum-likelihood estimate exists, falls back to
    // Firth's penalised likelihood, and the methods say which fit was used.
    let (model, propensity_fit) = match glm::fit(&design, &outcome, None, Family::Binomial) {
        Ok(model) => (Ok(model), "maximum likelihood (IRLS)"),
        Err(StatsError::Separation | StatsError::NotConverged(_)) => (
            glm::fit_firth_logistic(&design, &outcome),
            "Firth penalised likelihood: maximum likelihood has no finite estimate here (the covariates separate the groups)",
        ),
        Err(error) => (Err(error), ""),
    };
    let model = model.map_err(|error| {
        Error::DataTest(format!(
            "the propensity score model could not be fitted: {error}"
        ))
    })?;
    let linear = &design * &model.coef;
    drop((design, model));
    let propensity_seconds = clock.elapsed().as_secs_f64();

    let units: Vec<Unit> = (0..rows)
        .map(|row| Unit {
            id: std::mem::take(&mut ids[row]),
            treated: treated[row],
            logit_score: linear[row],
            stratum: std::mem::take(&mut strata[row]),
        })
        .collect();
    drop(strata);
    let options = MatchOptions {
        ratio: config.match_ratio as usize,
        caliper_sd: config.caliper_sd,
        caliper_scale: CaliperScale::PooledSd,
    };
    let clock = std::time::Instant::now();
    let matching = greedy_match(&units, &options)
        .map_err(|error| Error::DataTest(format!("matching failed: {error}")))?;
    let matching_seconds = clock.elapsed().as_secs_f64();

    let set_of = set_ids(&matching, rows);
    drop(ids);
    register_comparison_sets(ctx, tables_dir, &units, &set_of).await?;
    register_matched_panel(ctx, tables_dir).await?;

    // With k controls per treated person each control weighs 1/k in the balance (as in the
    // DiD and savings), so every matched set counts once; k varies where the caliper or the
    // pool ran out. With one control each, no weights.
    let matched_controls: Vec<usize> = (0..rows)
        .filter(|&row| !treated[row] && set_of[row] > 0)
        .collect();
    let control_weights: Option<Vec<f64>> = (config.match_ratio > 1).then(|| {
        let mut per_set: BTreeMap<i64, f64> = BTreeMap::new();
        for &row in &matched_controls {
            *per_set.entry(set_of[row]).or_default() += 1.0;
        }
        matched_controls
            .iter()
            .map(|&row| 1.0 / per_set[&set_of[row]])
            .collect()
    });
    let mut table = Vec::new();
    for covariate in &all {
        let pick = |flag: bool, matched: bool| -> Vec<f64> {
            (0..rows)
                .filter(|&row| treated[row] == flag && (!matched || set_of[row] > 0))
                .map(|row| covariate.values[row])
                .collect()
        };
        let matched_control = pick(false, true);
        let weighted = Weighted {
            values: &matched_control,
            weights: control_weights.as_deref(),
        };
        match balance(
            &covariate.name,
            &pick(true, false),
            &pick(false, false),
            &pick(true, true),
            &weighted,
        ) {
            Ok(row) => table.push(BalanceRow {
                covariate: row.covariate,
                balance: Estimated::Done(CovariateBalance {
                    in_propensity_model: covariate.in_model,
                    smd_before: finite(row.smd_before),
                    smd_after: finite(row.smd_after),
                    variance_ratio_before: row.variance_ratio_before,
                    variance_ratio_after: row.variance_ratio_after,
                }),
            }),
            Err(error) => table.push(BalanceRow {
                covariate: covariate.name.clone(),
                balance: Estimated::not(error.to_string()),
            }),
        }
    }
    let matched_comparison = matching.pairs.len();
    let mut methods = json!({
        "propensity_model": "logistic regression of treated on the covariates below; covariates constant overall, or indicators constant within a group (separation), are omitted",
        "propensity_fit": propensity_fit,
        "covariates": used.iter().map(|covariate| covariate.name.clone()).collect::<Vec<_>>(),
        "omitted_covariates": all.iter().filter(|c| c.in_model && !used.iter().any(|u| u.name == c.name)).map(|c| c.name.clone()).collect::<Vec<_>>(),
        "match_on_prior_use": config.match_on_prior_use.as_str(),
        "service_use_covariates": match config.match_on_prior_use {
            PriorUse::None => "none: prior use is reported as balance diagnostics only",
            PriorUse::Baseline => "GP demand, A&E attendances and emergency admissions in months -12..-4",
            PriorUse::BaselineAndPeak => "GP demand, A&E attendances and emergency admissions in months -12..-4 and in months -3..-1",
            PriorUse::TwoYears => "GP demand, A&E attendances and emergency admissions in months -24..-13, in months -12..-4 and in months -3..-1",
        },
        "algorithm": "greedy nearest neighbour on the logit propensity score, without replacement",
        "order": "largest score first; ties by SHA-256 of person_id",
        "ratio": options.ratio,
        "caliper_sd": options.caliper_sd,
        "caliper_scale": "pooled SD of the logit score, sqrt((s_T^2 + s_C^2) / 2) (Austin 2011)",
        "caliper_logit": number(matching.caliper),
        "exact": config.exact,
        "balance_convention": "SMD with the treated-group SD of the unmatched sample (ATT); binary: sqrt(p(1-p)); variance ratio treated/control",
    });
    if config.exact_on_prior_use_bands {
        methods["exact_on_prior_use_bands"] = json!(
            "GP demand in months -12..-4 (0, 1-2, 3-5, 6-11, 12+) and, when matched on, -3..-1 (0, 1, 2-3, 4+); any A&E attendance or emergency admission in the months matched on"
        );
    }
    Ok(Comparison {
        timings: [
            ("propensity_fit_seconds", propensity_seconds),
            ("matching_seconds", matching_seconds),
        ],
        matched_treated: matching.matched_treated,
        matched_comparison,
        unmatched_treated: matching.unmatched_treated,
        balance: table,
        methods,
        pool: Pool { units, options },
    })
}

/// Each person's band of prior use, for exact matching within the propensity caliper
/// (`Design::exact_on_prior_use_bands`; Rosenbaum & Rubin 1985, Am Stat 39:33, matching on
/// the score within exact categories of key covariates): GP demand in months -12..-4 (0, 1-2,
/// 3-5, 6-11, 12 or more), with `baseline_and_peak` also in months -3..-1 (0, 1, 2-3, 4 or
/// more), and whether the person had any A&E attendance or emergency admission in those
/// months. Coarse on purpose: finer bands leave treated people without a match.
fn prior_use_bands(columns: &Columns, prior_use: PriorUse) -> Result<Vec<String>> {
    let (_, peak) = prior_use.windows();
    let gp_baseline = columns.floats_or_zero("gp_demand_baseline")?;
    let gp_peak = columns.floats_or_zero("gp_demand_m3_m1")?;
    let mut emergency = columns.floats_or_zero("ae_attendances_baseline")?;
    for column in ["emergency_admissions_baseline"]
        .into_iter()
        .chain(peak.then_some("ae_attendances_m3_m1"))
        .chain(peak.then_some("emergency_admissions_m3_m1"))
    {
        for (total, more) in emergency.iter_mut().zip(columns.floats_or_zero(column)?) {
            *total += more;
        }
    }
    Ok((0..columns.len())
        .map(|row| {
            prior_use_band(
                gp_baseline[row],
                peak.then_some(gp_peak[row]),
                emergency[row],
            )
        })
        .collect())
}

/// One person's band (see `prior_use_bands`); `gp_peak` is None when months -3..-1 are not
/// matched on.
fn prior_use_band(gp_baseline: f64, gp_peak: Option<f64>, emergency: f64) -> String {
    // How many of the bands' upper bounds the count exceeds.
    let band = |count: f64, upper_bounds: &[f64]| {
        upper_bounds
            .iter()
            .take_while(|bound| count > **bound)
            .count()
    };
    format!(
        "gp{}/{}/emergency{}|",
        band(gp_baseline, &[0.0, 2.0, 5.0, 11.0]),
        gp_peak.map_or(0, |count| band(count, &[0.0, 1.0, 3.0])),
        u8::from(emergency > 0.0)
    )
}

/// The exact-matching stratum of each person from the config's `exact` keys.
fn exact_strata(columns: &Columns, keys: &[String]) -> Result<Vec<String>> {
    let mut strata = vec![String::new(); columns.len()];
    for key in keys {
        let column = match key.as_str() {
            "index_quarter" | "sex" | "age_band" | "practice_code" | "imd_quintile" => {
                columns.texts(key)?
            }
            other => return Err(Error::Usage(format!("unknown exact-matching key {other}"))),
        };
        for (stratum, value) in strata.iter_mut().zip(column) {
            stratum.push_str(&value.unwrap_or_else(|| "unknown".into()));
            stratum.push('|');
        }
    }
    Ok(strata)
}

/// The matched people's person-month panel with their use, one row per person and month
/// (`outcomes::wide_panel_sql`: person, group, month, exposure days, `set_id`, a column per
/// counted measure and its cost), written once per matching to
/// `tables/matched_panel.parquet` (restricted: person-level) and registered as
/// `matched_panel`. The DiD, the savings and every design sharing this matching read it,
/// instead of joining the whole panel again each. Only the columns they read are taken from
/// `person_months`: the join decodes all its rows (31M at a million people) before it keeps
/// the matched few, so each column left out is time saved.
async fn register_matched_panel(ctx: &SessionContext, tables_dir: &Path) -> Result<()> {
    let order: Vec<String> = MATCHED_PANEL_ORDER
        .iter()
        .map(|column| format!("p.{column}"))
        .collect();
    let sql = outcomes::wide_panel_sql(
        "p.person_id, m.group_name, p.relative_month, p.exposure_days, m.set_id",
        "comparison_sets",
        &order.join(", "),
    );
    let frame = ctx
        .sql(&sql)
        .await
        .map_err(|error| engine_error("matched_panel", error))?;
    let path = tables_dir.join("matched_panel.parquet");
    crate::engine::models::write_parquet(frame, &path, &[], KeyOrder::Sorted).await?;
    crate::engine::register_sorted_parquet_file(ctx, "matched_panel", &path, &MATCHED_PANEL_ORDER)
        .await
}

async fn register_comparison_sets(
    ctx: &SessionContext,
    tables_dir: &Path,
    units: &[Unit],
    set_of: &[i64],
) -> Result<()> {
    let matched: Vec<usize> = (0..units.len()).filter(|&row| set_of[row] > 0).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("set_id", DataType::Int64, false),
        Field::new("group_name", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            matched.iter().map(|&row| units[row].id.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            matched.iter().map(|&row| set_of[row]),
        )),
        Arc::new(StringArray::from_iter_values(
            matched.iter().map(|&row| group_name(units[row].treated)),
        )),
    ];
    write_and_register(ctx, tables_dir, "comparison_sets", schema, columns).await
}

/// Writes a restricted table of `columns` to `tables_dir` and registers it under `name`.
async fn write_and_register(
    ctx: &SessionContext,
    tables_dir: &Path,
    name: &str,
    schema: Arc<Schema>,
    columns: Vec<ArrayRef>,
) -> Result<()> {
    let batch = RecordBatch::try_new(schema, columns).map_err(|error| engine_error(name, error))?;
    super::write_restricted_table(tables_dir, name, &batch)?;
    crate::engine::register_parquet_file(ctx, name, &tables_dir.join(format!("{name}.parquet")))
        .await
}

fn group_name(treated: bool) -> &'static str {
    if treated { "treated" } else { "comparison" }
}

/// Writes and registers `subgroup_sets` (restricted: person-level): for each rematched
/// breakdown, its matched sets' members (`Pool::rematch_within`).
pub async fn register_subgroup_sets(
    ctx: &SessionContext,
    tables_dir: &Path,
    sets: &[(&str, Vec<SubgroupMember>)],
) -> Result<()> {
    let members: Vec<(&str, &SubgroupMember)> = sets
        .iter()
        .flat_map(|(breakdown, members)| members.iter().map(move |member| (*breakdown, member)))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("breakdown", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, false),
        Field::new("set_id", DataType::Int64, false),
        Field::new("group_name", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            members.iter().map(|(breakdown, _)| *breakdown),
        )),
        Arc::new(StringArray::from_iter_values(
            members.iter().map(|(_, member)| member.person_id.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            members.iter().map(|(_, member)| member.set),
        )),
        Arc::new(StringArray::from_iter_values(
            members.iter().map(|(_, member)| group_name(member.treated)),
        )),
    ];
    write_and_register(ctx, tables_dir, "subgroup_sets", schema, columns).await
}

#[cfg(test)]
mod tests {
    use super::prior_use_band;

    #[test]
    fn prior_use_bands_split_at_their_stated_bounds() {
        // GP demand in months -12..-4: 0, 1-2, 3-5, 6-11, 12 or more.
        let baseline: Vec<String> = [0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 11.0, 12.0, 40.0]
            .into_iter()
            .map(|count| prior_use_band(count, None, 0.0))
            .collect();
        let expected = [0, 1, 1, 2, 2, 3, 3, 4, 4].map(|band| format!("gp{band}/0/emergency0|"));
        assert_eq!(baseline, expected);
        // Months -3..-1 when matched on: 0, 1, 2-3, 4 or more; any emergency care is yes/no.
        let peak: Vec<String> = [0.0, 1.0, 2.0, 3.0, 4.0, 9.0]
            .into_iter()
            .map(|count| prior_use_band(0.0, Some(count), 2.0))
            .collect();
        let expected = [0, 1, 2, 2, 3, 3].map(|band| format!("gp0/{band}/emergency1|"));
        assert_eq!(peak, expected);
    }
}
