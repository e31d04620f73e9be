//! Command-line types (clap derive) and nothing else: no IO, no validation beyond what clap
//! does. `main.rs` hands these to the library, which validates them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sp-impact",
    version,
    about = "Outcomes and impact evaluation of NHS social prescribing",
    long_about = "Outcomes and impact evaluation of NHS social prescribing: anonymised extracts \
                  to validated Parquet, then (as they land) matched-comparison statistics, costed \
                  savings and a publishable report.\n\nExit codes: 0 success; 1 the analysis ran \
                  but a data or model test failed; 2 bad input or configuration."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print nothing but errors (no progress bars, no log lines).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the extracts in a folder and load them into typed Parquet, with a quality
    /// report and every rejected row quarantined with its reason.
    #[command(
        after_help = "Example:\n  sp-impact ingest --data sample-data --out out/ingest\n\n\
        Writes OUT/data/<extract>.parquet, OUT/quality/ingest.json and \
        OUT/quality/quarantine/<extract>.parquet."
    )]
    Ingest(IngestArgs),

    /// Replace an identifier column (e.g. NHS number) with a keyed HMAC-SHA256 pseudonym.
    #[command(
        after_help = "Example:\n  head -c 32 /dev/urandom | base64 > pseudo.key\n  \
        sp-impact pseudonymise --key-file pseudo.key --column nhs_number --rename-to person_id \
        raw/patients.csv sample/patients.csv\n\nThe key is never printed or written anywhere."
    )]
    Pseudonymise(PseudonymiseArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folder holding the extracts (patients.csv, referrals.csv, wellbeing.csv,
    /// gp_appointments.csv, and optionally hospital_activity.csv and activities.csv;
    /// .csv.gz and .parquet accepted too).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Output folder (replaced atomically when ingest finishes).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct PseudonymiseArgs {
    /// File holding the secret key (at least 16 bytes). Never printed or written.
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// The column to pseudonymise (matched case-insensitively).
    #[arg(long, value_name = "NAME")]
    pub column: String,
    /// New name for the pseudonymised column (e.g. person_id).
    #[arg(long, value_name = "NAME")]
    pub rename_to: Option<String>,
    /// Input CSV (or .csv.gz).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Output CSV (UTF-8).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}
