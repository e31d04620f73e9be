//! Runs one parsed command: the bridge between the command-line types and the library.

use crate::cli::{Cli, Command, IngestArgs, PseudonymiseArgs};
use crate::error::Result;
use crate::output::StagedOutput;
use crate::progress::Progress;
use crate::pseudonymise::{PseudonymiseRequest, pseudonymise};

pub fn run(cli: Cli) -> Result<()> {
    let progress = Progress::new(cli.common.quiet);
    match cli.command {
        Command::Ingest(args) => ingest(&args, &progress),
        Command::Pseudonymise(args) => pseudonymise_file(&args, &progress),
    }
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
