//! sp-impact: outcomes and impact evaluation of NHS social prescribing.
//!
//! Stages and data flow (design section 1; see `docs/architecture.md`):
//!
//! 1. [`ingest`]: contract extracts (CSV, CSV.gz, Parquet) -> validated, typed Parquet under
//!    `data/`, with every rejected row quarantined with its reason and the counts reconciled
//!    in `quality/ingest.json`.
//! 2. Later stages (model, estimate, cost, report) read only what ingest wrote.
//!
//! Supporting modules: [`measures`] (the wellbeing instruments and their scoring),
//! [`pseudonymise`] (keyed hashing of identifiers), [`output`] (crash-safe output folders),
//! [`progress`] (bars and log lines), [`error`] (the one error type and exit codes).
//! [`app`] maps the command line onto these.

pub mod app;
pub mod cli;
pub mod error;
pub mod ingest;
pub mod measures;
pub mod output;
pub mod progress;
pub mod pseudonymise;

pub use error::{Error, Result};
