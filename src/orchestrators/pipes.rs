//! The Dagster Pipes protocol, external side: when Dagster launches `osiris run` with
//! `DAGSTER_PIPES_CONTEXT` and `DAGSTER_PIPES_MESSAGES` set (each base64 of zlib-compressed JSON),
//! the run reports to Dagster as it goes.
//!
//! Messages (`{"__dagster_pipes_version": "0.1", "method", "params"}`, one JSON object per line):
//! `opened`; `log` when a step starts or ends; after the run one `report_asset_materialization`
//! per successful step **in the manifest's (topological) order**, whatever order streamed edges
//! finished in; one `report_custom_message` with the `run --json` object; `closed`, with an
//! `exception` when the run did not succeed. Invalid input (exit 2) is reported as the custom
//! message `{"status": "invalid", "exit_code": 2}` and an `OsirisInvalidInput` exception, so a
//! launcher that only sees a failed pod or container still knows not to retry. The channel is the one the message params name: a
//! file (`path`, what `PipesSubprocessClient` reads) or `stdout`/`stderr` (`stdio`, what the
//! Kubernetes client reads from pod logs).

use crate::runtime::{Progress, RunOutcome, StepReport, StepStatus};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The environment variable holding the context parameters.
pub const CONTEXT_ENV: &str = "DAGSTER_PIPES_CONTEXT";
/// The environment variable holding the message parameters.
pub const MESSAGES_ENV: &str = "DAGSTER_PIPES_MESSAGES";
/// The protocol version written into every message.
const PROTOCOL_VERSION: &str = "0.1";

/// Pipes parameters that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("Dagster Pipes: {0}")]
pub struct PipesError(String);

/// Where messages go.
enum Channel {
    File(PathBuf),
    Stdout,
    Stderr,
}

/// A Pipes session with the Dagster process that launched this run.
pub struct PipesSession {
    channel: Mutex<Channel>,
    asset_keys: Option<Vec<String>>,
    extras: Map<String, Value>,
}

/// `base64(zlib(json))` → JSON.
fn decode_param(text: &str) -> Result<Value, PipesError> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| PipesError(format!("parameters are not base64: {e}")))?;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_string(&mut json)
        .map_err(|e| PipesError(format!("parameters are not zlib-compressed text: {e}")))?;
    serde_json::from_str(&json).map_err(|e| PipesError(format!("parameters are not JSON: {e}")))
}

impl PipesSession {
    /// The session Dagster set up for this process, or None when it was not launched by Dagster.
    pub fn from_env() -> Result<Option<Self>, PipesError> {
        let (Ok(context), Ok(messages)) = (std::env::var(CONTEXT_ENV), std::env::var(MESSAGES_ENV)) else {
            return Ok(None);
        };
        let context_params = decode_param(&context)?;
        let data = match (context_params.get("path").and_then(Value::as_str), context_params.get("data")) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| PipesError(format!("cannot read the context file {path}: {e}")))?;
                serde_json::from_str::<Value>(&text).map_err(|e| PipesError(format!("context file {path}: {e}")))?
            }
            (None, Some(data)) => data.clone(),
            (None, None) => return Err(PipesError("context parameters name neither `path` nor `data`".into())),
        };
        let message_params = decode_param(&messages)?;
        let channel = if let Some(path) = message_params.get("path").and_then(Value::as_str) {
            Channel::File(PathBuf::from(path))
        } else {
            match message_params.get("stdio").or_else(|| message_params.get("buffered_stdio")).and_then(Value::as_str) {
                Some("stdout") => Channel::Stdout,
                Some("stderr") => Channel::Stderr,
                other => {
                    return Err(PipesError(format!(
                        "message parameters name no channel this process can write (path, stdio): {other:?}"
                    )))
                }
            }
        };
        let asset_keys = data
            .get("asset_keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect());
        let extras = data.get("extras").and_then(Value::as_object).cloned().unwrap_or_default();
        Ok(Some(Self { channel: Mutex::new(channel), asset_keys, extras }))
    }

    fn write(&self, method: &str, params: Value) {
        let line = json!({"__dagster_pipes_version": PROTOCOL_VERSION, "method": method, "params": params}).to_string();
        let channel = self.channel.lock().unwrap_or_else(|p| p.into_inner());
        // A message that cannot be delivered must not fail the run it reports on.
        let _ = match &*channel {
            Channel::File(path) => {
                std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| writeln!(f, "{line}"))
            }
            Channel::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|_| out.flush())
            }
            Channel::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }

    /// `opened`.
    pub fn opened(&self) {
        self.write("opened", json!({"extras": {}}));
    }

    /// A `log` line at `level` (`INFO`, `WARNING`, `ERROR`).
    pub fn log(&self, level: &str, message: &str) {
        self.write("log", json!({"message": message, "level": level}));
    }

    /// Pipeline parameters Dagster passes as `extras: {params: {NAME: VALUE}}` (what `--param`
    /// gives; a `--param` on the command line wins).
    pub fn params(&self) -> Vec<(String, String)> {
        let Some(params) = self.extras.get("params").and_then(Value::as_object) else { return Vec::new() };
        params
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect()
    }

    /// One `report_asset_materialization` per successful step in execution (topological)
    /// order, for the steps Dagster has in scope, then the `run --json` object.
    pub fn report_run(&self, pipeline: &str, outcome: &RunOutcome, run_json: &Value) {
        for step in outcome.steps.iter().filter(|s| s.status == StepStatus::Success) {
            let key = super::asset_key(pipeline, &step.id);
            if self.asset_keys.as_ref().is_some_and(|keys| !keys.contains(&key)) {
                continue;
            }
            self.write(
                "report_asset_materialization",
                json!({"asset_key": key, "data_version": null, "metadata": metadata(step, &outcome.run_id)}),
            );
        }
        self.write("report_custom_message", json!({"payload": run_json}));
    }

    /// `closed`, with the run's failure as the exception.
    pub fn closed(&self, failure: Option<&str>) {
        self.close(failure.map(|message| ("OsirisRunFailed", message)));
    }

    /// The pipeline did not start (exit 2): the custom message `{"status": "invalid",
    /// "exit_code": 2}`, then `closed` with an `OsirisInvalidInput` exception.
    pub fn invalid(&self) {
        self.write("report_custom_message", json!({"payload": {"status": "invalid", "exit_code": 2}}));
        self.close(Some((
            "OsirisInvalidInput",
            "invalid input: the pipeline did not start (exit 2); the diagnostics are in the log above",
        )));
    }

    fn close(&self, exception: Option<(&str, &str)>) {
        let params = match exception {
            Some((name, message)) => {
                json!({"exception": {"message": message, "stack": [], "name": name, "cause": null, "context": null}})
            }
            None => json!({}),
        };
        self.write("closed", params);
    }
}

/// A step's materialization metadata in the Pipes form (`{raw_value, type}` per entry).
fn metadata(step: &StepReport, run_id: &str) -> Value {
    let mut m = Map::new();
    if let Some(rows) = step.rows {
        m.insert("rows".into(), json!({"raw_value": rows, "type": "int"}));
    }
    m.insert("duration_ms".into(), json!({"raw_value": step.duration_ms, "type": "int"}));
    m.insert("component".into(), json!({"raw_value": step.component, "type": "text"}));
    if let Some(relation) = step.relation {
        m.insert("relation".into(), json!({"raw_value": relation, "type": "text"}));
    }
    m.insert("osiris_run_id".into(), json!({"raw_value": run_id, "type": "text"}));
    Value::Object(m)
}

impl Progress for PipesSession {
    fn step_started(&self, id: &str, component: &str) {
        self.log("INFO", &format!("step {id} ({component}) started"));
    }

    fn step_finished(&self, report: &StepReport) {
        let level = if report.status == StepStatus::Success { "INFO" } else { "ERROR" };
        let rows = report.rows.map(|r| format!(", {r} rows")).unwrap_or_default();
        let status = serde_json::to_value(report.status).ok().and_then(|v| v.as_str().map(str::to_string));
        self.log(
            level,
            &format!("step {} {}{rows} in {} ms", report.id, status.unwrap_or_default(), report.duration_ms),
        );
    }
}

/// Progress that goes to two receivers (the terminal's bars and Dagster).
pub struct Both<'a>(pub &'a dyn Progress, pub &'a dyn Progress);

impl Progress for Both<'_> {
    fn step_started(&self, id: &str, component: &str) {
        self.0.step_started(id, component);
        self.1.step_started(id, component);
    }

    fn step_finished(&self, report: &StepReport) {
        self.0.step_finished(report);
        self.1.step_finished(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_decode_as_dagster_encodes_them() {
        use flate2::write::ZlibEncoder;
        let mut z = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(br#"{"path": "/tmp/x"}"#).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
        assert_eq!(decode_param(&encoded).unwrap(), json!({"path": "/tmp/x"}));
        assert!(decode_param("not base64!").is_err());
    }
}
