//! The SQL engine: one DataFusion session built from the run's options and study config,
//! with every source table registered before any model runs.
//!
//! Sources: each ingested extract (`data/<extract>.parquet`; ingest writes an empty file for
//! an absent optional extract), `study_params` (a one-row table of the study configuration:
//! parameters reach SQL only through it), `unit_costs` (a one-row table of the unit-cost
//! set) and `service_measures` (the registry of service-use measures, `outcomes::MEASURES`),
//! the three written to `tables/` like any model. Every source is a Parquet file opened
//! by absolute path, so a Ballista executor reading the same shared storage sees the same
//! tables (`cluster.rs`, feature `distributed`). `models/` runs the SQL models in
//! `queries/`.

#[cfg(feature = "distributed")]
pub mod cluster;
pub mod models;
pub mod udfs;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{Field, Schema};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::SortExpr;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::calendar::days_since_epoch;
use crate::config::StudyConfig;
use crate::costs::UnitCosts;
use crate::error::{Error, Result};
use crate::ingest::contracts;
use crate::parquet_out::ParquetSink;

/// Which engine runs the SQL, and how it may use the machine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub threads: usize,
    /// Memory pool limit in bytes; operators spill to disk beyond it.
    pub memory_limit: usize,
    pub kind: EngineKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineKind {
    /// DataFusion in this process.
    Local,
    /// An Apache Ballista cluster, by its scheduler's `df://host:port` address.
    Ballista { scheduler: String },
}

impl EngineOptions {
    /// All cores and the default memory limit, in this process.
    pub fn from_machine() -> Self {
        EngineOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit: physical_memory_bytes().map_or(DEFAULT_MEMORY_LIMIT, |bytes| {
                (bytes / 2).min(DEFAULT_MEMORY_LIMIT)
            }),
            kind: EngineKind::Local,
        }
    }
}

/// The engine's memory pool unless `--memory-limit` says otherwise (or half of physical
/// memory when that is less). Sorts and aggregates spill beyond it, and at 1M people a 2 GiB
/// pool ran the SQL stage in about the time an unlimited one did (benches/run.py) while
/// holding the whole run under 2 GiB of RSS; an unlimited pool kept the 24-million-row panel
/// sort in memory (5.8 GiB).
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

fn physical_memory_bytes() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses a memory size such as `2GiB`, `512MiB`, `1.5GB` or a byte count.
pub fn parse_memory_size(text: &str) -> Result<usize> {
    let text = text.trim();
    let split = text
        .find(|ch: char| ch.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("--memory-limit: '{text}' is not a size like 2GiB")))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" | "k" => 1024.0,
        "mib" | "m" => 1024.0 * 1024.0,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        _ => {
            return Err(Error::Usage(format!(
                "--memory-limit: unknown unit in '{text}' (use MiB or GiB)"
            )));
        }
    };
    let bytes = number * factor;
    if bytes.is_nan() || bytes < 64.0 * 1024.0 * 1024.0 {
        return Err(Error::Usage(format!(
            "--memory-limit: '{text}' is below the 64MiB minimum"
        )));
    }
    Ok(bytes as usize)
}

/// An engine error with its context. SQL that does not parse, a plan that does not resolve
/// (an unknown table or column, a type mismatch) or a bad setting is what an edited model or
/// a configuration causes: a usage error, exit 2. A failure while running a valid plan (out of
/// memory, I/O, Arrow or Parquet, a function's error) is an engine failure, exit 1.
pub fn engine_error(context: &str, error: impl Into<DataFusionError>) -> Error {
    let error = error.into();
    let message = format!("{context}: {error}");
    match error.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::Configuration(_)
        | DataFusionError::NotImplemented(_) => Error::Usage(message),
        _ => Error::Engine(message),
    }
}

/// Runs a query and collects its result batches.
pub async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql)
        .await
        .map_err(|error| engine_error(sql, error))?
        .collect()
        .await
        .map_err(|error| engine_error(sql, error))
}

/// A session on the chosen engine: in this process, or a client of a Ballista cluster.
pub async fn session(options: &EngineOptions) -> Result<SessionContext> {
    let ctx = local_session(options)?;
    match &options.kind {
        EngineKind::Local => Ok(ctx),
        #[cfg(feature = "distributed")]
        EngineKind::Ballista { scheduler } => cluster::connect(ctx, scheduler).await,
        #[cfg(not(feature = "distributed"))]
        EngineKind::Ballista { .. } => Err(Error::Usage(NO_BALLISTA.into())),
    }
}

/// Why `--engine ballista` fails in a build without the feature.
pub const NO_BALLISTA: &str = "--engine ballista needs a build with the `distributed` feature \
     (cargo build --release --features distributed)";

/// A session with the memory pool, spilling and partitioning set, and the UDFs registered.
pub fn local_session(options: &EngineOptions) -> Result<SessionContext> {
    // Strings are plain Utf8, not Utf8View, as Ballista 55 requires of its sessions: the
    // tables written then have the same schema, and the same bytes, on either engine.
    let config = SessionConfig::new()
        .with_target_partitions(options.threads.max(1))
        .with_information_schema(true)
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(options.memory_limit)))
        .build_arc()
        .map_err(|error| engine_error("starting the SQL engine", error))?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    udfs::register(&ctx);
    Ok(ctx)
}

/// Registers the ingested extracts of a run folder (`<run>/data/*.parquet`) under their
/// extract names.
pub async fn register_extracts(ctx: &SessionContext, run_dir: &Path) -> Result<()> {
    for contract in contracts::ALL {
        let path = run_dir
            .join(crate::ingest::DATA_DIR)
            .join(format!("{}.parquet", contract.name));
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "{} is missing: run `sp-impact ingest` (or `run`) to create it",
                path.display()
            )));
        }
        register_parquet_file(ctx, contract.name, &path).await?;
    }
    Ok(())
}

/// Registers a Parquet file as a table under `name` (replacing any table of that name), by
/// absolute path: Ballista executors open the file themselves.
pub async fn register_parquet_file(ctx: &SessionContext, name: &str, path: &Path) -> Result<()> {
    register_sorted_parquet_file(ctx, name, path, &[]).await
}

/// Registers one Parquet file as a table whose rows lie in ascending `order` (columns without
/// nulls), so a query in that order streams the file instead of sorting it.
pub async fn register_sorted_parquet_file(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    order: &[&str],
) -> Result<()> {
    let absolute =
        std::fs::canonicalize(path).map_err(|source| Error::io("resolving", path, source))?;
    let _ = ctx.deregister_table(name);
    let sort: Vec<SortExpr> = order
        .iter()
        .map(|column| datafusion::prelude::col(*column).sort(true, false))
        .collect();
    let options = if sort.is_empty() {
        ParquetReadOptions::default()
    } else {
        ParquetReadOptions::default().file_sort_order(vec![sort])
    };
    ctx.register_parquet(name, absolute.to_string_lossy().as_ref(), options)
        .await
        .map_err(|error| engine_error(&format!("registering {}", path.display()), error))
}

/// Writes `tables/study_params.parquet` (one row holding the study configuration) and
/// registers it.
pub async fn register_study_params(
    ctx: &SessionContext,
    config: &StudyConfig,
    tables_dir: &Path,
) -> Result<()> {
    let date = |day: chrono::NaiveDate| {
        Arc::new(Date32Array::from(vec![days_since_epoch(day)])) as ArrayRef
    };
    let int = |value: i64| Arc::new(Int64Array::from(vec![value])) as ArrayRef;
    let float = |value: Option<f64>| Arc::new(Float64Array::from(vec![value])) as ArrayRef;
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "study_name",
            Arc::new(StringArray::from(vec![config.name.clone()])),
        ),
        ("start_date", date(config.start)),
        ("end_date", date(config.end)),
        ("data_end", date(config.data_end)),
        ("pre_months", int(i64::from(config.pre_months))),
        ("post_months", int(i64::from(config.post_months))),
        ("washout_months", int(i64::from(config.washout_months))),
        ("baseline_months", int(i64::from(config.baseline_months))),
        ("seed", int(config.seed as i64)),
        (
            "hospital_costing",
            Arc::new(StringArray::from(vec![config.hospital_costing.as_str()])),
        ),
        ("min_age", int(i64::from(config.min_age))),
        (
            "baseline_from_days",
            int(i64::from(config.baseline_window_days.0)),
        ),
        (
            "baseline_to_days",
            int(i64::from(config.baseline_window_days.1)),
        ),
        (
            "followup_from_days",
            int(i64::from(config.followup_window_days.0)),
        ),
        (
            "followup_to_days",
            int(i64::from(config.followup_window_days.1)),
        ),
        (
            "followup_target_day",
            int(i64::from(config.followup_target_day)),
        ),
        (
            // Null for a total cost, divided only once the models have counted the people.
            "programme_cost_per_referral",
            float(config.programme.per_person_gbp()),
        ),
        ("discount_rate", float(Some(config.discount_rate))),
    ];
    register_small_table(ctx, "study_params", columns, tables_dir).await
}

/// Writes `tables/unit_costs.parquet` (one row with the unit-cost set's values) and
/// registers it.
pub async fn register_unit_costs(
    ctx: &SessionContext,
    costs: &UnitCosts,
    tables_dir: &Path,
) -> Result<()> {
    let float = |value: f64| Arc::new(Float64Array::from(vec![value])) as ArrayRef;
    let text = |value: &str| Arc::new(StringArray::from(vec![value.to_string()])) as ArrayRef;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("unit_cost_set", text(&costs.name)),
        ("price_year", text(&costs.price_year)),
        ("gp_per_minute_gbp", float(costs.gp_per_minute_gbp)),
        ("gp_consultation_gbp", float(costs.gp_consultation_gbp)),
        ("nurse_per_hour_gbp", float(costs.nurse_per_hour_gbp)),
        ("nurse_default_minutes", float(costs.nurse_default_minutes)),
        ("ae_attendance_gbp", float(costs.ae_attendance_gbp)),
        (
            "emergency_short_stay_gbp",
            float(costs.emergency_short_stay_gbp),
        ),
        (
            "emergency_long_stay_gbp",
            float(costs.emergency_long_stay_gbp),
        ),
        (
            "elective_admission_gbp",
            float(costs.elective_admission_gbp),
        ),
        (
            "outpatient_attendance_gbp",
            float(costs.outpatient_attendance_gbp),
        ),
        (
            "ambulance_see_and_convey_gbp",
            float(costs.ambulance_see_and_convey_gbp),
        ),
        ("day_case_gbp", float(costs.day_case_gbp)),
        (
            "ae_attendance_type_3_4_gbp",
            float(costs.ae_attendance_type_3_4_gbp),
        ),
        (
            "long_stay_from_days",
            Arc::new(Int64Array::from(vec![crate::costs::LONG_STAY_FROM_DAYS])) as ArrayRef,
        ),
    ];
    register_small_table(ctx, "unit_costs", columns, tables_dir).await
}

/// Writes `tables/service_measures.parquet` (the registry of service-use measures,
/// `outcomes::MEASURES`, one row each) and registers it, so model tests can check every
/// measure code against it.
pub async fn register_service_measures(ctx: &SessionContext, tables_dir: &Path) -> Result<()> {
    let measures = crate::outcomes::MEASURES;
    let text = |value: fn(&crate::outcomes::Measure) -> &'static str| {
        Arc::new(StringArray::from(
            measures.iter().map(value).collect::<Vec<_>>(),
        )) as ArrayRef
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("measure", text(|measure| measure.code)),
        ("label", text(|measure| measure.label)),
        ("unit", text(|measure| measure.rate_unit())),
        (
            "compared_across_designs",
            Arc::new(BooleanArray::from(
                measures
                    .iter()
                    .map(|measure| measure.compared_across_designs)
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ];
    register_small_table(ctx, "service_measures", columns, tables_dir).await
}

/// Writes `tables/instrument_items.parquet` (every wellbeing item analysed on its own:
/// instrument, position in the questionnaire, name; from `measures::INSTRUMENTS`) and
/// registers it, so `wellbeing_pairs` pairs such items without naming any instrument.
pub async fn register_instrument_items(ctx: &SessionContext, tables_dir: &Path) -> Result<()> {
    let items = crate::measures::separate_items();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "instrument",
            Arc::new(StringArray::from(
                items.iter().map(|item| item.0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "item_index",
            Arc::new(Int64Array::from(
                items.iter().map(|item| item.1).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "item",
            Arc::new(StringArray::from(
                items.iter().map(|item| item.2).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ];
    register_small_table(ctx, "instrument_items", columns, tables_dir).await
}

/// Writes a small table built in Rust to `tables/<name>.parquet` and registers it.
async fn register_small_table(
    ctx: &SessionContext,
    name: &str,
    columns: Vec<(&str, ArrayRef)>,
    tables_dir: &Path,
) -> Result<()> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(column, array)| {
                Field::new(*column, array.data_type().clone(), array.null_count() > 0)
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .map_err(|error| engine_error(&format!("building {name}"), error))?;
    std::fs::create_dir_all(tables_dir)
        .map_err(|source| Error::io("creating", tables_dir, source))?;
    let path = tables_dir.join(format!("{name}.parquet"));
    let mut sink = ParquetSink::create(path.clone(), schema)?;
    sink.write(&batch)?;
    sink.finish()?;
    register_parquet_file(ctx, name, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sql_is_a_usage_error_and_a_run_time_failure_an_engine_error() {
        let plan = engine_error("model x", DataFusionError::Plan("no table y".into()));
        assert_eq!(
            (plan.exit_code(), plan.to_string().as_str()),
            (2, "model x: Error during planning: no table y")
        );
        let memory = engine_error(
            "model x",
            DataFusionError::Context(
                "sorting".into(),
                Box::new(DataFusionError::ResourcesExhausted("2 GiB".into())),
            ),
        );
        assert_eq!(memory.exit_code(), 1);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_memory_size("512 MiB").unwrap(), 512 << 20);
        assert!(parse_memory_size("12").is_err());
        assert!(parse_memory_size("lots").is_err());
    }
}
