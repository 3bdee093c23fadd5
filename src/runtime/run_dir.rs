//! Run identifiers, the run directory, `status.json` and the run index.

use crate::connections::Redactor;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A sortable run id: UTC time plus 6 random hex digits, e.g. `20261125T154700Z-3fa9c1`.
pub fn new_run_id() -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let ts = time::OffsetDateTime::now_utc().format(&f).expect("static format");
    let mut b = [0u8; 3];
    getrandom::fill(&mut b).unwrap_or_default();
    format!("{ts}-{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

/// Create `<runs_dir>/<run_id>/` with its `cfg/` and `artifacts/` folders; returns its absolute path.
pub fn create(runs_dir: &Path, run_id: &str) -> std::io::Result<PathBuf> {
    let dir = std::path::absolute(runs_dir.join(run_id))?;
    create_private_dir(&dir.join("cfg"))?;
    create_private_dir(&dir.join("artifacts"))?;
    Ok(dir)
}

/// Create `dir` and its missing parents readable by the owner only (0700): run dirs, state,
/// spools, caches and logs hold rows and metadata, so files inside them are private whatever
/// mode they were created with.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Write `bytes` to `path` through a temporary file in the same directory, fsynced before the
/// rename and the directory after it, so a reader never sees half a file and a crash never
/// leaves an empty one. For what must survive a crash: state, status, indexes.
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    write_through_temp(path, bytes.as_ref(), true)
}

/// [`write_atomic`] without the fsyncs, for files that are regenerated from the run directories
/// (HTML report pages): a reader still never sees half a file, and a report of a thousand runs
/// does not wait for a thousand disk flushes.
pub fn write_replacing(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    write_through_temp(path, bytes.as_ref(), false)
}

fn write_through_temp(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_added_extension(format!("{suffix}.tmp"));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Some(dir) = path.parent().filter(|d| durable && !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Write JSON to `path` through a temp file and rename, after redaction.
pub fn write_json_atomic(path: &Path, value: &Value, redactor: &Redactor) -> std::io::Result<()> {
    let mut v = value.clone();
    redactor.redact_json(&mut v);
    write_atomic(path, format!("{}\n", serde_json::to_string_pretty(&v).expect("JSON serializes")))
}

/// The run index of `runs_dir`: `<runs_dir>/../index/runs.jsonl`, one JSON record per run.
pub fn index_path(runs_dir: &Path) -> PathBuf {
    let base = runs_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    base.join("index").join("runs.jsonl")
}

/// A pipeline name as the original's path token: lower case, spaces and `_` become `-`, only
/// `[a-z0-9-]` kept, repeated separators collapsed, edges trimmed; `pipeline` when nothing is left.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c == ' ' || c == '_' { '-' } else { c };
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if c == '-' && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "pipeline".to_string()
    } else {
        trimmed.to_string()
    }
}

/// One run's record in the run index: the original's fields (`core/run_index.py`) beside ours,
/// written for every run, failed and cancelled ones too.
pub struct IndexRecord<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// [`slugify`] of the pipeline name.
    pub pipeline_slug: &'a str,
    /// Active profile.
    pub profile: Option<&'a str>,
    /// Manifest hash (hex).
    pub manifest_hash: &'a str,
    /// Start time, RFC 3339.
    pub run_ts: &'a str,
    /// `success`, `failed` or `cancelled`.
    pub status: &'a str,
    /// Wall time.
    pub duration_ms: u64,
    /// The run directory.
    pub run_dir: &'a Path,
    /// The AIOP directory, when AIOP is enabled.
    pub aiop_dir: Option<&'a Path>,
    /// The compiled manifest run, when the run came from one.
    pub build_manifest_path: Option<&'a Path>,
    /// Pipeline name.
    pub pipeline: &'a str,
    /// Steps in the pipeline.
    pub steps_total: usize,
    /// Steps that succeeded.
    pub steps_completed: usize,
    /// Rows delivered ([`super::total_rows`]).
    pub total_rows: u64,
}

impl IndexRecord<'_> {
    /// The JSON line.
    pub fn to_json(&self) -> Value {
        let short: String = self.manifest_hash.chars().take(7).collect();
        serde_json::json!({
            "run_id": self.run_id, "pipeline_slug": self.pipeline_slug, "profile": self.profile,
            "manifest_hash": self.manifest_hash, "manifest_short": short, "run_ts": self.run_ts,
            "status": self.status, "duration_ms": self.duration_ms, "run_logs_path": self.run_dir,
            "aiop_path": self.aiop_dir.map(|d| d.join("summary.json")),
            "build_manifest_path": self.build_manifest_path, "tags": [], "user": std::env::var("USER").ok(),
            "runtime_env": "local",
            "pipeline": self.pipeline, "started_at": self.run_ts, "run_dir": self.run_dir,
            "steps_total": self.steps_total, "steps_completed": self.steps_completed, "total_rows": self.total_rows,
        })
    }
}

/// Append one record to the run index ([`index_path`]) and to the pipeline's own index
/// (`by_pipeline/<slug>.jsonl` beside it), each under an exclusive `flock` and fsynced, so runs
/// finishing at the same moment in several processes never interleave lines.
pub fn append_index(runs_dir: &Path, record: &Value, redactor: &Redactor) -> std::io::Result<PathBuf> {
    let path = index_path(runs_dir);
    let mut v = record.clone();
    redactor.redact_json(&mut v);
    let line = format!("{v}\n");
    append_locked(&path, &line)?;
    if let Some(slug) = v["pipeline_slug"].as_str() {
        let by_pipeline = path.with_file_name("by_pipeline").join(format!("{slug}.jsonl"));
        append_locked(&by_pipeline, &line)?;
    }
    Ok(path)
}

/// Append `line` to `path` (created with its directory) under an exclusive lock, then fsync.
pub fn append_locked(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    // SAFETY: flock on a descriptor this function owns; released when `f` is closed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_follow_the_original() {
        assert_eq!(slugify("Orders ETL_v2"), "orders-etl-v2");
        assert_eq!(slugify("  --a__b--  "), "a-b");
        assert_eq!(slugify("???"), "pipeline");
    }
}
