//! `osiris worker`: executes runs for a host over stdin/stdout (docs/worker-protocol.md).
//!
//! stdin carries commands, stdout replies and streamed messages and nothing else; diagnostics go
//! to stderr. The run itself is the local runtime's: the worker prepares the manifest it was
//! sent against the connections it was sent (held in memory only, never written) and executes
//! it with its own DAG scheduler, so views, streamed edges and the exchange file work as they do
//! locally. Every line sent passes a redactor seeded with those connections' secrets.

use super::protocol::{
    parse_command, read_line, to_line, Command, ErrorBody, FromWorker, Prepare, Reply, Streamed, HEARTBEAT_SECS,
    MAX_CHUNK_BYTES, OSIRIS_VERSION, PROTOCOL,
};
use crate::connections::{ConnectionsFile, Redactor};
use crate::registry::Registry;
use crate::runtime::{self, LogTap, Progress, RunOptions, RunRequest, RunSource, StepReport};
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where a worker keeps sessions and resolves relative paths.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Sessions go under this directory (one subdirectory per session, removed by `cleanup`).
    pub sessions_dir: PathBuf,
    /// Relative paths in step configs resolve here (the project on this machine).
    pub project_dir: PathBuf,
}

/// The worker's stdout: one message per line, each redacted, written whole under a lock.
struct Outbox {
    out: Mutex<Box<dyn Write + Send>>,
    redactor: RwLock<Redactor>,
}

impl Outbox {
    fn send(&self, message: &FromWorker) {
        let line = self.redactor.read().unwrap_or_else(|p| p.into_inner()).redact(&to_line(message));
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A host that went away is noticed on stdin; nothing to do about a failed write here.
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
    }

    fn reply(&self, reply: Reply) {
        self.send(&FromWorker::Reply(reply));
    }

    fn stream(&self, message: Streamed) {
        self.send(&FromWorker::Streamed(message));
    }

    fn error(&self, code: &str, message: impl Into<String>) {
        let message = self.redactor.read().unwrap_or_else(|p| p.into_inner()).redact(&message.into());
        self.reply(Reply::Error { error: ErrorBody { code: code.into(), message } });
    }
}

/// Streams the run's events, metrics and log lines to the host.
struct StreamTap(Arc<Outbox>);

impl LogTap for StreamTap {
    fn event(&self, line: &Value) {
        let mut data = line.as_object().cloned().unwrap_or_default();
        let name = take_string(&mut data, "event");
        let timestamp = take_string(&mut data, "ts");
        self.0.stream(Streamed::Event { name, timestamp, data });
    }

    fn metric(&self, line: &Value) {
        let mut tags = line.as_object().cloned().unwrap_or_default();
        let name = take_string(&mut tags, "metric");
        let timestamp = take_string(&mut tags, "ts");
        let value = tags.shift_remove("value").and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
        self.0.stream(Streamed::Metric { name, value, timestamp, tags });
    }

    fn log(&self, level: &str, message: &str) {
        self.0.stream(Streamed::Log { level: level.into(), message: message.into() });
    }
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> String {
    match map.shift_remove(key) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Tells the host when steps start and end.
struct StreamProgress(Arc<Outbox>);

impl Progress for StreamProgress {
    fn step_started(&self, id: &str, component: &str) {
        self.0.stream(Streamed::Progress {
            step: id.into(),
            component: component.into(),
            status: "running".into(),
            report: None,
        });
    }

    fn step_finished(&self, report: &StepReport) {
        let status = serde_json::to_value(report.status).ok().and_then(|v| v.as_str().map(str::to_string));
        self.0.stream(Streamed::Progress {
            step: report.id.clone(),
            component: report.component.clone(),
            status: status.unwrap_or_default(),
            report: Some(report.clone()),
        });
    }
}

/// What a `run` leaves behind for `artifact` and `cleanup`.
#[derive(Default)]
struct Finished {
    run_dir: Option<PathBuf>,
    steps_executed: u64,
    total_rows: u64,
}

/// One prepared session.
struct Session {
    id: String,
    dir: PathBuf,
    request: Option<RunRequest>,
    cancel: Arc<AtomicBool>,
    running: Option<JoinHandle<()>>,
    finished: Arc<Mutex<Finished>>,
}

impl Session {
    /// Cancel a run still going and wait for it.
    fn stop(&mut self) {
        if let Some(handle) = self.running.take() {
            self.cancel.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Serve one host on `input`/`output` until `cleanup` (exit code 0) or until the host goes
/// away or breaks the protocol (exit code 1).
pub fn serve(input: impl BufRead, output: Box<dyn Write + Send>, opts: &WorkerOptions) -> i32 {
    let outbox = Arc::new(Outbox { out: Mutex::new(output), redactor: RwLock::new(Redactor::default()) });
    let alive = Arc::new(AtomicBool::new(true));
    let heartbeat = {
        let (outbox, alive) = (Arc::clone(&outbox), Arc::clone(&alive));
        std::thread::spawn(move || beat(&outbox, &alive))
    };
    let code = converse(input, &outbox, opts);
    alive.store(false, Ordering::SeqCst);
    heartbeat.thread().unpark();
    let _ = heartbeat.join();
    code
}

fn beat(outbox: &Outbox, alive: &AtomicBool) {
    while alive.load(Ordering::SeqCst) {
        std::thread::park_timeout(Duration::from_secs(HEARTBEAT_SECS));
        if alive.load(Ordering::SeqCst) {
            outbox.stream(Streamed::Heartbeat { timestamp: runtime::now_rfc3339() });
        }
    }
}

fn converse(mut input: impl BufRead, outbox: &Arc<Outbox>, opts: &WorkerOptions) -> i32 {
    let mut session: Option<Session> = None;
    let mut greeted = false;
    let mut buf = Vec::new();
    loop {
        let line = match read_line(&mut input, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => {
                // The host went away: stop, clean up, leave nothing behind.
                if let Some(mut s) = session.take() {
                    s.stop();
                    s.remove();
                }
                tracing::warn!("the host closed the connection; the session is removed");
                return 1;
            }
            Err(e) => {
                outbox.error("protocol_error", e.to_string());
                return 1;
            }
        };
        let command = match parse_command(&line) {
            Ok(c) => c,
            Err(e) => {
                outbox.error("protocol_error", e.to_string());
                continue;
            }
        };
        if !greeted && !matches!(command, Command::Hello { .. } | Command::Ping { .. }) {
            outbox.error("invalid_command", "the first command must be `hello`");
            continue;
        }
        match command {
            Command::Hello { protocol, osiris } => {
                if protocol != PROTOCOL {
                    outbox.error(
                        "protocol_mismatch",
                        format!("this worker (osiris {OSIRIS_VERSION}) speaks protocol {PROTOCOL}; the host (osiris {osiris}) speaks {protocol}"),
                    );
                    return 2;
                }
                greeted = true;
                outbox.reply(Reply::Hello {
                    protocol: PROTOCOL,
                    osiris: OSIRIS_VERSION.into(),
                    pid: std::process::id(),
                });
            }
            Command::Prepare(p) => {
                if session.as_ref().is_some_and(|s| s.running.is_some()) {
                    outbox.error("busy", "a run is still executing; send `cancel` or wait for `run_complete`");
                    continue;
                }
                if let Some(old) = session.take() {
                    old.remove();
                }
                match prepare_session(*p, outbox, opts) {
                    Ok(s) => {
                        let drivers: std::collections::BTreeSet<String> = s
                            .request
                            .as_ref()
                            .map(|r| r.steps.iter().map(|st| st.component.clone()).collect())
                            .unwrap_or_default();
                        outbox.reply(Reply::Ready {
                            session_id: s.id.clone(),
                            session_dir: s.dir.display().to_string(),
                            drivers_loaded: drivers.into_iter().collect(),
                        });
                        session = Some(s);
                    }
                    Err((code, message)) => outbox.error(code, message),
                }
            }
            Command::Run => match session.as_mut() {
                Some(s) if s.running.is_some() => outbox.error("busy", "the run is already executing"),
                Some(s) => match s.request.take() {
                    Some(req) => s.running = Some(start_run(req, Arc::clone(outbox), Arc::clone(&s.finished))),
                    None => outbox.error("not_prepared", "this session's run has been executed; send `prepare` again"),
                },
                None => outbox.error("not_prepared", "send `prepare` before `run`"),
            },
            Command::Cancel => {
                if let Some(s) = &session {
                    s.cancel.store(true, Ordering::SeqCst);
                }
            }
            Command::Ping { data } => outbox.reply(Reply::Pong { timestamp: runtime::now_rfc3339(), echo: data }),
            Command::Artifact { path, offset, max_bytes } => {
                let run_dir =
                    session.as_ref().and_then(|s| s.finished.lock().unwrap_or_else(|p| p.into_inner()).run_dir.clone());
                match run_dir {
                    Some(dir) => match read_chunk(&dir, &path, offset, max_bytes.unwrap_or(MAX_CHUNK_BYTES)) {
                        Ok(reply) => outbox.reply(reply),
                        Err((code, message)) => outbox.error(code, message),
                    },
                    None => outbox.error("not_prepared", "no run has completed in this session"),
                }
            }
            Command::Cleanup { keep } => {
                let (id, executed, rows) = match session.take() {
                    Some(mut s) => {
                        s.stop();
                        if !keep {
                            s.remove();
                        }
                        let f = s.finished.lock().unwrap_or_else(|p| p.into_inner());
                        (s.id.clone(), f.steps_executed, f.total_rows)
                    }
                    None => (String::new(), 0, 0),
                };
                outbox.reply(Reply::Cleaned { session_id: id, steps_executed: executed, total_rows: rows });
                return 0;
            }
        }
    }
}

/// Write the manifest and cfgs into the session, prepare the run against the connections sent
/// (validated as a local run is) and install the host's committed state.
fn prepare_session(p: Prepare, outbox: &Outbox, opts: &WorkerOptions) -> Result<Session, (&'static str, String)> {
    let connections = ConnectionsFile::from_transfers(p.connections);
    // Seeded first, so that even a failed prepare cannot echo a secret.
    *outbox.redactor.write().unwrap_or_else(|e| e.into_inner()) = connections.redactor();
    let internal = |e: std::io::Error| ("internal", format!("cannot set up the session directory: {e}"));
    let dir = std::path::absolute(opts.sessions_dir.join(&p.session_id)).map_err(internal)?;
    let build = dir.join("build");
    runtime::create_private_dir(&build.join("cfg")).map_err(internal)?;
    let manifest_path = build.join("manifest.yaml");
    std::fs::write(&manifest_path, &p.manifest).map_err(internal)?;
    for (id, cfg) in &p.cfgs {
        if !crate::confine::is_plain_file_name(id) {
            return Err(("invalid_command", format!("`{id}` is not a step id")));
        }
        std::fs::write(build.join("cfg").join(format!("{id}.json")), crate::compiler::cfg_text(cfg))
            .map_err(internal)?;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let options = RunOptions {
        params: Default::default(),
        connections_file: None,
        runs_dir: dir.join("runs"),
        max_parallel: p.options.max_parallel,
        materialize_all: p.options.materialize_all,
        memory_limit: p.options.memory_limit,
        cancel: Arc::clone(&cancel),
        full_refresh: p.options.full_refresh,
        aiop: None,
        connections: Some(connections),
        project_dir: Some(opts.project_dir.clone()),
        state_backend: None,
    };
    let mut req = runtime::prepare(&RunSource::Manifest(manifest_path), options, &Registry::builtin())
        .map_err(|e| ("prepare_failed", e.to_string()))?;
    req.state
        .install_files(&p.state, std::iter::empty())
        .map_err(|e| ("internal", format!("cannot install the incremental state: {e}")))?;
    req.run_id = Some(p.session_id.clone());
    *outbox.redactor.write().unwrap_or_else(|e| e.into_inner()) = req.redactor.clone();
    Ok(Session {
        id: p.session_id,
        dir,
        request: Some(req),
        cancel,
        running: None,
        finished: Arc::new(Mutex::new(Finished::default())),
    })
}

/// Execute `req` on a thread (commands keep being read: `cancel`, `ping`) and send
/// `run_complete` with the worker's `status.json` and, after a success, the state it committed.
fn start_run(mut req: RunRequest, outbox: Arc<Outbox>, finished: Arc<Mutex<Finished>>) -> JoinHandle<()> {
    req.tap = Some(Arc::new(StreamTap(Arc::clone(&outbox))));
    let state_of_run = crate::runtime::state::StateStore::new(&req.runs_dir, &req.pipeline_name, false);
    std::thread::spawn(move || {
        let progress = StreamProgress(Arc::clone(&outbox));
        let (outcome, states) = match runtime::execute(req, &progress) {
            Ok(outcome) => {
                let status = std::fs::read(outcome.run_dir.join("status.json"))
                    .ok()
                    .and_then(|t| serde_json::from_slice::<Value>(&t).ok())
                    .unwrap_or_else(|| serde_json::json!({"status": outcome.status, "steps": outcome.steps}));
                let states = if outcome.status == runtime::RunStatus::Success {
                    state_of_run.committed_files().unwrap_or_default()
                } else {
                    BTreeMap::new()
                };
                let mut f = finished.lock().unwrap_or_else(|p| p.into_inner());
                f.steps_executed =
                    outcome.steps.iter().filter(|s| s.status == runtime::StepStatus::Success).count() as u64;
                f.total_rows = outcome.total_rows;
                f.run_dir = Some(outcome.run_dir);
                (status, states)
            }
            Err(e) => (
                serde_json::json!({"status": "failed", "steps": [], "error": {"step": null, "kind": "internal", "message": e.to_string()}}),
                BTreeMap::new(),
            ),
        };
        outbox.reply(Reply::RunComplete { outcome, states });
    })
}

/// Up to `max_bytes` of the run-dir file `name` from `offset`, as a `chunk` reply.
fn read_chunk(run_dir: &Path, name: &str, offset: u64, max_bytes: usize) -> Result<Reply, (&'static str, String)> {
    use std::io::{Read, Seek, SeekFrom};
    if !crate::confine::is_plain_file_name(name) {
        return Err(("not_found", format!("`{name}` is not a file of the run directory")));
    }
    let mut file = std::fs::File::open(run_dir.join(name)).map_err(|e| ("not_found", format!("{name}: {e}")))?;
    let len = file.metadata().map_err(|e| ("internal", e.to_string()))?.len();
    file.seek(SeekFrom::Start(offset)).map_err(|e| ("internal", e.to_string()))?;
    let mut bytes = Vec::with_capacity(max_bytes.min(MAX_CHUNK_BYTES));
    file.take(max_bytes.min(MAX_CHUNK_BYTES) as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| ("internal", e.to_string()))?;
    let eof = offset + bytes.len() as u64 >= len;
    Ok(Reply::Chunk { path: name.into(), offset, data: base64::engine::general_purpose::STANDARD.encode(&bytes), eof })
}
