//! Crash-safe output folders: results are written to a staging folder beside `--out` and
//! renamed into place only when complete, so an interrupted run never leaves a half-written
//! result where a good one was. The staging folder is owner-only from
//! the start (0700), and before it is renamed into place every restricted file in it is made
//! owner-only too (0600 files, 0700 folders); `published/` keeps the default permissions,
//! inside the owner-only run folder (docs/domain.md, Disclosure control).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct StagedOutput {
    final_dir: PathBuf,
    staging: Option<tempfile::TempDir>,
}

impl StagedOutput {
    /// Creates an empty, owner-only staging folder next to `final_dir`.
    pub fn begin(final_dir: &Path) -> Result<Self> {
        let parent = match final_dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|source| Error::io("creating", &parent, source))?;
        let name = final_dir.file_name().map_or_else(
            || "output".into(),
            |name| name.to_string_lossy().into_owned(),
        );
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.partial-"))
            .tempdir_in(&parent)
            .map_err(|source| Error::io("creating a staging folder in", &parent, source))?;
        Ok(StagedOutput {
            final_dir: final_dir.to_path_buf(),
            staging: Some(staging),
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        self.staging
            .as_ref()
            .expect("staging folder present until commit")
            .path()
    }

    /// Moves the finished output into place, replacing any earlier output.
    pub fn commit(mut self) -> Result<PathBuf> {
        let staging = self
            .staging
            .take()
            .expect("staging folder present until commit");
        let staged = staging.keep();
        restrict(&staged, &staged.join("published"))?;
        if self.final_dir.exists() {
            let old = self.final_dir.with_file_name(format!(
                ".{}.old-{}",
                self.final_dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                std::process::id()
            ));
            std::fs::rename(&self.final_dir, &old)
                .map_err(|source| Error::io("moving aside", &self.final_dir, source))?;
            std::fs::rename(&staged, &self.final_dir)
                .map_err(|source| Error::io("renaming into place", &self.final_dir, source))?;
            std::fs::remove_dir_all(&old).map_err(|source| Error::io("removing", &old, source))?;
        } else {
            std::fs::rename(&staged, &self.final_dir)
                .map_err(|source| Error::io("renaming into place", &self.final_dir, source))?;
        }
        Ok(self.final_dir.clone())
    }
}

/// Makes every folder under `dir` 0700 and every file 0600, except inside `published`.
#[cfg(unix)]
fn restrict(dir: &Path, published: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| Error::io("restricting permissions of", path, source))
    };
    set(dir, 0o700)?;
    for entry in std::fs::read_dir(dir).map_err(|source| Error::io("reading", dir, source))? {
        let path = entry
            .map_err(|source| Error::io("reading", dir, source))?
            .path();
        if path == published {
            continue;
        }
        if path.is_dir() {
            restrict(&path, published)?;
        } else {
            set(&path, 0o600)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_dir: &Path, _published: &Path) -> Result<()> {
    Ok(())
}
