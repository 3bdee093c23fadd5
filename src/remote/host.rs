//! The host side of `osiris run … --remote CMD`: start CMD, hand it the prepared run, and mirror
//! the remote run into a local run directory as its messages arrive (events, metrics, log lines,
//! progress), then record it locally as a local run is recorded (`status.json`, the run index,
//! the AIOP), commit the incremental state it returned, and end the worker.
//!
//! A worker that dies, stops talking (no line within the timeout; it sends a heartbeat every
//! two seconds), breaks the protocol or speaks another protocol version ends the run with exit 1
//! (`error.kind: worker`), the running step named and the tail of the worker's stderr quoted.
//! Ctrl-C sends `cancel` and waits up to ten seconds for the worker's writers to roll back.

use super::protocol::{
    parse_from_worker, read_line, to_line, Command, ErrorBody, FromWorker, Prepare, Reply, RunSettings, Streamed,
    OSIRIS_VERSION, PROTOCOL,
};
use crate::connections::{ConnectionTransfer, Redactor};
use crate::runtime::record::{closing_events, conclude, run_status, Ending, RunRecords};
use crate::runtime::{
    stateful_steps, Progress, RunError, RunOutcome, RunRequest, RunStatus, RuntimeError, StepReport, StepStatus,
};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How to reach the worker.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// A shell command whose stdin/stdout reach `osiris worker`.
    pub command: String,
    /// The longest silence (heartbeats count) before the worker is taken for hung.
    pub timeout: Duration,
    /// Copy the remote exchange file (`pipeline_data.duckdb`) into the local run directory.
    pub fetch_data: bool,
}

/// How long Ctrl-C waits for the remote run to roll back and report.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// How much of the worker's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// Why the conversation with the worker ended early.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("the worker ended the connection{0}")]
    Died(String),
    #[error("the worker sent nothing for {0} s (no heartbeat); it is taken for hung")]
    Hung(u64),
    #[error("the worker sent a line that is not protocol: {0}")]
    Protocol(String),
    #[error("the worker refused `{command}` ({}): {}", .body.code, .body.message)]
    Refused { command: &'static str, body: ErrorBody },
    #[error("the worker speaks protocol {worker} (osiris {version}); this osiris speaks protocol {PROTOCOL}")]
    Mismatch { worker: u32, version: String },
    #[error("cannot start the worker command: {0}")]
    Spawn(std::io::Error),
    #[error("the worker did not finish within {} s of the cancellation", CANCEL_GRACE.as_secs())]
    CancelIgnored,
    #[error("cannot copy the remote exchange file: {0}")]
    Fetch(String),
    #[error("{0}")]
    State(String),
}

enum Incoming {
    Line(String),
    End(Option<String>),
}

/// A running worker process and the two threads that read its output.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Incoming>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    /// Closed when CMD's stderr reaches its end.
    stderr_done: mpsc::Receiver<()>,
    timeout: Duration,
    last_heard: Instant,
}

impl Worker {
    /// `sh -c COMMAND` in its own process group (a terminal's Ctrl-C reaches the host only; the
    /// host cancels the worker through the protocol), without environment variables that hold a
    /// secret of the run.
    fn spawn(command: &str, timeout: Duration, redactor: &Redactor) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg(command).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.process_group(0);
        for (k, v) in std::env::vars_os() {
            if redactor.redact(&v.to_string_lossy()) != v.to_string_lossy() {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                match read_line(&mut reader, &mut buf) {
                    Ok(Some(line)) => {
                        if tx.send(Incoming::Line(line)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return drop(tx.send(Incoming::End(None))),
                    Err(e) => return drop(tx.send(Incoming::End(Some(e.to_string())))),
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done, stderr_done) = mpsc::channel::<()>();
        {
            let tail = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let _done = done;
                let mut chunk = [0u8; 8192];
                while let Ok(n) = stderr_pipe.read(&mut chunk) {
                    if n == 0 {
                        return;
                    }
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    t.extend(&chunk[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                    t.drain(..excess);
                }
            });
        }
        Ok(Self { child, stdin, lines, stderr, stderr_done, timeout, last_heard: Instant::now() })
    }

    fn send(&mut self, command: &Command) -> Result<(), Fault> {
        let line = to_line(command);
        let written = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|_| stdin.flush()),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        written.map_err(|_| self.died())
    }

    /// The next message, or None when `tick` passed without one.
    fn next(&mut self, tick: Duration) -> Result<Option<FromWorker>, Fault> {
        match self.lines.recv_timeout(tick) {
            Ok(Incoming::Line(line)) => {
                self.last_heard = Instant::now();
                parse_from_worker(&line).map(Some).map_err(|e| Fault::Protocol(e.to_string()))
            }
            Ok(Incoming::End(Some(e))) => Err(Fault::Protocol(e)),
            Ok(Incoming::End(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(self.died()),
            Err(mpsc::RecvTimeoutError::Timeout) if self.last_heard.elapsed() > self.timeout => {
                Err(Fault::Hung(self.timeout.as_secs()))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    /// The reply to the last command; streamed messages on the way go to `mirror`.
    fn reply(&mut self, command: &'static str, mirror: &mut Mirror) -> Result<Reply, Fault> {
        loop {
            match self.next(Duration::from_millis(200))? {
                Some(FromWorker::Reply(Reply::Error { error })) => return Err(Fault::Refused { command, body: error }),
                Some(FromWorker::Reply(r)) => return Ok(r),
                Some(FromWorker::Streamed(m)) => mirror.take(m),
                None => {}
            }
        }
    }

    /// The worker's output ended: how it exited, when it did within a second.
    fn died(&mut self) -> Fault {
        match self.exited_within(Duration::from_secs(1)) {
            Some(status) => Fault::Died(format!(" ({status})")),
            None => Fault::Died(String::new()),
        }
    }

    /// The exit status, when CMD ends within `limit` (checked at growing intervals from 1 ms).
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The end of CMD's stderr, once it closed (or after a second): what it said last before
    /// the fault.
    fn stderr_tail(&self) -> String {
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
        let t = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&t.iter().copied().collect::<Vec<u8>>()).trim_end().to_string()
    }

    /// End CMD and everything it started (its own process group): a shell around the worker,
    /// an ssh client, a sleeping impostor.
    fn kill_group(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group this host created for CMD.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }

    /// Close stdin, give the worker a moment to exit, then end it.
    fn finish(mut self) {
        drop(self.stdin.take());
        if self.exited_within(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The local copy of the remote run as it happens.
struct Mirror<'a> {
    rec: &'a RunRecords,
    progress: &'a dyn Progress,
    running: Vec<String>,
    reports: HashMap<String, StepReport>,
    saw_run_end: bool,
}

impl Mirror<'_> {
    fn take(&mut self, message: Streamed) {
        match message {
            Streamed::Event { name, timestamp, mut data } => {
                let mut line = Map::new();
                line.insert("ts".into(), Value::String(timestamp));
                if let Some(run_id) = data.shift_remove("run_id") {
                    line.insert("run_id".into(), run_id);
                }
                line.insert("event".into(), Value::String(name.clone()));
                if name == "step_warning" {
                    let step = data.get("step_id").and_then(Value::as_str).unwrap_or_default();
                    let message = data.get("message").and_then(Value::as_str).unwrap_or_default();
                    self.rec.log.add_warning(&format!("{step}: {message}"));
                }
                line.extend(data);
                self.saw_run_end |= name == "run_end";
                self.rec.log.append_event(Value::Object(line));
            }
            Streamed::Metric { name, value, timestamp, mut tags } => {
                let mut line = Map::new();
                line.insert("ts".into(), Value::String(timestamp));
                if let Some(run_id) = tags.shift_remove("run_id") {
                    line.insert("run_id".into(), run_id);
                }
                line.insert("metric".into(), Value::String(name));
                line.insert("value".into(), json!(value));
                line.extend(tags);
                self.rec.log.append_metric(Value::Object(line));
            }
            Streamed::Progress { step, component, report: None, .. } => {
                self.progress.step_started(&step, &component);
                self.running.push(step);
            }
            Streamed::Progress { step, report: Some(report), .. } => {
                self.running.retain(|s| *s != step);
                self.progress.step_finished(&report);
                self.reports.insert(step, report);
            }
            Streamed::Log { level, message } => self.rec.log.log(&level, &message),
            Streamed::Heartbeat { .. } => {}
        }
    }
}

/// A run that did not complete on the worker: the error, and what the worker said of itself
/// when it got that far.
struct Failure {
    worker: Option<Value>,
    error: RunError,
}

/// What the worker reported at the end of a run.
struct Completed {
    status: Value,
    states: BTreeMap<String, Value>,
    worker: Value,
}

/// Execute a prepared run on a worker. Errors only when no local run directory could be made;
/// every other failure is recorded in the outcome, as a local run's is.
pub fn execute_remote(
    req: RunRequest,
    progress: &dyn Progress,
    remote: &RemoteOptions,
) -> Result<RunOutcome, RuntimeError> {
    let rec = RunRecords::open(&req)?;
    let stateful = !stateful_steps(&req).is_empty();
    // Held on the host for the whole remote run: the host's store is the one that advances.
    let lock = if stateful { req.state.lock(&rec.run_id).map(Some) } else { Ok(None) };
    let mut mirror = Mirror { rec: &rec, progress, running: Vec::new(), reports: HashMap::new(), saw_run_end: false };
    let result = match &lock {
        Ok(_) => converse(&req, &mut mirror, remote),
        Err(e) => Err(Box::new(Failure {
            worker: None,
            error: RunError { step: None, kind: "state".into(), message: e.to_string() },
        })),
    };
    let (running, reports, saw_run_end) = (mirror.running, mirror.reports, mirror.saw_run_end);
    let (status, steps, error, peak, extra) = match result {
        Ok(done) => match ending_of(&req, &done) {
            Ok((status, steps, mut error)) => {
                if status == RunStatus::Success && error.is_none() {
                    let ids = req.steps.iter().map(|s| s.id.as_str());
                    if let Err(e) = req.state.install_files(&done.states, ids) {
                        let message = format!("cannot write the incremental state in {}: {e}", req.state.location());
                        error = Some(RunError { step: None, kind: "state".into(), message });
                    }
                }
                let status = if error.as_ref().is_some_and(|e| e.kind == "state") { RunStatus::Failed } else { status };
                let peak = done.status["peak_rss_bytes"].as_u64();
                (status, steps, error, peak, Map::from_iter([("remote".to_string(), done.worker)]))
            }
            Err(error) => failed(&req, &running, &reports, None, error),
        },
        Err(f) => failed(&req, &running, &reports, f.worker, f.error),
    };
    drop(lock);
    let error = error.map(|mut e| {
        e.message = req.redactor.redact(&e.message);
        e
    });
    let duration_ms = rec.started.elapsed().as_millis() as u64;
    if !saw_run_end {
        closing_events(&rec, status, &steps, error.as_ref(), duration_ms);
    }
    let end = Ending { status, steps, error, duration_ms, peak_rss_bytes: peak, extra };
    Ok(conclude(&req, rec, end))
}

type Ended = (RunStatus, Vec<StepReport>, Option<RunError>, Option<u64>, Map<String, Value>);

/// The ending of a run whose worker failed: the steps it reported, the running ones failed (or
/// cancelled), the rest skipped.
fn failed(
    req: &RunRequest,
    running: &[String],
    reports: &HashMap<String, StepReport>,
    worker: Option<Value>,
    error: RunError,
) -> Ended {
    let cancelled = req.cancel.load(Ordering::SeqCst);
    let status = run_status(Some(&error), cancelled);
    let steps = req
        .steps
        .iter()
        .map(|s| match reports.get(&s.id) {
            Some(r) => r.clone(),
            None if running.contains(&s.id) && status == RunStatus::Cancelled => {
                StepReport::not_run(s, StepStatus::Cancelled)
            }
            None if running.contains(&s.id) => {
                StepReport { error: Some(error.message.clone()), ..StepReport::not_run(s, StepStatus::Failed) }
            }
            None if status == RunStatus::Cancelled => StepReport::not_run(s, StepStatus::Cancelled),
            None => StepReport::not_run(s, StepStatus::Skipped),
        })
        .collect();
    let extra = worker.map(|w| Map::from_iter([("remote".to_string(), w)])).unwrap_or_default();
    (status, steps, Some(error), None, extra)
}

/// Status, steps and error as the worker's `status.json` gives them.
fn ending_of(req: &RunRequest, done: &Completed) -> Result<(RunStatus, Vec<StepReport>, Option<RunError>), RunError> {
    let bad = |what: &str| RunError {
        step: None,
        kind: "worker".into(),
        message: format!("the worker's run_complete has no valid {what}"),
    };
    let steps: Vec<StepReport> = serde_json::from_value(done.status["steps"].clone()).map_err(|_| bad("steps"))?;
    if steps.len() != req.steps.len() || steps.iter().zip(&req.steps).any(|(a, b)| a.id != b.id) {
        return Err(bad("steps (they are not the manifest's)"));
    }
    let error: Option<RunError> = serde_json::from_value(done.status["error"].clone()).map_err(|_| bad("error"))?;
    let status = match done.status["status"].as_str() {
        Some("success") => RunStatus::Success,
        Some("failed") => RunStatus::Failed,
        Some("cancelled") => RunStatus::Cancelled,
        _ => return Err(bad("status")),
    };
    Ok((status, steps, error))
}

/// The whole conversation: hello, prepare, run (mirrored), fetch, cleanup. A fault comes back as
/// the run's error, with the running step and the worker's stderr tail, plus what the worker
/// said of itself when it got that far.
fn converse(req: &RunRequest, mirror: &mut Mirror, remote: &RemoteOptions) -> Result<Completed, Box<Failure>> {
    let mut worker = match Worker::spawn(&remote.command, remote.timeout, &req.redactor) {
        Ok(w) => w,
        Err(e) => {
            return Err(Box::new(Failure { worker: None, error: fault_error(Fault::Spawn(e), None, mirror, "") }))
        }
    };
    let mut about = None;
    let result = talk(req, mirror, remote, &mut worker, &mut about);
    match result {
        Ok(done) => {
            // The worker answered `cleanup` after removing its session: its exit needs no
            // waiting for, and recording the run locally goes on meanwhile.
            std::thread::spawn(move || worker.finish());
            Ok(done)
        }
        Err(fault) => {
            let cancelled = matches!(fault, Fault::CancelIgnored);
            worker.kill_group();
            let tail = worker.stderr_tail();
            worker.finish();
            let error = fault_error(fault, Some(req), mirror, &tail);
            let error = if cancelled { RunError { kind: "cancelled".into(), ..error } } else { error };
            Err(Box::new(Failure { worker: about, error }))
        }
    }
}

fn fault_error(fault: Fault, req: Option<&RunRequest>, mirror: &Mirror, tail: &str) -> RunError {
    let step = mirror.running.first().cloned();
    let mut message = fault.to_string();
    if let Some(s) = &step {
        message = format!("{message} while step `{s}` was running");
    }
    if !tail.is_empty() {
        let lines: Vec<&str> = tail.lines().collect();
        let last = lines[lines.len().saturating_sub(20)..].join("\n");
        message = format!("{message}; the worker's stderr ended with:\n{last}");
    }
    if let Some(req) = req {
        message = req.redactor.redact(&message);
    }
    RunError { step, kind: "worker".into(), message }
}

fn talk(
    req: &RunRequest,
    mirror: &mut Mirror,
    remote: &RemoteOptions,
    worker: &mut Worker,
    about: &mut Option<Value>,
) -> Result<Completed, Fault> {
    worker.send(&Command::Hello { protocol: PROTOCOL, osiris: OSIRIS_VERSION.into() })?;
    let Reply::Hello { protocol, osiris, pid } = worker.reply("hello", mirror)? else {
        return Err(Fault::Protocol("the answer to `hello` is not `hello`".into()));
    };
    if protocol != PROTOCOL {
        return Err(Fault::Mismatch { worker: protocol, version: osiris });
    }
    if osiris != OSIRIS_VERSION {
        mirror.rec.log.log("WARN", &format!("the worker runs osiris {osiris}, this host {OSIRIS_VERSION}"));
    }
    let mut info = json!({"osiris": osiris, "pid": pid});
    *about = Some(info.clone());

    let prepare = prepare_message(req, &mirror.rec.run_id).map_err(|e| Fault::State(e.to_string()))?;
    worker.send(&Command::Prepare(Box::new(prepare)))?;
    let Reply::Ready { session_dir, .. } = worker.reply("prepare", mirror)? else {
        return Err(Fault::Protocol("the answer to `prepare` is not `ready`".into()));
    };
    info["session_dir"] = Value::String(session_dir);
    *about = Some(info.clone());

    worker.send(&Command::Run)?;
    let mut cancel_deadline = None;
    let (status, states) = loop {
        if cancel_deadline.is_none() && req.cancel.load(Ordering::SeqCst) {
            worker.send(&Command::Cancel)?;
            cancel_deadline = Some(Instant::now() + CANCEL_GRACE);
        }
        if cancel_deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Fault::CancelIgnored);
        }
        match worker.next(Duration::from_millis(100))? {
            Some(FromWorker::Reply(Reply::RunComplete { outcome, states })) => break (outcome, states),
            Some(FromWorker::Reply(Reply::Error { error })) => {
                return Err(Fault::Refused { command: "run", body: error })
            }
            Some(FromWorker::Reply(_)) => {
                return Err(Fault::Protocol("a reply to `run` that is not `run_complete`".into()))
            }
            Some(FromWorker::Streamed(m)) => mirror.take(m),
            None => {}
        }
    };
    if remote.fetch_data && status["status"] == "success" {
        let target = mirror.rec.run_dir.join("pipeline_data.duckdb");
        fetch(worker, mirror, &target)?;
    }
    worker.send(&Command::Cleanup { keep: false })?;
    worker.reply("cleanup", mirror)?;
    Ok(Completed { status, states, worker: info })
}

/// The `prepare` command of `req`: manifest, cfgs, the connections its steps use (each marked
/// default when a step uses it without naming it), committed state and options.
fn prepare_message(req: &RunRequest, run_id: &str) -> Result<Prepare, crate::runtime::state::postgres::PgStateError> {
    let mut connections: Vec<ConnectionTransfer> = Vec::new();
    for step in &req.steps {
        let Some(c) = &step.connection else { continue };
        let unnamed = req.cfgs.get(&step.id).is_none_or(|cfg| !cfg.contains_key("connection"));
        match connections.iter_mut().find(|t| t.family == c.family && t.alias == c.alias) {
            Some(t) => t.default |= unnamed,
            None => connections.push(ConnectionTransfer::of(c, unnamed)),
        }
    }
    Ok(Prepare {
        session_id: run_id.to_string(),
        manifest: req.manifest_yaml.clone(),
        cfgs: req.cfgs.clone(),
        connections,
        state: req.state.committed_files()?,
        options: RunSettings {
            max_parallel: req.max_parallel,
            memory_limit: req.exchange.memory_limit.clone(),
            full_refresh: req.state.is_full_refresh(),
            materialize_all: req.materialize_all,
        },
    })
}

/// Copy the remote run's exchange file to `target` in chunks, through a temporary file.
fn fetch(worker: &mut Worker, mirror: &mut Mirror, target: &Path) -> Result<(), Fault> {
    let tmp = target.with_extension("duckdb.part");
    let io = |e: std::io::Error| Fault::Fetch(e.to_string());
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    let mut offset = 0u64;
    loop {
        worker.send(&Command::Artifact { path: "pipeline_data.duckdb".into(), offset, max_bytes: None })?;
        let Reply::Chunk { data, eof, offset: at, .. } = worker.reply("artifact", mirror)? else {
            return Err(Fault::Protocol("the answer to `artifact` is not `chunk`".into()));
        };
        if at != offset {
            return Err(Fault::Fetch(format!("chunk at {at}, expected {offset}")));
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| Fault::Fetch(e.to_string()))?;
        file.write_all(&bytes).map_err(io)?;
        offset += bytes.len() as u64;
        if eof {
            break;
        }
    }
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, target).map_err(io)
}
