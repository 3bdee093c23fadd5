//! Step drivers and the contract they implement.
//!
//! A driver gets everything through its [`StepContext`] (its own DuckDB connection, the run dir,
//! the resolved connection, where relative paths resolve, telemetry, cancellation); it never
//! prints and never reads global state. The registry is a plain `match` in [`build`].

pub(crate) mod cancel;
pub(crate) mod csv_numbers;
pub mod graphql;
pub mod health;
pub(crate) mod json_page;
pub(crate) mod json_skim;
pub(crate) mod json_table;
pub mod mysql;
pub(crate) mod output_file;
pub(crate) mod paging;
pub mod postgres;
pub mod posthog;
pub(crate) mod streaming;

use crate::connections::ResolvedConnection;
use crate::exchange::RelationKind;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Upstream step id → relation name, one entry per `needs` entry that produced a relation.
pub type Inputs = IndexMap<String, String>;

/// Where a driver reports events and metrics (implemented by the runtime's run log).
pub trait Telemetry: Send + Sync {
    /// Record an event; `fields` is a JSON object.
    fn event(&self, name: &str, step_id: Option<&str>, fields: Value);
    /// Record a metric.
    fn metric(&self, name: &str, value: f64, step_id: Option<&str>);
    /// Something the user should know although the step goes on (shown after the run).
    fn warning(&self, step_id: &str, message: &str) {
        self.event("step_warning", Some(step_id), serde_json::json!({"message": message}));
    }
}

/// Everything a driver may use while running one step.
pub struct StepContext<'a> {
    /// The step id (= the name of the relation it creates).
    pub step_id: &'a str,
    /// The run directory.
    pub run_dir: &'a Path,
    /// This worker's connection to the exchange database.
    pub conn: &'a duckdb::Connection,
    /// Directory relative paths resolve against (connection `base_dir`, project root or cwd).
    pub base_dir: &'a Path,
    /// The resolved connection, when the component uses one.
    pub connection: Option<&'a ResolvedConnection>,
    /// Whether the output must be a table (true) or may be a view.
    pub materialize: bool,
    /// Events and metrics.
    pub telemetry: &'a dyn Telemetry,
    /// Set when the run is being cancelled.
    pub cancel: &'a AtomicBool,
    /// Incremental state the last successful run committed for this step (None on a first run
    /// or with `--full-refresh`).
    pub state: Option<&'a Value>,
    /// A durable directory for resume data (kept when a run fails, removed when one succeeds).
    pub resume_dir: &'a Path,
    /// Set when the step's one consumer runs at the same time and reads the rows through a pipe
    /// as they are extracted (a streamed edge; see [`crate::exchange::stream`]).
    pub stream: Option<&'a crate::exchange::stream::StreamOut>,
    /// The run's buffer pool: a long load drops the blocks it has written from DuckDB's cache
    /// (crate::exchange::block_cache).
    pub block_cache: &'a std::sync::Arc<crate::exchange::block_cache::BlockCache>,
}

impl StepContext<'_> {
    /// Drop the step's relation after a failure (best effort), so a failed extractor leaves none
    /// that looks complete: a partly filled table, or a view over a pipe or staged rows. DuckDB
    /// refuses `DROP TABLE` on a view and the reverse, so both are tried.
    pub(crate) fn drop_partial_relation(&self) {
        let name = crate::exchange::quote_ident(self.step_id);
        let _ = self.conn.execute_batch(&format!("DROP TABLE IF EXISTS {name}"));
        let _ = self.conn.execute_batch(&format!("DROP VIEW IF EXISTS {name}"));
    }

    /// A retry callback for [`crate::http::send`] that records each retry as an `http.retry`
    /// event (with `request` when given).
    pub(crate) fn retry_event<'s>(&'s self, request: Option<&'s str>) -> impl FnMut(&str, std::time::Duration) + 's {
        retry_event(self.telemetry, self.step_id, request)
    }
}

/// [`StepContext::retry_event`] from its parts, for a thread that cannot hold the context (its
/// DuckDB connection stays on the step's thread): a page fetcher.
pub(crate) fn retry_event<'s>(
    telemetry: &'s dyn Telemetry,
    step_id: &'s str,
    request: Option<&'s str>,
) -> impl FnMut(&str, std::time::Duration) + 's {
    move |reason, wait| {
        let mut fields = serde_json::json!({"reason": reason, "wait_ms": wait.as_millis() as u64});
        if let Some(r) = request {
            fields["request"] = Value::String(r.to_string());
        }
        telemetry.event("http.retry", Some(step_id), fields);
    }
}

/// What a step produced.
#[derive(Debug, Clone, Default)]
pub struct StepOutput {
    /// The relation created (named by the step id), if any.
    pub relation: Option<RelationKind>,
    /// Rows produced or written; None when not known without evaluating a view.
    pub rows: Option<u64>,
    /// Incremental state to commit after the run succeeds.
    pub state: Option<Value>,
}

/// The client-level error behind a failure, kept as its [`std::error::Error::source`] so that
/// decisions (an HTTP 404, a PostgreSQL SQLSTATE, a MySQL error code) read the error, never its text.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// An HTTP request failed (status, network, cancelled).
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// The PostgreSQL client or server.
    #[error(transparent)]
    Postgres(#[from] ::postgres::Error),
    /// The MySQL client or server.
    #[error(transparent)]
    Mysql(#[from] ::mysql::Error),
    /// DuckDB.
    #[error(transparent)]
    Duckdb(#[from] duckdb::Error),
    /// A file or pipe.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a step failed. The kind ([`DriverError::kind`]) is what `run --json` and the events
/// report; the message is for people; the cause, when there is one, is for decisions.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The step's config cannot work (found at run time).
    #[error("{0}")]
    Config(String),
    /// Reading the source failed (missing file, parse error, network).
    #[error("{message}")]
    Source {
        /// What failed, for people.
        message: String,
        /// The client error behind it.
        #[source]
        cause: Option<Cause>,
    },
    /// Writing the target failed.
    #[error("{message}")]
    Target {
        /// What failed, for people.
        message: String,
        /// The client error behind it.
        #[source]
        cause: Option<Cause>,
    },
    /// A SQL statement failed in DuckDB.
    #[error("{message}")]
    Sql {
        /// What failed, for people.
        message: String,
        /// The DuckDB error behind it.
        #[source]
        cause: Option<Cause>,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The incremental state cannot be read (its backend is unreachable): the step does not start
    /// from scratch, which would read every row again.
    #[error("{0}")]
    State(String),
    /// A bug in osiris (a driver panicked): never the user's input.
    #[error("internal error (a bug, please report it): {0}")]
    Internal(String),
}

impl DriverError {
    /// Reading the source failed.
    pub fn at_source(message: impl Into<String>) -> Self {
        Self::Source { message: message.into(), cause: None }
    }

    /// Writing the target failed.
    pub fn at_target(message: impl Into<String>) -> Self {
        Self::Target { message: message.into(), cause: None }
    }

    /// A DuckDB statement failed.
    pub fn sql(message: impl Into<String>) -> Self {
        Self::Sql { message: message.into(), cause: None }
    }

    /// The same error with `cause` kept as its source (no effect on config, cancelled, internal).
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        if let Self::Source { cause: c, .. } | Self::Target { cause: c, .. } | Self::Sql { cause: c, .. } = &mut self {
            *c = Some(cause.into());
        }
        self
    }

    /// The client error behind this one, when kept.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Self::Source { cause, .. } | Self::Target { cause, .. } | Self::Sql { cause, .. } => cause.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status behind this error, when an HTTP request failed with one.
    pub fn http_status(&self) -> Option<u16> {
        match self.cause() {
            Some(Cause::Http(e)) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// True for a failure while reading a source, writing a target or running SQL (the kinds a
    /// view evaluated downstream can cause).
    pub fn is_data_failure(&self) -> bool {
        matches!(self, Self::Source { .. } | Self::Target { .. } | Self::Sql { .. })
    }

    /// Stable kind name for `--json` errors and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Source { .. } => "source",
            Self::Target { .. } => "target",
            Self::Sql { .. } => "sql",
            Self::Cancelled => "cancelled",
            Self::State(_) => "state",
            Self::Internal(_) => "internal",
        }
    }
}

/// A step implementation.
pub trait Driver: Send + Sync {
    /// Run the step. `config` is the step's cfg with connection fields merged in.
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError>;

    /// True when the driver can produce its relation as a view (cheap, exact, re-readable).
    fn can_be_view(&self) -> bool {
        false
    }

    /// True when the driver's view reads rows it staged in the run dir (a file read once by its
    /// one consumer): the consumer then runs on one DuckDB thread, so a parallel
    /// order-preserving COPY does not buffer ahead and memory stays flat (exchange::threads).
    /// The JSON sources say so; the database extractors stream to their consumer instead.
    fn view_reads_staged_rows(&self) -> bool {
        false
    }

    /// True when the driver can stream its output to its one consumer while extracting
    /// (it honours [`StepContext::stream`]; a driver may still decline at run time).
    fn can_stream(&self) -> bool {
        false
    }

    /// True when the driver reads each input with one query, start to end, so that input may be
    /// a pipe being filled while the step runs. False for drivers that read an input twice.
    fn reads_input_once(&self) -> bool {
        false
    }

    /// True when the driver returns incremental state ([`StepOutput::state`]): a run of a
    /// pipeline with such a step holds the pipeline's state lock.
    fn keeps_state(&self) -> bool {
        false
    }
}

/// The driver for a component, or None when this build has no such component.
pub fn build(component: &str) -> Option<Box<dyn Driver>> {
    crate::registry::Registry::builtin_shared().driver(component)
}

/// A connection family's health check: what `connections doctor` runs for it.
pub type HealthCheck = fn(&ResolvedConnection) -> health::HealthReport;

/// The health check of a connection family, registered beside its drivers; None when this build
/// has none.
pub fn health_check(family: &str) -> Option<HealthCheck> {
    match family {
        "filesystem" => Some(filesystem_health),
        "mysql" => Some(mysql::doctor),
        "supabase" => Some(postgres::doctor),
        "posthog" => Some(posthog::doctor),
        "graphql" => Some(graphql::doctor),
        _ => None,
    }
}

/// Describes what a connection holds for an agent: tables (or files) with columns typed as osiris
/// loads them, keys, row estimates and up to `samples` rows each. The path is the project root,
/// against which relative `base_dir`s resolve.
pub type Discover = fn(&ResolvedConnection, usize, &Path) -> Result<Value, String>;

/// The discovery of a connection family, registered beside its drivers; None when this build
/// has none.
pub fn discovery(family: &str) -> Option<Discover> {
    match family {
        "mysql" => Some(|c, samples, _| mysql::discover(c, samples)),
        "supabase" => Some(|c, samples, _| postgres::discover(c, samples)),
        "posthog" => Some(|c, samples, _| posthog::discover(c, samples)),
        "graphql" => Some(|c, samples, _| graphql::discover(c, samples)),
        "filesystem" => Some(discover_files),
        _ => None,
    }
}

/// The data files (CSV, Parquet, JSON) directly in a filesystem connection's `base_dir`, each
/// with the columns and types DuckDB reads and up to `samples` rows.
fn discover_files(c: &ResolvedConnection, samples: usize, root: &Path) -> Result<Value, String> {
    let base = crate::project::resolve_path(root, &c.str_field("base_dir").unwrap_or_else(|| ".".into()));
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&base)
        .map_err(|e| format!("{}: {e}", base.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            matches!(ext.as_str(), "csv" | "tsv" | "parquet" | "json" | "jsonl" | "ndjson")
        })
        .collect();
    files.sort();
    let conn = duckdb::Connection::open_in_memory().map_err(|e| e.to_string())?;
    let mut tables = Vec::new();
    for path in files {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let reader = match ext.as_str() {
            "parquet" => "read_parquet",
            "json" | "jsonl" | "ndjson" => "read_json",
            _ => "read_csv",
        };
        let source = format!("{reader}({})", crate::exchange::quote_literal(&path.to_string_lossy()));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let described: Result<Vec<(String, String)>, duckdb::Error> = conn
            .prepare(&format!("DESCRIBE SELECT * FROM {source}"))
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
        let columns = match described {
            Ok(c) => c,
            Err(e) => {
                tables.push(serde_json::json!({"name": name, "kind": "file", "error": e.to_string()}));
                continue;
            }
        };
        let rows: Vec<Value> = crate::exchange::text_rows(&conn, &format!("SELECT * FROM {source}"), samples)
            .map(|found| found.rows.into_iter().map(|r| serde_json::json!(r)).collect())
            .unwrap_or_default();
        tables.push(serde_json::json!({
            "name": name, "kind": "file", "path": path, "reader": reader,
            "columns": columns.iter().map(|(n, t)| serde_json::json!({"name": n, "type": t})).collect::<Vec<_>>(),
            "samples": rows,
        }));
    }
    Ok(serde_json::json!({"base_dir": base, "tables": tables}))
}

/// A filesystem connection is healthy when its `base_dir` (if any) is a directory.
fn filesystem_health(c: &ResolvedConnection) -> health::HealthReport {
    match c.str_field("base_dir") {
        Some(b) if !Path::new(&b).is_dir() => {
            health::HealthReport::failure(health::HealthCategory::Config, format!("base_dir {b} is not a directory"))
        }
        _ => health::HealthReport::success("base_dir reachable"),
    }
}

/// The one input relation of a writer (`what` names the writer in the error).
pub(crate) fn single_input(inputs: &Inputs, what: &str) -> Result<String, DriverError> {
    match inputs.values().collect::<Vec<_>>().as_slice() {
        [one] => Ok((*one).clone()),
        other => Err(DriverError::Config(format!("{what} takes exactly one input, got {}", other.len()))),
    }
}

/// The text a panic carried (`panic!("…")` gives a `&str` or a `String`), for an internal error.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Create the step's relation from `query` (a view unless the step must be materialised) and
/// report what an extractor reports: `rows_read` when the rows were counted.
pub(crate) fn extracted_relation(ctx: &StepContext, query: &str) -> duckdb::Result<StepOutput> {
    let (kind, rows) = crate::exchange::create_relation(ctx.conn, ctx.step_id, query, ctx.materialize)?;
    if let Some(n) = rows {
        ctx.telemetry.metric("rows_read", n as f64, Some(ctx.step_id));
    }
    Ok(StepOutput { relation: Some(kind), rows, state: None })
}

/// `"a", "b"` for the `columns` a step keeps, or `*`; a name `present` lacks is a config error
/// listing what `path` has (`noun`: "columns", "fields").
pub(crate) fn select_list(
    wanted: Option<&[String]>,
    present: &[String],
    path: &Path,
    noun: &str,
) -> Result<String, DriverError> {
    let Some(wanted) = wanted else { return Ok("*".to_string()) };
    if let Some(w) = wanted.iter().find(|w| !present.contains(w)) {
        return Err(DriverError::Config(format!(
            "`columns` names `{w}`, which {} does not have ({noun}: {})",
            path.display(),
            present.join(", ")
        )));
    }
    Ok(wanted.iter().map(|w| crate::exchange::quote_ident(w)).collect::<Vec<_>>().join(", "))
}

/// A failed DuckDB statement, its error kept as the cause.
pub(crate) fn sql_error(e: duckdb::Error) -> DriverError {
    DriverError::sql(e.to_string()).with_cause(e)
}
