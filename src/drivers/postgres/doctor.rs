//! Health check for `connections doctor`: the SQL channel (connect, version, latency, tables with
//! row estimates) and the REST channel (reachability, key accepted), each when configured.

use super::connect::{category, PgTarget};
use super::rest;
use crate::connections::ResolvedConnection;
use serde_json::{json, Value};
use std::time::Instant;

fn sql_channel(target: &PgTarget) -> Value {
    let started = Instant::now();
    let mut client = match target.connect() {
        Ok(c) => c,
        Err(e) => {
            return json!({"status": "failure", "category": category(&e), "message": e, "latency_ms": started.elapsed().as_millis() as u64});
        }
    };
    let version: Option<String> = client.query_one("SHOW server_version", &[]).ok().map(|r| r.get(0));
    let latency_ms = started.elapsed().as_millis() as u64;
    let tables: Vec<Value> = client
        .query(
            "SELECT n.nspname::text, c.relname::text, greatest(c.reltuples, 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        )
        .map(|rows| {
            rows.iter()
                .map(|r| json!({"schema": r.get::<_, String>(0), "table": r.get::<_, String>(1), "estimated_rows": r.get::<_, i64>(2)}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "status": "success", "category": "ok", "latency_ms": latency_ms, "server_version": version,
        "message": format!("{} answered in {latency_ms} ms", target.label), "tables": tables,
    })
}

/// Check one supabase connection; the result is JSON for `connections doctor --json`.
pub fn doctor(connection: &ResolvedConnection) -> Value {
    let sql = match PgTarget::from_connection(&connection.fields, Some(connection)) {
        Ok(Some(t)) => Some(sql_channel(&t)),
        Ok(None) => None,
        Err(e) => Some(json!({"status": "failure", "category": "config", "message": e})),
    };
    let rest = rest::doctor(connection);
    let channels: Vec<&Value> = sql.iter().chain(rest.iter()).collect();
    if channels.is_empty() {
        return json!({"status": "failure", "category": "config", "message": "neither a DSN (pg_dsn) nor url/project_id + key: nothing to check"});
    }
    let failed = channels.iter().find(|c| c["status"] != "success");
    let mut result = match failed {
        Some(f) => (*f).clone(),
        None => (*channels[0]).clone(),
    };
    let messages: Vec<&str> = channels.iter().filter_map(|c| c["message"].as_str()).collect();
    result["message"] = Value::String(messages.join("; "));
    result["sql"] = sql.unwrap_or(Value::Null);
    result["rest"] = rest.unwrap_or(Value::Null);
    result
}
