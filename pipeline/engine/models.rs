//! The SQL model graph: `queries/<layer>/<model>.sql`, one model per file (dbt style).
//!
//! Each file starts with a header of `-- key: value` comment lines:
//!
//! ```sql
//! -- model: person_months            (must equal the file stem)
//! -- grain: one row per person per relative month
//! -- depends_on: analysis_cohort, study_params
//! -- key: person_id, relative_month   (rows are written in this order; also tested unique)
//! -- test: not_null(exposure_days)
//! -- test: accepted_values(group_name: 'treated', 'comparison')
//! -- test: relationships(person_id -> analysis_cohort.person_id)
//! -- test: expression(exposure_days between 0 and 31)
//! -- set: datafusion.optimizer.prefer_hash_join = false   (engine settings for this model)
//! -- presorted: true   (the query emits its rows in key order: written without a sort)
//! ```
//!
//! Models run in dependency order (ties by layer, then name); a cycle or an unknown name in
//! `depends_on` is an error naming the model. `staging` models are views; every other layer
//! is materialised to `tables/<model>.parquet` (sorted by its key, so reruns are
//! byte-identical) and registered as a table. A `presorted` model's query must itself emit
//! its rows in key order (e.g. each person's months unnested from a table stored sorted by
//! person, on one partition): it is written without a sort, and the order is checked as the
//! rows are written (an error if a row comes before the one written ahead of it). Each test compiles to a query that must
//! return zero rows. `set` lines change DataFusion settings while the model and its tests
//! run, and are put back afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::engine_error;
use crate::error::{Error, Location, Result};
use crate::parquet_out::ParquetSink;
use crate::progress::Progress;

/// Layers in run order; the folder a model sits in.
pub const LAYERS: [&str; 5] = ["staging", "cohort", "panel", "outcome", "marts"];

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub layer: String,
    pub path: PathBuf,
    pub grain: String,
    pub depends_on: Vec<String>,
    pub key: Vec<String>,
    /// The header's `-- test:` lines (the key's uniqueness is checked by the runner).
    pub tests: Vec<ModelTest>,
    /// Engine settings (key, value) while this model runs.
    pub settings: Vec<(String, String)>,
    /// The query emits its rows in key order; the runner checks instead of sorting.
    pub presorted: bool,
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelTest {
    Unique(Vec<String>),
    NotNull(String),
    AcceptedValues(String, Vec<String>),
    Relationship {
        column: String,
        model: String,
        to: String,
    },
    Expression(String),
}

impl ModelTest {
    /// A query returning the rows that break the test.
    pub fn query(&self, model: &str) -> String {
        match self {
            ModelTest::Unique(columns) => {
                let columns = columns.join(", ");
                format!(
                    "select {columns}, count(*) as copies from {model} group by {columns} having count(*) > 1"
                )
            }
            ModelTest::NotNull(column) => format!("select * from {model} where {column} is null"),
            ModelTest::AcceptedValues(column, values) => format!(
                "select * from {model} where {column} is not null and {column} not in ({})",
                values.join(", ")
            ),
            ModelTest::Relationship {
                column,
                model: other,
                to,
            } => format!(
                "select child.{column} from {model} as child left join {other} as parent \
                 on child.{column} = parent.{to} where child.{column} is not null and parent.{to} is null"
            ),
            ModelTest::Expression(expression) => {
                format!("select * from {model} where not ({expression})")
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ModelTest::Unique(columns) => format!("unique({})", columns.join(", ")),
            ModelTest::NotNull(column) => format!("not_null({column})"),
            ModelTest::AcceptedValues(column, values) => {
                format!("accepted_values({column}: {})", values.join(", "))
            }
            ModelTest::Relationship { column, model, to } => {
                format!("relationships({column} -> {model}.{to})")
            }
            ModelTest::Expression(expression) => format!("expression({expression})"),
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/embedded_queries.rs"));

/// Where the models come from.
#[derive(Debug, Clone)]
pub enum QuerySource {
    /// The models built into the binary (from this repository's `queries/`).
    Embedded,
    /// A folder laid out like `queries/` (for edited or extra models).
    Folder(PathBuf),
}

/// Reads every model, in run order; `sources` are the tables registered before models run.
pub fn discover(source: &QuerySource, sources: &[&str]) -> Result<Vec<Model>> {
    let mut files: Vec<(PathBuf, String, String)> = Vec::new();
    match source {
        QuerySource::Embedded => {
            for (relative, text) in EMBEDDED_QUERIES {
                let path = Path::new("queries").join(relative);
                let layer = relative.split('/').next().unwrap_or_default().to_string();
                files.push((path, layer, text.to_string()));
            }
        }
        QuerySource::Folder(dir) => {
            for layer in LAYERS {
                let Ok(entries) = std::fs::read_dir(dir.join(layer)) else {
                    continue;
                };
                for path in entries.filter_map(|entry| entry.ok().map(|entry| entry.path())) {
                    if path.extension().is_some_and(|ext| ext == "sql") {
                        let text = std::fs::read_to_string(&path)
                            .map_err(|source| Error::io("reading", &path, source))?;
                        files.push((path, layer.to_string(), text));
                    }
                }
            }
        }
    }
    files.sort();
    let mut models = Vec::new();
    for (path, layer, text) in files {
        if !LAYERS.contains(&layer.as_str()) {
            return Err(Error::input(
                Location::file(&path),
                format!(
                    "models must be in one of the layer folders {}",
                    LAYERS.join(", ")
                ),
            ));
        }
        models.push(parse_model(&path, &layer, &text)?);
    }
    if models.is_empty() {
        return Err(Error::Usage("no SQL models found".into()));
    }
    order(models, sources)
}

fn parse_model(path: &Path, layer: &str, text: &str) -> Result<Model> {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut model = Model {
        name: String::new(),
        layer: layer.to_string(),
        path: path.to_path_buf(),
        grain: String::new(),
        depends_on: Vec::new(),
        key: Vec::new(),
        tests: Vec::new(),
        settings: Vec::new(),
        presorted: false,
        sql: String::new(),
    };
    let mut body = Vec::new();
    let mut in_header = true;
    for (number, line) in text.lines().enumerate() {
        let at =
            |reason: String| Error::input(Location::file(path).line(number as u64 + 1), reason);
        let header = line.trim().strip_prefix("--").map(str::trim);
        match header {
            Some(comment) if in_header => {
                let Some((key, value)) = comment.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                match key.trim() {
                    "model" => model.name = value.to_string(),
                    "grain" => model.grain = value.to_string(),
                    "depends_on" => model.depends_on = list(value),
                    "key" => model.key = list(value),
                    "test" => model.tests.push(parse_test(value).map_err(at)?),
                    "presorted" => {
                        model.presorted = match value {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(at(format!(
                                    "'-- presorted: {value}' is neither true nor false"
                                )));
                            }
                        }
                    }
                    "set" => {
                        let (key, setting) = value.split_once('=').ok_or_else(|| {
                            at(format!("'-- set: {value}' is not '-- set: key = value'"))
                        })?;
                        model
                            .settings
                            .push((key.trim().to_string(), setting.trim().to_string()));
                    }
                    _ => {}
                }
            }
            _ => {
                if !line.trim().is_empty() {
                    in_header = false;
                }
                body.push(line);
            }
        }
    }
    let missing = |what: &str| {
        Error::input(
            Location::file(path).line(1),
            format!("the model header has no '-- {what}:' line"),
        )
    };
    if model.name.is_empty() {
        return Err(missing("model"));
    }
    if model.name != stem {
        return Err(Error::input(
            Location::file(path).line(1),
            format!(
                "model '{}' must be in a file named {}.sql",
                model.name, model.name
            ),
        ));
    }
    if model.grain.is_empty() {
        return Err(missing("grain"));
    }
    model.sql = body.join("\n").trim().trim_end_matches(';').to_string();
    Ok(model)
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_test(text: &str) -> std::result::Result<ModelTest, String> {
    let (kind, rest) = text
        .split_once('(')
        .ok_or_else(|| format!("test '{text}' is not kind(arguments)"))?;
    let arguments = rest
        .trim()
        .strip_suffix(')')
        .ok_or_else(|| format!("test '{text}' does not end with ')'"))?
        .trim();
    match kind.trim() {
        "unique" => Ok(ModelTest::Unique(list(arguments))),
        "not_null" => Ok(ModelTest::NotNull(arguments.to_string())),
        "accepted_values" => {
            let (column, values) = arguments
                .split_once(':')
                .ok_or_else(|| format!("accepted_values needs column: 'value', ... in '{text}'"))?;
            Ok(ModelTest::AcceptedValues(
                column.trim().to_string(),
                list(values),
            ))
        }
        "relationships" => {
            let (column, target) = arguments
                .split_once("->")
                .ok_or_else(|| format!("relationships needs column -> model.column in '{text}'"))?;
            let (model, to) = target
                .trim()
                .split_once('.')
                .ok_or_else(|| format!("relationships needs column -> model.column in '{text}'"))?;
            Ok(ModelTest::Relationship {
                column: column.trim().into(),
                model: model.trim().into(),
                to: to.trim().into(),
            })
        }
        "expression" => Ok(ModelTest::Expression(arguments.to_string())),
        other => Err(format!(
            "unknown test kind '{other}' (unique, not_null, accepted_values, relationships, expression)"
        )),
    }
}

/// Topological order (Kahn), ties broken by layer then name; unknown names and cycles are
/// errors naming the model.
fn order(models: Vec<Model>, sources: &[&str]) -> Result<Vec<Model>> {
    let names: BTreeSet<&str> = models.iter().map(|model| model.name.as_str()).collect();
    if names.len() != models.len() {
        let mut seen = BTreeSet::new();
        let duplicate = models
            .iter()
            .find(|model| !seen.insert(model.name.as_str()))
            .expect("a duplicate exists");
        return Err(Error::input(
            Location::file(&duplicate.path).line(1),
            format!("model '{}' is defined twice", duplicate.name),
        ));
    }
    for model in &models {
        if let Some(unknown) = model.depends_on.iter().find(|dependency| {
            !names.contains(dependency.as_str()) && !sources.contains(&dependency.as_str())
        }) {
            return Err(Error::input(
                Location::file(&model.path).line(1),
                format!(
                    "model '{}' depends on unknown model or source '{unknown}'",
                    model.name
                ),
            ));
        }
    }
    let layer_rank = |model: &Model| {
        LAYERS
            .iter()
            .position(|layer| *layer == model.layer)
            .unwrap_or(LAYERS.len())
    };
    let mut remaining: BTreeMap<(usize, String), Model> = models
        .into_iter()
        .map(|model| ((layer_rank(&model), model.name.clone()), model))
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::new();
    while !remaining.is_empty() {
        let ready = remaining
            .iter()
            .find(|(_, model)| {
                model.depends_on.iter().all(|dependency| {
                    done.contains(dependency) || sources.contains(&dependency.as_str())
                })
            })
            .map(|(key, _)| key.clone());
        let Some(key) = ready else {
            let stuck: Vec<&str> = remaining
                .values()
                .map(|model| model.name.as_str())
                .collect();
            let first = remaining.values().next().expect("non-empty");
            return Err(Error::input(
                Location::file(&first.path).line(1),
                format!(
                    "the models depend on each other in a cycle: {}",
                    stuck.join(", ")
                ),
            ));
        };
        let model = remaining.remove(&key).expect("key present");
        done.insert(model.name.clone());
        ordered.push(model);
    }
    Ok(ordered)
}

/// What running the models produced.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ModelRun {
    pub models: Vec<ModelSummary>,
    pub failed_tests: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub layer: String,
    pub materialised: bool,
    pub rows: Option<u64>,
    pub tests: usize,
}

/// Runs every model in order; materialised models are written to `tables_dir`. Logs one
/// line per model (rows and seconds).
pub async fn run_models(
    ctx: &SessionContext,
    models: &[Model],
    tables_dir: &Path,
    progress: &Progress,
) -> Result<ModelRun> {
    std::fs::create_dir_all(tables_dir)
        .map_err(|source| Error::io("creating", tables_dir, source))?;
    let mut run = ModelRun::default();
    for model in models {
        let clock = std::time::Instant::now();
        let failed = |error: datafusion::error::DataFusionError| {
            Error::input(
                Location::file(&model.path),
                format!("model '{}' failed: {error}", model.name),
            )
        };
        let previous = apply_settings(ctx, &model.settings).map_err(failed)?;
        let frame = ctx.sql(&model.sql).await.map_err(failed)?;
        let _ = ctx.deregister_table(model.name.as_str());
        let materialised = model.layer != "staging";
        let rows = if materialised {
            let sorted = if model.key.is_empty() || model.presorted {
                frame
            } else {
                let order = model
                    .key
                    .iter()
                    .map(|column| {
                        datafusion::prelude::col(format!("\"{column}\"")).sort(true, false)
                    })
                    .collect();
                frame.sort(order).map_err(failed)?
            };
            let path = tables_dir.join(format!("{}.parquet", model.name));
            let order = if model.presorted {
                KeyOrder::Check
            } else {
                KeyOrder::Sorted
            };
            let written = write_parquet(sorted, &path, &model.key, order)
                .await
                .map_err(|error| match error {
                    Error::Parquet { .. } | Error::Io { .. } => error,
                    other => Error::input(
                        Location::file(&model.path),
                        format!("model '{}' failed: {other}", model.name),
                    ),
                })?;
            super::register_parquet_file(ctx, &model.name, &path).await?;
            if written.duplicate_keys > 0 {
                run.failed_tests.push(format!(
                    "{}: {} failed for {} rows",
                    model.name,
                    ModelTest::Unique(model.key.clone()).describe(),
                    written.duplicate_keys
                ));
            }
            Some(written.rows)
        } else {
            ctx.register_table(model.name.as_str(), frame.into_view())
                .map_err(failed)?;
            None
        };
        // A table's key is checked as its sorted rows are written; a view's by a query.
        let key_test = ModelTest::Unique(model.key.clone());
        let tests: Vec<&ModelTest> = (!materialised && !model.key.is_empty())
            .then_some(&key_test)
            .into_iter()
            .chain(&model.tests)
            .collect();
        run.failed_tests
            .extend(run_tests(ctx, model, &tests).await?);
        apply_settings(ctx, &previous).map_err(failed)?;
        let rows_note = rows.map_or("view".to_string(), |rows| format!("{rows} rows"));
        progress.log(&format!(
            "  model {}: {rows_note}, {:.1} s with its tests",
            model.name,
            clock.elapsed().as_secs_f64()
        ));
        run.models.push(ModelSummary {
            name: model.name.clone(),
            layer: model.layer.clone(),
            materialised,
            rows,
            tests: model.tests.len() + usize::from(!model.key.is_empty()),
        });
    }
    Ok(run)
}

/// Sets each (key, value) in the session's configuration; returns the values they replace.
fn apply_settings(
    ctx: &SessionContext,
    settings: &[(String, String)],
) -> datafusion::error::Result<Vec<(String, String)>> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    let mut previous = Vec::new();
    for (key, value) in settings {
        let current = options
            .entries()
            .into_iter()
            .find(|entry| &entry.key == key)
            .and_then(|entry| entry.value)
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Configuration(format!(
                    "'-- set: {key}' is not a setting with a value"
                ))
            })?;
        options.set(key, value)?;
        previous.push((key.clone(), current));
    }
    Ok(previous)
}

/// A relationship to a parent with at most this many values is tested as a list of accepted
/// values read from the parent first. The engine folds a literal list into each branch of a
/// view whose column is a constant per branch (stg_events' `measure`), where a join computes
/// and hashes every child row: under 1 s against 60 s on 54 million events.
const SMALL_PARENT_VALUES: usize = 1000;

/// The query of a test, a relationship to a small parent as a literal list of its values.
async fn test_query(
    ctx: &SessionContext,
    test: &ModelTest,
    model: &str,
) -> datafusion::error::Result<String> {
    let ModelTest::Relationship {
        column,
        model: parent,
        to,
    } = test
    else {
        return Ok(test.query(model));
    };
    let batches = ctx
        .sql(&format!(
            "select distinct cast({to} as varchar) as value from {parent} where {to} is not null \
             order by value limit {}",
            SMALL_PARENT_VALUES + 1
        ))
        .await?
        .collect()
        .await?;
    let mut values = Vec::new();
    for batch in &batches {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
        let strings = column
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| datafusion::error::DataFusionError::Internal("cast to Utf8".into()))?;
        values.extend(
            strings
                .iter()
                .flatten()
                .map(|value| format!("'{}'", value.replace('\'', "''"))),
        );
    }
    if values.is_empty() || values.len() > SMALL_PARENT_VALUES {
        return Ok(test.query(model));
    }
    Ok(format!(
        "select * from {model} where {column} is not null and cast({column} as varchar) not in ({})",
        values.join(", ")
    ))
}

/// Runs a model's tests; returns a description of each failure.
pub async fn run_tests(
    ctx: &SessionContext,
    model: &Model,
    tests: &[&ModelTest],
) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    for test in tests {
        let count = async {
            let query = test_query(ctx, test, &model.name).await?;
            count_rows(ctx, &query).await
        }
        .await
        .map_err(|error| {
            Error::input(
                Location::file(&model.path),
                format!(
                    "test {} of model '{}' could not run: {error}",
                    test.describe(),
                    model.name
                ),
            )
        })?;
        if count > 0 {
            failures.push(format!(
                "{}: {} failed for {count} rows",
                model.name,
                test.describe()
            ));
        }
    }
    Ok(failures)
}

async fn count_rows(ctx: &SessionContext, query: &str) -> datafusion::error::Result<u64> {
    let batches = ctx
        .sql(&format!("select count(*) as n from ({query})"))
        .await?
        .collect()
        .await?;
    let column = batches[0].column(0);
    let counts = column
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("count(*) is Int64");
    Ok(counts.value(0) as u64)
}

/// Rows per batch handed to the Parquet writer. Page boundaries follow batch boundaries, and
/// the engine's batch sizes vary with threads and spilling, so batches are re-cut to this
/// fixed size: the file's bytes then depend only on the rows.
const WRITE_BATCH_ROWS: usize = 8192;

/// What [`write_parquet`] wrote.
pub struct Written {
    pub rows: u64,
    /// Distinct key values that more than one row has (0 without a key).
    pub duplicate_keys: u64,
}

/// Whether rows given to [`write_parquet`] in key order were sorted by the engine, or come
/// in that order from the query itself and must be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    Sorted,
    Check,
}

/// Streams a query's result into one zstd Parquet file. When `key` is given the rows arrive
/// in key order, so equal keys are adjacent and their count comes free of a second query
/// (on the 24-million-row panel a group-by took ~6 s).
pub async fn write_parquet(
    frame: datafusion::dataframe::DataFrame,
    path: &Path,
    key: &[String],
    order: KeyOrder,
) -> Result<Written> {
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|error| engine_error("running a query", error))?;
    let schema = stream.schema();
    let mut keys = AdjacentKeys::new(&schema, key, order == KeyOrder::Check)?;
    let mut sink = ParquetSink::create(path.to_path_buf(), Arc::clone(&schema))?;
    let concat = |batches: &[RecordBatch]| {
        arrow::compute::concat_batches(&schema, batches)
            .map_err(|error| engine_error("re-batching a result", error))
    };
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|error| engine_error("running a query", error))?;
        keys.observe(&batch)?;
        rows += batch.num_rows() as u64;
        pending_rows += batch.num_rows();
        pending.push(batch);
        if pending_rows >= WRITE_BATCH_ROWS {
            let joined = concat(&pending)?;
            let full = joined.num_rows() / WRITE_BATCH_ROWS * WRITE_BATCH_ROWS;
            for offset in (0..full).step_by(WRITE_BATCH_ROWS) {
                sink.write(&joined.slice(offset, WRITE_BATCH_ROWS))?;
            }
            pending_rows = joined.num_rows() - full;
            pending = vec![joined.slice(full, pending_rows)];
        }
    }
    if pending_rows > 0 {
        sink.write(&concat(&pending)?)?;
    }
    sink.finish()?;
    Ok(Written {
        rows,
        duplicate_keys: keys.duplicates,
    })
}

/// Counts runs of equal keys in rows sorted by the key (arrow's row format compares every
/// key type bytewise, nulls equal to nulls as in SQL's group by), and, when asked, checks
/// that each row's key is not below the one before (ascending, nulls last: the order the
/// runner sorts in).
struct AdjacentKeys {
    columns: Vec<usize>,
    converter: Option<RowConverter>,
    previous: Option<OwnedRow>,
    in_run: bool,
    duplicates: u64,
    check_order: bool,
}

impl AdjacentKeys {
    fn new(schema: &arrow::datatypes::Schema, key: &[String], check_order: bool) -> Result<Self> {
        let columns = key
            .iter()
            .map(|name| {
                schema
                    .index_of(name)
                    .map_err(|error| engine_error(&format!("key column {name}"), error))
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = if columns.is_empty() {
            None
        } else {
            let fields = columns
                .iter()
                .map(|&index| {
                    SortField::new_with_options(
                        schema.field(index).data_type().clone(),
                        arrow::compute::SortOptions {
                            descending: false,
                            nulls_first: false,
                        },
                    )
                })
                .collect();
            Some(RowConverter::new(fields).map_err(|error| engine_error("key columns", error))?)
        };
        Ok(AdjacentKeys {
            columns,
            converter,
            previous: None,
            in_run: false,
            duplicates: 0,
            check_order,
        })
    }

    fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(converter) = &self.converter else {
            return Ok(());
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let arrays: Vec<_> = self
            .columns
            .iter()
            .map(|&index| Arc::clone(batch.column(index)))
            .collect();
        let rows = converter
            .convert_columns(&arrays)
            .map_err(|error| engine_error("key columns", error))?;
        for index in 0..rows.num_rows() {
            let row = rows.row(index);
            let before = match index {
                0 => self.previous.as_ref().map(OwnedRow::row),
                _ => Some(rows.row(index - 1)),
            };
            if self.check_order && before.is_some_and(|before| before > row) {
                return Err(Error::DataTest(
                    "rows are not in key order although the model is declared presorted".into(),
                ));
            }
            let equal = before.is_some_and(|before| before == row);
            if equal && !self.in_run {
                self.duplicates += 1;
            }
            self.in_run = equal;
        }
        self.previous = Some(rows.row(rows.num_rows() - 1).owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, layer: &str, depends_on: &[&str]) -> Model {
        Model {
            name: name.into(),
            layer: layer.into(),
            path: PathBuf::from(format!("queries/{layer}/{name}.sql")),
            grain: "g".into(),
            depends_on: depends_on.iter().map(|name| name.to_string()).collect(),
            key: vec![],
            tests: vec![],
            settings: vec![],
            presorted: false,
            sql: String::new(),
        }
    }

    /// A presorted model's rows are written as they come, so a row out of key order is an
    /// error rather than a table the key test and every reader would trust.
    #[tokio::test]
    async fn a_presorted_result_out_of_key_order_is_an_error() {
        let ctx = SessionContext::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let key = ["k".to_string(), "m".to_string()];
        let write = |sql: &'static str| {
            let ctx = ctx.clone();
            let path = path.clone();
            let key = key.clone();
            async move {
                let frame = ctx.sql(sql).await.unwrap();
                write_parquet(frame, &path, &key, KeyOrder::Check).await
            }
        };
        let in_order = write("select * from (values ('a', 1), ('a', 2), ('b', 1)) as t(k, m)")
            .await
            .unwrap();
        assert_eq!((in_order.rows, in_order.duplicate_keys), (3, 0));
        let out_of_order = write("select * from (values ('a', 2), ('a', 1)) as t(k, m)").await;
        assert!(
            matches!(&out_of_order, Err(Error::DataTest(message)) if message.contains("not in key order")),
            "{:?}",
            out_of_order.err()
        );
    }

    #[test]
    fn dependencies_order_models_and_cycles_are_named() {
        let ordered = order(
            vec![
                model("b", "marts", &["a"]),
                model("a", "cohort", &["patients"]),
                model("c", "cohort", &["b"]),
            ],
            &["patients"],
        )
        .unwrap();
        let names: Vec<&str> = ordered.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let cycle = order(
            vec![model("x", "cohort", &["y"]), model("y", "cohort", &["x"])],
            &[],
        )
        .unwrap_err();
        assert!(cycle.to_string().contains("cycle: x, y"), "{cycle}");
        let unknown = order(vec![model("x", "cohort", &["nope"])], &[]).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("unknown model or source 'nope'"),
            "{unknown}"
        );
    }

    #[test]
    fn equal_adjacent_keys_are_counted_across_batches() {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Utf8, true),
            Field::new("month", DataType::Int64, false),
        ]));
        let batch = |ids: &[Option<&str>], months: &[i64]| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(ids.to_vec())),
                    Arc::new(Int64Array::from(months.to_vec())),
                ],
            )
            .unwrap()
        };
        let key = ["person_id".to_string(), "month".to_string()];
        let mut keys = AdjacentKeys::new(&schema, &key, false).unwrap();
        // (a,1) (a,2) | (a,2) (a,2) (b,1) | (b,1) | (None,1) (None,1)
        keys.observe(&batch(&[Some("a"), Some("a")], &[1, 2]))
            .unwrap();
        keys.observe(&batch(&[Some("a"), Some("a"), Some("b")], &[2, 2, 1]))
            .unwrap();
        keys.observe(&batch(&[Some("b")], &[1])).unwrap();
        keys.observe(&batch(&[None, None], &[1, 1])).unwrap();
        assert_eq!(keys.duplicates, 3);
        let mut no_key = AdjacentKeys::new(&schema, &[], false).unwrap();
        no_key
            .observe(&batch(&[Some("a"), Some("a")], &[1, 1]))
            .unwrap();
        assert_eq!(no_key.duplicates, 0);
        assert!(AdjacentKeys::new(&schema, &["nope".to_string()], false).is_err());
    }

    #[test]
    fn settings_apply_for_one_model_and_are_put_back() {
        let text = "-- model: m\n-- grain: g\n-- set: datafusion.optimizer.prefer_hash_join = false\nselect 1";
        let parsed = parse_model(Path::new("queries/panel/m.sql"), "panel", text).unwrap();
        let setting = "datafusion.optimizer.prefer_hash_join".to_string();
        assert_eq!(
            parsed.settings,
            vec![(setting.clone(), "false".to_string())]
        );
        let ctx = SessionContext::new();
        let value = |ctx: &SessionContext| ctx.copied_config().options().optimizer.prefer_hash_join;
        let previous = apply_settings(&ctx, &parsed.settings).unwrap();
        assert!(!value(&ctx));
        assert_eq!(previous, vec![(setting, "true".to_string())]);
        apply_settings(&ctx, &previous).unwrap();
        assert!(value(&ctx));
        let unknown = vec![("datafusion.no_such_setting".to_string(), "1".to_string())];
        assert!(apply_settings(&ctx, &unknown).is_err());
        let malformed = "-- model: m\n-- grain: g\n-- set: no equals sign\nselect 1";
        assert!(parse_model(Path::new("queries/panel/m.sql"), "panel", malformed).is_err());
    }

    #[test]
    fn tests_parse_from_headers() {
        assert_eq!(
            parse_test("not_null(a)"),
            Ok(ModelTest::NotNull("a".into()))
        );
        assert_eq!(
            parse_test("accepted_values(g: 'x', 'y')"),
            Ok(ModelTest::AcceptedValues(
                "g".into(),
                vec!["'x'".into(), "'y'".into()]
            ))
        );
        assert_eq!(
            parse_test("relationships(p -> m.q)"),
            Ok(ModelTest::Relationship {
                column: "p".into(),
                model: "m".into(),
                to: "q".into()
            })
        );
        assert!(parse_test("bogus(x)").is_err());
    }
}
