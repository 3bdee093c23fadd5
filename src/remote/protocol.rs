//! The worker protocol, version 1: one JSON object per line. Host → worker lines are commands
//! (`cmd`); worker → host lines are replies (`status`) or streamed messages (`type`). Every line
//! is checked against `schemas/worker-protocol-v1.schema.json` by whoever receives it, then read
//! into these types. Names follow the original Osiris `ProxyWorker` protocol where it has them.

use crate::connections::ConnectionTransfer;
use crate::runtime::StepReport;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The protocol version both sides announce in `hello`.
pub const PROTOCOL: u32 = 1;

/// The longest line either side accepts.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The largest `artifact` chunk.
pub const MAX_CHUNK_BYTES: usize = 4 << 20;

/// This binary's version, sent in `hello`.
pub const OSIRIS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Host → worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Opens the conversation.
    Hello {
        /// [`PROTOCOL`].
        protocol: u32,
        /// The host's osiris version.
        osiris: String,
    },
    /// The run to execute.
    Prepare(Box<Prepare>),
    /// Execute the prepared run.
    Run,
    /// Stop the running run (its writers roll back); it ends with `run_complete`.
    Cancel,
    /// Liveness check.
    Ping {
        /// Echoed back.
        #[serde(default)]
        data: Value,
    },
    /// Read part of a file of the run directory.
    Artifact {
        /// Relative to the run directory, e.g. `pipeline_data.duckdb`.
        path: String,
        /// Where to start.
        #[serde(default)]
        offset: u64,
        /// At most this many bytes ([`MAX_CHUNK_BYTES`] when absent).
        #[serde(default)]
        max_bytes: Option<usize>,
    },
    /// End the session: remove the session directory (unless `keep`), answer, exit.
    Cleanup {
        /// Leave the session directory in place.
        #[serde(default)]
        keep: bool,
    },
}

/// `prepare`: everything the worker needs, secrets included (they travel only here).
#[derive(Debug, Serialize, Deserialize)]
pub struct Prepare {
    /// The host's run id; the remote run uses it.
    pub session_id: String,
    /// The compiled manifest, YAML text.
    pub manifest: String,
    /// cfg per step id.
    pub cfgs: BTreeMap<String, Map<String, Value>>,
    /// The resolved connections the steps use.
    pub connections: Vec<ConnectionTransfer>,
    /// The host's committed incremental state files (`<step>.json` → content).
    #[serde(default)]
    pub state: BTreeMap<String, Value>,
    /// Run options.
    pub options: RunSettings,
}

/// The run options a host passes on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    /// Steps running at once.
    pub max_parallel: usize,
    /// DuckDB memory limit.
    pub memory_limit: String,
    /// Ignore committed state and resume spools.
    pub full_refresh: bool,
    /// Every relation a table.
    pub materialize_all: bool,
}

/// Worker → host: a reply or a streamed message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FromWorker {
    /// The answer to a command.
    Reply(Reply),
    /// Sent while a command runs.
    Streamed(Streamed),
}

/// The answer to the last command.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reply {
    /// To `hello`.
    Hello {
        /// The worker's protocol version.
        protocol: u32,
        /// The worker's osiris version.
        osiris: String,
        /// The worker's process id.
        pid: u32,
    },
    /// To `prepare`.
    Ready {
        /// The session (= run) id.
        session_id: String,
        /// Where the worker keeps the session.
        session_dir: String,
        /// Components of the manifest, as the worker's registry knows them.
        drivers_loaded: Vec<String>,
    },
    /// The end of `run`.
    RunComplete {
        /// The worker's `status.json` object.
        outcome: Value,
        /// The state files the run committed (empty unless it succeeded).
        #[serde(default)]
        states: BTreeMap<String, Value>,
    },
    /// To `ping`.
    Pong {
        /// When the worker answered.
        timestamp: String,
        /// The ping's `data`.
        #[serde(default)]
        echo: Value,
    },
    /// To `artifact`.
    Chunk {
        /// The file.
        path: String,
        /// Where this chunk starts.
        offset: u64,
        /// The bytes, base64.
        data: String,
        /// The file ends with this chunk.
        eof: bool,
    },
    /// To `cleanup`.
    Cleaned {
        /// The session.
        session_id: String,
        /// Steps that succeeded.
        steps_executed: u64,
        /// Rows delivered.
        total_rows: u64,
    },
    /// A command failed.
    Error {
        /// What went wrong.
        error: ErrorBody,
    },
}

/// The `error` of a reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `protocol_mismatch`, `protocol_error`, `invalid_command`, `prepare_failed`,
    /// `not_prepared`, `busy`, `not_found`, `internal`.
    pub code: String,
    /// Redacted explanation.
    pub message: String,
}

/// What a worker sends while a command runs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Streamed {
    /// An `events.jsonl` line: `name` is its `event`, `timestamp` its `ts`, `data` the rest.
    Event {
        /// Event name.
        name: String,
        /// RFC 3339.
        timestamp: String,
        /// The other fields (`run_id`, `step_id`, …) in order.
        data: Map<String, Value>,
    },
    /// A `metrics.jsonl` line: `tags` holds `run_id` and `step_id`.
    Metric {
        /// Metric name.
        name: String,
        /// Value.
        value: f64,
        /// RFC 3339.
        timestamp: String,
        /// `run_id`, `step_id`.
        tags: Map<String, Value>,
    },
    /// A step started (`status: running`) or ended (with its report).
    Progress {
        /// Step id.
        step: String,
        /// Component.
        component: String,
        /// `running`, or the final status.
        status: String,
        /// The step's report, once it ended.
        #[serde(default)]
        report: Option<StepReport>,
    },
    /// A line for the host's `osiris.log`.
    Log {
        /// `DEBUG`, `INFO`, `WARN`, `ERROR`.
        level: String,
        /// Redacted text.
        message: String,
    },
    /// The worker is alive (every [`HEARTBEAT_SECS`] seconds).
    Heartbeat {
        /// RFC 3339.
        timestamp: String,
    },
}

/// How often a worker says it is alive.
pub const HEARTBEAT_SECS: u64 = 2;

/// A line that is not a valid message.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: {excerpt}")]
pub struct ProtocolError {
    /// Why it was refused.
    pub reason: String,
    /// The line's first 200 characters.
    pub excerpt: String,
}

impl ProtocolError {
    fn new(reason: impl Into<String>, line: &str) -> Self {
        Self { reason: reason.into(), excerpt: line.chars().take(200).collect() }
    }
}

const SCHEMA: &str = include_str!("../../schemas/worker-protocol-v1.schema.json");

/// A validator for one of the schema's definitions.
fn validator(definition: &str) -> jsonschema::Validator {
    let mut schema: Value = serde_json::from_str(SCHEMA).expect("the protocol schema is JSON");
    schema["oneOf"] = serde_json::json!([{"$ref": format!("#/$defs/{definition}")}]);
    jsonschema::validator_for(&schema).expect("the protocol schema compiles")
}

fn check(validator: &jsonschema::Validator, line: &str) -> Result<Value, ProtocolError> {
    let value: Value = serde_json::from_str(line).map_err(|e| ProtocolError::new(format!("not JSON ({e})"), line))?;
    if let Some(e) = validator.iter_errors(&value).next() {
        return Err(ProtocolError::new(format!("not a valid message ({e} at `{}`)", e.instance_path()), line));
    }
    Ok(value)
}

/// Read a host → worker line: schema first, then the type.
pub fn parse_command(line: &str) -> Result<Command, ProtocolError> {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    let value = check(V.get_or_init(|| validator("command")), line)?;
    serde_json::from_value(value).map_err(|e| ProtocolError::new(format!("not a valid command ({e})"), line))
}

/// Read a worker → host line: schema first, then the type.
pub fn parse_from_worker(line: &str) -> Result<FromWorker, ProtocolError> {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    let value = check(V.get_or_init(|| validator("from_worker")), line)?;
    serde_json::from_value(value).map_err(|e| ProtocolError::new(format!("not a valid message ({e})"), line))
}

/// Read one line of at most [`MAX_LINE_BYTES`] (without its newline); None at the end of the
/// stream. A longer line or one that is not UTF-8 is an error.
pub fn read_line(input: &mut impl std::io::BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    use std::io::{BufRead, Read};
    buf.clear();
    let n = input.by_ref().take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        return Err(std::io::Error::other(format!("a line longer than {MAX_LINE_BYTES} bytes")));
    }
    String::from_utf8(std::mem::take(buf))
        .map(Some)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "a line that is not UTF-8"))
}

/// A message as one line (no newline).
pub fn to_line<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).expect("protocol messages serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every message the code can build passes the schema the other side checks it with.
    #[test]
    fn every_message_type_round_trips_through_the_schema() {
        let commands = vec![
            Command::Hello { protocol: PROTOCOL, osiris: "0.1.0".into() },
            Command::Prepare(Box::new(Prepare {
                session_id: "r1".into(),
                manifest: "pipeline: {}".into(),
                cfgs: BTreeMap::from([("a".into(), Map::new())]),
                connections: vec![ConnectionTransfer {
                    family: "mysql".into(),
                    alias: "db".into(),
                    default: true,
                    fields: Map::new(),
                    secrets: [("password".to_string(), "pw".to_string())].into_iter().collect(),
                }],
                state: BTreeMap::new(),
                options: RunSettings {
                    max_parallel: 2,
                    memory_limit: "1GB".into(),
                    full_refresh: false,
                    materialize_all: false,
                },
            })),
            Command::Run,
            Command::Cancel,
            Command::Ping { data: json!(1) },
            Command::Artifact { path: "pipeline_data.duckdb".into(), offset: 0, max_bytes: Some(10) },
            Command::Cleanup { keep: false },
        ];
        for c in commands {
            let line = to_line(&c);
            assert_eq!(to_line(&parse_command(&line).unwrap_or_else(|e| panic!("{line}: {e}"))), line);
        }
        let from_worker = vec![
            FromWorker::Reply(Reply::Hello { protocol: 1, osiris: "0.1.0".into(), pid: 7 }),
            FromWorker::Reply(Reply::Ready {
                session_id: "r".into(),
                session_dir: "/t".into(),
                drivers_loaded: vec![],
            }),
            FromWorker::Reply(Reply::RunComplete {
                outcome: json!({"status": "success", "steps": []}),
                states: BTreeMap::new(),
            }),
            FromWorker::Reply(Reply::Pong { timestamp: "t".into(), echo: json!(null) }),
            FromWorker::Reply(Reply::Chunk { path: "p".into(), offset: 0, data: String::new(), eof: true }),
            FromWorker::Reply(Reply::Cleaned { session_id: "r".into(), steps_executed: 1, total_rows: 2 }),
            FromWorker::Reply(Reply::Error { error: ErrorBody { code: "internal".into(), message: "m".into() } }),
            FromWorker::Streamed(Streamed::Event { name: "e".into(), timestamp: "t".into(), data: Map::new() }),
            FromWorker::Streamed(Streamed::Metric {
                name: "m".into(),
                value: 1.5,
                timestamp: "t".into(),
                tags: Map::new(),
            }),
            FromWorker::Streamed(Streamed::Progress {
                step: "a".into(),
                component: "c".into(),
                status: "running".into(),
                report: None,
            }),
            FromWorker::Streamed(Streamed::Log { level: "INFO".into(), message: "m".into() }),
            FromWorker::Streamed(Streamed::Heartbeat { timestamp: "t".into() }),
        ];
        for m in from_worker {
            let line = to_line(&m);
            assert_eq!(to_line(&parse_from_worker(&line).unwrap_or_else(|e| panic!("{line}: {e}"))), line);
        }
    }

    #[test]
    fn lines_that_are_not_messages_are_refused_with_the_reason() {
        assert!(parse_command("garbage").unwrap_err().reason.starts_with("not JSON"));
        let e = parse_command(r#"{"cmd":"hello","protocol":1}"#).unwrap_err();
        assert!(e.reason.contains("not a valid message"), "{e}");
        assert!(parse_command(r#"{"cmd":"format_disk"}"#).is_err());
        assert!(parse_from_worker(r#"{"status":"ready","extra":1}"#).is_err());
        assert!(parse_from_worker(r#"{"type":"heartbeat","timestamp":"t","more":true}"#).is_err());
    }
}
