//! Where a pipeline may read and write files.
//!
//! A pipeline is untrusted input, so a file path in step config (the fields a spec lists under
//! `x-path-fields`) must stay inside the directory the trusted side chose for the step: the
//! filesystem connection's `base_dir`, else the project root. After `..` is resolved lexically
//! and symlinks through the part that exists, the path must lie under that directory; and no
//! part of it may be hidden (`.env`, `.osiris/`, `.git/`, `.ssh/`) or name the project's own
//! configuration (`osiris_connections.yaml`, `osiris.yaml`): those hold secrets and settings,
//! never data.

use std::path::{Component, Path, PathBuf};

/// Files that configure osiris and are never a step's input or output.
const CONFIG_FILES: [&str; 2] = ["osiris_connections.yaml", crate::project::PROJECT_FILE];

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    /// Outside the allowed directory (absolute elsewhere, `..`, or a symlink leading out).
    #[error("`{path}` is outside {}, the directory this step may use", base.display())]
    Outside {
        /// The path as written.
        path: String,
        /// The allowed directory.
        base: PathBuf,
    },
    /// A hidden file or directory, or the project's configuration.
    #[error("`{path}` names `{part}`, which holds configuration or secrets, not data")]
    Protected {
        /// The path as written.
        path: String,
        /// The offending part.
        part: String,
    },
}

/// Check `path` (as written in step config) against `base`; returns the resolved path.
pub fn confine(base: &Path, path: &str) -> Result<PathBuf, PathRefusal> {
    let base = normalize(&std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf()));
    let resolved = normalize(&crate::project::resolve_path(&base, path));
    let outside = || PathRefusal::Outside { path: path.to_string(), base: base.clone() };
    let inner = resolved.strip_prefix(&base).map_err(|_| outside())?;
    for part in inner.components() {
        let name = part.as_os_str().to_string_lossy();
        if name.starts_with('.') || CONFIG_FILES.contains(&name.as_ref()) {
            return Err(PathRefusal::Protected { path: path.to_string(), part: name.into_owned() });
        }
    }
    // A symlink inside the directory may point out of it: compare what exists, resolved.
    if let (Some(real), Ok(real_base)) = (existing_ancestor(&resolved), base.canonicalize()) {
        if !real.starts_with(&real_base) {
            return Err(outside());
        }
    }
    Ok(resolved)
}

/// The directory a confined path's step works in: the deepest ancestor without a glob
/// character (`data/*.csv` → `data`), and for a plain file its parent (a writer puts its
/// temporary file beside the target; a partitioned writer's target is a directory inside it).
pub fn directory_of(resolved: &Path) -> PathBuf {
    let plain = resolved.ancestors().find(|a| !a.to_string_lossy().contains(['*', '?', '[', '{'])).unwrap_or(resolved);
    if plain == resolved {
        resolved.parent().map(Path::to_path_buf).unwrap_or_else(|| resolved.to_path_buf())
    } else {
        plain.to_path_buf()
    }
}

/// `.` and `..` removed without touching the file system (`/a/b/../c` → `/a/c`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The deepest part of `path` that exists, with symlinks resolved.
fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors().find_map(|a| a.canonicalize().ok())
}

/// One safe path component: at most 128 letters, digits, `-`, `_` and `.`, not starting with a
/// dot (so never `..`). Names an agent gives (MCP drafts), names in URIs and names a worker is
/// sent (step ids, artifact names) are checked with it.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_the_base_and_away_from_configuration() {
        let base = std::env::temp_dir().join("osiris-confine-test");
        std::fs::create_dir_all(base.join("data")).unwrap();
        assert_eq!(confine(&base, "data/orders.csv").unwrap(), normalize(&base.join("data/orders.csv")));
        assert!(confine(&base, "data/../data/*.csv").is_ok(), "globs and inner `..` are fine");
        assert!(confine(&base, &base.join("out.csv").display().to_string()).is_ok(), "absolute inside");
        for outside in ["../x.csv", "/etc/passwd", "data/../../x.csv"] {
            assert!(matches!(confine(&base, outside), Err(PathRefusal::Outside { .. })), "{outside}");
        }
        for protected in [".env", "data/.env.csv", ".osiris/runs/x", "osiris_connections.yaml", "sub/osiris.yaml"] {
            assert!(matches!(confine(&base, protected), Err(PathRefusal::Protected { .. })), "{protected}");
        }
        #[cfg(unix)]
        {
            let link = base.join("escape");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/etc", &link).unwrap();
            assert!(matches!(confine(&base, "escape/passwd"), Err(PathRefusal::Outside { .. })));
        }
    }
}
