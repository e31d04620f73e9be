//! The SQL model graph: `queries/<layer>/<model>.sql`, one model per file (dbt style).
//! This file owns what a model is and where models come from; `parse` reads a file's
//! header, `order` sorts the graph, `materialise` runs and writes the models, `checks`
//! runs their tests.
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
//! rows are written (an error if a row comes before the one written ahead of it). Each test
//! compiles to a query that must return zero rows. `set` lines change DataFusion settings while the model and its tests
//! run, and are put back afterwards.

mod checks;
mod materialise;
mod order;
mod parse;

use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

pub use checks::{ModelTest, run_tests};
pub use materialise::{KeyOrder, ModelRun, ModelSummary, Written, run_models, write_parquet};

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
        models.push(parse::parse_model(&path, &layer, &text)?);
    }
    if models.is_empty() {
        return Err(Error::Usage("no SQL models found".into()));
    }
    order::order(models, sources)
}
