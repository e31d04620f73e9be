//! Runs the models in order: a staging model is registered as a view, every other layer
//! streamed to `tables/<model>.parquet` in key order (its key's uniqueness counted as the rows
//! are written) and registered as a table; then its tests run.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::{Model, ModelTest, run_tests};
use crate::engine::engine_error;
use crate::error::{Error, Location, Result};
use crate::parquet_out::ParquetSink;
use crate::progress::Progress;

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
            crate::engine::register_parquet_file(ctx, &model.name, &path).await?;
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
    let mut sink = ParquetSink::create_side_by_side(path.to_path_buf(), Arc::clone(&schema))?;
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
        let parsed = crate::engine::models::parse::parse_model(
            Path::new("queries/panel/m.sql"),
            "panel",
            text,
        )
        .unwrap();
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
        assert!(
            crate::engine::models::parse::parse_model(
                Path::new("queries/panel/m.sql"),
                "panel",
                malformed
            )
            .is_err()
        );
    }
}
