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

/// Visit the `(column, value)` pairs of one record without copying it: with `flatten`, nested
/// objects give `parent_child` names (built in one reused buffer); a scalar or list record is one
/// `value` column.
fn visit_record<'v>(record: &'v Value, flatten: bool, visit: &mut impl FnMut(&str, &'v Value)) {
    fn object<'v>(
        map: &'v Map<String, Value>,
        name: &mut String,
        flatten: bool,
        visit: &mut impl FnMut(&str, &'v Value),
    ) {
        for (k, v) in map {
            let len = name.len();
            if len > 0 {
                name.push('_');
            }
            name.push_str(k);
            match v {
                Value::Object(inner) if flatten => object(inner, name, flatten, visit),
                _ => visit(name, v),
            }
            name.truncate(len);
        }
    }
    match record {
        Value::Object(map) => object(map, &mut String::new(), flatten, visit),
        // A scalar or list record (e.g. a list of IDs) becomes one `value` column.
        other => visit("value", other),
    }
}

/// A value as a chunk cell, borrowed when it is a string.
pub(crate) fn cell_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// A JSON value as the text a chunk carries: strings as they are, other values as JSON, null as None.
pub(crate) fn value_text(v: &Value) -> Option<String> {
    cell_text(v).map(std::borrow::Cow::into_owned)
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

    /// Append one page of records (owned or borrowed from the page); returns the rows added.
    pub fn append<R: std::borrow::Borrow<Value>>(
        &mut self,
        conn: &duckdb::Connection,
        records: &[R],
    ) -> Result<u64, String> {
        if records.is_empty() {
            return Ok(0);
        }
        // One pass over each record: the schema widens as names and kinds appear, and each row
        // keeps (column index, value) pairs borrowed from the page.
        let mut added: Vec<String> = Vec::new();
        let mut widened: Vec<String> = Vec::new();
        let mut rows: Vec<Vec<(usize, &Value)>> = Vec::with_capacity(records.len());
        let columns = &mut self.columns;
        for record in records {
            let mut cells = Vec::new();
            visit_record(record.borrow(), self.flatten, &mut |name, value| {
                let kind = Kind::of(value);
                let index = match columns.get_index_of(name) {
                    Some(i) => {
                        let existing = &mut columns[i];
                        if let Some(k) = kind {
                            let wide = existing.map_or(k, |e| e.widen(k));
                            if Some(wide) != *existing {
                                *existing = Some(wide);
                                if !added.iter().any(|a| a == name) && !widened.iter().any(|w| w == name) {
                                    widened.push(name.to_string());
                                }
                            }
                        }
                        i
                    }
                    None => {
                        columns.insert(name.to_string(), kind);
                        added.push(name.to_string());
                        columns.len() - 1
                    }
                };
                cells.push((index, value));
            });
            rows.push(cells);
        }
        self.apply_schema(conn, &added, &widened)?;
        let width = self.columns.len();
        let mut chunk = String::with_capacity(records.len() * 64);
        let mut values: Vec<Option<std::borrow::Cow<str>>> = Vec::with_capacity(width);
        for cells in &rows {
            values.clear();
            values.resize(width, None);
            for (index, value) in cells {
                values[*index] = cell_text(value);
            }
            push_record(&mut chunk, values.iter().map(|v| v.as_deref()));
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

    /// The `(column, value)` pairs of one record, as a map.
    fn flatten_record(record: &Value, flatten: bool) -> Map<String, Value> {
        let mut out = Map::new();
        visit_record(record, flatten, &mut |name, value| {
            out.insert(name.to_string(), value.clone());
        });
        out
    }

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
