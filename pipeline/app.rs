//! Runs one parsed command: the bridge between the command-line types and the library.

use crate::cli::{
    Cli, Command, EngineArgs, EngineChoice, IngestArgs, PseudonymiseArgs, StudyArgs, SynthArgs,
};
use crate::engine::models::QuerySource;
use crate::engine::{EngineKind, EngineOptions, parse_memory_size};
use crate::error::Error;
use crate::error::Result;
use crate::output::StagedOutput;
use crate::progress::Progress;
use crate::pseudonymise::{PseudonymiseRequest, pseudonymise};
use crate::run::RunOptions;

pub fn run(cli: Cli) -> Result<()> {
    let progress = Progress::new(cli.common.quiet);
    match cli.command {
        Command::Run(args) => {
            let options = run_options(&args.study, args.out.clone())?;
            crate::run::run(&options, &progress).map(|_| ())
        }
        Command::Check(args) => crate::run::check(&run_options(&args, None)?, &progress),
        Command::Query(args) => crate::run::query(
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
        Command::Scheduler(args) => crate::engine::cluster::serve_scheduler(&args, &progress),
        #[cfg(feature = "distributed")]
        Command::Executor(args) => crate::engine::cluster::serve_executor(&args, &progress),
    }
}

fn engine_options(args: &EngineArgs) -> Result<EngineOptions> {
    let mut options = EngineOptions::from_machine();
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(Error::Usage("--threads must be at least 1".into()));
        }
        options.threads = threads;
    }
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

fn run_options(args: &StudyArgs, out: Option<std::path::PathBuf>) -> Result<RunOptions> {
    Ok(RunOptions {
        config: args.config.clone(),
        data: args.data.clone(),
        out,
        queries: args
            .queries
            .clone()
            .map_or(QuerySource::Embedded, QuerySource::Folder),
        engine: engine_options(&args.engine)?,
    })
}

fn ingest(args: &IngestArgs, progress: &Progress) -> Result<()> {
    let staged = StagedOutput::begin(&args.out)?;
    let report = crate::ingest::ingest(&args.data, staged.path(), progress)?;
    let out = staged.commit()?;
    progress.log(&format!(
        "ingest: {} rows read, {} loaded, {} quarantined; reconciled; report in {}",
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
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
