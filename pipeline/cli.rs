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
    /// The whole evaluation: ingest, SQL models, results. With no arguments it runs on the
    /// sample: sample-data/ in this directory if there is one, otherwise the bundled sample
    /// (20,000 synthetic people, built into the binary).
    #[command(after_help = "Examples:\n  sp-impact run\n  \
        sp-impact run --config study.toml --data extracts/ --out results/ --pdf\n\n\
        Writes OUT/results.json, OUT/manifest.json, OUT/tables/*.parquet and OUT/quality/; \
        OUT defaults to reports/output/<study name>, or sp-impact-output/ for the bundled sample.")]
    Run(RunArgs),

    /// Write the bundled sample (20,000 synthetic people: six extracts, study.toml and the
    /// truth the generator knows) into a folder, to inspect and copy.
    #[command(after_help = "Example:\n  sp-impact sample --out my-study\n  \
        sp-impact run --config my-study/study.toml --data my-study --out results/")]
    Sample(SampleArgs),

    /// List the input layouts (profiles) a data file may be in besides the contract shape:
    /// SUS+/NCDR, SUS Unified and HES hospital extracts; OLIDS, SystmOne and EMIS Web GP
    /// appointments; referrals as coded GP events; questionnaires one row per item. A file in
    /// the data folder not named after an extract is read through the layout whose signature
    /// columns its header has.
    #[command(after_help = "Example:\n  sp-impact profiles")]
    Profiles,

    /// Show what ingest would make of each file in a data folder, loading nothing: the
    /// extract and layout chosen and why, the column mapping, every code value seen with its
    /// count and what it maps to (unmapped values flagged), the date format, how many rows
    /// would load or not be counted, and the share of person ids found in patients.
    #[command(after_help = "Example:\n  sp-impact inspect --data extracts/")]
    Inspect(InspectArgs),

    /// Check the config, the extracts' contracts and every SQL model's tests; write nothing.
    #[command(
        after_help = "Example:\n  sp-impact check --config sample-data/study.toml --data sample-data\n\n\
        Exit code 1 when a data or model test fails, 2 for bad input or configuration."
    )]
    Check(StudyArgs),

    /// Run ad-hoc SQL over a finished run's extracts and tables.
    #[command(
        after_help = "Examples:\n  sp-impact query --out reports/output/sample \"select * from funnel\"\n  \
        sp-impact query --out reports/output/sample --format csv \"select relative_month, sum(events) from person_month_use where measure = 'gp_demand' group by 1 order by 1\""
    )]
    Query(QueryArgs),

    /// Validate the extracts in a folder and load them into typed Parquet, with a quality
    /// report and every rejected row quarantined with its reason.
    #[command(
        after_help = "Example:\n  sp-impact ingest --data sample-data --out out/ingest\n\n\
        Writes OUT/data/<extract>.parquet, OUT/quality/ingest.json and \
        OUT/quality/quarantine/<extract>.parquet."
    )]
    Ingest(IngestArgs),

    /// Generate synthetic contract extracts with known ground truth (truth.json).
    #[command(
        after_help = "Examples:\n  sp-impact synth --persons 20000 --out synthetic\n  \
        sp-impact synth --persons 1000000 --seed 7 --effect gp_demand=0.8,ae_attendances=0.9 --out big\n  \
        sp-impact synth --persons 50000 --effect none --defects 0.01 --out messy\n  \
        sp-impact synth --persons 60000 --world observed-history --effect none --out world-b\n\n\
        The same --seed and --persons give byte-identical files on any number of threads."
    )]
    Synth(SynthArgs),

    /// Replace an identifier column (e.g. NHS number) with a keyed HMAC-SHA256 pseudonym.
    #[command(
        after_help = "Example:\n  head -c 32 /dev/urandom | base64 > pseudo.key\n  \
        sp-impact pseudonymise --key-file pseudo.key --column nhs_number --rename-to person_id \
        raw/patients.csv sample/patients.csv\n\nThe key is never printed or written anywhere."
    )]
    Pseudonymise(PseudonymiseArgs),

    /// Run an Apache Ballista scheduler for `--engine ballista` (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[command(
        after_help = "Example:\n  sp-impact scheduler --bind-host 0.0.0.0 --external-host sched.example\n\n\
        Runs until stopped. Executors and `--engine ballista --scheduler df://HOST:50050` connect to it."
    )]
    Scheduler(SchedulerArgs),

    /// Run an Apache Ballista executor for `--engine ballista` (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[command(
        after_help = "Example:\n  sp-impact executor --scheduler df://sched.example:50050 \
        --bind-host 0.0.0.0 --external-host worker1.example\n\n\
        Runs until stopped. It must see the run folders at the same paths as the client (shared storage)."
    )]
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The study configuration (default: sample-data/study.toml; with neither --config nor
    /// --data and no sample-data/ here, the bundled sample's).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder holding the extracts (default: sample-data; with neither --config nor --data
    /// and no sample-data/ here, the bundled sample).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run SQL models from this folder instead of the ones built in (layout as queries/).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Folder holding the data files to inspect.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// An input profile of your own for a layout the tool does not know (repeatable).
    #[arg(long = "profile", value_name = "FILE")]
    pub profiles: Vec<PathBuf>,
    /// Write an editable starter profile for the one data file no layout fits.
    #[arg(long, value_name = "FILE")]
    pub write_profile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Folder to write the bundled sample into (created if missing; existing files are not
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Worker threads for the SQL engine, the estimation's fits and writing tables (default:
    /// all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Memory limit of the SQL engine, e.g. 2GiB; larger work spills to disk
    /// (default: 2GiB, or half of physical memory if that is less).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Where the SQL runs: in this process, or on an Apache Ballista cluster (needs a build
    /// with the `distributed` feature and --scheduler).
    #[arg(long, value_enum, default_value = "local")]
    pub engine: EngineChoice,
    /// The Ballista scheduler, as df://HOST:PORT (with --engine ballista).
    #[arg(long, value_name = "URL", default_value = "df://localhost:50050")]
    pub scheduler: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    Local,
    Ballista,
}

/// `sp-impact scheduler`: a Ballista scheduler that knows sp-impact's SQL functions.
#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub bind_host: String,
    /// Port for the scheduler's gRPC service.
    #[arg(long, value_name = "PORT", default_value_t = 50050)]
    pub bind_port: u16,
    /// The host name executors and clients use to reach this scheduler.
    #[arg(long, value_name = "HOST", default_value = "localhost")]
    pub external_host: String,
}

/// `sp-impact executor`: a Ballista executor that knows sp-impact's SQL functions.
#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with, as df://HOST:PORT.
    #[arg(long, value_name = "URL", default_value = "df://localhost:50050")]
    pub scheduler: String,
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub bind_host: String,
    /// The host name the scheduler and other executors use to reach this executor.
    #[arg(long, value_name = "HOST", default_value = "localhost")]
    pub external_host: String,
    /// Port for the Arrow Flight service that serves shuffle data.
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    pub port: u16,
    /// Port for the executor's gRPC service.
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks run at once (default: all cores).
    #[arg(long, value_name = "N")]
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle files (default: a temporary folder, removed on exit).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Output folder (default: reports/output/<study name>); replaced atomically at the end.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also print the report to an A4 PDF, published/report.pdf, with a headless Chromium
    /// (chromium or google-chrome on PATH, or $SP_IMPACT_CHROMIUM); without one the run stops
    /// at once and says so.
    #[arg(long)]
    pub pdf: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A finished run's output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::query::QueryFormat,
    /// Write the result to this file instead of standard output (required for parquet).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The SQL to run.
    #[arg(value_name = "SQL")]
    pub sql: String,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folder holding the extracts (patients.csv, referrals.csv, wellbeing.csv,
    /// gp_appointments.csv, and optionally hospital_activity.csv and activities.csv;
    /// .csv.gz and .parquet accepted too). Hospital data may instead come as SUS+/NCDR, SUS
    /// Unified or HES files under any name, recognised by their headers (`sp-impact profiles`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Output folder (replaced atomically when ingest finishes).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// An input profile of your own for a layout the tool does not know (repeatable); `run`
    /// reads them from `[inputs] profiles` in study.toml.
    #[arg(long = "profile", value_name = "FILE")]
    pub profiles: Vec<PathBuf>,
    /// Threads checking each file's records (default: all cores). Output does not depend
    /// on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of registered people to generate.
    #[arg(long, value_name = "N")]
    pub persons: u64,
    /// Output folder for the six extracts and truth.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the ChaCha8 random streams.
    #[arg(long, value_name = "S", default_value_t = 20240401)]
    pub seed: u64,
    /// How people come to be referred: latent-crisis, observed-history, persistent-need,
    /// referral-visit, secular-trend, informative-death, informative-deregistration or
    /// later-referrals (README "Synthetic worlds").
    #[arg(long, value_name = "NAME", default_value = "latent-crisis")]
    pub world: String,
    /// True rate ratios after the index date: `none`, or measure=ratio pairs
    /// (gp_demand, ae_attendances, emergency_admissions, outpatient_attendances,
    /// elective_admissions); unlisted measures keep the default.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "gp_demand=0.9,ae_attendances=0.85,emergency_admissions=0.85"
    )]
    pub effect: String,
    /// True change in WEMWBS points at follow-up caused by the service.
    #[arg(long, value_name = "X", default_value_t = 3.0)]
    pub wellbeing_change: f64,
    /// Share of rows followed by a defective copy (0 to 0.2), for robustness tests.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub defects: f64,
    /// Write these extracts gzip-compressed (.csv.gz), comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub gzip: Vec<String>,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Months of history before the study start (12 to 60): the longest look-back
    /// (`pre_months`) a study of these extracts can use.
    #[arg(long, value_name = "N", default_value_t = crate::synth::DEFAULT_HISTORY_MONTHS)]
    pub history_months: i32,
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
