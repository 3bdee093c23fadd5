//! `osiris run (PIPELINE | MANIFEST | --last-compile)`.

use super::output::{invalid, print_json, print_warnings, stderr_is_terminal};
use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use osiris::compiler::last_compile;
use osiris::orchestrators::pipes::{Both, PipesSession};
use osiris::registry::Registry;
use osiris::remote::host::{execute_remote, RemoteOptions};
use osiris::runtime::{
    execute as execute_run, prepare, Progress, RunOptions, RunSource, RunStatus, StepReport, StepStatus,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Arguments of `run`.
#[derive(clap::Args)]
#[command(after_help = "A YAML file with top-level `pipeline`, `steps` and `meta` is run as a compiled manifest; \
anything else is compiled first.\n\nOutputs: <runs-dir>/<run_id>/ holds manifest.yaml, cfg/, events.jsonl, metrics.jsonl, \
status.json, osiris.log and pipeline_data.duckdb (one relation per step, named by step id).")]
pub struct Args {
    /// Pipeline (OML) or manifest.yaml.
    #[arg(required_unless_present = "last_compile", conflicts_with = "last_compile")]
    file: Option<PathBuf>,
    /// Run the manifest written by the most recent `osiris compile` in this project.
    #[arg(long)]
    last_compile: bool,
    #[command(flatten)]
    params: super::ParamArgs,
    /// Connections file (default: $OSIRIS_CONNECTIONS, ./osiris_connections.yaml, then the pipeline's dir).
    #[arg(long)]
    connections: Option<PathBuf>,
    /// Where run directories are created (default: filesystem.run_logs_dir of osiris.yaml, else
    /// .osiris/runs in the project).
    #[arg(long)]
    runs_dir: Option<PathBuf>,
    /// Maximum steps running at once (default: number of CPUs).
    #[arg(long)]
    max_parallel: Option<usize>,
    /// `auto`: a step read by exactly one consumer may be a view (faster); `all`: every step is a table.
    #[arg(long, default_value = "auto", value_parser = ["auto", "all"])]
    materialize: String,
    /// DuckDB memory limit; beyond it DuckDB spills to the run dir.
    #[arg(long, default_value = osiris::exchange::DEFAULT_MEMORY_LIMIT)]
    memory_limit: String,
    /// Ignore the incremental state of earlier runs (e.g. PostHog's last timestamp) and any
    /// resume spool: read sources from the start. The new state replaces the old one only if
    /// this run succeeds.
    #[arg(long)]
    full_refresh: bool,
    /// Print exactly one JSON object on stdout and nothing else.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Execute on a worker: a shell command whose stdin/stdout reach `osiris worker`, e.g.
    /// "ssh etl-box osiris worker --project /srv/etl" or "docker exec -i etl osiris worker". The
    /// run is validated here, connections are resolved here and sent once over the pipe (never on
    /// the command line or in its environment), and the remote run is mirrored into a local run
    /// directory as it happens.
    #[arg(long, value_name = "CMD")]
    remote: Option<String>,
    /// With --remote: seconds without any message from the worker (it sends a heartbeat every
    /// 2 s) before it is taken for hung and the run fails.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "remote")]
    remote_timeout: u64,
    /// With --remote: also copy the remote run's exchange file (pipeline_data.duckdb) into the
    /// local run directory; by default rows never cross the connection.
    #[arg(long, value_parser = ["data"], requires = "remote")]
    fetch: Option<String>,
}

pub fn execute(a: Args) -> anyhow::Result<i32> {
    let pipes = match PipesSession::from_env() {
        Ok(p) => p,
        Err(e) => {
            let d = osiris::Diagnostic::error("invalid_environment", "DAGSTER_PIPES_CONTEXT", e.to_string());
            return Ok(invalid(&osiris::Invalid::one(d), a.json));
        }
    };
    if let Some(p) = &pipes {
        p.opened();
    }
    let code = run(a, pipes.as_ref());
    if let (Some(p), Ok(2)) = (&pipes, &code) {
        p.invalid();
    }
    code
}

fn run(mut a: Args, pipes: Option<&PipesSession>) -> anyhow::Result<i32> {
    if let Some(p) = pipes {
        // Dagster's params come first: a --param on the command line wins.
        let mut params = p.params();
        params.append(&mut a.params.params);
        a.params.params = params;
    }
    let source = match (&a.file, a.last_compile) {
        (Some(f), _) => RunSource::of_file(f),
        (None, _) => {
            let base = osiris::project::find_root(std::path::Path::new(".")).unwrap_or_else(|| PathBuf::from("."));
            match last_compile(&base) {
                Some(m) => RunSource::Manifest(m),
                None => {
                    let e = osiris::Invalid::one(
                        osiris::Diagnostic::error(
                            "no_last_compile",
                            "root",
                            "no previous compile recorded in .osiris/index/last_compile.txt",
                        )
                        .with_hint("run `osiris compile PIPELINE` first"),
                    );
                    return Ok(invalid(&e, a.json));
                }
            }
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst));
    }
    let (runs_dir, root, settings) = super::project_runs_dir(a.runs_dir)?;
    if !a.json {
        for key in osiris::project::unknown_settings(&settings) {
            eprintln!(
                "warning: {}: unknown setting `{key}` (ignored)",
                root.join(osiris::project::PROJECT_FILE).display()
            );
        }
    }
    let aiop = match osiris::report::aiop::Settings::configured(&runs_dir, &root, &settings) {
        Ok(s) => s,
        Err(e) => {
            let d = osiris::Diagnostic::error("invalid_settings", "aiop", e.to_string());
            return Ok(invalid(&osiris::Invalid::one(d), a.json));
        }
    };
    let state_backend = match osiris::project::state_backend(&settings) {
        Ok(b) => b,
        Err(e) => {
            let d = osiris::Diagnostic::error("invalid_settings", "state", e);
            return Ok(invalid(&osiris::Invalid::one(d), a.json));
        }
    };
    let opts = RunOptions {
        params: a.params.inputs(),
        connections_file: a.connections,
        runs_dir,
        aiop,
        max_parallel: a
            .max_parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        materialize_all: a.materialize == "all",
        memory_limit: a.memory_limit,
        cancel,
        full_refresh: a.full_refresh,
        connections: None,
        project_dir: None,
        state_backend,
    };
    let registry = Registry::builtin();
    let req = match prepare(&source, opts, &registry) {
        Ok(r) => r,
        Err(e) => return Ok(invalid(&e, a.json)),
    };
    if !a.json {
        print_warnings(&req.warnings);
    }
    let redactor = req.redactor.clone();
    let show = !a.json && !a.quiet && stderr_is_terminal();
    let bars = Bars::new(show);
    let pipeline_name = req.pipeline_name.clone();
    let both;
    let progress: &dyn Progress = match pipes {
        Some(p) => {
            both = Both(&bars, p);
            &both
        }
        None => &bars,
    };
    let outcome = match &a.remote {
        Some(command) => {
            let remote = RemoteOptions {
                command: command.clone(),
                timeout: Duration::from_secs(a.remote_timeout.max(1)),
                fetch_data: a.fetch.is_some(),
            };
            execute_remote(req, progress, &remote)
        }
        None => execute_run(req, progress),
    }
    .context("run could not start")?;
    bars.clear();
    let mut run_json = osiris::runtime::outcome_json(&outcome);
    redactor.redact_json(&mut run_json);
    if let Some(p) = pipes {
        p.report_run(&pipeline_name, &outcome, &run_json);
        let failure = outcome.error.as_ref().map(|e| {
            format!("step `{}` ({}): {}", e.step.clone().unwrap_or_default(), e.kind, redactor.redact(&e.message))
        });
        p.closed(failure.as_deref());
    }
    if let Some(path) = xcom_return_path() {
        // Airflow's KubernetesPodOperator reads the task's XCom value from this file.
        if let Err(e) = osiris::runtime::write_atomic(&path, run_json.to_string()) {
            eprintln!("warning: cannot write the XCom value to {}: {e}", path.display());
        }
    }
    if a.json {
        print_json(&run_json);
    } else {
        for s in &outcome.steps {
            let rows = match (s.rows, s.relation) {
                (Some(r), _) => format!("{r} rows"),
                (None, Some(osiris::exchange::RelationKind::View)) => "view".into(),
                _ => "-".into(),
            };
            eprintln!(
                "  {:<10} {:<28} {:<26} {:>8} ms",
                format!("{:?}", s.status).to_lowercase(),
                s.id,
                rows,
                s.duration_ms
            );
        }
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
        if let Some(e) = &outcome.error {
            eprintln!(
                "error: step `{}` ({}): {}",
                e.step.clone().unwrap_or_default(),
                e.kind,
                redactor.redact(&e.message)
            );
        }
        let verdict = match outcome.status {
            RunStatus::Success => "succeeded",
            RunStatus::Failed => "FAILED",
            RunStatus::Cancelled => "CANCELLED",
        };
        eprintln!(
            "run {} {verdict} in {} ms; run dir: {}",
            outcome.run_id,
            outcome.duration_ms,
            outcome.run_dir.display()
        );
    }
    Ok(outcome.status.exit_code())
}

/// Where `OSIRIS_XCOM_RETURN` asks the run --json object to be written: the path it names, or
/// Airflow's `/airflow/xcom/return.json` for `1`/`true`.
fn xcom_return_path() -> Option<PathBuf> {
    let value = std::env::var("OSIRIS_XCOM_RETURN").ok().filter(|v| !v.is_empty())?;
    Some(match value.as_str() {
        "1" | "true" => PathBuf::from("/airflow/xcom/return.json"),
        path => PathBuf::from(path),
    })
}

/// One spinner per running step on stderr.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(show: bool) -> Self {
        let target = if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Self { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()) }
    }

    fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn step_started(&self, id: &str, component: &str) {
        let pb = self.multi.add(ProgressBar::new_spinner());
        pb.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("static template"));
        pb.set_message(format!("{id} ({component})"));
        pb.enable_steady_tick(Duration::from_millis(120));
        self.bars.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), pb);
    }

    fn step_finished(&self, report: &StepReport) {
        if let Some(pb) = self.bars.lock().unwrap_or_else(|p| p.into_inner()).remove(&report.id) {
            let mark = if report.status == StepStatus::Success { "✓" } else { "✗" };
            pb.finish_with_message(format!(
                "{mark} {} {}",
                report.id,
                report.rows.map(|r| format!("{r} rows")).unwrap_or_default()
            ));
        }
    }
}
