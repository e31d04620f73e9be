//! `sp-impact run --pdf`: the published report printed to an A4 PDF (`published/report.pdf`)
//! by a headless Chromium, from the same self-contained `report.html` (its print stylesheet
//! sets the page, the page breaks and the repeated table headers). No crate renders HTML
//! and SVG to PDF as a browser does, so a browser does it; without one the run stops before
//! any work with a message saying how to get one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Names a Chromium goes by on PATH (Debian, Ubuntu's snap, Google's builds).
const CHROMIUM_NAMES: [&str; 5] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

/// The environment variable that names a Chromium to use.
pub const CHROMIUM_VARIABLE: &str = "SP_IMPACT_CHROMIUM";

/// The Chromium `$SP_IMPACT_CHROMIUM` names, or the first of `CHROMIUM_NAMES` on PATH.
pub fn find_chromium() -> Result<PathBuf> {
    if let Some(named) = std::env::var_os(CHROMIUM_VARIABLE) {
        let named = PathBuf::from(named);
        return if named.is_file() {
            Ok(named)
        } else {
            Err(Error::Usage(format!(
                "--pdf: ${CHROMIUM_VARIABLE} names {}, which is not a file",
                named.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| CHROMIUM_NAMES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--pdf needs a headless Chromium to print the report, and none was found ({} on PATH, or ${CHROMIUM_VARIABLE}). Install one (Debian and Ubuntu: apt-get install chromium) or set ${CHROMIUM_VARIABLE}, or run without --pdf and print published/report.html from a browser.",
                CHROMIUM_NAMES.join(", ")
            ))
        })
}

/// Prints `published/report.html` to `published/report.pdf` with `chromium`.
pub fn print(chromium: &Path, published: &Path) -> Result<PathBuf> {
    let page = std::path::absolute(published.join("report.html"))
        .map_err(|source| Error::io("finding", published, source))?;
    let pdf = published.join("report.pdf");
    let profile = tempfile::tempdir().map_err(|source| {
        Error::io(
            "creating a browser profile in",
            &std::env::temp_dir(),
            source,
        )
    })?;
    // --no-sandbox: the page is this tool's own file, with no script and nothing fetched, and
    // Chromium's sandbox refuses to start as root (containers, CI).
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|source| Error::io("starting", chromium, source))?;
    let printed = std::fs::read(&pdf).is_ok_and(|bytes| bytes.starts_with(b"%PDF"));
    if !output.status.success() || !printed {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(Error::Usage(format!(
            "--pdf: {} could not print {} ({}): {}",
            chromium.display(),
            page.display(),
            output.status,
            last.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok(pdf)
}
