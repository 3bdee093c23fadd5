//! The per-run DuckDB file (`pipeline_data.duckdb`) through which steps exchange data.
//!
//! Every step's output is one relation named exactly by its step id, always quoted, so ids with
//! `-` or `.` work. A relation is a table, or a view where that is exact and cheaper (a CSV
//! extract read by one consumer is a view over `read_csv`; a SQL step read by one consumer is a
//! view, so extract → SQL → CSV runs as one streaming `COPY (SELECT …) TO`). DuckDB's memory is
//! bounded (`memory_limit`) and it spills to `tmp/` inside the run dir instead of growing.

pub mod block_cache;
pub mod chunk_load;
mod compat;
pub mod decimal;
pub mod direct_write;
#[cfg(unix)]
pub mod pipe;
pub mod piped_insert;
pub mod sql_guard;
pub mod stream;
pub mod threads;

pub use compat::{compat_name, with_compat_names};

use duckdb::Connection;
use std::path::Path;

/// File name of the exchange database inside a run dir.
pub const FILE_NAME: &str = "pipeline_data.duckdb";

/// Default DuckDB `memory_limit`. Measured on the 5M-row filter benchmark (BENCHMARKS.md):
/// order-preserving parallel writes buffer batches up to the limit, so peak RSS follows the limit
/// (1GB: 462 MiB, 512MB: 367 MiB, 256MB: 306 MiB) while wall time stays the same; 512MB keeps
/// headroom for joins and aggregations before they spill to the run dir.
pub const DEFAULT_MEMORY_LIMIT: &str = "512MB";

/// Settings for the exchange database.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DuckDB `memory_limit`, e.g. `512MB`.
    pub memory_limit: String,
    /// The only directories the database may read or write files in (besides its own file and
    /// the run dir): the directories of the run's file steps and its resume spools. External
    /// access is switched off for everything else — one way, for the life of the database.
    pub allowed_directories: Vec<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self { memory_limit: DEFAULT_MEMORY_LIMIT.into(), allowed_directories: Vec::new() }
    }
}

/// The open exchange database of one run.
pub struct Exchange {
    conn: Connection,
    block_cache: std::sync::Arc<block_cache::BlockCache>,
}

impl Exchange {
    /// Create `pipeline_data.duckdb` in `run_dir` and apply the settings: DuckDB may touch files
    /// only in the run dir and [`Settings::allowed_directories`] (no network, no extension
    /// download). A bulk load hands each full row group (122,880 rows) to disk as soon as it is
    /// complete (`write_buffer_row_group_count = 1`; DuckDB's default keeps up to five,
    /// uncompressed, so a table's load held up to ~70 MiB more at 1M rows).
    /// `enable_external_access` cannot be switched back on while the database is open, and
    /// `allowed_directories` cannot change once it is off.
    pub fn create(run_dir: &Path, settings: &Settings) -> duckdb::Result<Self> {
        let path = run_dir.join(FILE_NAME);
        let conn = Connection::open(&path)?;
        let tmp = run_dir.join("tmp");
        let allowed: Vec<String> = std::iter::once(run_dir)
            .chain(settings.allowed_directories.iter().map(|d| d.as_path()))
            .map(|d| quote_literal(&format!("{}/", d.display().to_string().trim_end_matches('/'))))
            .collect();
        conn.execute_batch(&format!(
            "SET memory_limit = {}; SET temp_directory = {}; SET preserve_insertion_order = true; \
             SET write_buffer_row_group_count = 1; SET allowed_directories = [{}]; SET enable_external_access = false;",
            quote_literal(&settings.memory_limit),
            quote_literal(&tmp.display().to_string()),
            allowed.join(", ")
        ))?;
        Ok(Self { conn, block_cache: std::sync::Arc::new(block_cache::BlockCache::new(&settings.memory_limit)) })
    }

    /// A new connection to the same database (one per worker thread).
    pub fn connect(&self) -> duckdb::Result<Connection> {
        self.conn.try_clone()
    }

    /// The buffer pool's cache of written blocks, shared by the run's loads and its scheduler.
    pub fn block_cache(&self) -> std::sync::Arc<block_cache::BlockCache> {
        std::sync::Arc::clone(&self.block_cache)
    }

    /// Flush everything to the file.
    pub fn checkpoint(&self) -> duckdb::Result<()> {
        self.conn.execute_batch("CHECKPOINT")
    }
}

/// A SQL identifier in double quotes (`"extract-orders"`), inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal in single quotes, inner quotes doubled.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whether a relation is a table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelationKind {
    /// Materialised rows.
    Table,
    /// A query evaluated by its reader.
    View,
}

/// Create relation `name` as `query`: a table when `materialize`, else a view. Returns the kind
/// and, for a table, its row count (a view's rows are only known when its reader evaluates it).
pub fn create_relation(
    conn: &Connection,
    name: &str,
    query: &str,
    materialize: bool,
) -> duckdb::Result<(RelationKind, Option<u64>)> {
    let (kind, ddl) = if materialize { (RelationKind::Table, "TABLE") } else { (RelationKind::View, "VIEW") };
    // The newline ends a trailing `--` comment in the query.
    conn.execute_batch(&format!("CREATE {ddl} {} AS {query}\n", quote_ident(name)))?;
    let rows = if materialize { Some(row_count(conn, name)?) } else { None };
    Ok((kind, rows))
}

/// The first rows of a query, every value as text: what previews, samples and ad-hoc queries show.
#[derive(Debug, Clone, Default)]
pub struct TextRows {
    /// Column names (empty when there were no rows).
    pub columns: Vec<String>,
    /// Values, NULL as None.
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows were there than the limit.
    pub truncated: bool,
}

/// Up to `limit` rows of `query`, every column cast to text. The query is a subquery of the one
/// run, so anything but one query is a syntax error.
pub fn text_rows(conn: &Connection, query: &str, limit: usize) -> duckdb::Result<TextRows> {
    let mut stmt = conn.prepare(&format!("SELECT COLUMNS(*)::VARCHAR FROM ({query}) LIMIT {}", limit + 1))?;
    let mut rows = stmt.query([])?;
    let mut out = TextRows::default();
    while let Some(row) = rows.next()? {
        if out.columns.is_empty() {
            out.columns = row.as_ref().column_names();
        }
        if out.rows.len() == limit {
            out.truncated = true;
            break;
        }
        out.rows.push((0..out.columns.len()).map(|i| row.get::<_, Option<String>>(i).ok().flatten()).collect());
    }
    Ok(out)
}

/// True for DuckDB's numeric types (integers of every width, FLOAT, DOUBLE, DECIMAL).
pub fn is_numeric_type(duck_type: &str) -> bool {
    const NUMERIC: [&str; 14] = [
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
        "REAL",
    ];
    NUMERIC.iter().any(|p| duck_type.starts_with(p))
}

/// Number of rows in relation `name`.
pub fn row_count(conn: &Connection, name: &str) -> duckdb::Result<u64> {
    conn.query_row(&format!("SELECT count(*) FROM {}", quote_ident(name)), [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
}

/// Column names and DuckDB types of relation or query `source` (a quoted name or `(SELECT …)`).
pub fn describe(conn: &Connection, source: &str) -> duckdb::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {source}"))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("extract-orders"), "\"extract-orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}

#[cfg(test)]
mod interrupt_tests {
    #[test]
    fn interrupting_a_clone_stops_its_copy() {
        let dir = tempfile::tempdir().unwrap();
        let db = duckdb::Connection::open(dir.path().join("x.duckdb")).unwrap();
        let conn = db.try_clone().unwrap();
        let handle = conn.interrupt_handle();
        let out = dir.path().join("o.csv").display().to_string();
        let t = std::thread::spawn(move || {
            conn.execute(&format!("COPY (SELECT i FROM range(1000000000000) t(i)) TO '{out}'"), [])
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        handle.interrupt();
        assert!(t.join().unwrap().is_err());
    }
}
