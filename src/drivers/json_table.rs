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
//! JSON; without it each top-level key is a column and nested values stay JSON. A page arrives
//! as a [`Page`] of cells (json_page.rs parses bodies straight into one), is rendered as a CSV
//! chunk and loaded by [`ChunkLoader`], so memory holds one page.

use super::json_page::{Kind, Page};
use crate::exchange::chunk_load::{push_record, ChunkLoader, LoadColumn};
use crate::exchange::quote_ident;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::PathBuf;

/// The DuckDB type of a column kind; a column seen only as null is VARCHAR for now.
fn duck_type(kind: Option<Kind>) -> &'static str {
    kind.map_or("VARCHAR", Kind::duck_type)
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

    /// Append records given as JSON values (owned or borrowed); returns the rows added.
    pub fn append<R: std::borrow::Borrow<Value>>(
        &mut self,
        conn: &duckdb::Connection,
        records: &[R],
    ) -> Result<u64, String> {
        let mut page = Page::default();
        for record in records {
            page.push_value(record.borrow(), self.flatten);
        }
        self.append_page(conn, &page)
    }

    /// Append one page; returns the rows added. The page's columns join the table's (added or
    /// widened first), then its records go in as one chunk.
    pub fn append_page(&mut self, conn: &duckdb::Connection, page: &Page) -> Result<u64, String> {
        if page.is_empty() {
            return Ok(0);
        }
        let mut added: Vec<String> = Vec::new();
        let mut widened: Vec<String> = Vec::new();
        // The table column of each page column.
        let mut placement = Vec::new();
        for (name, kind) in page.columns() {
            let index = match self.columns.get_index_of(name) {
                Some(i) => {
                    let existing = &mut self.columns[i];
                    if let Some(k) = kind {
                        let wide = existing.map_or(k, |e| e.widen(k));
                        if Some(wide) != *existing {
                            *existing = Some(wide);
                            widened.push(name.to_string());
                        }
                    }
                    i
                }
                None => {
                    self.columns.insert(name.to_string(), kind);
                    added.push(name.to_string());
                    self.columns.len() - 1
                }
            };
            placement.push(index);
        }
        self.apply_schema(conn, &added, &widened)?;
        let width = self.columns.len();
        let mut chunk = String::with_capacity(page.len() * 64);
        let mut values: Vec<Option<&str>> = Vec::with_capacity(width);
        for record in page.records() {
            values.clear();
            values.resize(width, None);
            for (column, text) in record {
                values[placement[column]] = Some(text);
            }
            push_record(&mut chunk, values.iter().copied());
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
    fn kinds_widen_as_documented() {
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
