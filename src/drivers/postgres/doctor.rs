//! Health check for `connections doctor`: the SQL channel (connect, version, latency, tables with
//! row estimates) and the REST channel (reachability, key accepted), each when configured.

use super::connect::PgTarget;
use super::rest;
use crate::connections::ResolvedConnection;
use crate::drivers::health::{Check, HealthCategory, HealthReport, TableEstimate};
use std::time::Instant;

fn sql_channel(target: &PgTarget) -> HealthReport {
    let started = Instant::now();
    let mut client = match target.connect() {
        Ok(c) => c,
        Err(e) => return HealthReport::failure(e.category(), e.to_string()).timed(started),
    };
    let version: Option<String> = client.query_one("SHOW server_version", &[]).ok().map(|r| r.get(0));
    let latency_ms = started.elapsed().as_millis() as u64;
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text, greatest(c.reltuples, 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        )
        .map(|rows| {
            rows.iter()
                .map(|r| TableEstimate {
                    schema: Some(r.get(0)),
                    table: r.get(1),
                    estimated_rows: u64::try_from(r.get::<_, i64>(2)).ok(),
                })
                .collect()
        })
        .unwrap_or_default();
    HealthReport {
        latency_ms: Some(latency_ms),
        server_version: version,
        tables,
        ..HealthReport::success(format!("{} answered in {latency_ms} ms", target.label))
    }
}

/// Check one supabase connection: each configured channel (`sql`, `rest`) is one check.
pub fn doctor(connection: &ResolvedConnection) -> HealthReport {
    let mut channels = Vec::new();
    match PgTarget::from_connection(Some(connection)) {
        Ok(Some(t)) => channels.push(Check { name: "sql".into(), report: sql_channel(&t) }),
        Ok(None) => {}
        Err(e) => channels.push(Check { name: "sql".into(), report: HealthReport::failure(HealthCategory::Config, e) }),
    }
    if let Some(r) = rest::doctor(connection) {
        channels.push(Check { name: "rest".into(), report: r });
    }
    if channels.is_empty() {
        return HealthReport::failure(
            HealthCategory::Config,
            "neither a DSN (pg_dsn) nor url/project_id + key: nothing to check",
        );
    }
    HealthReport::combine(channels)
}
