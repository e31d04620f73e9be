//! `sp-impact query`: ad-hoc SQL over a finished run's extracts and tables, printed as a
//! table, CSV or JSON, or written as Parquet.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::config::StudyConfig;
use crate::engine::models::{self, QuerySource};
use crate::engine::{self, EngineOptions, engine_error};
use crate::error::{Error, Result};
use crate::run::source_tables;

/// Output format of `sp-impact query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// `sp-impact query`: runs SQL over a finished run's extracts and tables.
pub fn query(
    run_dir: &Path,
    sql: &str,
    format: QueryFormat,
    output: Option<&Path>,
    engine_options: &EngineOptions,
) -> Result<()> {
    let config_path = run_dir.join("study.toml");
    StudyConfig::load(&config_path).map_err(|error| match error {
        Error::Io { .. } => Error::Usage(format!(
            "{} is not a finished run folder (no study.toml): run `sp-impact run` first",
            run_dir.display()
        )),
        other => other,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(engine_options.threads.max(1))
        .enable_all()
        .build()
        .map_err(|source| Error::io("starting the async runtime for", run_dir, source))?;
    runtime.block_on(async {
        let ctx = engine::session(engine_options).await?;
        engine::register_extracts(&ctx, run_dir).await?;
        register_run_tables(&ctx, run_dir).await?;
        let frame = ctx
            .sql(sql)
            .await
            .map_err(|error| Error::Usage(format!("query failed: {error}")))?;
        match format {
            QueryFormat::Parquet => {
                let path = output
                    .ok_or_else(|| Error::Usage("--format parquet needs --output FILE".into()))?;
                models::write_parquet(frame, path, &[], models::KeyOrder::Sorted).await?;
            }
            _ => {
                let batches = frame
                    .collect()
                    .await
                    .map_err(|error| Error::Usage(format!("query failed: {error}")))?;
                let text = render(&batches, format)?;
                match output {
                    Some(path) => std::fs::write(path, text)
                        .map_err(|source| Error::io("writing", path, source))?,
                    None => print!("{text}"),
                }
            }
        }
        Ok(())
    })
}

/// Registers `tables/*.parquet` and re-creates the staging views.
async fn register_run_tables(ctx: &SessionContext, run_dir: &Path) -> Result<()> {
    let tables = run_dir.join("tables");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&tables)
        .map_err(|source| Error::io("reading", &tables, source))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "parquet"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        engine::register_parquet_file(ctx, &name, &path).await?;
    }
    for model in models::discover(&QuerySource::Embedded, &source_tables())? {
        if model.layer == "staging" {
            let frame = ctx
                .sql(&model.sql)
                .await
                .map_err(|error| engine_error(&model.name, error))?;
            ctx.register_table(model.name.as_str(), frame.into_view())
                .map_err(|error| engine_error(&model.name, error))?;
        }
    }
    Ok(())
}

fn render(batches: &[RecordBatch], format: QueryFormat) -> Result<String> {
    let failed =
        |error: arrow::error::ArrowError| Error::Usage(format!("formatting the result: {error}"));
    match format {
        QueryFormat::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)
            .map_err(failed)?
            .to_string()
            + "\n"),
        QueryFormat::Csv => {
            let mut buffer = Vec::new();
            {
                let mut writer = arrow::csv::Writer::new(&mut buffer);
                for batch in batches {
                    writer.write(batch).map_err(failed)?;
                }
            }
            Ok(String::from_utf8_lossy(&buffer).into_owned())
        }
        QueryFormat::Json => {
            let mut buffer = Vec::new();
            {
                let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
                for batch in batches {
                    writer.write(batch).map_err(failed)?;
                }
                writer.finish().map_err(failed)?;
            }
            Ok(String::from_utf8_lossy(&buffer).into_owned() + "\n")
        }
        QueryFormat::Parquet => Err(Error::Usage("--format parquet needs --output FILE".into())),
    }
}
