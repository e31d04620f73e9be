//! The `sp-impact` binary: parse arguments, run, print the error chain, exit 0/1/2.

use clap::Parser;

fn main() {
    let cli = sp_impact::cli::Cli::parse();
    if let Err(error) = sp_impact::app::run(cli) {
        eprintln!("error: {error}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(error.exit_code());
    }
}
