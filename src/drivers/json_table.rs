//! JSON records (GraphQL nodes, PostgREST rows) → one DuckDB table, a page at a time.
//!
//! The schema is inferred as pages arrive and only ever widens:
//! - a key seen for the first time on a later page adds a column (earlier rows get NULL);
//! - value kinds: boolean → BOOLEAN, integer (fits 64 bits) → BIGINT, other number → DOUBLE,
//!   string → VARCHAR, object or list → JSON; null says nothing about the type;
//! - when pages disagree, BIGINT and DOUBLE widen to DOUBLE and anything else to VARCHAR (a
//!   number or object is then kept as its JSON text), by `ALTER TABLE … ALTER … TYPE`.
//!
//! With `flatten`, nested objects become `parent_child` columns (recursively) and lists stay
//! JSON; without it each top-level key is a column and nested values stay JSON. Each page is
//! rendered as a CSV chunk and loaded by [`ChunkLoader`], so memory holds one page.

use crate::exchange::chunk_load::{push_record, ChunkLoader, LoadColumn};
use crate::exchange::quote_ident;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The inferred kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// true / false.
    Boolean,
    /// Integers that fit in 64 bits.
    BigInt,
    /// Any other number.
    Double,
    /// Strings, and the widening of mixed kinds.
    Varchar,
    /// Objects and lists.
    Json,
}

impl Kind {
    fn of(v: &Value) -> Option<Self> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(_) => Self::Boolean,
            Value::Number(n) if n.is_i64() => Self::BigInt,
            Value::Number(_) => Self::Double,
            Value::String(_) => Self::Varchar,
            Value::Array(_) | Value::Object(_) => Self::Json,
        })
    }

    fn widen(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::BigInt, Self::Double) | (Self::Double, Self::BigInt) => Self::Double,
            _ => Self::Varchar,
        }
    }

    /// The DuckDB type.
    pub fn duck_type(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE",
            Self::Varchar => "VARCHAR",
            Self::Json => "JSON",
        }
    }
}

/// The DuckDB type of a column kind; a column seen only as null is VARCHAR for now.
fn duck_type(kind: Option<Kind>) -> &'static str {
    kind.map_or("VARCHAR", Kind::duck_type)
}

/// Flatten one record into `(column, value)` pairs.
pub fn flatten_record(record: &Value, flatten: bool) -> Map<String, Value> {
    let mut out = Map::new();
    match record {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) if flatten => {
                        for (ck, cv) in flatten_record(v, true) {
                            out.insert(format!("{k}_{ck}"), cv);
                        }
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        // A scalar or list record (e.g. a list of IDs) becomes one `value` column.
        other => {
            out.insert("value".into(), other.clone());
        }
    }
    out
}

/// A JSON value as the text a chunk carries: strings as they are, other values as JSON, null as None.
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A table being filled from JSON pages.
pub struct JsonTable {
    table: String,
    scratch: PathBuf,
    flatten: bool,
    /// None: only nulls seen so far (stored as VARCHAR until a value gives the kind).
    columns: IndexMap<String, Option<Kind>>,
    loader: Option<ChunkLoader>,
    rows: u64,
}

impl JsonTable {
    /// A table named `table`; chunks go through `scratch`.
    pub fn new(table: &str, scratch: PathBuf, flatten: bool) -> Self {
        Self { table: table.into(), scratch, flatten, columns: IndexMap::new(), loader: None, rows: 0 }
    }

    /// Rows loaded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn load_columns(&self) -> Vec<LoadColumn> {
        self.columns.iter().map(|(n, k)| LoadColumn::cast(n, duck_type(*k))).collect()
    }

    /// Append one page of records; returns the rows added.
    pub fn append(&mut self, conn: &duckdb::Connection, records: &[Value]) -> Result<u64, String> {
        if records.is_empty() {
            return Ok(0);
        }
        let flat: Vec<Map<String, Value>> = records.iter().map(|r| flatten_record(r, self.flatten)).collect();
        let mut added = Vec::new();
        let mut widened = Vec::new();
        for record in &flat {
            for (name, value) in record {
                let kind = Kind::of(value);
                match self.columns.get_mut(name) {
                    Some(existing) => {
                        if let Some(k) = kind {
                            let wide = existing.map_or(k, |e| e.widen(k));
                            if Some(wide) != *existing {
                                *existing = Some(wide);
                                if !added.contains(name) && !widened.contains(name) {
                                    widened.push(name.clone());
                                }
                            }
                        }
                    }
                    None => {
                        self.columns.insert(name.clone(), kind);
                        added.push(name.clone());
                    }
                }
            }
        }
        self.apply_schema(conn, &added, &widened)?;
        let mut chunk = String::with_capacity(records.len() * 64);
        for record in &flat {
            let values: Vec<Option<String>> = self.columns.keys().map(|c| record.get(c).and_then(value_text)).collect();
            push_record(&mut chunk, values.iter().map(Option::as_deref));
        }
        let loader = self.loader.as_ref().expect("apply_schema creates the loader");
        let n = loader.load(conn, chunk.as_bytes())?;
        self.rows += n;
        Ok(n)
    }

    fn apply_schema(&mut self, conn: &duckdb::Connection, added: &[String], widened: &[String]) -> Result<(), String> {
        let columns = self.load_columns();
        match &mut self.loader {
            None => {
                let loader = ChunkLoader::new(conn, &self.table, &columns, self.scratch.clone(), true)
                    .map_err(|e| format!("cannot create {}: {e}", self.table))?;
                self.loader = Some(loader);
            }
            Some(loader) if !added.is_empty() || !widened.is_empty() => {
                let t = quote_ident(&self.table);
                for name in added {
                    let sql =
                        format!("ALTER TABLE {t} ADD COLUMN {} {}", quote_ident(name), duck_type(self.columns[name]));
                    conn.execute_batch(&sql).map_err(|e| format!("cannot add column {name}: {e}"))?;
                }
                for name in widened {
                    let sql = format!(
                        "ALTER TABLE {t} ALTER COLUMN {} TYPE {}",
                        quote_ident(name),
                        duck_type(self.columns[name])
                    );
                    conn.execute_batch(&sql).map_err(|e| format!("cannot widen column {name}: {e}"))?;
                }
                loader.set_columns(&columns);
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Finish: when no record arrived, create an empty table with one JSON column `value` so
    /// downstream steps still find the relation. Returns the rows loaded.
    pub fn finish(self, conn: &duckdb::Connection) -> Result<u64, String> {
        if self.loader.is_none() {
            conn.execute_batch(&format!("CREATE TABLE {} (value JSON)", quote_ident(&self.table)))
                .map_err(|e| format!("cannot create {}: {e}", self.table))?;
        }
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening_and_widening_follow_the_documented_rules() {
        let r = json!({"id": 1, "owner": {"login": "a", "plan": {"seats": 3}}, "tags": ["x"]});
        let flat = flatten_record(&r, true);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["id", "owner_login", "owner_plan_seats", "tags"]);
        assert_eq!(flatten_record(&r, false).len(), 3);
        assert_eq!(Kind::BigInt.widen(Kind::Double), Kind::Double);
        assert_eq!(Kind::BigInt.widen(Kind::Varchar), Kind::Varchar);
        assert_eq!(Kind::Json.widen(Kind::Boolean), Kind::Varchar);
    }

    #[test]
    fn later_pages_add_and_widen_columns() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut t = JsonTable::new("t", dir.path().join("c.csv"), true);
        t.append(&conn, &[json!({"id": 1, "n": 2, "late": null}), json!({"id": 2, "n": null})]).unwrap();
        t.append(&conn, &[json!({"id": 4, "late": 7})]).unwrap();
        t.append(&conn, &[json!({"id": 3, "n": 2.5, "extra": {"a": true}})]).unwrap();
        assert_eq!(t.finish(&conn).unwrap(), 4);
        let got: (String, String, f64, i64) = conn
            .query_row(
                "SELECT (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 't'), \
                 CAST(list(extra_a ORDER BY id) AS VARCHAR), sum(n), count(*) FROM t",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(got.0, "id BIGINT, n DOUBLE, late BIGINT, extra_a BOOLEAN");
        assert_eq!(got.1, "[NULL, NULL, true, NULL]");
        assert_eq!((got.2, got.3), (4.5, 4));
    }
}
