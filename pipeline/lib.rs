//! sp-impact: outcomes and impact evaluation of NHS social prescribing.
//!
//! Stages and data flow (see `docs/architecture.md`):
//!
//! 1. [`ingest`]: contract extracts (CSV, CSV.gz, Parquet) -> validated, typed Parquet under
//!    `data/`, with every rejected row quarantined with its reason and the counts reconciled
//!    in `quality/ingest.json`.
//! 2. [`engine`]: the ingested tables and the [`config`] (`study_params`) registered in one
//!    DataFusion session; the SQL models of `queries/` run as a tested DAG into `tables/`.
//! 3. [`estimate`]: matching, difference-in-differences and wellbeing change computed with
//!    [`stats`] from the model tables.
//! 4. [`run`]: `run` and `check` over those stages; `results.json` ([`results`], the types
//!    the report reads back) and `manifest.json`; [`query`]: ad-hoc SQL over a finished run.
//!
//! Numerics: [`stats`] (tests, effect sizes, GLMs, bootstrap; pure functions).
//!
//! Test and demo data: [`synth`] generates the six extracts with known ground truth.
//!
//! Supporting modules: [`measures`] (the wellbeing instruments and their scoring),
//! [`outcomes`] (the service-use measures: the registry every layer iterates),
//! [`comparators`] (published evaluations to read the results beside),
//! [`practices`] (referral rates by practice against funnel limits),
//! [`pseudonymise`] (keyed hashing of identifiers), [`output`] (crash-safe output folders), [`parquet_out`] (the one
//! Parquet writer setting), [`calendar`] (day numbers and month arithmetic), [`costs`] (unit costs and costing rules), [`fact_csv`] (small CSV tables of facts a study supplies),
//! [`progress`] (bars and log lines), [`error`] (the one error type and exit codes).
//! [`app`] maps the command line onto these.

pub mod app;
pub mod calendar;
pub mod cli;
pub mod comparators;
pub mod config;
pub mod costs;
pub mod design;
pub mod econ;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod fact_csv;
pub mod ingest;
pub mod measures;
pub mod outcomes;
pub mod output;
pub mod parquet_out;
pub mod practices;
pub mod progress;
pub mod pseudonymise;
pub mod query;
pub mod report;
pub mod results;
pub mod run;
pub mod sample;
pub mod stats;
pub mod synth;

pub use error::{Error, Result};
