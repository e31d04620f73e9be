//! Progress and log lines on standard error.
//!
//! Progress bars (indicatif) only when standard error is a terminal; plain log lines
//! otherwise; nothing at all with `-q`. Nothing person-level is ever passed here.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    quiet: bool,
    bars: Option<MultiProgress>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { quiet, bars }
    }

    /// A progress reporter that prints nothing (for tests and library use).
    pub fn silent() -> Self {
        Progress {
            quiet: true,
            bars: None,
        }
    }

    /// A byte-based bar for reading one file; hidden unless on a terminal.
    pub fn file_bar(&self, label: &str, total_bytes: u64) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::hidden();
        };
        let bar = bars.add(ProgressBar::new(total_bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>24} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }

    /// A log line, unless quiet.
    pub fn log(&self, message: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(message);
            }
            None => eprintln!("{message}"),
        }
    }
}
