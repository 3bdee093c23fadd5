//! AIOP, the AI Operation Package: a compact, self-describing account of one run for an agent
//! (the original's JSON-LD `summary.json`, a Markdown `run-card.md` and `annex/*.ndjson`).
//!
//! It is derived from the run directory alone (status, events, metrics, manifest), so it can be
//! written after every run and re-exported for any past run (`logs aiop export`). Every value
//! passes the run's redactor; the core is bounded by `max_core_bytes` (the timeline's tail, then
//! per-step metrics and artifacts are dropped, and `metadata.truncated` says so); `metadata.delta`
//! compares the run with the previous AIOP of the same pipeline.

use super::history::{self, RunSummary};
use crate::connections::Redactor;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The JSON Schema `summary.json` follows (shipped in the repository, checked by the tests).
pub const SUMMARY_SCHEMA: &str = include_str!("../../schemas/aiop-summary.schema.json");

/// `@context` of every summary.
pub const CONTEXT: &str = "https://osiris.io/schemas/aiop/v1";

/// How much of the event stream the core timeline keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Density {
    /// Run start and end, and errors.
    Low,
    /// Plus every step's start and completion (the default).
    Medium,
    /// Every event.
    High,
}

impl Density {
    /// Parse `low`, `medium` or `high`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

/// AIOP settings (`aiop:` in osiris.yaml, `OSIRIS_AIOP_*`).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Root directory of the packages.
    pub dir: PathBuf,
    /// Upper bound of `summary.json`, in bytes.
    pub max_core_bytes: usize,
    /// Timeline density.
    pub timeline_density: Density,
    /// Write `run-card.md`.
    pub run_card: bool,
    /// Write `annex/*.ndjson` (every event and metric).
    pub annex: bool,
    /// Compare with the previous run of the pipeline.
    pub delta: bool,
    /// Packages kept per pipeline by `logs aiop prune`.
    pub keep_runs: usize,
}

impl Settings {
    /// The original's defaults, rooted at `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            max_core_bytes: 300_000,
            timeline_density: Density::Medium,
            run_card: true,
            annex: true,
            delta: true,
            keep_runs: 50,
        }
    }

    /// `<dir>/[<profile>/]<slug>/<manifest_short>-<manifest_hash>/<run_id>/`.
    pub fn run_dir(&self, profile: Option<&str>, slug: &str, manifest_hash: &str, run_id: &str) -> PathBuf {
        let mut d = self.dir.clone();
        if let Some(p) = profile.filter(|p| !p.is_empty()) {
            d = d.join(crate::runtime::slugify(p));
        }
        let short: String = manifest_hash.chars().take(7).collect();
        d.join(slug).join(format!("{short}-{manifest_hash}")).join(run_id)
    }

    /// Settings for runs under `runs_dir`: `aiop:` of the project's `osiris.yaml` (`project`,
    /// already parsed) under the `OSIRIS_AIOP_*` environment. The packages go to
    /// `filesystem.aiop_dir` (relative to `root`) when set, else beside the runs directory
    /// (`<runs_dir>/../aiop`, next to the run index). None when `aiop.enabled` is false.
    pub fn configured(runs_dir: &Path, root: &Path, project: &Value) -> Result<Option<Self>, AiopError> {
        let aiop = &project["aiop"];
        let env = |name: &str| std::env::var(format!("OSIRIS_AIOP_{name}")).ok().filter(|v| !v.trim().is_empty());
        let flag = |name: &str, yaml: &Value, default: bool| -> Result<bool, AiopError> {
            match env(name) {
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(AiopError::Setting(format!("OSIRIS_AIOP_{name} must be true or false, not `{v}`"))),
                },
                None => Ok(yaml.as_bool().unwrap_or(default)),
            }
        };
        if !flag("ENABLED", &aiop["enabled"], true)? {
            return Ok(None);
        }
        let dir = match project["filesystem"]["aiop_dir"].as_str() {
            Some(d) => crate::project::resolve_path(root, d),
            None => runs_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("aiop"),
        };
        let mut s = Self::new(dir);
        match env("MAX_CORE_BYTES") {
            Some(v) => {
                s.max_core_bytes = v.trim().parse().map_err(|_| {
                    AiopError::Setting(format!("OSIRIS_AIOP_MAX_CORE_BYTES must be a number of bytes, not `{v}`"))
                })?
            }
            None => {
                if let Some(n) = aiop["max_core_bytes"].as_u64() {
                    s.max_core_bytes = n as usize;
                }
            }
        }
        let density = env("TIMELINE_DENSITY").or_else(|| aiop["timeline_density"].as_str().map(str::to_string));
        if let Some(d) = density {
            s.timeline_density = Density::parse(d.trim()).ok_or_else(|| {
                AiopError::Setting(format!("aiop.timeline_density must be low, medium or high, not `{d}`"))
            })?;
        }
        s.run_card = flag("RUN_CARD", &aiop["run_card"], true)?;
        s.annex = flag("ANNEX_ENABLED", &aiop["annex"]["enabled"], true)?;
        s.delta = match env("DELTA").or_else(|| aiop["delta"].as_str().map(str::to_string)).as_deref() {
            None | Some("previous") => true,
            Some("none") => false,
            Some(other) => {
                return Err(AiopError::Setting(format!("aiop.delta must be previous or none, not `{other}`")))
            }
        };
        let keep = aiop["retention"]["keep_runs"].as_u64();
        if let Some(n) = keep.or(project["filesystem"]["retention"]["aiop_keep_runs_per_pipeline"].as_u64()) {
            s.keep_runs = n as usize;
        }
        Ok(Some(s))
    }

    /// The AIOP index, `<dir>/index/runs.jsonl`.
    pub fn index_path(&self) -> PathBuf {
        self.dir.join("index").join("runs.jsonl")
    }
}

/// Why an AIOP could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AiopError {
    /// The run directory holds no run.
    #[error("{0} is not a run directory")]
    NotARun(PathBuf),
    /// A setting has a value it cannot have.
    #[error("{0}")]
    Setting(String),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// `summary.json`.
    pub core_path: PathBuf,
    /// Its size.
    pub bytes_core: u64,
    /// Whether it was truncated to fit `max_core_bytes`.
    pub truncated: bool,
    /// `run-card.md`, when written.
    pub run_card_path: Option<PathBuf>,
    /// `annex/`, when written.
    pub annex_dir: Option<PathBuf>,
}

/// Build the package of the run in `run_dir` and write it to `out`; record it in the AIOP index.
pub fn export(run_dir: &Path, out: &Path, settings: &Settings, redactor: &Redactor) -> Result<Written, AiopError> {
    let run = history::load(run_dir).ok_or_else(|| AiopError::NotARun(run_dir.to_path_buf()))?;
    let events = history::events(run_dir);
    let slug = crate::runtime::slugify(&run.pipeline);
    let previous = if settings.delta { previous_record(settings, &slug, &run) } else { None };
    let mut summary = build(&run, &events, settings, previous.as_ref(), &manifest_of(run_dir));
    redactor.redact_json(&mut summary);
    let truncated = fit(&mut summary, settings.max_core_bytes);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AiopError::Io { path, source }
    };
    crate::runtime::create_private_dir(out).map_err(io(out))?;
    let core_path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).expect("JSON serializes");
    // Whole files for every reader, without disk flushes: a package is derived from the run dir
    // and `logs aiop export --run` makes it again, so a crash costs nothing a flush would save
    // (the run's own status.json and index record are the durable ones).
    crate::runtime::write_replacing(&core_path, text.as_bytes()).map_err(io(&core_path))?;
    let run_card_path = if settings.run_card {
        let p = out.join("run-card.md");
        crate::runtime::write_replacing(&p, redactor.redact(&run_card(&run, &summary)).as_bytes()).map_err(io(&p))?;
        Some(p)
    } else {
        None
    };
    let annex_dir = if settings.annex {
        let dir = out.join("annex");
        crate::runtime::create_private_dir(&dir).map_err(io(&dir))?;
        let errors: Vec<Value> = events.iter().filter(|e| is_error(e)).cloned().collect();
        for (name, lines) in [
            ("timeline.ndjson", events.clone()),
            ("metrics.ndjson", history::metrics(run_dir)),
            ("errors.ndjson", errors),
        ] {
            let p = dir.join(name);
            let mut body = String::new();
            for mut v in lines {
                redactor.redact_json(&mut v);
                body.push_str(&v.to_string());
                body.push('\n');
            }
            crate::runtime::write_replacing(&p, body.as_bytes()).map_err(io(&p))?;
        }
        Some(dir)
    } else {
        None
    };
    let written = Written { core_path, bytes_core: text.len() as u64, truncated, run_card_path, annex_dir };
    let record = json!({
        "session_id": run.run_id, "pipeline_slug": slug, "pipeline": run.pipeline,
        "manifest_hash": run.manifest_hash, "profile": run.profile, "status": run.status,
        "started_at": run.started_at, "ended_at": run.finished_at, "duration_ms": run.duration_ms,
        "total_rows": run.total_rows, "errors_count": run.errors(), "bytes_core": written.bytes_core,
        "bytes_annex": written.annex_dir.as_deref().map(crate::runtime::retention::size_of),
        "core_path": written.core_path, "run_card_path": written.run_card_path, "annex_dir": written.annex_dir,
        "truncated": truncated,
    });
    let index = settings.index_path();
    crate::runtime::append_locked(&index, &format!("{record}\n")).map_err(io(&index))?;
    Ok(written)
}

fn manifest_of(run_dir: &Path) -> Value {
    std::fs::read_to_string(run_dir.join("manifest.yaml"))
        .ok()
        .and_then(|t| serde_saphyr::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Every record of the AIOP index (oldest first).
pub fn records(settings: &Settings) -> Vec<Value> {
    std::fs::read_to_string(settings.index_path())
        .map(|t| t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
        .unwrap_or_default()
}

/// The newest earlier record of the same pipeline, the delta's baseline. "Earlier" by start
/// time (microseconds; run ids only have seconds), so a re-export of an old run compares it
/// with the run before it, not with the latest.
fn previous_record(settings: &Settings, slug: &str, run: &RunSummary) -> Option<Value> {
    let started = run.started_at.as_deref()?;
    records(settings).into_iter().rev().find(|r| {
        r["pipeline_slug"] == slug
            && r["session_id"] != json!(run.run_id)
            && r["started_at"].as_str().is_some_and(|t| t < started)
    })
}

fn is_error(e: &Value) -> bool {
    matches!(e["event"].as_str(), Some("step_failed" | "run_error"))
}

/// The timeline type of an event, or None when `density` leaves it out.
fn timeline_type(event: &str, density: Density) -> Option<&'static str> {
    let t = match event {
        "run_start" => "START",
        "run_end" => "COMPLETE",
        "step_failed" | "run_error" => "ERROR",
        "step_start" => "STEP_START",
        "step_complete" => "STEP_COMPLETE",
        "step_warning" => "WARNING",
        "cleanup_complete" => "METRICS",
        _ => "DEBUG",
    };
    let keep = match density {
        Density::Low => matches!(t, "START" | "COMPLETE" | "ERROR"),
        Density::Medium => t != "DEBUG",
        Density::High => true,
    };
    keep.then_some(t)
}

fn ts_ms(ts: &str) -> u128 {
    crate::runtime::retention::parse_rfc3339(ts)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn timeline(events: &[Value], density: Density) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| {
            let name = e["event"].as_str()?;
            let ty = timeline_type(name, density)?;
            let ts = e["ts"].as_str().unwrap_or_default();
            let scope = e["step_id"].as_str().unwrap_or("run");
            let mut data = e.as_object().cloned().unwrap_or_default();
            for k in ["ts", "run_id", "event", "step_id"] {
                data.shift_remove(k);
            }
            Some(json!({
                "@id": format!("ev.{}.{name}.{scope}.{}", ty.to_lowercase(), ts_ms(ts)),
                "ts": ts, "type": ty, "event": name, "step_id": e["step_id"], "data": data,
            }))
        })
        .collect()
}

fn edges(run: &RunSummary) -> Vec<Value> {
    let kind_of = |from: &str, to: &str| {
        let producer = run.steps.iter().find(|s| s.id == from);
        match producer {
            Some(p) if p.streams_to.as_deref() == Some(to) => "streamed",
            Some(p) => p.relation.as_deref().unwrap_or("table"),
            None => "table",
        }
    };
    run.steps
        .iter()
        .flat_map(|s| s.needs.iter().map(move |n| (n.clone(), s.id.clone())))
        .map(|(from, to)| json!({"from": from, "to": to, "kind": kind_of(&from, &to)}))
        .collect()
}

fn delta(run: &RunSummary, previous: Option<&Value>) -> Value {
    let Some(p) = previous else { return json!({"first_run": true}) };
    let change = |now: u64, before: Option<u64>| match before {
        Some(b) => {
            let pct = (b > 0).then(|| ((now as f64 - b as f64) / b as f64 * 1000.0).round() / 10.0);
            json!({"previous": b, "current": now, "change": now as i64 - b as i64, "change_pct": pct})
        }
        None => json!({"previous": null, "current": now}),
    };
    json!({
        "first_run": false,
        "previous_run_id": p["session_id"],
        "previous_status": p["status"],
        "status_changed": p["status"] != json!(run.status),
        "total_rows": change(run.total_rows, p["total_rows"].as_u64()),
        "duration_ms": change(run.duration_ms, p["duration_ms"].as_u64()),
    })
}

/// The summary before redaction and truncation.
fn build(run: &RunSummary, events: &[Value], settings: &Settings, previous: Option<&Value>, manifest: &Value) -> Value {
    let hash = run.manifest_hash.clone().unwrap_or_default();
    let id =
        if hash.is_empty() { "osiris://pipeline/unknown".to_string() } else { format!("osiris://pipeline/@{hash}") };
    let mut steps = Map::new();
    let mut durations = Map::new();
    for s in &run.steps {
        steps.insert(
            s.id.clone(),
            json!({"component": s.component, "mode": s.mode, "status": s.status, "rows": s.rows,
                "duration_ms": s.duration_ms, "relation": s.relation}),
        );
        durations.insert(s.id.clone(), json!(s.duration_ms));
    }
    let rows_source = if run.steps.iter().any(|s| s.mode == "write") { "writers" } else { "extractors" };
    let errors: Vec<Value> = run
        .steps
        .iter()
        .filter(|s| s.status == "failed")
        .map(|s| json!({"step_id": s.id, "component": s.component, "message": s.error}))
        .chain(
            run.error
                .iter()
                .filter(|_| run.steps.iter().all(|s| s.status != "failed"))
                .map(|e| json!({"step_id": e["step"], "kind": e["kind"], "message": e["message"]})),
        )
        .collect();
    let artifacts: Vec<Value> = artifacts(&run.run_dir);
    let timeline = timeline(events, settings.timeline_density);
    let error_refs: Vec<Value> = timeline.iter().filter(|t| t["type"] == "ERROR").map(|t| t["@id"].clone()).collect();
    let intent = manifest["metadata"]["intent"]
        .as_str()
        .or(manifest["metadata"]["description"].as_str())
        .or(manifest["description"].as_str())
        .map(str::to_string);
    json!({
        "@context": CONTEXT,
        "@id": id,
        "run": {
            "session_id": run.run_id, "status": run.status, "started_at": run.started_at,
            "completed_at": run.finished_at, "duration_ms": run.duration_ms, "total_rows": run.total_rows,
            "environment": "local", "profile": run.profile,
        },
        "pipeline": {"name": run.pipeline, "manifest_hash": hash},
        "evidence": {
            "timeline": timeline,
            "metrics": {
                "total_rows": run.total_rows, "total_duration_ms": run.duration_ms, "rows_source": rows_source,
                "steps": steps, "durations": durations,
            },
            "errors": errors,
            "warnings": run.warnings,
            "artifacts": artifacts,
        },
        "semantic": {
            "@type": "SemanticLayer",
            "@id": format!("{id}/semantic"),
            "dag": {
                "nodes": run.steps.iter().map(|s| json!({"id": s.id, "component": s.component, "mode": s.mode})).collect::<Vec<_>>(),
                "edges": edges(run),
            },
            "components": run.steps.iter().map(|s| (s.component.clone(), json!({"family": s.component.split('.').next(), "mode": s.mode}))).collect::<Map<_, _>>(),
            "graph_hints": {
                "sources": run.steps.iter().filter(|s| s.needs.is_empty()).map(|s| &s.id).collect::<Vec<_>>(),
                "sinks": run.steps.iter().filter(|s| s.mode == "write").map(|s| &s.id).collect::<Vec<_>>(),
                "steps_total": run.steps.len(),
            },
        },
        "narrative": {
            "summary": narrative(run, rows_source),
            "intent": intent,
            "evidence_refs": error_refs,
        },
        "metadata": {
            "aiop_format": "1.0",
            "generator": format!("osiris {}", env!("CARGO_PKG_VERSION")),
            "truncated": false,
            "delta": delta(run, previous),
            "config_effective": {
                "max_core_bytes": settings.max_core_bytes, "timeline_density": settings.timeline_density,
                "run_card": settings.run_card, "annex": settings.annex, "delta": if settings.delta { "previous" } else { "none" },
            },
            "compute": {"rows_source": rows_source, "total_rows": run.total_rows},
            "size_hints": {"timeline_events": events.len(), "steps": run.steps.len()},
            "llm_primer": {
                "about": "One osiris run: a DAG of steps (extract, transform, write) exchanging data through one DuckDB file. `run` is the outcome, `evidence` what was observed, `semantic` the pipeline's shape, `metadata.delta` the change since the previous run of the same pipeline.",
                "glossary": {
                    "step": "one node of the pipeline; its output is a relation named by its id",
                    "relation": "table (materialised) or view (computed when its consumer reads it)",
                    "streamed": "an edge where the extractor streamed rows straight into its writer",
                    "total_rows": "rows delivered by writers, or read by extractors when there is no writer (rows_source)",
                },
            },
            "size_bytes": 0,
        },
        "controls": {
            "examples": [
                format!("osiris logs show {}", run.run_id),
                format!("osiris logs aiop show --run {}", run.run_id),
                format!("osiris run {}", run.run_dir.join("manifest.yaml").display()),
            ],
        },
    })
}

fn narrative(run: &RunSummary, rows_source: &str) -> String {
    let verb = match run.status.as_str() {
        "success" => "succeeded",
        "failed" => "failed",
        "cancelled" => "was cancelled",
        other => other,
    };
    let mut s = format!(
        "Run {} of pipeline `{}` {verb} in {:.1} s: {} of {} steps succeeded, {} rows ({rows_source}).",
        run.run_id,
        run.pipeline,
        run.duration_ms as f64 / 1000.0,
        run.steps_ok(),
        run.steps.len(),
        run.total_rows
    );
    if let Some(e) = &run.error {
        s.push_str(&format!(
            " The first failure was in step `{}` ({}): {}",
            e["step"].as_str().unwrap_or("-"),
            e["kind"].as_str().unwrap_or("error"),
            e["message"].as_str().unwrap_or("")
        ));
    }
    s
}

/// Files of the run directory (not the exchange database's rows), with sizes.
fn artifacts(run_dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = vec![run_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(run_dir).unwrap_or(&path).to_string_lossy().into_owned();
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let digest = crate::compiler::canonical::sha256_hex(rel.as_bytes());
            out.push(json!({"@id": format!("artifact.{stem}.{}", &digest[..8]), "path": rel,
                "size_bytes": e.metadata().map(|m| m.len()).unwrap_or(0)}));
        }
    }
    out
}

/// Shrink `summary` under `max` bytes: drop the timeline's tail (errors kept), then per-step
/// metrics, then artifacts. Returns whether anything was dropped; `metadata.size_bytes` is set.
fn fit(summary: &mut Value, max: usize) -> bool {
    let size = |v: &Value| serde_json::to_string_pretty(v).map(|s| s.len()).unwrap_or(0);
    let mut dropped = Map::new();
    let mut truncated = false;
    while size(summary) > max {
        let timeline = summary["evidence"]["timeline"].as_array_mut().expect("built with a timeline");
        // The last non-error events, a tenth of the timeline at a time (few re-serialisations).
        let droppable: Vec<usize> = (0..timeline.len()).rev().filter(|&i| timeline[i]["type"] != "ERROR").collect();
        if timeline.len() > 2 && !droppable.is_empty() {
            let n = (timeline.len() / 10).clamp(1, droppable.len());
            let mut gone: Vec<usize> = droppable[..n].to_vec();
            gone.sort_unstable();
            for i in gone.into_iter().rev() {
                timeline.remove(i);
            }
            let count = dropped.get("timeline").and_then(Value::as_u64).unwrap_or(0) + n as u64;
            dropped.insert("timeline".into(), json!(count));
        } else if summary["evidence"]["metrics"]["steps"].as_object().is_some_and(|m| !m.is_empty()) {
            summary["evidence"]["metrics"]["steps"] = json!({});
            summary["evidence"]["metrics"]["durations"] = json!({});
            dropped.insert("metrics_steps".into(), json!(true));
        } else if summary["evidence"]["artifacts"].as_array().is_some_and(|a| !a.is_empty()) {
            summary["evidence"]["artifacts"] = json!([]);
            dropped.insert("artifacts".into(), json!(true));
        } else {
            break;
        }
        truncated = true;
    }
    summary["metadata"]["truncated"] = json!(truncated);
    if truncated {
        summary["metadata"]["truncation"] = Value::Object(dropped);
    }
    let bytes = size(summary);
    summary["metadata"]["size_bytes"] = json!(bytes);
    // The number's own digits may change the size by a few bytes; settle on the final figure.
    let bytes = size(summary);
    summary["metadata"]["size_bytes"] = json!(bytes);
    truncated
}

/// A Markdown card of the run for people and agents.
fn run_card(run: &RunSummary, summary: &Value) -> String {
    let mut md = format!(
        "# Run {} — {}\n\n- Pipeline: `{}`\n- Status: **{}**\n- Started: {}\n- Duration: {} ms\n- Total rows: {} ({})\n\n",
        run.run_id,
        run.status,
        run.pipeline,
        run.status,
        run.started_at.as_deref().unwrap_or("-"),
        run.duration_ms,
        run.total_rows,
        summary["metadata"]["compute"]["rows_source"].as_str().unwrap_or("")
    );
    md.push_str("| step | component | status | rows | ms |\n|---|---|---|---:|---:|\n");
    for s in &run.steps {
        let rows = s.rows.map(|r| r.to_string()).unwrap_or_else(|| s.relation.clone().unwrap_or("-".into()));
        md.push_str(&format!("| {} | {} | {} | {rows} | {} |\n", s.id, s.component, s.status, s.duration_ms));
    }
    if let Some(e) = &run.error {
        md.push_str(&format!(
            "\n## Error\n\nStep `{}` ({}): {}\n",
            e["step"].as_str().unwrap_or("-"),
            e["kind"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        ));
    }
    if !run.warnings.is_empty() {
        md.push_str("\n## Warnings\n\n");
        for w in &run.warnings {
            md.push_str(&format!("- {w}\n"));
        }
    }
    let delta = &summary["metadata"]["delta"];
    if delta["first_run"] == false {
        md.push_str(&format!(
            "\n## Since the previous run ({})\n\n- rows: {} → {}\n- duration: {} ms → {} ms\n",
            delta["previous_run_id"].as_str().unwrap_or("-"),
            delta["total_rows"]["previous"],
            delta["total_rows"]["current"],
            delta["duration_ms"]["previous"],
            delta["duration_ms"]["current"]
        ));
    }
    md
}

/// Remove packages beyond the newest `settings.keep_runs` of each pipeline; returns the removed
/// directories (or, with `dry_run`, those that would be).
pub fn prune(settings: &Settings, dry_run: bool) -> std::io::Result<Vec<PathBuf>> {
    let all = records(settings);
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut keep = Vec::new();
    let mut removed = Vec::new();
    for r in all.iter().rev() {
        let slug = r["pipeline_slug"].as_str().unwrap_or_default().to_string();
        let n = seen.entry(slug).or_default();
        *n += 1;
        let dir = r["core_path"].as_str().and_then(|p| Path::new(p).parent()).map(Path::to_path_buf);
        if *n > settings.keep_runs {
            if let Some(d) = dir {
                if !dry_run && d.is_dir() {
                    std::fs::remove_dir_all(&d)?;
                }
                removed.push(d);
            }
        } else {
            keep.push(r);
        }
    }
    if !dry_run && !removed.is_empty() {
        let body: String = keep.iter().rev().map(|r| format!("{r}\n")).collect();
        crate::runtime::write_atomic(&settings.index_path(), body.as_bytes())?;
    }
    Ok(removed)
}
