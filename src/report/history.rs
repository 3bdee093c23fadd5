//! Run history: what `logs list`, `logs show`, the HTML report and AIOP know about past runs.
//!
//! Everything is read from the run directories themselves (`status.json`, else `events.jsonl`
//! for a run still going or killed), so a run that never reached the index — killed, or written
//! by another osiris — is still listed, and failed and cancelled runs are first-class.

use crate::runtime::retention::{looks_like_run_id, parse_rfc3339};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One step of a run, as the run recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    /// Step id.
    pub id: String,
    /// Component.
    pub component: String,
    /// `extract`, `transform`, `write` (empty when unknown).
    pub mode: String,
    /// `success`, `failed`, `skipped`, `cancelled`, or `running`.
    pub status: String,
    /// Rows produced or written (None for an uncounted view).
    pub rows: Option<u64>,
    /// Wall time.
    pub duration_ms: u64,
    /// Start, in ms after the run started.
    pub started_ms: Option<u64>,
    /// `table` or `view`.
    pub relation: Option<String>,
    /// The consumer this step streamed into, when its edge was streamed.
    pub streams_to: Option<String>,
    /// The step's error.
    pub error: Option<String>,
    /// Upstream step ids.
    pub needs: Vec<String>,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Run id (the original calls it `session_id`).
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// `success`, `failed`, `cancelled`, or `running` (no `status.json` yet; also a killed run).
    pub status: String,
    /// Start time, RFC 3339.
    pub started_at: Option<String>,
    /// End time, RFC 3339.
    pub finished_at: Option<String>,
    /// Wall time (so far, for a running run).
    pub duration_ms: u64,
    /// Active profile.
    pub profile: Option<String>,
    /// Manifest hash.
    pub manifest_hash: Option<String>,
    /// Steps in execution order.
    pub steps: Vec<StepSummary>,
    /// Rows delivered ([`crate::runtime::total_rows`]).
    pub total_rows: u64,
    /// Rows read by extractors.
    pub rows_in: u64,
    /// Rows written by writers.
    pub rows_out: u64,
    /// The run's error: `{step, kind, message}`.
    pub error: Option<Value>,
    /// Warnings (`step: message`).
    pub warnings: Vec<String>,
    /// The run directory.
    pub run_dir: PathBuf,
    /// Peak resident memory of the process that ran it.
    pub peak_rss_bytes: Option<u64>,
}

impl RunSummary {
    /// Steps that succeeded.
    pub fn steps_ok(&self) -> usize {
        self.steps.iter().filter(|s| s.status == "success").count()
    }

    /// Steps that failed.
    pub fn errors(&self) -> usize {
        self.steps.iter().filter(|s| s.status == "failed").count().max(usize::from(self.error.is_some()))
    }

    /// Whether the run's exchange file is still there.
    pub fn has_data(&self) -> bool {
        self.run_dir.join(crate::exchange::FILE_NAME).is_file()
    }

    /// The entry of the original's `logs list --json` `sessions` array.
    pub fn session_json(&self) -> Value {
        serde_json::json!({
            "session_id": self.run_id, "started_at": self.started_at, "finished_at": self.finished_at,
            "duration_ms": self.duration_ms, "status": self.status, "labels": [],
            "pipeline_name": self.pipeline, "steps_total": self.steps.len(), "steps_ok": self.steps_ok(),
            "rows_in": self.rows_in, "rows_out": self.rows_out, "errors": self.errors(),
            "warnings": self.warnings.len(), "total_rows": self.total_rows, "profile": self.profile,
            "run_dir": self.run_dir,
        })
    }
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Pipeline name or slug.
    pub pipeline: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Runs started at or after this time (RFC 3339).
    pub since: Option<std::time::SystemTime>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

impl Filter {
    fn accepts(&self, run: &RunSummary) -> bool {
        let pipeline_ok =
            self.pipeline.as_ref().is_none_or(|p| *p == run.pipeline || *p == crate::runtime::slugify(&run.pipeline));
        let status_ok = self.status.as_ref().is_none_or(|s| *s == run.status);
        let since_ok = self
            .since
            .is_none_or(|since| run.started_at.as_deref().and_then(parse_rfc3339).is_some_and(|t| t >= since));
        pipeline_ok && status_ok && since_ok
    }
}

/// Run directories under `runs_dir`, newest first (run ids sort by time).
pub fn run_dirs(runs_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(runs_dir) else { return Vec::new() };
    let dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| looks_like_run_id(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.join("manifest.yaml").is_file())
        .collect();
    // Run ids have second resolution; within a second, the run that wrote its manifest (its
    // first file) later is the newer one.
    let key = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let started = std::fs::metadata(p.join("manifest.yaml")).and_then(|m| m.modified()).ok();
        (name.get(..16).map(str::to_string), started, name)
    };
    let mut keyed: Vec<_> = dirs.into_iter().map(|d| (key(&d), d)).collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0));
    keyed.into_iter().map(|(_, d)| d).collect()
}

/// The runs under `runs_dir` that pass `filter`, newest first.
pub fn list(runs_dir: &Path, filter: &Filter) -> Vec<RunSummary> {
    let mut out = Vec::new();
    for dir in run_dirs(runs_dir) {
        if filter.limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        if let Some(run) = load(&dir) {
            if filter.accepts(&run) {
                out.push(run);
            }
        }
    }
    out
}

/// Find a run: `last`, a run id, a unique prefix of one, or a path to a run directory.
pub fn find(runs_dir: &Path, what: &str) -> Result<PathBuf, FindError> {
    let as_path = Path::new(what);
    if as_path.join("manifest.yaml").is_file() {
        return Ok(as_path.to_path_buf());
    }
    let dirs = run_dirs(runs_dir);
    if what == "last" {
        return dirs.into_iter().next().ok_or(FindError::NoRuns);
    }
    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(exact) = dirs.iter().find(|d| name(d) == what) {
        return Ok(exact.clone());
    }
    let matches: Vec<_> = dirs.iter().filter(|d| name(d).starts_with(what)).cloned().collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one")),
        0 => Err(FindError::NotFound(what.to_string())),
        n => Err(FindError::Ambiguous(what.to_string(), n)),
    }
}

/// Why [`find`] found no run.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// No run has been recorded.
    #[error("no runs recorded yet")]
    NoRuns,
    /// Nothing matches.
    #[error("no run `{0}` (see `osiris logs list`)")]
    NotFound(String),
    /// A prefix matches several runs.
    #[error("`{0}` matches {1} runs; give more of the run id")]
    Ambiguous(String, usize),
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The events of a run, in order (unparseable lines skipped).
pub fn events(run_dir: &Path) -> Vec<Value> {
    jsonl(&run_dir.join("events.jsonl"))
}

/// The metrics of a run, in order.
pub fn metrics(run_dir: &Path) -> Vec<Value> {
    jsonl(&run_dir.join("metrics.jsonl"))
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
        .unwrap_or_default()
}

/// Everything recorded about the run in `run_dir`; None when it is not a run directory.
/// A finished run is read from `status.json` alone (it records each step's `needs`, streamed
/// edge and the warnings); a running run, or one written before those were recorded, also from
/// its events and manifest.
pub fn load(run_dir: &Path) -> Option<RunSummary> {
    let run_id = run_dir.file_name()?.to_string_lossy().into_owned();
    let status = read_json(&run_dir.join("status.json"));
    if let Some(status) = status.as_ref().filter(|s| is_self_contained(s)) {
        let warnings = status["warnings"].as_array().into_iter().flatten().filter_map(str_of).collect();
        return Some(from_status(&run_id, run_dir, status, warnings));
    }
    let needs = manifest_needs(run_dir);
    let events = events(run_dir);
    let streams_to = |id: &str| {
        events
            .iter()
            .find(|e| e["event"] == "step_start" && e["step_id"] == id)
            .and_then(|e| e["streams_to"].as_str().map(str::to_string))
    };
    let with_needs = |mut s: StepSummary| {
        s.needs = needs.iter().find(|(id, _)| *id == s.id).map(|(_, n)| n.clone()).unwrap_or_default();
        s.streams_to = streams_to(&s.id);
        s
    };
    let summary = match status {
        Some(status) => from_status(&run_id, run_dir, &status, warnings_of(&events)),
        None => from_events(&run_id, run_dir, &events, &needs)?,
    };
    Some(RunSummary { steps: summary.steps.into_iter().map(with_needs).collect(), ..summary })
}

/// Whether `status.json` records everything a summary needs (runs since it records `needs`).
fn is_self_contained(status: &Value) -> bool {
    status["warnings"].is_array()
        && status["steps"].as_array().is_some_and(|steps| steps.iter().all(|s| s["needs"].is_array()))
}

/// Step ids with their `needs`, in manifest order.
fn manifest_needs(run_dir: &Path) -> Vec<(String, Vec<String>)> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("manifest.yaml")) else { return Vec::new() };
    let Ok(doc) = serde_saphyr::from_str::<Value>(&text) else { return Vec::new() };
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let id = s["id"].as_str()?.to_string();
            let needs = s["needs"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string));
            Some((id, needs.collect()))
        })
        .collect()
}

fn str_of(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn from_status(run_id: &str, run_dir: &Path, v: &Value, warnings: Vec<String>) -> RunSummary {
    let steps: Vec<StepSummary> = v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| StepSummary {
            id: str_of(&s["id"]).unwrap_or_default(),
            component: str_of(&s["component"]).unwrap_or_default(),
            mode: str_of(&s["mode"]).unwrap_or_default(),
            status: str_of(&s["status"]).unwrap_or_default(),
            rows: s["rows"].as_u64(),
            duration_ms: s["duration_ms"].as_u64().unwrap_or(0),
            started_ms: s["started_ms"].as_u64(),
            relation: str_of(&s["relation"]),
            streams_to: str_of(&s["streams_to"]),
            error: str_of(&s["error"]),
            needs: s["needs"].as_array().into_iter().flatten().filter_map(str_of).collect(),
        })
        .collect();
    let sum_mode = |m: &str| steps.iter().filter(|s| s.mode == m).filter_map(|s| s.rows).sum::<u64>();
    RunSummary {
        run_id: str_of(&v["run_id"]).unwrap_or_else(|| run_id.to_string()),
        pipeline: str_of(&v["pipeline"]).unwrap_or_default(),
        status: str_of(&v["status"]).unwrap_or_else(|| "unknown".into()),
        started_at: str_of(&v["started_at"]),
        finished_at: str_of(&v["finished_at"]),
        duration_ms: v["duration_ms"].as_u64().unwrap_or(0),
        profile: str_of(&v["profile"]),
        manifest_hash: str_of(&v["manifest_hash"]),
        total_rows: v["total_rows"].as_u64().unwrap_or(0),
        rows_in: sum_mode("extract"),
        rows_out: sum_mode("write"),
        error: Some(v["error"].clone()).filter(|e| !e.is_null()),
        warnings,
        run_dir: run_dir.to_path_buf(),
        peak_rss_bytes: v["peak_rss_bytes"].as_u64(),
        steps,
    }
}

/// A run without `status.json`: still going, or killed. Its steps come from its events.
fn from_events(run_id: &str, run_dir: &Path, events: &[Value], needs: &[(String, Vec<String>)]) -> Option<RunSummary> {
    let start = events.iter().find(|e| e["event"] == "run_start")?;
    let started_at = str_of(&start["ts"]);
    let t0 = started_at.as_deref().and_then(parse_rfc3339);
    let ms_since = |e: &Value| -> Option<u64> {
        let t = parse_rfc3339(e["ts"].as_str()?)?;
        Some(t.duration_since(t0?).ok()?.as_millis() as u64)
    };
    let steps = needs
        .iter()
        .map(|(id, _)| {
            let of = |name: &str| events.iter().rev().find(|e| e["event"] == name && e["step_id"] == id.as_str());
            let started = of("step_start");
            let done = of("step_complete");
            let failed = of("step_failed");
            let status = match (started, done, failed) {
                (_, Some(_), _) => "success",
                (_, _, Some(_)) => "failed",
                (Some(_), _, _) => "running",
                _ => "pending",
            };
            let end = done.or(failed);
            StepSummary {
                id: id.clone(),
                component: started.and_then(|e| str_of(&e["driver"])).unwrap_or_default(),
                mode: started.and_then(|e| str_of(&e["mode"])).unwrap_or_default(),
                status: status.into(),
                rows: done.and_then(|e| e["rows"].as_u64()),
                duration_ms: end.and_then(|e| e["duration_ms"].as_u64()).unwrap_or(0),
                started_ms: started.and_then(ms_since),
                relation: done.and_then(|e| str_of(&e["relation"])),
                streams_to: None,
                error: failed.and_then(|e| str_of(&e["error"])),
                needs: Vec::new(),
            }
        })
        .collect::<Vec<_>>();
    let last = events.last().and_then(ms_since).unwrap_or(0);
    Some(RunSummary {
        run_id: run_id.to_string(),
        pipeline: str_of(&start["pipeline"]).unwrap_or_default(),
        status: "running".into(),
        started_at,
        finished_at: None,
        duration_ms: last,
        profile: None,
        manifest_hash: str_of(&start["manifest_hash"]),
        total_rows: 0,
        rows_in: steps.iter().filter(|s| s.mode == "extract").filter_map(|s| s.rows).sum(),
        rows_out: steps.iter().filter(|s| s.mode == "write").filter_map(|s| s.rows).sum(),
        error: None,
        warnings: warnings_of(events),
        run_dir: run_dir.to_path_buf(),
        peak_rss_bytes: None,
        steps,
    })
}

/// `step: message` for every `step_warning` event.
fn warnings_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "step_warning")
        .map(|e| format!("{}: {}", e["step_id"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
        .collect()
}
