//! The `sp-impact` binary: parse arguments, run, print the error chain, exit 0/1/2.

use clap::Parser;

/// mimalloc rather than the system allocator: glibc kept about 1 GiB of the SQL stage's freed
/// memory resident through the estimation stage at a million people; mimalloc gives it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
