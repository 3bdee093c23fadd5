//! The run's log files: `events.jsonl`, `metrics.jsonl` and `osiris.log`. Every line passes
//! through the redactor, so secret values cannot reach these files.

use crate::connections::Redactor;
use crate::drivers::Telemetry;
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

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

/// Thread-safe writer of one run's events, metrics and log.
pub struct RunLog {
    run_id: String,
    redactor: Redactor,
    files: Mutex<Files>,
    warnings: Mutex<Vec<String>>,
}

impl RunLog {
    /// Create the three files in `run_dir`.
    pub fn create(run_dir: &Path, run_id: &str, redactor: Redactor) -> std::io::Result<Self> {
        let open = |n: &str| File::create(run_dir.join(n)).map(BufWriter::new);
        Ok(Self {
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

    fn write_json(&self, pick: fn(&mut Files) -> &mut BufWriter<File>, mut value: Value) {
        self.redactor.redact_json(&mut value);
        let line = value.to_string();
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let out = pick(&mut files);
        // Flushed per line: events are few, and a killed run must still show how far it got.
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
    }

    /// A human-readable line in `osiris.log`.
    pub fn log(&self, level: &str, message: &str) {
        let line = format!("{} {level:<5} {}", now_rfc3339(), self.redactor.redact(message));
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(files.log, "{line}");
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
        self.write_json(|f| &mut f.events, Value::Object(obj));
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
        self.write_json(|f| &mut f.metrics, v);
    }
}
