//! Health check for `connections doctor`: connect, authenticate, `SELECT VERSION()`, latency,
//! and the tables with row estimates (the component is discoverable). Running never depends on it.

use super::connect::Target;
use crate::connections::ResolvedConnection;
use crate::drivers::health::{HealthCategory, HealthReport, TableEstimate};
use mysql::prelude::Queryable;
use std::time::{Duration, Instant};

/// Check one MySQL connection.
pub fn doctor(connection: &ResolvedConnection) -> HealthReport {
    let target = match Target::of_connection(connection) {
        Ok(t) => t,
        Err(e) => return HealthReport::failure(HealthCategory::Config, e),
    };
    let started = Instant::now();
    let mut conn = match target.connect(Duration::from_secs(5)) {
        Ok(c) => c,
        Err(e) => {
            return HealthReport::failure(e.category(), format!("{}: {e}", target.label())).timed(started);
        }
    };
    let version: Option<String> = conn.query_first("SELECT VERSION()").ok().flatten();
    let latency_ms = started.elapsed().as_millis() as u64;
    let tables = conn
        .query_map(
            "SELECT table_name, COALESCE(table_rows, 0) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
            |(table, rows): (String, u64)| TableEstimate { schema: None, table, estimated_rows: Some(rows) },
        )
        .unwrap_or_default();
    HealthReport {
        latency_ms: Some(latency_ms),
        server_version: version,
        tables,
        ..HealthReport::success(format!("{} answered in {latency_ms} ms", target.label()))
    }
}
