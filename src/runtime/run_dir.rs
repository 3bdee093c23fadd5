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
    std::fs::create_dir_all(dir.join("cfg"))?;
    std::fs::create_dir_all(dir.join("artifacts"))?;
    Ok(dir)
}

/// Write JSON to `path` through a temp file and rename, after redaction.
pub fn write_json_atomic(path: &Path, value: &Value, redactor: &Redactor) -> std::io::Result<()> {
    let mut v = value.clone();
    redactor.redact_json(&mut v);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, format!("{}\n", serde_json::to_string_pretty(&v).expect("JSON serializes")))?;
    std::fs::rename(tmp, path)
}

/// The run index of `runs_dir`: `<runs_dir>/../index/runs.jsonl`, one JSON record per run.
pub fn index_path(runs_dir: &Path) -> PathBuf {
    let base = runs_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    base.join("index").join("runs.jsonl")
}

/// Append one record to the run index ([`index_path`]; every run, failed ones too).
pub fn append_index(runs_dir: &Path, record: &Value, redactor: &Redactor) -> std::io::Result<PathBuf> {
    let path = index_path(runs_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut v = record.clone();
    redactor.redact_json(&mut v);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(format!("{v}\n").as_bytes())?;
    f.sync_data()?;
    Ok(path)
}
