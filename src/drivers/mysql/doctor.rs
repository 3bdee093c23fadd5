//! Health check for `connections doctor`: connect, authenticate, `SELECT VERSION()`, latency,
//! and the tables with row estimates (the component is discoverable). Running never depends on it.

use super::connect::{category, describe, Target};
use crate::connections::ResolvedConnection;
use mysql::prelude::Queryable;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Check one MySQL connection; the result is JSON for `connections doctor --json`.
pub fn doctor(connection: &ResolvedConnection) -> Value {
    let target = Target::from_config(&connection.fields, Some(connection));
    let started = Instant::now();
    let mut conn = match target.connect(Duration::from_secs(5)) {
        Ok(c) => c,
        Err(e) => {
            return json!({"status": "failure", "category": category(&e), "message": format!("{}: {}", target.label(), describe(&e)), "latency_ms": started.elapsed().as_millis() as u64});
        }
    };
    let version: Option<String> = conn.query_first("SELECT VERSION()").ok().flatten();
    let latency_ms = started.elapsed().as_millis() as u64;
    let tables: Vec<Value> = conn
        .query_map(
            "SELECT table_name, COALESCE(table_rows, 0) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
            |(name, rows): (String, u64)| json!({"table": name, "estimated_rows": rows}),
        )
        .unwrap_or_default();
    json!({
        "status": "success", "category": "ok", "latency_ms": latency_ms, "server_version": version,
        "message": format!("{} answered in {latency_ms} ms", target.label()), "tables": tables,
    })
}
