//! The bundled sample: the 20,000 synthetic people of `sample-data/` built into the binary,
//! so `sp-impact run` with no arguments works from any directory and `sp-impact sample`
//! writes the files for a user to inspect and copy. The bytes are the repository's
//! `sample-data/` files at build time (a test checks they are the same).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File name and contents of every bundled file, as in `sample-data/`.
pub const FILES: [(&str, &[u8]); 9] = [
    ("README.md", include_bytes!("../sample-data/README.md")),
    ("study.toml", include_bytes!("../sample-data/study.toml")),
    ("truth.json", include_bytes!("../sample-data/truth.json")),
    (
        "patients.csv",
        include_bytes!("../sample-data/patients.csv"),
    ),
    (
        "referrals.csv",
        include_bytes!("../sample-data/referrals.csv"),
    ),
    (
        "activities.csv",
        include_bytes!("../sample-data/activities.csv"),
    ),
    (
        "wellbeing.csv",
        include_bytes!("../sample-data/wellbeing.csv"),
    ),
    (
        "gp_appointments.csv.gz",
        include_bytes!("../sample-data/gp_appointments.csv.gz"),
    ),
    (
        "hospital_activity.csv.gz",
        include_bytes!("../sample-data/hospital_activity.csv.gz"),
    ),
];

/// The sample's configuration, inside a folder written by `write`.
pub const CONFIG: &str = "study.toml";

/// Writes every bundled file into `dir` (created if missing), refusing to overwrite a file
/// that is already there.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::io("creating", dir, source))?;
    let mut written = Vec::new();
    for (name, bytes) in FILES {
        let path = dir.join(name);
        if path.exists() {
            return Err(Error::Usage(format!(
                "{} already exists: `sp-impact sample` does not overwrite files; choose an empty --out",
                path.display()
            )));
        }
        std::fs::write(&path, bytes).map_err(|source| Error::io("writing", &path, source))?;
        written.push(path);
    }
    Ok(written)
}
