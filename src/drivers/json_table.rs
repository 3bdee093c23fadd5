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
//! as a [`Page`] of cells (json_page.rs parses bodies straight into one) and is appended as CSV
//! records to a staged file in the run dir (`staged/<step>.csv`, `O_DIRECT`), so memory holds
//! one page and DuckDB holds none until the relation is read: at the end the step's relation is
//! a view that types the file as it is read (the kinds are final by then, so widening costs
//! nothing), or, when it must be materialized, a table loaded from it in one statement. A page
//! that adds columns starts a new file (earlier records have fewer fields); the relation is then
//! a table loaded file by file, so row order holds. 1M GraphQL nodes read by a CSV writer: the
//! extraction stays at ~54 MiB resident from the first page to the last (loading a table page by
//! page it grew to 136 MiB), and the run is faster (BENCHMARKS.md).
//!
//! A relation that must be a table can be filled while pages arrive instead
//! ([`JsonTable::load_while_appending`]): each page also goes into a pipe that one INSERT reads
//! (exchange::piped_insert), so the load overlaps the extraction. A page that adds columns or
//! gives a kind to a column seen only as null, or widens BIGINT to DOUBLE, ends that INSERT,
//! alters the table (exactly what the staged text would give) and starts the next; a widening
//! the loaded rows cannot follow exactly (a number becoming VARCHAR keeps its JSON text, which
//! the typed rows no longer have) ends the live load, and the table is rebuilt from the staged
//! files at the end, as without it.

use super::json_page::{widened, Kind, Page};
use crate::exchange::block_cache::BlockCache;
use crate::exchange::chunk_load::{create_lean_view, create_table, insert_file, push_record, LoadColumn};
use crate::exchange::direct_write::DirectWriter;
use crate::exchange::piped_insert::PipedInsert;
use crate::exchange::{quote_ident, RelationKind};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether rows loaded as `was` and altered to `now` hold what the staged text read as `now`
/// gives: a column that held only nulls, or integers read as DOUBLE.
fn followed_exactly(was: Option<Kind>, now: Option<Kind>) -> bool {
    was.is_none() || (was == Some(Kind::BigInt) && now == Some(Kind::Double))
}

/// The DuckDB type of a column kind; a column seen only as null is VARCHAR for now.
fn duck_type(kind: Option<Kind>) -> &'static str {
    kind.map_or("VARCHAR", Kind::duck_type)
}

/// Rows of one column layout, staged in one file: a page that adds columns starts the next
/// segment (the records of earlier segments have fewer fields).
struct Segment {
    path: PathBuf,
    width: usize,
}

/// The relation of a step being filled from JSON pages.
pub struct JsonTable {
    table: String,
    /// The first segment's file; later ones add `.2`, `.3`, … before the extension.
    staged: PathBuf,
    flatten: bool,
    /// None: only nulls seen so far (stored as VARCHAR until a value gives the kind).
    columns: IndexMap<String, Option<Kind>>,
    segments: Vec<Segment>,
    writer: Option<DirectWriter>,
    /// Set once the relation owns the staged files (a view reads them).
    kept: bool,
    rows: u64,
    /// The table filled while pages arrive, when asked for ([`Self::load_while_appending`]).
    live: Option<LiveLoad>,
}

/// A table filled while pages arrive, and how far it got.
struct LiveLoad {
    /// A connection of the table's own (the step's is not at hand while pages arrive).
    conn: duckdb::Connection,
    /// The FIFO each INSERT reads.
    pipe: PathBuf,
    /// The INSERT running now, with the kinds it casts to.
    insert: Option<(PipedInsert, Vec<Option<Kind>>)>,
    /// Set once the table exists.
    made: bool,
    /// Set when a page widened a column in a way the loaded rows cannot follow: the table is
    /// rebuilt from the staged files at the end.
    abandoned: bool,
    /// Where the blocks each INSERT writes are dropped from DuckDB's cache.
    cache: Option<Arc<BlockCache>>,
}

impl JsonTable {
    /// The relation named `table`; pages are staged in `staged` (and its siblings on drift).
    pub fn new(table: &str, staged: PathBuf, flatten: bool) -> Self {
        Self {
            table: table.into(),
            staged,
            flatten,
            columns: IndexMap::new(),
            segments: Vec::new(),
            writer: None,
            kept: false,
            rows: 0,
            live: None,
        }
    }

    /// Fill the relation, which must be a table, while pages arrive: through the FIFO `pipe`, on
    /// a clone of `conn` (module doc), releasing what it writes from `cache` (exchange::block_cache).
    /// Call before the first page.
    pub fn load_while_appending(
        &mut self,
        conn: &duckdb::Connection,
        pipe: PathBuf,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<(), String> {
        let conn = conn.try_clone().map_err(|e| format!("cannot open a connection for {}: {e}", self.table))?;
        self.live = Some(LiveLoad { conn, pipe, insert: None, made: false, abandoned: false, cache });
        Ok(())
    }

    /// Rows staged so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True while the table is being filled live (not given up for a rebuild at the end).
    #[cfg(test)]
    fn is_loading_live(&self) -> bool {
        self.live.as_ref().is_some_and(|l| !l.abandoned)
    }

    fn load_columns(&self) -> Vec<LoadColumn> {
        self.columns.iter().map(|(n, k)| LoadColumn::cast(n, duck_type(*k))).collect()
    }

    /// Append records given as JSON values (owned or borrowed); returns the rows added.
    pub fn append<R: std::borrow::Borrow<Value>>(&mut self, records: &[R]) -> Result<u64, String> {
        let mut page = Page::default();
        for record in records {
            page.push_value(record.borrow(), self.flatten);
        }
        self.append_page(&page)
    }

    /// Append one page; returns the rows added. Its columns join the relation's (new ones at
    /// the end, kinds widened), then its records are staged as one chunk.
    pub fn append_page(&mut self, page: &Page) -> Result<u64, String> {
        if page.is_empty() {
            return Ok(0);
        }
        let known = self.columns.len();
        // The relation's column of each page column.
        let mut placement = Vec::new();
        for (name, kind) in page.columns() {
            let index = match self.columns.get_index_of(name) {
                Some(i) => {
                    self.columns[i] = widened(self.columns[i], kind);
                    i
                }
                None => {
                    self.columns.insert(name.to_string(), kind);
                    self.columns.len() - 1
                }
            };
            placement.push(index);
        }
        let width = self.columns.len();
        if self.segments.is_empty() || width > known {
            self.start_segment(width)?;
        }
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
        self.follow_schema()?;
        if let Some((insert, _)) = self.live.as_mut().and_then(|l| l.insert.as_mut()) {
            insert.send(chunk.as_bytes());
        }
        let path = &self.segments.last().expect("a segment was started").path;
        let writer = self.writer.as_mut().expect("a segment is open");
        writer.write_all(chunk.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let n = page.len() as u64;
        self.rows += n;
        Ok(n)
    }

    /// Make the live table follow the relation's columns before a page goes in: create it, or
    /// end the INSERT when the columns changed and alter the table for the next one — or give
    /// the live load up when the change cannot be followed exactly (module doc).
    fn follow_schema(&mut self) -> Result<(), String> {
        let kinds: Vec<Option<Kind>> = self.columns.values().copied().collect();
        match &self.live {
            Some(live) if !live.abandoned && live.insert.as_ref().is_none_or(|(_, k)| *k != kinds) => {}
            _ => return Ok(()),
        }
        let columns = self.load_columns();
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        let cannot_load = |e: &dyn std::fmt::Display| format!("cannot load {}: {e}", self.table);
        let mut alter = Vec::new();
        if let Some((insert, loaded)) = live.insert.take() {
            insert.finish(true).map_err(|e| cannot_load(&e))?;
            for (i, (name, kind)) in self.columns.iter().enumerate() {
                let column = quote_ident(name);
                match loaded.get(i) {
                    None => alter.push(format!("ADD COLUMN {column} {}", duck_type(*kind))),
                    Some(was) if was == kind => {}
                    Some(&was) if followed_exactly(was, *kind) => {
                        alter.push(format!("ALTER COLUMN {column} TYPE {}", duck_type(*kind)))
                    }
                    Some(_) => {
                        live.abandoned = true;
                        return Ok(());
                    }
                }
            }
        }
        if !live.made {
            create_table(&live.conn, &self.table, &columns).map_err(|e| cannot_load(&e))?;
            live.made = true;
        }
        let table = quote_ident(&self.table);
        for change in alter {
            live.conn.execute_batch(&format!("ALTER TABLE {table} {change}")).map_err(|e| cannot_load(&e))?;
        }
        let insert = PipedInsert::start(&live.conn, &self.table, &columns, live.pipe.clone(), live.cache.clone())
            .map_err(|e| cannot_load(&e))?;
        live.insert = Some((insert, kinds));
        Ok(())
    }

    /// Close the open segment and open the next, for records of `width` fields.
    fn start_segment(&mut self, width: usize) -> Result<(), String> {
        self.close_segment()?;
        let path = match self.segments.len() {
            0 => self.staged.clone(),
            n => self.staged.with_extension(format!("{}.csv", n + 1)),
        };
        let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io)?;
        self.writer = Some(DirectWriter::create(&path).map_err(io)?);
        self.segments.push(Segment { path, width });
        Ok(())
    }

    fn close_segment(&mut self) -> Result<(), String> {
        match (self.writer.take(), self.segments.last()) {
            (Some(writer), Some(segment)) => {
                writer.finish().map_err(|e| format!("cannot write {}: {e}", segment.path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Make the relation: a view over the staged file when one layout held every record and a
    /// view may stand (`materialize` false), else a table loaded segment by segment, in order.
    /// No record at all gives an empty table with one JSON column `value`, so downstream steps
    /// still find the relation. Returns the rows and the kind of relation.
    pub fn finish(mut self, conn: &duckdb::Connection, materialize: bool) -> Result<(u64, RelationKind), String> {
        self.close_segment()?;
        let columns = self.load_columns();
        let sql = |e: duckdb::Error| format!("cannot create {}: {e}", self.table);
        if let Some(mut live) = self.live.take() {
            if let Some((insert, _)) = live.insert.take() {
                insert.finish(true).map_err(|e| format!("cannot load {}: {e}", self.table))?;
                return Ok((self.rows, RelationKind::Table));
            }
            if live.made {
                // Given up: rebuilt from the staged files below.
                conn.execute_batch(&format!("DROP TABLE {}", quote_ident(&self.table))).map_err(sql)?;
            }
        }
        if self.segments.is_empty() {
            conn.execute_batch(&format!("CREATE TABLE {} (value JSON)", quote_ident(&self.table))).map_err(sql)?;
            return Ok((0, RelationKind::Table));
        }
        if self.segments.len() == 1 && !materialize {
            create_lean_view(conn, &self.table, &columns, &self.segments[0].path).map_err(sql)?;
            self.kept = true;
            return Ok((self.rows, RelationKind::View));
        }
        create_table(conn, &self.table, &columns).map_err(sql)?;
        for segment in &self.segments {
            insert_file(conn, &self.table, &columns[..segment.width], &segment.path).map_err(sql)?;
        }
        Ok((self.rows, RelationKind::Table))
    }
}

impl Drop for JsonTable {
    /// Staged files go unless a view reads them; a live load still running fails (the caller
    /// drops the table).
    fn drop(&mut self) {
        if let Some((insert, _)) = self.live.as_mut().and_then(|l| l.insert.take()) {
            let _ = insert.finish(false);
        }
        self.writer = None;
        if !self.kept {
            for segment in &self.segments {
                let _ = std::fs::remove_file(&segment.path);
            }
        }
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
        t.append(&[json!({"id": 1, "n": 2, "late": null}), json!({"id": 2, "n": null})]).unwrap();
        t.append(&[json!({"id": 4, "late": 7})]).unwrap();
        t.append(&[json!({"id": 3, "n": 2.5, "extra": {"a": true}})]).unwrap();
        assert_eq!(t.finish(&conn, false).unwrap(), (4, RelationKind::Table), "two layouts: a table");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the staged files are gone");
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
        let order: String = conn.query_row("SELECT string_agg(id::VARCHAR, ',') FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(order, "1,2,4,3", "pages keep their order across layouts");
    }

    /// The table `pages` give, loaded live or from the staged files at the end: its columns and
    /// rows as text.
    fn table_of(pages: &[Vec<Value>], live: bool) -> (String, String, bool) {
        let dir = tempfile::tempdir().unwrap();
        let conn = duckdb::Connection::open(dir.path().join("x.duckdb")).unwrap();
        let mut t = JsonTable::new("t", dir.path().join("staged").join("t.csv"), true);
        if live {
            t.load_while_appending(&conn, dir.path().join("t.fifo"), None).unwrap();
        }
        for page in pages {
            t.append(page).unwrap();
        }
        let rows = pages.iter().map(Vec::len).sum::<usize>() as u64;
        let loaded_live = t.is_loading_live();
        assert_eq!(t.finish(&conn, true).unwrap(), (rows, RelationKind::Table));
        assert!(!dir.path().join("t.fifo").exists());
        let (columns, rows) = conn.query_row(
            "SELECT (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 't'), \
             string_agg(CAST(t AS VARCHAR), ' | ') FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
        (columns, rows, loaded_live)
    }

    #[test]
    fn a_table_loaded_while_pages_arrive_is_the_table_the_staged_files_give() {
        // Columns added, a kind given to a column seen only as null, BIGINT widened to DOUBLE:
        // followed by altering the live table.
        let followed = [
            vec![json!({"id": 1, "n": null}), json!({"id": 2, "n": null})],
            vec![json!({"id": 3, "n": 5, "o": {"late": "x"}})],
            vec![json!({"id": 4, "n": 2.5, "o": {"late": "y", "b": true}})],
            vec![json!({"id": 5, "n": 7})],
        ];
        let live = table_of(&followed, true);
        assert!(live.2, "followed live to the end");
        assert_eq!(live.0, "id BIGINT, n DOUBLE, o_late VARCHAR, o_b BOOLEAN");
        let staged = table_of(&followed, false);
        assert_eq!((live.0, live.1), (staged.0, staged.1));
        // A number widened to VARCHAR keeps its JSON text, which typed rows no longer have: the
        // live load is given up and the table rebuilt from the staged files.
        let rebuilt = [vec![json!({"x": 2.50}), json!({"x": 1e300})], vec![json!({"x": "two"})]];
        let live = table_of(&rebuilt, true);
        assert!(!live.2, "given up");
        assert_eq!(live.0, "x VARCHAR");
        let staged = table_of(&rebuilt, false);
        assert_eq!((live.0, live.1), (staged.0, staged.1));
    }

    #[test]
    fn one_layout_becomes_a_view_over_the_staged_file_with_the_final_kinds() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged").join("v.csv");
        let mut t = JsonTable::new("v", staged.clone(), false);
        t.append(&[json!({"id": 1, "x": 2, "o": {"a": [1]}}), json!({"id": 2, "x": "two", "o": null})]).unwrap();
        t.append(&[json!({"id": 3, "x": 3.5})]).unwrap();
        assert_eq!(t.finish(&conn, false).unwrap(), (3, RelationKind::View));
        assert!(staged.exists(), "the view reads the staged file");
        let got: (String, String, String) = conn
            .query_row(
                "SELECT (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'v'), \
                 string_agg(x, '|' ORDER BY id), string_agg(coalesce(o::VARCHAR, 'NULL'), '|' ORDER BY id) FROM v",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(got.0, "id BIGINT, x VARCHAR, o JSON");
        assert_eq!(got.1, "2|two|3.5", "a widened column keeps each value's text");
        assert_eq!(got.2, "{\"a\":[1]}|NULL|NULL");
        // Materialized, the same pages make a table and the file goes.
        let dir2 = tempfile::tempdir().unwrap();
        let mut m = JsonTable::new("m", dir2.path().join("m.csv"), false);
        m.append(&[json!({"id": 1})]).unwrap();
        assert_eq!(m.finish(&conn, true).unwrap(), (1, RelationKind::Table));
        assert!(!dir2.path().join("m.csv").exists());
    }
}
