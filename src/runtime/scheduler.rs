//! The DAG scheduler: runs steps as soon as their `needs` are done (never by file order),
//! independent branches in parallel on up to `max_parallel` workers, each with its own DuckDB
//! connection. A failed step skips its dependants; independent branches go on, and the run's
//! error is the first failure. Ctrl-C interrupts DuckDB and records the run as cancelled.
//! The decisions (what starts, which worker is kept, what a failure skips) are in
//! [`super::dispatch`], unit-tested without threads or DuckDB; this file runs the workers.
//!
//! A streamed edge (an extractor whose one consumer is a writer reading only it) runs both steps
//! at once: the consumer starts as soon as the extractor has published its view over a pipe
//! (crate::exchange::stream), so the network read and the write overlap. The extractor keeps a
//! worker slot free for its consumer, so edges can never wait on each other for workers.

use super::dispatch::{Dispatch, State};
use super::log::RunLog;
use super::record::{closing_events, conclude, peak_rss_bytes, run_status, Ending, RunRecords};
use super::{ExecStep, Progress, RunError, RunOutcome, RunRequest, RunStatus, RuntimeError, StepReport, StepStatus};
use crate::drivers::{self, DriverError, Inputs, StepContext, StepOutput, Telemetry};
use crate::exchange::stream::StreamOut;
use crate::exchange::threads;
use crate::exchange::{quote_ident, Exchange, RelationKind};
use crate::oml::Mode;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What workers tell the scheduler loop.
enum Report {
    /// A streamed producer's view over its pipe exists: its consumer may start.
    Published(usize),
    /// A step finished.
    Done(Done),
}

/// What the scheduler and the producer's worker share of a streamed edge.
#[derive(Clone)]
struct EdgeFlags {
    consumer: usize,
    /// Set once the consumer has finished or will never run (the producer waits for it).
    consumer_done: Arc<AtomicBool>,
    /// Set by the producer when it failed mid-stream: the consumer's failure follows from it.
    producer_failed: Arc<AtomicBool>,
}

/// A streamed edge `producer → consumer`, as the threads share it.
struct Edge {
    flags: EdgeFlags,
}

impl Edge {
    fn consumer(&self) -> usize {
        self.flags.consumer
    }

    fn release(&self) {
        self.flags.consumer_done.store(true, Ordering::SeqCst);
    }
}

/// Streamed edges, by producer index: an extractor that can stream, read by exactly one step
/// (`materialize` false), when that step is a writer whose only input it is and which reads its
/// input once. Needs two workers: one for each side.
fn plan_edges(req: &RunRequest, materialize: &[bool], workers: usize) -> Vec<Option<Edge>> {
    req.steps
        .iter()
        .enumerate()
        .map(|(i, producer)| {
            if workers < 2 || materialize[i] || !drivers::build(&producer.component).is_some_and(|d| d.can_stream()) {
                return None;
            }
            let consumer = req.steps.iter().position(|s| {
                s.mode == Mode::Write
                    && s.needs.len() == 1
                    && s.needs[0] == producer.id
                    && drivers::build(&s.component).is_some_and(|d| d.reads_input_once())
            })?;
            let flags = EdgeFlags {
                consumer,
                consumer_done: Arc::new(AtomicBool::new(false)),
                producer_failed: Arc::new(AtomicBool::new(false)),
            };
            Some(Edge { flags })
        })
        .collect()
}

/// Result of one step as a worker reports it.
struct Done {
    index: usize,
    result: Result<StepOutput, DriverError>,
    duration: Duration,
    /// When the step started, after the run started.
    offset: Duration,
    /// An upstream view step whose evaluation is the real cause of a failure.
    culprit: Option<(usize, String)>,
}

/// Execute a prepared run. Errors only when no run directory could be created; every other
/// failure is recorded in the outcome, `status.json` and the run index.
pub fn execute(req: RunRequest, progress: &dyn Progress) -> Result<RunOutcome, RuntimeError> {
    let rec = RunRecords::open(&req)?;
    let (run_id, run_dir, log) = (&rec.run_id, &rec.run_dir, &rec.log);
    log.event("run_start", None, json!({"pipeline": req.pipeline_name, "manifest_hash": req.manifest_hash, "steps_total": req.steps.len(), "max_parallel": req.max_parallel}));
    log.log("INFO", &format!("run {run_id} of pipeline {} started ({} steps)", req.pipeline_name, req.steps.len()));
    for w in &req.warnings {
        log.log("WARN", &w.to_string());
    }

    let not_started = |kind: &str, message: String| {
        let n = req.steps.len();
        (
            vec![State::Finished(StepStatus::Skipped); n],
            vec![None; n],
            Some(RunError { step: None, kind: kind.into(), message }),
        )
    };
    // Held until the run ends: no other run extracts this pipeline's increments meanwhile.
    let stateful = stateful_steps(&req);
    let state_lock = if stateful.is_empty() { Ok(None) } else { req.state.lock(run_id).map(Some) };
    // Their resume spools are the only files outside the run dir a stateful step loads.
    let mut exchange_settings = req.exchange.clone();
    exchange_settings.allowed_directories.extend(stateful.iter().map(|s| req.state.resume_path(&s.id)));
    let (states, reports, mut error) = match (&state_lock, Exchange::create(run_dir, &exchange_settings)) {
        (Err(e), _) => not_started("state", e.to_string()),
        (Ok(_), Ok(exchange)) => {
            let r = schedule(&req, &exchange, log, run_dir, progress, rec.started);
            if let Err(e) = exchange.checkpoint() {
                log.log("WARN", &format!("checkpoint failed: {e}"));
            }
            r
        }
        (Ok(_), Err(e)) => not_started("internal", format!("cannot open the exchange database: {e}")),
    };

    // A run whose state cannot be saved has failed: the next run would read the same rows again
    // without knowing it.
    if error.is_none() && !req.cancel.load(Ordering::SeqCst) {
        if let Err(e) = req.state.commit(req.steps.iter().map(|s| s.id.as_str())) {
            let message = format!("cannot write the incremental state in {}: {e}", req.state.location());
            log.log("ERROR", &message);
            error = Some(RunError { step: None, kind: "state".into(), message });
        }
    }
    drop(state_lock);
    let status = run_status(error.as_ref(), req.cancel.load(Ordering::SeqCst));
    let steps: Vec<StepReport> = req
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            reports[i].clone().unwrap_or_else(|| {
                let st = match states[i] {
                    State::Finished(st) => st,
                    _ if status == RunStatus::Cancelled => StepStatus::Cancelled,
                    _ => StepStatus::Skipped,
                };
                StepReport::not_run(s, st)
            })
        })
        .collect();
    let error = error.map(|mut e| {
        e.message = req.redactor.redact(&e.message);
        e
    });
    let duration_ms = rec.started.elapsed().as_millis() as u64;
    closing_events(&rec, status, &steps, error.as_ref(), duration_ms);
    let end = Ending { status, steps, error, duration_ms, peak_rss_bytes: peak_rss_bytes(), extra: Default::default() };
    Ok(conclude(&req, rec, end))
}

/// The steps whose component keeps incremental state: a run with any holds the state lock.
pub(crate) fn stateful_steps(req: &RunRequest) -> Vec<&ExecStep> {
    req.steps.iter().filter(|s| drivers::build(&s.component).is_some_and(|d| d.keeps_state())).collect()
}

type Scheduled = (Vec<State>, Vec<Option<StepReport>>, Option<RunError>);

/// Which steps must be tables: read by several steps (or none), not able to be views, or all
/// under `--materialize all`. Extractors ignore their inputs (an absent `needs` only orders them
/// after the previous step), so only transforms and writers count as readers of a relation.
fn materialized(req: &RunRequest, needs: &[Vec<usize>]) -> Vec<bool> {
    let mut consumers = vec![0usize; req.steps.len()];
    for (i, _) in req.steps.iter().enumerate().filter(|(_, s)| s.mode != Mode::Extract) {
        for &j in &needs[i] {
            consumers[j] += 1;
        }
    }
    req.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            req.materialize_all || consumers[i] != 1 || !drivers::build(&s.component).is_some_and(|d| d.can_be_view())
        })
        .collect()
}

fn schedule(
    req: &RunRequest,
    exchange: &Exchange,
    log: &RunLog,
    run_dir: &std::path::Path,
    progress: &dyn Progress,
    run_started: Instant,
) -> Scheduled {
    let n = req.steps.len();
    let index_of: HashMap<&str, usize> = req.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let needs: Vec<Vec<usize>> =
        req.steps.iter().map(|s| s.needs.iter().filter_map(|d| index_of.get(d.as_str()).copied()).collect()).collect();
    let materialize = materialized(req, &needs);
    let mut reports: Vec<Option<StepReport>> = vec![None; n];
    let mut error: Option<RunError> = None;

    let workers = req.max_parallel.clamp(1, n.max(1));
    let edges = plan_edges(req, &materialize, workers);
    let mut dispatch = Dispatch::new(needs, edges.iter().map(|e| e.as_ref().map(Edge::consumer)).collect(), workers);
    let stream_flags: Vec<Option<EdgeFlags>> = edges.iter().map(|e| e.as_ref().map(|e| e.flags.clone())).collect();
    let mut conns = Vec::new();
    for _ in 0..workers {
        match exchange.connect() {
            Ok(c) => conns.push(c),
            Err(e) => {
                return (
                    dispatch.states().to_vec(),
                    reports,
                    Some(RunError {
                        step: None,
                        kind: "internal".into(),
                        message: format!("cannot connect to the exchange database: {e}"),
                    }),
                )
            }
        }
    }
    let interrupts: Vec<_> = conns.iter().map(|c| c.interrupt_handle()).collect();
    // (step, inputs, how many DuckDB threads it may use: None = all)
    let (job_tx, job_rx) = mpsc::channel::<(usize, Inputs, Option<usize>)>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Report>();
    let relations_snapshot: Arc<Mutex<Vec<Option<RelationKind>>>> = Arc::new(Mutex::new(vec![None; n]));
    // Steps whose view reads rows they staged in the run dir (`Driver::view_reads_staged_rows`).
    let block_cache = exchange.block_cache();
    let staged_views: Vec<bool> =
        req.steps.iter().map(|s| drivers::build(&s.component).is_some_and(|d| d.view_reads_staged_rows())).collect();

    std::thread::scope(|scope| {
        for conn in conns {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let materialize = &materialize;
            let index_of = &index_of;
            let snapshot = Arc::clone(&relations_snapshot);
            let stream_flags = &stream_flags;
            let block_cache = &block_cache;
            scope.spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((i, inputs, thread_limit)) = job else { break };
                let running = block_cache.step_running();
                let _threads = thread_limit.map(|limit| threads::narrow(&conn, limit));
                let step = &req.steps[i];
                let t = Instant::now();
                let stream = stream_flags[i].as_ref().map(|flags| {
                    let published = done_tx.clone();
                    (
                        StreamOut {
                            pipe: run_dir.join("tmp").join(format!("{}.stream.fifo", step.id)),
                            publish: Box::new(move || {
                                let _ = published.send(Report::Published(i));
                            }),
                            consumer_done: Arc::clone(&flags.consumer_done),
                            producer_failed: Arc::clone(&flags.producer_failed),
                        },
                        req.steps[flags.consumer].id.as_str(),
                    )
                });
                let result =
                    run_step(step, &conn, materialize[i], &inputs, stream.as_ref(), run_dir, log, req, block_cache);
                let culprit = match &result {
                    _ if req.cancel.load(Ordering::SeqCst) => None,
                    Err(e) if e.is_data_failure() => {
                        let views = snapshot.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        find_culprit(req, index_of, i, &views, &conn)
                    }
                    _ => None,
                };
                drop(running);
                let offset = t.duration_since(run_started);
                let done = Done { index: i, result, duration: t.elapsed(), offset, culprit };
                if done_tx.send(Report::Done(done)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut interrupted = false;
        loop {
            if req.cancel.load(Ordering::SeqCst) {
                dispatch.cancel();
            }
            // A producer waits for its consumer; one that will never start must not be awaited.
            for j in dispatch.abandoned_edges() {
                if let Some(edge) = &edges[j] {
                    edge.release();
                }
            }
            for start in dispatch.start_ready() {
                let i = start.step;
                let inputs: Inputs =
                    start.inputs.iter().map(|&j| (req.steps[j].id.clone(), req.steps[j].id.clone())).collect();
                progress.step_started(&req.steps[i].id, &req.steps[i].component);
                let relations = relations_snapshot.lock().unwrap_or_else(|p| p.into_inner());
                let staged_input =
                    start.inputs.iter().any(|&j| staged_views[j] && relations[j] == Some(RelationKind::View));
                drop(relations);
                let thread_limit = if start.streamed_input {
                    // A pipe is scanned by one thread and the producer needs a core (exchange::threads).
                    Some(threads::all_but_one_core())
                } else if staged_input {
                    // Staged rows read once: one thread keeps an order-preserving COPY from
                    // buffering ahead (1M GraphQL rows into a CSV file: 102 → 39 MiB, 0.49 → 0.69 s).
                    Some(1)
                } else {
                    None
                };
                let _ = job_tx.send((i, inputs, thread_limit));
            }
            if dispatch.in_flight() == 0 {
                break;
            }
            match done_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Report::Published(i)) => dispatch.published(i),
                Ok(Report::Done(done)) => {
                    let i = done.index;
                    let step = &req.steps[i];
                    // The producer streaming into this step may now finish.
                    let fed_by = dispatch.fed_by(i).and_then(|j| edges[j].as_ref());
                    let upstream_failed = fed_by.is_some_and(|e| e.flags.producer_failed.load(Ordering::SeqCst));
                    if let Some(edge) = fed_by {
                        edge.release();
                    }
                    let duration_ms = done.duration.as_millis() as u64;
                    let (status, rows, relation, step_error) = match done.result {
                        Ok(mut out) => {
                            // Moved, not cloned: a PostHog state holds every id of its dedup
                            // window (90k events in 15 minutes of the benchmark's stream).
                            if let Some(state) = out.state.take() {
                                req.state.stage(&step.id, &step.state_source, state);
                            }
                            relations_snapshot.lock().unwrap_or_else(|p| p.into_inner())[i] = out.relation;
                            log.event("step_complete", Some(&step.id), json!({"driver": step.component, "rows": out.rows, "duration_ms": duration_ms, "relation": out.relation}));
                            log.metric("step_duration_ms", duration_ms as f64, Some(&step.id));
                            log.log(
                                "INFO",
                                &format!(
                                    "step {} completed: {} rows in {duration_ms} ms",
                                    step.id,
                                    out.rows.map(|r| r.to_string()).unwrap_or_else(|| "view,".into())
                                ),
                            );
                            (StepStatus::Success, out.rows, out.relation, None)
                        }
                        Err(e) => {
                            let cancelled = matches!(e, DriverError::Cancelled) || req.cancel.load(Ordering::SeqCst);
                            let message = req.redactor.redact(&e.to_string());
                            log.event("step_failed", Some(&step.id), json!({"driver": step.component, "kind": e.kind(), "error": message, "duration_ms": duration_ms}));
                            // The original's name for the same event (its `duration` is seconds).
                            log.event("step_error", Some(&step.id), json!({"driver": step.component, "error": message, "duration": done.duration.as_secs_f64()}));
                            log.log("ERROR", &format!("step {} failed: {message}", step.id));
                            if let Some((j, msg)) = done.culprit.as_ref().filter(|_| !cancelled) {
                                let culprit = &req.steps[*j];
                                let msg = req.redactor.redact(msg);
                                log.event("step_failed", Some(&culprit.id), json!({"driver": culprit.component, "kind": "sql", "error": msg, "evaluated_by": step.id}));
                                log.event(
                                    "step_error",
                                    Some(&culprit.id),
                                    json!({"driver": culprit.component, "error": msg}),
                                );
                                dispatch.blame(*j);
                                if let Some(r) = reports[*j].as_mut() {
                                    r.status = StepStatus::Failed;
                                    r.error = Some(msg.clone());
                                }
                                if error.is_none() {
                                    error = Some(RunError {
                                        step: Some(culprit.id.clone()),
                                        kind: "sql".into(),
                                        message: format!(
                                            "{msg} (step `{}` is a view, evaluated while running `{}`)",
                                            culprit.id, step.id
                                        ),
                                    });
                                }
                            }
                            // When the producer streaming into this step failed, its own error
                            // (reported right after) is the run's error, not this consequence.
                            if error.is_none() && !upstream_failed {
                                error = Some(if cancelled {
                                    RunError {
                                        step: Some(step.id.clone()),
                                        kind: "cancelled".into(),
                                        message: "the run was cancelled".into(),
                                    }
                                } else {
                                    RunError {
                                        step: Some(step.id.clone()),
                                        kind: e.kind().into(),
                                        message: message.clone(),
                                    }
                                });
                            }
                            let status = if cancelled { StepStatus::Cancelled } else { StepStatus::Failed };
                            (status, None, None, Some(message))
                        }
                    };
                    dispatch.finished(i, status, relation.is_some());
                    let report = StepReport {
                        id: step.id.clone(),
                        component: step.component.clone(),
                        status,
                        rows,
                        duration_ms,
                        relation,
                        started_ms: Some(done.offset.as_millis() as u64),
                        mode: step.mode,
                        error: step_error,
                        needs: step.needs.clone(),
                        streams_to: edges[i].as_ref().map(|e| req.steps[e.consumer()].id.clone()),
                    };
                    progress.step_finished(&report);
                    reports[i] = Some(report);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if req.cancel.load(Ordering::SeqCst) {
                        if !interrupted {
                            interrupted = true;
                            log.event("run_cancel_requested", None, json!({}));
                        }
                        // Repeated on every tick: DuckDB clears the flag when a new statement starts.
                        for h in &interrupts {
                            h.interrupt();
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(job_tx);
    });
    let states = dispatch.states().to_vec();
    if error.is_none() && req.cancel.load(Ordering::SeqCst) && states.contains(&State::Pending) {
        error = Some(RunError { step: None, kind: "cancelled".into(), message: "the run was cancelled".into() });
    }
    (states, reports, error)
}

#[allow(clippy::too_many_arguments)]
fn run_step(
    step: &ExecStep,
    conn: &duckdb::Connection,
    materialize: bool,
    inputs: &Inputs,
    stream: Option<&(StreamOut, &str)>,
    run_dir: &std::path::Path,
    log: &RunLog,
    req: &RunRequest,
    block_cache: &Arc<crate::exchange::block_cache::BlockCache>,
) -> Result<StepOutput, DriverError> {
    log.event(
        "step_start",
        Some(&step.id),
        json!({"driver": step.component, "mode": step.mode.canonical(), "materialize": materialize, "streams_to": stream.map(|(_, consumer)| consumer)}),
    );
    if !inputs.is_empty() {
        log.event("inputs_resolved", Some(&step.id), json!({"inputs": inputs.keys().collect::<Vec<_>>()}));
    }
    if req.cancel.load(Ordering::SeqCst) {
        return Err(DriverError::Cancelled);
    }
    let driver = drivers::build(&step.component)
        .ok_or_else(|| DriverError::Config(format!("no driver for component `{}`", step.component)))?;
    let prior = match req.state.load(&step.id, &step.state_source) {
        Ok(prior) => prior,
        Err(super::state::LoadError::SourceChanged(changed)) => {
            log.warning(&step.id, &changed.to_string());
            None
        }
        Err(super::state::LoadError::Backend(e)) => return Err(DriverError::State(e.to_string())),
    };
    let (resume_dir, discarded) = req.state.resume_dir(&step.id);
    if let Some(warning) = discarded {
        log.warning(&step.id, &warning);
    }
    let ctx = StepContext {
        step_id: &step.id,
        run_dir,
        conn,
        base_dir: &step.base_dir,
        connection: step.connection.as_ref(),
        materialize: materialize || step.mode == Mode::Write,
        telemetry: log,
        cancel: &req.cancel,
        state: prior.as_ref(),
        resume_dir: &resume_dir,
        stream: stream.map(|(out, _)| out),
        block_cache,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.run(&ctx, &step.config, inputs)))
        .unwrap_or_else(|p| Err(DriverError::Internal(format!("driver panicked: {}", drivers::panic_message(&*p)))))
}

/// When a step fails while reading views, find the upstream view step whose own query fails
/// (earliest in execution order), so the error is reported under the step that is at fault.
fn find_culprit(
    req: &RunRequest,
    index_of: &HashMap<&str, usize>,
    failed: usize,
    relations: &[Option<RelationKind>],
    conn: &duckdb::Connection,
) -> Option<(usize, String)> {
    let mut upstream = Vec::new();
    let mut stack = vec![failed];
    while let Some(i) = stack.pop() {
        for d in &req.steps[i].needs {
            if let Some(&j) = index_of.get(d.as_str()) {
                if relations[j] == Some(RelationKind::View) && !upstream.contains(&j) {
                    upstream.push(j);
                    stack.push(j);
                }
            }
        }
    }
    upstream.sort();
    for j in upstream {
        let probe =
            format!("CREATE OR REPLACE TEMP TABLE __osiris_probe AS SELECT * FROM {}", quote_ident(&req.steps[j].id));
        let r = conn.execute_batch(&probe);
        let _ = conn.execute_batch("DROP TABLE IF EXISTS temp.__osiris_probe");
        if let Err(e) = r {
            return Some((j, e.to_string()));
        }
    }
    None
}
