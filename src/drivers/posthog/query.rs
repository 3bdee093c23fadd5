//! The HogQL for each data type and the DuckDB type of each returned column.
//!
//! events, persons and sessions are read in (timestamp, id) order with a seek condition after the
//! last row of the previous page, at full microsecond precision (so rows sharing a second are
//! neither skipped nor re-read); person_distinct_ids has no timestamp and pages by OFFSET.

use crate::exchange::chunk_load::LoadColumn;
use serde_json::Value;

/// What differs between data types.
#[derive(Debug, Clone, Copy)]
pub struct DataType {
    /// `data_type` value.
    pub name: &'static str,
    /// HogQL table.
    pub table: &'static str,
    /// Select list.
    pub select: &'static str,
    /// Ordering timestamp column (None: offset paging, no incremental state).
    pub timestamp: Option<&'static str>,
    /// Unique id column (seek tie-breaker and dedup key).
    pub id: &'static str,
    /// Whether the first run is bounded by `initial_since` / 30 days (persons read everything).
    pub windowed: bool,
}

/// The four data types of the spec.
pub const DATA_TYPES: [DataType; 4] = [
    DataType {
        name: "events",
        table: "events",
        select: "uuid, event, timestamp, distinct_id, person_id, properties",
        timestamp: Some("timestamp"),
        id: "uuid",
        windowed: true,
    },
    DataType {
        name: "persons",
        table: "persons",
        select: "id, created_at, properties, is_identified",
        timestamp: Some("created_at"),
        id: "id",
        windowed: false,
    },
    DataType {
        name: "sessions",
        table: "sessions",
        select: "*",
        timestamp: Some("$start_timestamp"),
        id: "session_id",
        windowed: true,
    },
    DataType {
        name: "person_distinct_ids",
        table: "person_distinct_ids",
        select: "distinct_id, person_id",
        timestamp: None,
        id: "distinct_id",
        windowed: false,
    },
];

/// The data type named `name`.
pub fn data_type(name: &str) -> Option<DataType> {
    DATA_TYPES.iter().find(|d| d.name == name).copied()
}

/// A HogQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Where one page starts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Position {
    /// Seek after (timestamp, id) — HogQL timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` UTC.
    After { timestamp: String, id: String },
    /// Offset paging.
    Offset(u64),
    /// The first page.
    Start,
}

/// The fixed part of a read: time window and event filter.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Inclusive lower bound (UTC, HogQL format), if any.
    pub since: Option<String>,
    /// Exclusive upper bound (UTC, HogQL format).
    pub until: String,
    /// `event IN (…)` filter (events only).
    pub event_types: Vec<String>,
}

/// The HogQL for one page.
pub fn page_query(dt: &DataType, window: &Window, position: &Position, page_size: u64) -> String {
    let mut conds = Vec::new();
    if let Some(ts) = dt.timestamp {
        if let Some(since) = &window.since {
            conds.push(format!("{ts} >= toDateTime({})", literal(since)));
        }
        conds.push(format!("{ts} < toDateTime({})", literal(&window.until)));
    }
    if dt.name == "events" && !window.event_types.is_empty() {
        let list: Vec<String> = window.event_types.iter().map(|e| literal(e)).collect();
        conds.push(format!("event IN ({})", list.join(", ")));
    }
    if let (Position::After { timestamp, id }, Some(ts)) = (position, dt.timestamp) {
        let t = literal(timestamp);
        conds.push(format!("({ts} > toDateTime({t}) OR ({ts} = toDateTime({t}) AND {} > {}))", dt.id, literal(id)));
    }
    let mut q = format!("SELECT {} FROM {}", dt.select, dt.table);
    if !conds.is_empty() {
        q.push_str(&format!(" WHERE {}", conds.join(" AND ")));
    }
    match dt.timestamp {
        Some(ts) => q.push_str(&format!(" ORDER BY {ts} ASC, {} ASC LIMIT {page_size}", dt.id)),
        None => {
            let offset = if let Position::Offset(o) = position { *o } else { 0 };
            q.push_str(&format!(" ORDER BY person_id ASC, distinct_id ASC LIMIT {page_size} OFFSET {offset}"));
        }
    }
    q
}

/// DuckDB type for a ClickHouse type name (`Nullable(…)`, `LowCardinality(…)` unwrapped).
pub fn duck_type(clickhouse: &str) -> String {
    let mut t = clickhouse.trim();
    loop {
        let inner =
            ["Nullable(", "LowCardinality("].iter().find_map(|w| t.strip_prefix(w).and_then(|r| r.strip_suffix(')')));
        match inner {
            Some(i) => t = i,
            None => break,
        }
    }
    let base = t.split('(').next().unwrap_or(t);
    match base {
        "String" | "FixedString" | "Enum8" | "Enum16" | "IPv4" | "IPv6" => "VARCHAR".into(),
        "UUID" => "UUID".into(),
        "DateTime" | "DateTime64" => "TIMESTAMPTZ".into(),
        "Date" | "Date32" => "DATE".into(),
        "Bool" => "BOOLEAN".into(),
        "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16" | "UInt32" => "BIGINT".into(),
        "UInt64" => "UBIGINT".into(),
        "Int128" | "Int256" | "UInt128" | "UInt256" => "HUGEINT".into(),
        "Float32" | "Float64" => "DOUBLE".into(),
        "Array" | "Map" | "Tuple" | "JSON" | "Object" => "JSON".into(),
        _ => "VARCHAR".into(),
    }
}

/// The DuckDB columns of an answer: `properties` columns are JSON (HogQL sends them as JSON
/// text), timestamp columns TIMESTAMPTZ; without `types` the documented schema of the data type.
pub fn columns(dt: &DataType, names: &[String], types: &[Value]) -> Vec<LoadColumn> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let reported = types.get(i).and_then(|t| t.get(1)).and_then(Value::as_str).map(duck_type);
            let ty = if name == "properties" || name.ends_with("_properties") {
                "JSON".to_string()
            } else if Some(name.as_str()) == dt.timestamp || name.ends_with("timestamp") || name == "created_at" {
                "TIMESTAMPTZ".to_string()
            } else if name == "is_identified" {
                "BOOLEAN".to_string()
            } else {
                reported.unwrap_or_else(|| "VARCHAR".into())
            };
            LoadColumn::cast(name.clone(), ty)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries_seek_with_microseconds_and_filter_events() {
        let dt = data_type("events").unwrap();
        let w = Window {
            since: Some("2024-01-01 00:00:00.000000".into()),
            until: "2024-02-01 00:00:00.000000".into(),
            event_types: vec!["sign'up".into()],
        };
        let q = page_query(
            &dt,
            &w,
            &Position::After { timestamp: "2024-01-05 10:00:00.123456".into(), id: "u1".into() },
            500,
        );
        assert_eq!(
            q,
            "SELECT uuid, event, timestamp, distinct_id, person_id, properties FROM events WHERE timestamp >= toDateTime('2024-01-01 00:00:00.000000') \
             AND timestamp < toDateTime('2024-02-01 00:00:00.000000') AND event IN ('sign\\'up') AND (timestamp > toDateTime('2024-01-05 10:00:00.123456') \
             OR (timestamp = toDateTime('2024-01-05 10:00:00.123456') AND uuid > 'u1')) ORDER BY timestamp ASC, uuid ASC LIMIT 500"
        );
        let pdi = data_type("person_distinct_ids").unwrap();
        assert!(page_query(&pdi, &w, &Position::Offset(2000), 1000).ends_with("LIMIT 1000 OFFSET 2000"));
        assert_eq!(duck_type("Nullable(DateTime64(6, 'UTC'))"), "TIMESTAMPTZ");
        assert_eq!(duck_type("LowCardinality(Nullable(String))"), "VARCHAR");
        assert_eq!(duck_type("Array(String)"), "JSON");
    }
}
