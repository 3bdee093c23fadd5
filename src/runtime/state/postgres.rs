//! Incremental state kept in PostgreSQL (`osiris.yaml`: `state: {backend: postgres, dsn: …}`), so
//! that a run on one machine continues where another machine's run succeeded.
//!
//! One row per pipeline and step in `<schema>.state` holds the same JSON a state file holds, with
//! a `version` that every commit increments. The per-pipeline run lock is a session-level
//! advisory lock held on a dedicated connection for the whole run: the server releases it when
//! that connection ends, also when the process holding it is killed. Its holder is found by the
//! connection's `application_name` (`osiris run <run id> pid <pid> on <host>`).

use crate::connections::{ResolvedConnection, Secret};
use crate::drivers::postgres::PgTarget;
use postgres::Client;
use serde_json::Value;
use std::collections::BTreeMap;

/// The first key of every advisory lock osiris takes (the second is the pipeline's hash).
const LOCK_NAMESPACE: i32 = 0x0051_5153;

/// Where the state lives.
#[derive(Debug, Clone)]
pub struct PgState {
    dsn: Secret,
    schema: String,
    /// The schema and table exist (created by this process's first connection).
    table_ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A backend failure, with the server named and never the password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PgStateError(pub String);

impl PgState {
    /// State in `schema` of the database `dsn` names.
    pub fn new(dsn: Secret, schema: String) -> Self {
        Self { dsn, schema, table_ready: Default::default() }
    }

    /// The DSN, for the run's redactor.
    pub fn dsn(&self) -> &Secret {
        &self.dsn
    }

    fn target(&self) -> Result<PgTarget, PgStateError> {
        let connection = ResolvedConnection {
            family: "state".into(),
            alias: "postgres".into(),
            fields: Default::default(),
            secrets: [("pg_dsn".to_string(), self.dsn.clone())].into_iter().collect(),
        };
        PgTarget::from_connection(Some(&connection))
            .map_err(|e| PgStateError(format!("state backend: {e}")))?
            .ok_or_else(|| PgStateError("state backend: `dsn` is empty".into()))
    }

    fn connect(&self, application_name: &str) -> Result<Client, PgStateError> {
        let mut client = self
            .target()?
            .with_application_name(application_name)
            .connect()
            .map_err(|e| PgStateError(format!("state backend: {e}")))?;
        if self.table_ready.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(client);
        }
        let schema = crate::exchange::quote_ident(&self.schema);
        // Serialised, so two first runs do not race on creating the table.
        let ddl = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({LOCK_NAMESPACE}, 0); CREATE SCHEMA IF NOT EXISTS {schema}; \
             CREATE TABLE IF NOT EXISTS {schema}.state (pipeline text NOT NULL, step text NOT NULL, content jsonb NOT NULL, \
             version bigint NOT NULL DEFAULT 1, machine text, updated_at timestamptz NOT NULL DEFAULT now(), \
             PRIMARY KEY (pipeline, step)); COMMIT"
        );
        client.batch_execute(&ddl).map_err(|e| self.error("cannot prepare the state table", &e))?;
        self.table_ready.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(client)
    }

    fn error(&self, what: &str, e: &postgres::Error) -> PgStateError {
        let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
        PgStateError(format!("state backend: {what}: {detail}"))
    }

    fn table(&self) -> String {
        format!("{}.state", crate::exchange::quote_ident(&self.schema))
    }

    /// The committed rows of `pipeline`: step → (content, version).
    pub fn rows(&self, pipeline: &str) -> Result<BTreeMap<String, (Value, i64)>, PgStateError> {
        let mut client = self.connect("osiris state")?;
        let sql = format!("SELECT step, content::text, version FROM {} WHERE pipeline = $1", self.table());
        let rows = client.query(&sql, &[&pipeline]).map_err(|e| self.error("cannot read the state", &e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let content: String = row.get(1);
            let value = serde_json::from_str(&content).map_err(|e| PgStateError(format!("state backend: {e}")))?;
            out.insert(row.get::<_, String>(0), (value, row.get::<_, i64>(2)));
        }
        Ok(out)
    }

    /// Write `states` (step → content) of `pipeline` in one transaction, each version + 1.
    pub fn write(&self, pipeline: &str, states: &[(String, Value)]) -> Result<(), PgStateError> {
        if states.is_empty() {
            return Ok(());
        }
        let mut client = self.connect("osiris state")?;
        let machine = machine_name();
        let mut tx = client.transaction().map_err(|e| self.error("cannot write the state", &e))?;
        let sql = format!(
            "INSERT INTO {t} AS s (pipeline, step, content, machine) VALUES ($1, $2, $3::text::jsonb, $4) \
             ON CONFLICT (pipeline, step) DO UPDATE SET content = EXCLUDED.content, version = s.version + 1, \
             machine = EXCLUDED.machine, updated_at = now()",
            t = self.table()
        );
        for (step, content) in states {
            tx.execute(&sql, &[&pipeline, step, &content.to_string(), &machine])
                .map_err(|e| self.error("cannot write the state", &e))?;
        }
        tx.commit().map_err(|e| self.error("cannot commit the state", &e))
    }

    /// Take the run lock of `pipeline` for `run_id`: the connection that holds it, or who holds
    /// it now.
    pub fn lock(&self, pipeline: &str, run_id: &str) -> Result<Result<Client, Option<String>>, PgStateError> {
        let name = format!("osiris run {run_id} pid {} on {}", std::process::id(), machine_name());
        let mut client = self.connect(&name)?;
        let key = pipeline_key(pipeline);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_NAMESPACE, &key])
            .map_err(|e| self.error("cannot take the run lock", &e))?
            .get(0);
        if got {
            return Ok(Ok(client));
        }
        let holder = client
            .query_opt(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2",
                &[&LOCK_NAMESPACE, &key],
            )
            .ok()
            .flatten()
            .map(|r| r.get::<_, String>(0));
        Ok(Err(holder))
    }
}

/// The pipeline's lock key: 31 bits of its name's SHA-256.
fn pipeline_key(pipeline: &str) -> i32 {
    let hex = crate::compiler::canonical::sha256_hex(pipeline.as_bytes());
    (u32::from_str_radix(&hex[..8], 16).unwrap_or(0) & 0x7fff_ffff) as i32
}

/// This machine's name, recorded with each state row and in the lock holder's name.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
