//! `run` and `check`: the end-to-end job and its dry run (`query` is in `query.rs`).
//!
//! `run`: ingest -> SQL models -> `results.json`, `manifest.json` and `tables/`, staged and
//! renamed into place (README "Layout"). `check`: the same ingest and models in a
//! temporary folder, reporting data and model tests, writing nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::StudyConfig;
use crate::engine::models::{self, ModelRun, QuerySource};
use crate::engine::{self, EngineOptions};
use crate::error::{Error, Result};
use crate::ingest::{self, contracts, report::IngestReport};
use crate::output::StagedOutput;
use crate::progress::Progress;
use crate::results::{
    ActivityParticipation, Cohort, Estimated, FlowStep, Funnel, MatchedGroups, Participation,
    RESTRICTED, Results, RouteFunnel, SCHEMA_VERSION, Study,
};

/// Tables registered before any model runs.
pub fn source_tables() -> Vec<&'static str> {
    let mut sources: Vec<&'static str> = contracts::ALL
        .iter()
        .map(|contract| contract.name)
        .collect();
    sources.extend([
        "study_params",
        "unit_costs",
        "service_measures",
        "instrument_items",
    ]);
    sources
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub data: PathBuf,
    pub out: Option<PathBuf>,
    pub queries: QuerySource,
    pub engine: EngineOptions,
}

impl RunOptions {
    /// `--out`, or `reports/output/<study name>` by default.
    pub fn out_dir(&self, config: &StudyConfig) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports/output").join(config.slug()))
    }
}

/// What `run` and `check` computed.
pub struct Analysis {
    pub ingest: IngestReport,
    pub models: ModelRun,
    pub results: Results,
    pub timings: BTreeMap<&'static str, f64>,
}

/// Runs ingest and the models into `dir`, returning the results.
fn analyse(
    options: &RunOptions,
    config: &StudyConfig,
    dir: &Path,
    progress: &Progress,
) -> Result<Analysis> {
    let mut timings = BTreeMap::new();
    let clock = Instant::now();
    let ingest_options = ingest::IngestOptions {
        threads: options.engine.threads,
        ..config.ingest_options()
    };
    let ingest = ingest::ingest(&options.data, &ingest_options, dir, progress)?;
    timings.insert("ingest_seconds", clock.elapsed().as_secs_f64());
    if !ingest.reconciled {
        return Err(Error::DataTest("ingest counts did not reconcile".into()));
    }

    let clock = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.engine.threads.max(1))
        .enable_all()
        .build()
        .map_err(|source| Error::io("starting the async runtime for", dir, source))?;
    let mut estimate_seconds = 0.0;
    let mut stage_parts = Vec::new();
    let (models, results) = runtime.block_on(async {
        let ctx = prepared_session(options, config, dir).await?;
        let models = models::discover(&options.queries, &source_tables())?;
        progress.log(&format!("models: running {} SQL models", models.len()));
        let run = models::run_models(&ctx, &models, &dir.join("tables"), progress).await?;
        let mut results = results_json(&ctx, config).await?;
        if run.failed_tests.is_empty() {
            progress.log("estimate: matching, difference-in-differences, wellbeing change");
            let clock = Instant::now();
            let estimates =
                crate::estimate::estimate(&ctx, config, &models, &dir.join("tables")).await?;
            estimate_seconds = clock.elapsed().as_secs_f64();
            results.cohort.matched = estimates.matched;
            results.balance = Some(estimates.balance);
            results.service_use = Some(estimates.service_use);
            results.wellbeing = Some(estimates.wellbeing);
            results.economics = Some(estimates.economics);
            results.equity = Some(estimates.equity);
            results.design_sensitivity = Some(estimates.design_sensitivity);
            results.methods = estimates.methods;
            results.programme = Some(estimates.programme);
            stage_parts = estimates.timings;
        }
        Ok::<_, Error>((run, results))
    })?;
    timings.insert(
        "models_seconds",
        clock.elapsed().as_secs_f64() - estimate_seconds,
    );
    timings.insert("estimate_seconds", estimate_seconds);
    timings.extend(stage_parts);
    Ok(Analysis {
        ingest,
        models,
        results,
        timings,
    })
}

async fn prepared_session(
    options: &RunOptions,
    config: &StudyConfig,
    dir: &Path,
) -> Result<SessionContext> {
    let ctx = engine::session(&options.engine).await?;
    engine::register_extracts(&ctx, dir).await?;
    let tables = dir.join("tables");
    engine::register_study_params(&ctx, config, &tables).await?;
    engine::register_unit_costs(&ctx, &config.unit_cost_table, &tables).await?;
    engine::register_service_measures(&ctx, &tables).await?;
    engine::register_instrument_items(&ctx, &tables).await?;
    Ok(ctx)
}

/// `sp-impact run`: everything, written to the output folder. A failed model test still
/// writes the outputs and then reports exit code 1.
pub fn run(options: &RunOptions, progress: &Progress) -> Result<PathBuf> {
    let config = StudyConfig::load(&options.config)?;
    let out = options.out_dir(&config);
    let staged = StagedOutput::begin(&out)?;
    let analysis = analyse(options, &config, staged.path(), progress)?;
    // Through a JSON value, whose maps are sorted: results.json's keys in alphabetical order.
    let results = serde_json::to_value(&analysis.results).expect("results serialise");
    write_json(&staged.path().join("results.json"), &results)?;
    write_json(
        &staged.path().join("manifest.json"),
        &manifest(options, &config, &analysis),
    )?;
    let config_copy = staged.path().join("study.toml");
    std::fs::copy(&options.config, &config_copy)
        .map_err(|source| Error::io("copying", &options.config, source))?;
    if analysis.models.failed_tests.is_empty() {
        progress.log("report: published/ (disclosure-controlled report, charts and tables)");
        crate::report::publish(staged.path(), &config)?;
    }
    let out = staged.commit()?;
    progress.log(&format!("run: results in {}", out.display()));
    fail_on_tests(&analysis.models)?;
    fail_without_service_use(&analysis.results)?;
    Ok(out)
}

/// The outputs are written (the wellbeing analysis and data quality still stand), but a run
/// whose service-use analysis could not be estimated at all exits 1 with the reason: a
/// report without its main estimate must not pass for a finished evaluation.
fn fail_without_service_use(results: &Results) -> Result<()> {
    match results.service_use.as_ref().and_then(Estimated::reason) {
        Some(reason) => Err(Error::DataTest(format!(
            "the service-use analysis could not be estimated: {reason} (outputs were written; the report says so)"
        ))),
        None => Ok(()),
    }
}

/// `sp-impact check`: config, contracts and model tests, with no outputs kept.
pub fn check(options: &RunOptions, progress: &Progress) -> Result<()> {
    let config = StudyConfig::load(&options.config)?;
    let scratch = tempfile::tempdir()
        .map_err(|source| Error::io("creating a temporary folder in", Path::new("."), source))?;
    let analysis = analyse(options, &config, scratch.path(), progress)?;
    let tests: usize = analysis.models.models.iter().map(|model| model.tests).sum();
    progress.log(&format!(
        "check: config ok; {} rows ingested ({} quarantined); {} models, {} tests, {} failed",
        analysis.ingest.rows_read,
        analysis.ingest.rows_quarantined,
        analysis.models.models.len(),
        tests,
        analysis.models.failed_tests.len()
    ));
    fail_on_tests(&analysis.models)
}

fn fail_on_tests(run: &ModelRun) -> Result<()> {
    if run.failed_tests.is_empty() {
        Ok(())
    } else {
        Err(Error::DataTest(format!(
            "model tests failed:\n  {}",
            run.failed_tests.join("\n  ")
        )))
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("JSON serialises");
    std::fs::write(path, text + "\n").map_err(|source| Error::io("writing", path, source))
}

fn manifest(options: &RunOptions, config: &StudyConfig, analysis: &Analysis) -> Value {
    let inputs: Vec<Value> = analysis
        .ingest
        .files
        .iter()
        .map(|file| json!({"file": file.file, "sha256": file.sha256, "rows_read": file.rows_read, "rows_loaded": file.rows_loaded}))
        .collect();
    json!({
        "tool": "sp-impact",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "config_file": options.config.display().to_string(),
        "config": config,
        "seed": config.seed,
        "inputs": inputs,
        "engine": engine_manifest(&options.engine),
        "models": analysis.models.models,
        "stage_timings_seconds": analysis.timings,
    })
}

fn engine_manifest(options: &EngineOptions) -> Value {
    let mut engine = json!({"kind": "local", "threads": options.threads, "memory_limit_bytes": options.memory_limit});
    if let engine::EngineKind::Ballista { scheduler } = &options.kind {
        engine["kind"] = json!("ballista");
        engine["scheduler"] = json!(scheduler);
    }
    engine
}

/// The results document: restricted, exact counts. Every number here is
/// read from a model's table; nothing is recomputed. The estimate sections are added to it.
async fn results_json(ctx: &SessionContext, config: &StudyConfig) -> Result<Results> {
    let flow: Vec<FlowStep> = typed_rows(
        ctx,
        "select step, persons from cohort_flow order by step_order",
    )
    .await?;
    let step = |name: &str| -> Result<u64> {
        flow.iter()
            .find(|row| row.step == name)
            .map(|row| row.persons)
            .ok_or_else(|| Error::DataTest(format!("cohort_flow has no step {name}")))
    };
    let cohort = Cohort {
        referrals: step("referrals_in_window")?,
        persons_referred: step("persons_referred_in_window")?,
        persons_with_index_date: step("persons_with_index_date")?,
        eligible_treated: step("eligible_treated")?,
        comparison_pool: step("comparison_pool")?,
        eligible_comparison_candidates: step("eligible_comparison_candidates")?,
        comparison_censored_at_referral: step("comparison_censored_at_referral")?,
        flow: flow.clone(),
        matched: MatchedGroups::default(),
    };
    let mut by_route: Vec<RouteFunnel> =
        typed_rows(ctx, "select * from funnel order by referral_route").await?;
    let all_routes = by_route
        .iter()
        .position(|row| row.referral_route == "all")
        .map(|at| by_route.remove(at))
        .ok_or_else(|| Error::DataTest("funnel has no row for all routes".into()))?;
    let funnel = Funnel {
        all_routes: all_routes.stages,
        by_route,
    };
    let practices = rows(ctx, "select * from practice_funnel order by practice_code").await?;
    let mut by_type: Vec<ParticipationRow> =
        typed_rows(ctx, "select * from participation order by activity_type").await?;
    let all_types = by_type
        .iter()
        .position(|row| row.activity_type == "all")
        .map(|at| by_type.remove(at));
    let participation = Participation {
        referred_with_activity_data: all_types
            .as_ref()
            .map_or(0, |row| row.people_with_activity_data),
        attended_any: all_types.as_ref().map_or(0, |row| row.attended_any),
        sessions_per_person: all_types.and_then(|row| row.sessions_per_attending_person),
        by_activity_type: by_type
            .into_iter()
            .map(|row| ActivityParticipation {
                activity_type: row.activity_type,
                people: row.attended_any,
                sessions: row.sessions_attended,
            })
            .collect(),
    };
    Ok(Results {
        schema_version: SCHEMA_VERSION,
        restricted: RESTRICTED.into(),
        study: Study {
            name: config.name.clone(),
            start: config.start,
            end: config.end,
            data_end: config.data_end,
            pre_months: config.pre_months,
            post_months: config.post_months,
        },
        design: (&config.design()).into(),
        cohort,
        funnel,
        participation,
        practices: crate::practices::practices_section(&practices, config.pcn_lookup.as_ref()),
        balance: None,
        service_use: None,
        wellbeing: None,
        economics: None,
        equity: None,
        design_sensitivity: None,
        methods: Value::Null,
        programme: None,
    })
}

/// A row of the `participation` model.
#[derive(serde::Deserialize)]
struct ParticipationRow {
    activity_type: String,
    people_with_activity_data: u64,
    attended_any: u64,
    sessions_attended: u64,
    sessions_per_attending_person: Option<f64>,
}

/// A query's rows as `T`s (through their JSON objects, `rows`).
async fn typed_rows<T: serde::de::DeserializeOwned>(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<T>> {
    rows(ctx, sql)
        .await?
        .into_iter()
        .map(|row| {
            serde_json::from_value(row).map_err(|error| {
                Error::DataTest(format!(
                    "a row of \"{sql}\" does not fit results.json: {error}"
                ))
            })
        })
        .collect()
}

/// A query's rows as JSON objects (Int64, Float64 and Utf8 columns; others as text).
async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Value>> {
    let batches = engine::collect(ctx, sql).await?;
    Ok(batches.iter().flat_map(batch_rows).collect())
}

fn batch_rows(batch: &RecordBatch) -> Vec<Value> {
    (0..batch.num_rows())
        .map(|row| {
            let mut object = serde_json::Map::new();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let value = if column.is_null(row) {
                    Value::Null
                } else if let Some(ints) = column.as_any().downcast_ref::<Int64Array>() {
                    json!(ints.value(row))
                } else if let Some(floats) = column.as_any().downcast_ref::<Float64Array>() {
                    json!(floats.value(row))
                } else if let Some(text) = column.as_any().downcast_ref::<StringArray>() {
                    json!(text.value(row))
                } else {
                    let text = arrow::util::display::array_value_to_string(column, row)
                        .unwrap_or_default();
                    json!(text)
                };
                object.insert(field.name().clone(), value);
            }
            Value::Object(object)
        })
        .collect()
}
