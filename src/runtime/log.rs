//! The run's log files: `events.jsonl`, `metrics.jsonl` and `osiris.log`. Every line passes
//! through the redactor, so secret values cannot reach these files.

use crate::connections::Redactor;
use crate::drivers::Telemetry;
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Current UTC time as RFC 3339 with microseconds.
pub fn now_rfc3339() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    time::OffsetDateTime::now_utc().format(&f).expect("static format")
}

struct Files {
    events: BufWriter<File>,
    metrics: BufWriter<File>,
    log: BufWriter<File>,
}

/// Receives each event and metric line of a run as it is written (already redacted): how a
/// worker streams its run to the host.
pub trait LogTap: Send + Sync {
    /// An `events.jsonl` line.
    fn event(&self, line: &Value);
    /// A `metrics.jsonl` line.
    fn metric(&self, line: &Value);
    /// An `osiris.log` line: level and redacted message.
    fn log(&self, level: &str, message: &str);
}

/// Which of the run's JSON-lines files a line goes to.
#[derive(Clone, Copy)]
enum Stream {
    Events,
    Metrics,
}

/// Thread-safe writer of one run's events, metrics and log.
pub struct RunLog {
    run_id: String,
    redactor: Redactor,
    files: Mutex<Files>,
    warnings: Mutex<Vec<String>>,
    tap: Option<Arc<dyn LogTap>>,
}

impl RunLog {
    /// Create the three files in `run_dir`.
    pub fn create(
        run_dir: &Path,
        run_id: &str,
        redactor: Redactor,
        tap: Option<Arc<dyn LogTap>>,
    ) -> std::io::Result<Self> {
        let open = |n: &str| File::create(run_dir.join(n)).map(BufWriter::new);
        Ok(Self {
            tap,
            run_id: run_id.to_string(),
            redactor,
            warnings: Mutex::new(Vec::new()),
            files: Mutex::new(Files {
                events: open("events.jsonl")?,
                metrics: open("metrics.jsonl")?,
                log: open("osiris.log")?,
            }),
        })
    }

    fn write_json(&self, stream: Stream, mut value: Value) {
        self.redactor.redact_json(&mut value);
        let line = value.to_string();
        {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            let out = match stream {
                Stream::Events => &mut files.events,
                Stream::Metrics => &mut files.metrics,
            };
            // Flushed per line: events are few, and a killed run must still show how far it got.
            let _ = writeln!(out, "{line}").and_then(|_| out.flush());
        }
        if let Some(tap) = &self.tap {
            match stream {
                Stream::Events => tap.event(&value),
                Stream::Metrics => tap.metric(&value),
            }
        }
    }

    /// Append an event line made elsewhere (a remote worker's), redacted.
    pub fn append_event(&self, line: Value) {
        self.write_json(Stream::Events, line);
    }

    /// Append a metric line made elsewhere (a remote worker's), redacted.
    pub fn append_metric(&self, line: Value) {
        self.write_json(Stream::Metrics, line);
    }

    /// Record a warning raised elsewhere (a remote worker's `step: message`), redacted.
    pub fn add_warning(&self, line: &str) {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(self.redactor.redact(line));
    }

    /// A human-readable line in `osiris.log`.
    pub fn log(&self, level: &str, message: &str) {
        let message = self.redactor.redact(message);
        {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(files.log, "{} {level:<5} {message}", now_rfc3339());
        }
        if let Some(tap) = &self.tap {
            tap.log(level, &message);
        }
    }

    /// Step warnings so far, as `step: message` (redacted).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Flush all files.
    pub fn flush(&self) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let _ = files.events.flush();
        let _ = files.metrics.flush();
        let _ = files.log.flush();
    }
}

impl Telemetry for RunLog {
    fn event(&self, name: &str, step_id: Option<&str>, fields: Value) {
        let mut obj = Map::new();
        obj.insert("ts".into(), Value::String(now_rfc3339()));
        obj.insert("run_id".into(), Value::String(self.run_id.clone()));
        obj.insert("event".into(), Value::String(name.into()));
        if let Some(s) = step_id {
            obj.insert("step_id".into(), Value::String(s.into()));
        }
        if let Value::Object(f) = fields {
            for (k, v) in f {
                obj.entry(k).or_insert(v);
            }
        }
        self.write_json(Stream::Events, Value::Object(obj));
    }

    fn warning(&self, step_id: &str, message: &str) {
        self.event("step_warning", Some(step_id), json!({"message": message}));
        self.log("WARN", &format!("step {step_id}: {message}"));
        let line = format!("{step_id}: {}", self.redactor.redact(message));
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn metric(&self, name: &str, value: f64, step_id: Option<&str>) {
        let mut v = json!({"ts": now_rfc3339(), "run_id": self.run_id, "metric": name, "value": value});
        if let Some(s) = step_id {
            v["step_id"] = Value::String(s.into());
        }
        self.write_json(Stream::Metrics, v);
    }
}
