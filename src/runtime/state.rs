//! The incremental state store: `<runs_dir>/../state/<pipeline>/<step>.json` holds what a step
//! returned as state in the last successful run, and `<step>.resume/` its resume spool.
//!
//! State is staged while a run executes and written (atomically, one file per step) only when the
//! whole run succeeds, so a failed run leaves the previous state in force and the next run reads
//! the same rows again. A successful run also removes every resume spool. `--full-refresh` runs
//! as if no state existed (and drops resume spools); its own state replaces the old one only if
//! it succeeds.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One pipeline's state directory.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    full_refresh: bool,
    staged: Mutex<Vec<(String, Value)>>,
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

impl StateStore {
    /// The store of `pipeline` beside the runs directory.
    pub fn new(runs_dir: &Path, pipeline: &str, full_refresh: bool) -> Self {
        let root = runs_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| runs_dir.to_path_buf());
        Self { dir: root.join("state").join(file_safe(pipeline)), full_refresh, staged: Mutex::new(Vec::new()) }
    }

    /// Where the store lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed state of `step` (None with `--full-refresh`).
    pub fn load(&self, step: &str) -> Option<Value> {
        if self.full_refresh {
            return None;
        }
        let text = std::fs::read(self.dir.join(format!("{}.json", file_safe(step)))).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The resume directory of `step` (emptied first with `--full-refresh`).
    pub fn resume_dir(&self, step: &str) -> PathBuf {
        let dir = self.dir.join(format!("{}.resume", file_safe(step)));
        if self.full_refresh {
            let _ = std::fs::remove_dir_all(&dir);
        }
        dir
    }

    /// Remember `state` of `step`, to be written if the run succeeds.
    pub fn stage(&self, step: &str, state: Value) {
        self.staged.lock().unwrap_or_else(|p| p.into_inner()).push((step.to_string(), state));
    }

    /// The run succeeded: write the staged states and remove the resume spools of `steps`.
    pub fn commit<'a>(&self, steps: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|p| p.into_inner()));
        if !staged.is_empty() {
            std::fs::create_dir_all(&self.dir)?;
        }
        for (step, state) in staged {
            let path = self.dir.join(format!("{}.json", file_safe(&step)));
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?)?;
            std::fs::rename(tmp, path)?;
        }
        for step in steps {
            let _ = std::fs::remove_dir_all(self.dir.join(format!("{}.resume", file_safe(step))));
        }
        Ok(())
    }
}
