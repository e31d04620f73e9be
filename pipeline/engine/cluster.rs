//! Apache Ballista (feature `distributed`): the SQL stage on a cluster.
//!
//! - [`connect`]: a client session whose queries run on the cluster (`--engine ballista
//!   --scheduler df://HOST:PORT`). Sources and materialised models are Parquet files
//!   registered by absolute path, so the client and every executor must see the run folder
//!   at the same path (shared storage). The client writes each model's table from the rows
//!   the cluster sends back, exactly as the local engine does, so the tables and results are
//!   the same on both engines.
//! - [`serve_scheduler`], [`serve_executor`]: the Ballista scheduler and executor processes
//!   (the `ballista-scheduler` / `ballista-executor` libraries, as their official binaries
//!   run them) with the models' SQL functions (`udfs.rs`) registered. The official binaries
//!   do not know those functions, so they cannot run sp-impact's models.
//! - Ballista's adaptive planner is switched off in [`connect`]: in Ballista 55 it returns
//!   the branches of a `union all` of aggregates several times over.
//! - [`WithoutOperatorMetrics`]: the executor reports no per-operator metrics. Ballista 55's
//!   scheduler rejects a task whose metrics list is shorter or longer than its stage's, and
//!   the tasks of a stage over a `union all` (the cohort flow, the marts) differ, because an
//!   operator has metrics only once it has run; the job then never finishes. Metrics are
//!   display-only, so the executor leaves them out.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::{
    RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport,
};
use ballista_core::utils::default_session_builder;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::{FunctionRegistry, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{EngineOptions, collect as engine_collect, engine_error, local_session, udfs};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// A session on the cluster behind `scheduler` (df://HOST:PORT), keeping the local session's
/// settings (target partitions) and functions.
pub async fn connect(local: SessionContext, scheduler: &str) -> Result<SessionContext> {
    let ctx = SessionContext::remote_with_state(scheduler, local.state())
        .await
        .map_err(|error| {
            engine_error(
                &format!("connecting to the Ballista scheduler {scheduler}"),
                error,
            )
        })?;
    // Ballista replaces the session's scalar functions with its own list.
    udfs::register(&ctx);
    // Ballista 55's adaptive planner returns some `union all` branches many times over (the
    // cohort flow came back with 46 rows for 11 steps); the static planner is exact.
    engine_collect(&ctx, "set ballista.planner.adaptive.enabled = false").await?;
    Ok(ctx)
}

/// Ballista's log lines on standard error: warnings and errors, or as RUST_LOG says.
fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
}

/// Where a scheduler listens (`sp-impact scheduler`).
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    pub bind_host: String,
    pub bind_port: u16,
    /// The host name executors and clients use to reach the scheduler.
    pub external_host: String,
}

/// How an executor serves and which scheduler it registers with (`sp-impact executor`).
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler, as df://HOST:PORT.
    pub scheduler: String,
    pub bind_host: String,
    /// The host name the scheduler and other executors use to reach this executor.
    pub external_host: String,
    /// Arrow Flight port for shuffle data.
    pub port: u16,
    pub grpc_port: u16,
    /// Tasks run at once (None: all cores).
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle files (None: a temporary folder removed on exit).
    pub work_dir: Option<std::path::PathBuf>,
}

/// Runs a scheduler until the process is stopped.
pub fn serve_scheduler(args: &SchedulerSettings, progress: &Progress) -> Result<()> {
    init_logging();
    let address: SocketAddr = format!("{}:{}", args.bind_host, args.bind_port)
        .parse()
        .map_err(|error| Error::Usage(format!("--bind-host/--bind-port: {error}")))?;
    let mut config = SchedulerConfig {
        bind_host: args.bind_host.clone(),
        bind_port: args.bind_port,
        external_host: args.external_host.clone(),
        ..SchedulerConfig::default()
    };
    config.override_session_builder = Some(Arc::new(|session_config| {
        let mut state = default_session_builder(session_config)?;
        for udf in udfs::all() {
            state.register_udf(Arc::new(udf))?;
        }
        Ok(state)
    }));
    progress.log(&format!("scheduler: listening on {address}"));
    runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|error| cluster_error("starting the Ballista scheduler", error))?;
        start_server(cluster, address, Arc::new(config))
            .await
            .map_err(|error| cluster_error("running the Ballista scheduler", error))
    })
}

/// Runs an executor until the process is stopped.
pub fn serve_executor(args: &ExecutorSettings, progress: &Progress) -> Result<()> {
    init_logging();
    let (scheduler_host, scheduler_port) = scheduler_host_port(&args.scheduler)?;
    let mut engine = EngineOptions::from_machine();
    if let Some(tasks) = args.concurrent_tasks {
        engine.threads = tasks.max(1);
    }
    // The registry of a local session: DataFusion's functions plus the models' own.
    let functions = BallistaFunctionRegistry::from(&local_session(&engine)?.state());
    let scratch = tempfile::tempdir()
        .map_err(|source| Error::io("creating a work folder in", &std::env::temp_dir(), source))?;
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| scratch.path().into());
    let config = ExecutorProcessConfig {
        bind_host: args.bind_host.clone(),
        external_host: Some(args.external_host.clone()),
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler_host,
        scheduler_port,
        vcores: engine.threads,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        override_function_registry: Some(Arc::new(functions)),
        override_execution_engine: Some(Arc::new(WithoutOperatorMetrics)),
        ..ExecutorProcessConfig::default()
    };
    progress.log(&format!(
        "executor: serving on {}:{} for the scheduler {}",
        args.bind_host, args.port, args.scheduler
    ));
    runtime()?.block_on(async move {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|error| cluster_error("running the Ballista executor", error))
    })
}

/// Ballista's default execution engine, with stages that report no operator metrics (see
/// the module header for why).
struct WithoutOperatorMetrics;

impl ExecutionEngine for WithoutOperatorMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: ballista_core::JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        let stage = DefaultExecutionEngine::new().create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(stage)))
    }
}

#[derive(Debug)]
struct StageWithoutMetrics(Arc<dyn QueryStageExecutor>);

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(formatter)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<Vec<ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> datafusion::error::Result<Vec<WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

/// HOST and PORT of df://HOST:PORT (PORT defaults to 50050, as in Ballista).
fn scheduler_host_port(url: &str) -> Result<(String, u16)> {
    let bad = || Error::Usage(format!("--scheduler: '{url}' is not df://HOST:PORT"));
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            Ok((host.to_string(), port.parse().map_err(|_| bad())?))
        }
        None if !rest.is_empty() => Ok((rest.to_string(), 50050)),
        _ => Err(bad()),
    }
}

/// The runtime the official scheduler and executor binaries use: planning the models' deep
/// plans recurses further than tokio's default 2 MiB worker stack allows.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .map_err(|error| Error::Usage(format!("starting the async runtime: {error}")))
}

/// A scheduler or executor that cannot start or stops (a port in use, a scheduler not
/// reachable): the environment, exit 2.
fn cluster_error(context: &str, error: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{context}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses() {
        assert_eq!(
            scheduler_host_port("df://10.0.0.5:6000").unwrap(),
            ("10.0.0.5".to_string(), 6000)
        );
        assert_eq!(
            scheduler_host_port("df://sched").unwrap(),
            ("sched".to_string(), 50050)
        );
        assert!(scheduler_host_port("http://sched:1").is_err());
        assert!(scheduler_host_port("df://:1").is_err());
        assert!(scheduler_host_port("df://sched:port").is_err());
    }
}
