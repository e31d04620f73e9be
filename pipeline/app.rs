//! Runs one parsed command: the bridge between the command-line types and the library.

use std::path::{Path, PathBuf};

use crate::cli::{
    Cli, Command, EngineArgs, EngineChoice, IngestArgs, InspectArgs, PseudonymiseArgs, SampleArgs,
    StudyArgs, SynthArgs,
};
use crate::engine::models::QuerySource;
use crate::engine::{EngineKind, EngineOptions, parse_memory_size};
use crate::error::Error;
use crate::error::Result;
use crate::ingest::profile::Layouts;
use crate::output::StagedOutput;
use crate::progress::Progress;
use crate::pseudonymise::{PseudonymiseRequest, pseudonymise};
use crate::run::RunOptions;

pub fn run(cli: Cli) -> Result<()> {
    let progress = Progress::new(cli.common.quiet);
    match cli.command {
        Command::Run(args) => {
            // Before any work: a PDF asked for and no browser to print it is a usage error.
            let chromium = args
                .pdf
                .then(crate::report::pdf::find_chromium)
                .transpose()?;
            let inputs = StudyInputs::resolve(&args.study, &progress)?;
            let out = args.out.clone().or_else(|| inputs.default_out());
            let out = crate::run::run(&inputs.run_options(&args.study, out)?, &progress)?;
            if let Some(chromium) = chromium {
                let pdf = crate::report::pdf::print(&chromium, &out.join("published"))?;
                progress.log(&format!("report: {} (A4)", pdf.display()));
            }
            Ok(())
        }
        Command::Check(args) => {
            let inputs = StudyInputs::resolve(&args, &progress)?;
            crate::run::check(&inputs.run_options(&args, None)?, &progress)
        }
        Command::Sample(args) => sample(&args, &progress),
        Command::Inspect(args) => inspect(&args, &progress),
        Command::Profiles => {
            print!("{}", crate::ingest::profile::listing());
            Ok(())
        }
        Command::Query(args) => crate::query::query(
            &args.out,
            &args.sql,
            args.format,
            args.output.as_deref(),
            &engine_options(&args.engine)?,
        ),
        Command::Ingest(args) => ingest(&args, &progress),
        Command::Synth(args) => synth(&args, &progress),
        Command::Pseudonymise(args) => pseudonymise_file(&args, &progress),
        #[cfg(feature = "distributed")]
        Command::Scheduler(args) => {
            let settings = crate::engine::cluster::SchedulerSettings {
                bind_host: args.bind_host,
                bind_port: args.bind_port,
                external_host: args.external_host,
            };
            crate::engine::cluster::serve_scheduler(&settings, &progress)
        }
        #[cfg(feature = "distributed")]
        Command::Executor(args) => {
            let settings = crate::engine::cluster::ExecutorSettings {
                scheduler: args.scheduler,
                bind_host: args.bind_host,
                external_host: args.external_host,
                port: args.port,
                grpc_port: args.grpc_port,
                concurrent_tasks: args.concurrent_tasks,
                work_dir: args.work_dir,
            };
            crate::engine::cluster::serve_executor(&settings, &progress)
        }
    }
}

/// Sizes the pool that encodes Parquet columns and runs the estimation's independent fits
/// side by side (rayon's global pool) to the command's thread count. Set once per process;
/// results do not depend on it.
fn use_threads(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

fn engine_options(args: &EngineArgs) -> Result<EngineOptions> {
    let mut options = EngineOptions::from_machine();
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(Error::Usage("--threads must be at least 1".into()));
        }
        options.threads = threads;
    }
    use_threads(options.threads);
    if let Some(limit) = &args.memory_limit {
        options.memory_limit = parse_memory_size(limit)?;
    }
    if args.engine == EngineChoice::Ballista {
        if !cfg!(feature = "distributed") {
            return Err(Error::Usage(crate::engine::NO_BALLISTA.into()));
        }
        options.kind = EngineKind::Ballista {
            scheduler: args.scheduler.clone(),
        };
    }
    Ok(options)
}

/// Where `run` and `check` read the configuration and extracts: as given; by default
/// `sample-data/` in the current directory; and when neither is given and there is no
/// `sample-data/study.toml` here, the bundled sample written to a temporary folder that lives
/// as long as this value.
struct StudyInputs {
    config: PathBuf,
    data: PathBuf,
    bundled: Option<tempfile::TempDir>,
}

impl StudyInputs {
    const LOCAL_CONFIG: &str = "sample-data/study.toml";
    const LOCAL_DATA: &str = "sample-data";
    /// Where a run of the bundled sample writes without `--out`.
    const BUNDLED_OUT: &str = "sp-impact-output";

    fn resolve(args: &StudyArgs, progress: &Progress) -> Result<StudyInputs> {
        if args.config.is_none() && args.data.is_none() && !Path::new(Self::LOCAL_CONFIG).exists() {
            let dir = tempfile::tempdir().map_err(|source| {
                Error::io(
                    "creating a temporary folder in",
                    &std::env::temp_dir(),
                    source,
                )
            })?;
            crate::sample::write(dir.path())?;
            progress.log(
                "sample: no --config or --data and no sample-data/ here: running the bundled \
                 sample (20,000 synthetic people; `sp-impact sample --out DIR` writes it out)",
            );
            return Ok(StudyInputs {
                config: dir.path().join(crate::sample::CONFIG),
                data: dir.path().to_path_buf(),
                bundled: Some(dir),
            });
        }
        Ok(StudyInputs {
            config: args
                .config
                .clone()
                .unwrap_or_else(|| Self::LOCAL_CONFIG.into()),
            data: args.data.clone().unwrap_or_else(|| Self::LOCAL_DATA.into()),
            bundled: None,
        })
    }

    /// `sp-impact-output/` for the bundled sample; otherwise the run's own default.
    fn default_out(&self) -> Option<PathBuf> {
        self.bundled
            .as_ref()
            .map(|_| PathBuf::from(Self::BUNDLED_OUT))
    }

    fn run_options(&self, args: &StudyArgs, out: Option<PathBuf>) -> Result<RunOptions> {
        Ok(RunOptions {
            config: self.config.clone(),
            data: self.data.clone(),
            out,
            queries: args
                .queries
                .clone()
                .map_or(QuerySource::Embedded, QuerySource::Folder),
            engine: engine_options(&args.engine)?,
        })
    }
}

fn inspect(args: &InspectArgs, progress: &Progress) -> Result<()> {
    let layouts = Layouts::with_user(&args.profiles, Path::new("."), Default::default())?;
    print!("{}", crate::ingest::inspect::inspect(&args.data, &layouts)?);
    if let Some(path) = &args.write_profile {
        let file = crate::ingest::starter::write_starter(&args.data, &layouts, path)?;
        progress.log(&format!(
            "inspect: wrote a starter profile for {file} to {}; edit it, then pass it with --profile or list it in study.toml ([inputs] profiles)",
            path.display()
        ));
    }
    Ok(())
}

fn sample(args: &SampleArgs, progress: &Progress) -> Result<()> {
    let written = crate::sample::write(&args.out)?;
    progress.log(&format!(
        "sample: wrote {} files to {}; run them with `sp-impact run --config {} --data {}`",
        written.len(),
        args.out.display(),
        args.out.join(crate::sample::CONFIG).display(),
        args.out.display()
    ));
    Ok(())
}

fn ingest(args: &IngestArgs, progress: &Progress) -> Result<()> {
    let mut options = crate::ingest::IngestOptions {
        layouts: Layouts::with_user(&args.profiles, Path::new("."), Default::default())?,
        ..Default::default()
    };
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(Error::Usage("--threads must be at least 1".into()));
        }
        options.threads = threads;
    }
    use_threads(options.threads);
    let staged = StagedOutput::begin(&args.out)?;
    let report = crate::ingest::ingest(&args.data, &options, staged.path(), progress)?;
    let out = staged.commit()?;
    progress.log(&format!(
        "ingest: {} rows read, {} loaded, {} quarantined, {} not counted by layout rules, {} added; reconciled; report in {}",
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
        report.rows_excluded,
        report.rows_added,
        out.join("quality/ingest.json").display()
    ));
    Ok(())
}

fn synth(args: &SynthArgs, progress: &Progress) -> Result<()> {
    let gzip = args
        .gzip
        .iter()
        .map(|name| {
            crate::synth::FILES
                .iter()
                .map(|(file, _)| *file)
                .find(|file| file == name)
                .ok_or_else(|| Error::Usage(format!("--gzip: '{name}' is not an extract name")))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = crate::synth::SynthOptions {
        persons: args.persons,
        seed: args.seed,
        world: crate::synth::WorldKind::parse(&args.world)?,
        effects: crate::synth::Effects::parse(&args.effect)?,
        wellbeing_change: args.wellbeing_change,
        defects: args.defects,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        gzip,
        history_months: args.history_months,
    };
    crate::synth::synth(&options, &args.out, progress)?;
    Ok(())
}

fn pseudonymise_file(args: &PseudonymiseArgs, progress: &Progress) -> Result<()> {
    let rows = pseudonymise(&PseudonymiseRequest {
        key_file: &args.key_file,
        column: &args.column,
        rename_to: args.rename_to.as_deref(),
        input: &args.input,
        output: &args.output,
    })?;
    progress.log(&format!(
        "pseudonymise: {rows} rows written to {}",
        args.output.display()
    ));
    Ok(())
}
