//! Runtime: executes a prepared run — the DAG scheduler, the run directory, logs, status and
//! the run index.
//!
//! [`prepare`] turns a pipeline or a manifest into a [`RunRequest`] (validating everything,
//! resolving connections: exit code 2 territory) and [`execute`] runs it (exit code 1 territory).

pub mod allocator;
mod dispatch;
mod log;
mod prepare;
pub(crate) mod record;
pub mod retention;
mod run_dir;
mod scheduler;
pub mod state;

pub use log::{now_rfc3339, LogTap, RunLog};
pub use prepare::{prepare, RunOptions, RunSource};
pub use record::peak_rss_bytes;
pub use run_dir::{append_locked, create_private_dir, index_path, new_run_id, slugify, write_atomic, write_replacing};
pub use scheduler::execute;
pub(crate) use scheduler::stateful_steps;

use crate::connections::{Redactor, ResolvedConnection};
use crate::exchange::RelationKind;
use crate::oml::Mode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One step, ready to execute.
#[derive(Debug, Clone)]
pub struct ExecStep {
    /// Step id.
    pub id: String,
    /// Component name.
    pub component: String,
    /// Canonical mode.
    pub mode: Mode,
    /// Upstream step ids.
    pub needs: Vec<String>,
    /// cfg merged with the connection's non-secret fields and the remaining defaults.
    pub config: Map<String, Value>,
    /// The resolved connection, when the component uses one.
    pub connection: Option<ResolvedConnection>,
    /// Where relative paths resolve.
    pub base_dir: PathBuf,
    /// The identity of the step's source its incremental state is kept under
    /// ([`state::source_fingerprint`]).
    pub state_source: String,
}

/// Everything needed to execute a run.
pub struct RunRequest {
    /// OML `name`.
    pub pipeline_name: String,
    /// Manifest hash.
    pub manifest_hash: String,
    /// `manifest.yaml` text, copied into the run dir.
    pub manifest_yaml: String,
    /// cfg per step, copied into the run dir.
    pub cfgs: BTreeMap<String, Map<String, Value>>,
    /// Steps in topological order.
    pub steps: Vec<ExecStep>,
    /// Where run directories go.
    pub runs_dir: PathBuf,
    /// Maximum steps running at once.
    pub max_parallel: usize,
    /// Make every step's relation a table (for debugging).
    pub materialize_all: bool,
    /// Exchange database settings.
    pub exchange: crate::exchange::Settings,
    /// Every secret value known to this run.
    pub redactor: Redactor,
    /// Set to cancel the run (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Warnings found while preparing.
    pub warnings: Vec<crate::Diagnostic>,
    /// Incremental state of the pipeline's steps.
    pub state: state::StateStore,
    /// The active profile the manifest was compiled for.
    pub profile: Option<String>,
    /// The compiled manifest this run came from, when it was run from one (`osiris compile`'s
    /// build dir): the index's `build_manifest_path`.
    pub manifest_path: Option<PathBuf>,
    /// Where the run's AI Operation Package goes; None when `aiop.enabled` is false.
    pub aiop: Option<crate::report::aiop::Settings>,
    /// The run id to use instead of a new one (a worker runs under its host's id).
    pub run_id: Option<String>,
    /// Receives every event and metric line as it is written (a worker streams them to its host).
    pub tap: Option<Arc<dyn LogTap>>,
}

/// A step's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Finished.
    Success,
    /// Failed (or failed because an upstream view it evaluated failed).
    Failed,
    /// Not run because the run failed or was cancelled first.
    Skipped,
    /// Interrupted by cancellation.
    Cancelled,
}

/// Per-step result in `status.json`, `run --json` and the progress display.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// Component.
    pub component: String,
    /// Final state.
    pub status: StepStatus,
    /// Rows produced or written; null for a view whose rows were only counted by its reader.
    pub rows: Option<u64>,
    /// Wall time.
    pub duration_ms: u64,
    /// `table` or `view` for steps that produce a relation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<RelationKind>,
    /// When the step started, in milliseconds after the run started (None: it never started).
    /// With `duration_ms` it places the step on the report's timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// `extract`, `transform` or `write`.
    pub mode: Mode,
    /// The step's own error (redacted), when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Upstream step ids (recorded so reports need not parse the manifest).
    pub needs: Vec<String>,
    /// The consumer this step streamed its rows into, when its edge was streamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams_to: Option<String>,
}

impl StepReport {
    /// The report of a step that never ran to an end of its own (skipped or cancelled).
    pub fn not_run(step: &ExecStep, status: StepStatus) -> Self {
        Self {
            id: step.id.clone(),
            component: step.component.clone(),
            status,
            rows: None,
            duration_ms: 0,
            relation: None,
            started_ms: None,
            mode: step.mode,
            error: None,
            needs: step.needs.clone(),
            streams_to: None,
        }
    }
}

/// The run's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every step succeeded.
    Success,
    /// A step failed.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

impl RunStatus {
    /// Process exit code for this status.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::Cancelled => 130,
        }
    }
}

/// The first failure of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunError {
    /// The step at fault, when a step is.
    pub step: Option<String>,
    /// `sql`, `source`, `target`, `config`, `cancelled`, `state` (the incremental state is locked
    /// by another run or cannot be saved), `worker` (a remote worker died, hung or broke the
    /// protocol), `internal`.
    pub kind: String,
    /// Redacted message.
    pub message: String,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Overall state.
    pub status: RunStatus,
    /// Run id.
    pub run_id: String,
    /// Run directory.
    pub run_dir: PathBuf,
    /// Per-step reports in execution order.
    pub steps: Vec<StepReport>,
    /// The failure, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// Warnings steps raised (`step: message`).
    pub warnings: Vec<String>,
    /// Rows delivered: the sum over writers, or over extractors when the pipeline has no writer
    /// (`rows_source` says which) — the original's `total_rows`.
    pub total_rows: u64,
    /// `writers` or `extractors`: which steps `total_rows` sums.
    pub rows_source: &'static str,
    /// The run's AI Operation Package directory, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aiop_dir: Option<PathBuf>,
}

/// The `osiris run --json` object of an outcome (also MCP's `pipeline_run` result).
pub fn outcome_json(outcome: &RunOutcome) -> serde_json::Value {
    let steps: Vec<_> = outcome
        .steps
        .iter()
        .map(|s| serde_json::json!({"id": s.id, "component": s.component, "status": s.status, "rows": s.rows, "duration_ms": s.duration_ms, "relation": s.relation}))
        .collect();
    let mut v = serde_json::json!({"status": outcome.status, "run_id": outcome.run_id, "run_dir": outcome.run_dir,
        "duration_ms": outcome.duration_ms, "total_rows": outcome.total_rows, "rows_source": outcome.rows_source, "steps": steps});
    if let Some(e) = &outcome.error {
        v["error"] = serde_json::json!(e);
    }
    if !outcome.warnings.is_empty() {
        v["warnings"] = serde_json::json!(outcome.warnings);
    }
    if let Some(dir) = &outcome.aiop_dir {
        v["aiop_dir"] = serde_json::json!(dir);
    }
    v
}

/// `total_rows` and its source from step reports: writers' rows when there is a writer, else
/// extractors' rows.
pub fn total_rows(steps: &[StepReport]) -> (u64, &'static str) {
    let sum = |mode: Mode| steps.iter().filter(|s| s.mode == mode).filter_map(|s| s.rows).sum::<u64>();
    if steps.iter().any(|s| s.mode == Mode::Write) {
        (sum(Mode::Write), "writers")
    } else {
        (sum(Mode::Extract), "extractors")
    }
}

/// Receives progress while a run executes (the CLI draws bars; others ignore it).
pub trait Progress: Send + Sync {
    /// A step began.
    fn step_started(&self, _id: &str, _component: &str) {}
    /// A step ended.
    fn step_finished(&self, _report: &StepReport) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Failures that prevent a run from starting at all (no run dir could be made).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Creating the run directory or its files failed.
    #[error("cannot set up the run directory {path}: {source}")]
    Setup {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
