//! A run's records around its execution: opening the run directory (manifest, cfgs, logs) and,
//! once the steps are done, the closing events, `status.json`, the run index and the AIOP. The
//! local scheduler and the remote host (crate::remote) share them, so a run reads the same in
//! `logs` and reports wherever it executed.

use super::log::{now_rfc3339, RunLog};
use super::run_dir::{append_index, create, new_run_id, slugify, write_json_atomic, IndexRecord};
use super::{RunError, RunOutcome, RunRequest, RunStatus, RuntimeError, StepReport, StepStatus};
use crate::drivers::Telemetry;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Instant;

/// The open records of one run.
pub(crate) struct RunRecords {
    /// Run id.
    pub run_id: String,
    /// Absolute run directory.
    pub run_dir: PathBuf,
    /// events.jsonl, metrics.jsonl, osiris.log.
    pub log: RunLog,
    /// When the run started.
    pub started: Instant,
    /// The same, as RFC 3339.
    pub started_at: String,
}

impl RunRecords {
    /// Create the run directory with `manifest.yaml` and `cfg/`, and open its logs. The run id is
    /// the request's (a worker runs under its host's id) or a new one.
    pub fn open(req: &RunRequest) -> Result<Self, RuntimeError> {
        let started = Instant::now();
        let started_at = now_rfc3339();
        let run_id = req.run_id.clone().unwrap_or_else(new_run_id);
        let setup = |e: std::io::Error| RuntimeError::Setup { path: req.runs_dir.join(&run_id), source: e };
        let run_dir = create(&req.runs_dir, &run_id).map_err(setup)?;
        std::fs::write(run_dir.join("manifest.yaml"), &req.manifest_yaml).map_err(setup)?;
        for (id, cfg) in &req.cfgs {
            std::fs::write(run_dir.join("cfg").join(format!("{id}.json")), crate::compiler::cfg_text(cfg))
                .map_err(setup)?;
        }
        let log = RunLog::create(&run_dir, &run_id, req.redactor.clone(), req.tap.clone()).map_err(setup)?;
        Ok(Self { run_id, run_dir, log, started, started_at })
    }
}

/// The run's status from its first error and the cancel flag.
pub(crate) fn run_status(error: Option<&RunError>, cancelled: bool) -> RunStatus {
    if error.is_some_and(|e| e.kind == "cancelled") || cancelled {
        RunStatus::Cancelled
    } else if error.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Success
    }
}

/// The original's closing events (`cleanup_complete`, `run_error`, `run_end`), so tools written
/// for its events.jsonl read ours, and the closing line of `osiris.log`.
pub(crate) fn closing_events(
    rec: &RunRecords,
    status: RunStatus,
    steps: &[StepReport],
    error: Option<&RunError>,
    duration_ms: u64,
) {
    let completed = steps.iter().filter(|s| s.status == StepStatus::Success).count();
    let status_name = serde_json::to_value(status).expect("serializes");
    let (total_rows, _) = super::total_rows(steps);
    rec.log.event("cleanup_complete", None, json!({"steps_executed": completed, "total_rows": total_rows}));
    if let Some(e) = error {
        rec.log.event("run_error", None, json!({"step_id": e.step, "kind": e.kind, "message": e.message}));
    }
    rec.log.event(
        "run_end",
        None,
        json!({"status": status_name, "duration_ms": duration_ms, "steps_completed": completed}),
    );
    rec.log.log(
        if status == RunStatus::Success { "INFO" } else { "ERROR" },
        &format!("run {} finished: {}", rec.run_id, status_name.as_str().unwrap_or_default()),
    );
    rec.log.flush();
}

/// How a run ended, as [`conclude`] records it.
pub(crate) struct Ending {
    /// Overall state.
    pub status: RunStatus,
    /// Per-step reports in execution order.
    pub steps: Vec<StepReport>,
    /// The first failure (redacted).
    pub error: Option<RunError>,
    /// Wall time.
    pub duration_ms: u64,
    /// The process's peak RSS (the worker's, for a remote run).
    pub peak_rss_bytes: Option<u64>,
    /// Extra `status.json` fields (`remote` for a run on a worker).
    pub extra: Map<String, Value>,
}

/// Write `status.json`, append the run index record and the AIOP: the run's outcome.
pub(crate) fn conclude(req: &RunRequest, rec: RunRecords, end: Ending) -> RunOutcome {
    let Ending { status, steps, error, duration_ms, peak_rss_bytes, extra } = end;
    let completed = steps.iter().filter(|s| s.status == StepStatus::Success).count();
    let status_name = serde_json::to_value(status).expect("serializes");
    let (total_rows, rows_source) = super::total_rows(&steps);
    let mut status_json = json!({
        "run_id": rec.run_id, "pipeline": req.pipeline_name, "manifest_hash": req.manifest_hash,
        "status": status_name, "ok": status == RunStatus::Success, "exit_code": status.exit_code(),
        "reason": match status { RunStatus::Success => "", RunStatus::Failed => "execution_failed", RunStatus::Cancelled => "cancelled" },
        "started_at": rec.started_at, "finished_at": now_rfc3339(), "duration_ms": duration_ms,
        "steps_total": steps.len(), "steps_completed": completed, "total_rows": total_rows,
        "rows_source": rows_source, "profile": req.profile, "peak_rss_bytes": peak_rss_bytes,
        "steps": steps, "error": error, "warnings": rec.log.warnings(),
    });
    for (k, v) in extra {
        status_json[k] = v;
    }
    if let Err(e) = write_json_atomic(&rec.run_dir.join("status.json"), &status_json, &req.redactor) {
        rec.log.log("ERROR", &format!("cannot write status.json: {e}"));
    }
    let slug = slugify(&req.pipeline_name);
    let aiop_dir = req.aiop.as_ref().map(|a| a.run_dir(req.profile.as_deref(), &slug, &req.manifest_hash, &rec.run_id));
    let record = IndexRecord {
        run_id: &rec.run_id,
        pipeline_slug: &slug,
        profile: req.profile.as_deref(),
        manifest_hash: &req.manifest_hash,
        run_ts: &rec.started_at,
        status: status_name.as_str().unwrap_or_default(),
        duration_ms,
        run_dir: &rec.run_dir,
        aiop_dir: aiop_dir.as_deref(),
        build_manifest_path: req.manifest_path.as_deref(),
        pipeline: &req.pipeline_name,
        steps_total: steps.len(),
        steps_completed: completed,
        total_rows,
    };
    if let Err(e) = append_index(&req.runs_dir, &record.to_json(), &req.redactor) {
        rec.log.log("ERROR", &format!("cannot update the run index: {e}"));
    }
    rec.log.flush();
    let outcome = RunOutcome {
        status,
        run_id: rec.run_id,
        run_dir: rec.run_dir,
        steps,
        error,
        duration_ms,
        warnings: rec.log.warnings(),
        total_rows,
        rows_source,
        aiop_dir: None,
    };
    with_aiop(req, outcome, aiop_dir, &rec.log)
}

/// Write the run's AI Operation Package (after every run, as the original's `finally` does). A
/// failure to write it is a warning in `osiris.log`, never a different run status.
fn with_aiop(req: &RunRequest, mut outcome: RunOutcome, dir: Option<PathBuf>, log: &RunLog) -> RunOutcome {
    let (Some(settings), Some(dir)) = (&req.aiop, dir) else { return outcome };
    match crate::report::aiop::export(&outcome.run_dir, &dir, settings, &req.redactor) {
        Ok(_) => outcome.aiop_dir = Some(dir),
        Err(e) => {
            log.log("WARN", &format!("cannot write the AIOP to {}: {e}", dir.display()));
            log.flush();
        }
    }
    outcome
}

/// The process's peak resident memory so far (Linux `ru_maxrss`, KiB), in bytes. For a CLI run
/// that is the run's peak; a long-lived process (MCP server) reports its own lifetime's peak.
pub fn peak_rss_bytes() -> Option<u64> {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    (unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0).then(|| usage.ru_maxrss.max(0) as u64 * 1024)
}
