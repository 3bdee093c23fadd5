//! The project a pipeline belongs to, and how relative paths in step config resolve.
//!
//! Relative file paths resolve against the filesystem connection's `base_dir` when one is given,
//! else the project root (the nearest directory at or above the pipeline file holding
//! `osiris.yaml`), else the current directory — as the original does.

use std::path::{Path, PathBuf};

/// The project marker file written by `osiris init`.
pub const PROJECT_FILE: &str = "osiris.yaml";

/// The nearest directory at or above `start` (a file or directory) holding `osiris.yaml`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(start).ok()?;
    let mut dir = if abs.is_dir() { Some(abs.as_path()) } else { abs.parent() };
    while let Some(d) = dir {
        if d.join(PROJECT_FILE).is_file() {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

/// The directory relative step paths resolve against when no `base_dir` is given.
pub fn base_dir_for(pipeline_file: &Path) -> PathBuf {
    find_root(pipeline_file).unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

/// Resolve `path` against `base` unless it is absolute.
pub fn resolve_path(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
