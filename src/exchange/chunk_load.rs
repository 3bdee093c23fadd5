//! Loading rows that arrive as CSV text into a typed DuckDB table, one bounded chunk at a time.
//!
//! Every network extractor (MySQL, PostgreSQL, PostHog, GraphQL, PostgREST) ends the same way:
//! rows rendered as CSV text, a chunk at a time, written to one scratch file that DuckDB's own CSV
//! reader loads with one vectorised CAST per column. No value passes through per-value FFI and
//! memory holds one chunk whatever the result size.
//!
//! Chunk format: each record starts with a constant `0` field (so a record of one NULL is not a
//! blank line, which CSV readers skip), then one field per column; an unquoted empty field is
//! NULL, a quoted empty field (`""`) is the empty string.

use super::decimal::wide_decimal_from_text;
use super::{quote_ident, quote_literal};
use std::path::{Path, PathBuf};

/// One target column: its name, DuckDB type and the SQL that turns the staged text into it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadColumn {
    /// Column name in the target table.
    pub name: String,
    /// DuckDB type of the target column.
    pub duck_type: String,
    /// Expression over `{}` (the staged field read as VARCHAR) giving the typed value; None =
    /// the field parsed as `duck_type` by DuckDB's CSV reader (the same rules as a CAST).
    pub expression: Option<String>,
}

impl LoadColumn {
    /// A column whose text is parsed as `duck_type`.
    pub fn cast(name: impl Into<String>, duck_type: impl Into<String>) -> Self {
        Self { name: name.into(), duck_type: duck_type.into(), expression: None }
    }
}

/// Appends CSV chunks to one table.
pub struct ChunkLoader {
    table: String,
    scratch: PathBuf,
    insert: String,
}

impl ChunkLoader {
    /// Create the table (unless `create` is false) and prepare the load statement.
    /// `scratch` is the file each chunk is written to (under the run dir's tmp/).
    pub fn new(
        conn: &duckdb::Connection,
        table: &str,
        columns: &[LoadColumn],
        scratch: PathBuf,
        create: bool,
    ) -> duckdb::Result<Self> {
        if create {
            create_table(conn, table, columns)?;
        }
        Ok(Self { table: table.to_string(), insert: insert_sql(table, columns, &scratch, None), scratch })
    }

    /// The table being filled.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Load one chunk (complete records only); returns the rows added.
    pub fn load(&self, conn: &duckdb::Connection, chunk: &[u8]) -> Result<u64, String> {
        if chunk.is_empty() {
            return Ok(0);
        }
        std::fs::write(&self.scratch, chunk).map_err(|e| format!("cannot write {}: {e}", self.scratch.display()))?;
        let rows = conn.execute(&self.insert, []).map_err(|e| format!("cannot load rows into DuckDB: {e}"))?;
        Ok(rows as u64)
    }
}

impl Drop for ChunkLoader {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.scratch);
    }
}

/// `CREATE TABLE table (columns)`.
pub fn create_table(conn: &duckdb::Connection, table: &str, columns: &[LoadColumn]) -> duckdb::Result<()> {
    let ddl: Vec<String> = columns.iter().map(|c| format!("{} {}", quote_ident(&c.name), c.duck_type)).collect();
    conn.execute_batch(&format!("CREATE TABLE {} ({})", quote_ident(table), ddl.join(", ")))
}

/// Append a file of complete chunks whose records hold `columns` to `table` (read once, with
/// small buffers); returns the rows.
pub fn insert_file(
    conn: &duckdb::Connection,
    table: &str,
    columns: &[LoadColumn],
    chunks: &Path,
) -> duckdb::Result<u64> {
    conn.execute(&insert_sql(table, columns, chunks, Some(PIPE_READ_BUFFER)), []).map(|n| n as u64)
}

fn insert_sql(table: &str, columns: &[LoadColumn], chunks: &Path, read_buffer: Option<usize>) -> String {
    let targets: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
    format!("INSERT INTO {} ({}) {}", quote_ident(table), targets.join(", "), select_sql(columns, chunks, read_buffer))
}

/// Read buffer of a view over a pipe. DuckDB's default (32 MiB) fills before parsing starts, so a
/// streamed consumer would wait for 32 MiB at the start and work through up to 32 MiB alone at the
/// end; 4 MiB (at least the default `max_line_size`, 2 MB) keeps the pipeline's step small.
const PIPE_READ_BUFFER: usize = 4 << 20;

/// The typed rows of a file of chunks over DuckDB's CSV reader. A plain cast is left to the
/// reader, which parses the field straight into the type (no VARCHAR vector in between: the
/// cheaper path when a single DuckDB thread reads a streamed pipe); other columns are read as
/// VARCHAR and go through their expression.
fn select_sql(columns: &[LoadColumn], chunks: &Path, read_buffer: Option<usize>) -> String {
    let staged: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    // A wide DECIMAL is parsed faster through its digits than by the reader (decimal.rs).
    let expressions: Vec<Option<String>> =
        columns.iter().map(|c| c.expression.clone().or_else(|| wide_decimal_from_text("{}", &c.duck_type))).collect();
    let read_columns: Vec<String> = std::iter::once("'row': 'VARCHAR'".to_string())
        .chain(columns.iter().zip(&staged).zip(&expressions).map(|((c, n), e)| {
            let read_as = if e.is_some() { "VARCHAR" } else { c.duck_type.as_str() };
            format!("'{n}': {}", quote_literal(read_as))
        }))
        .collect();
    let select: Vec<String> = columns
        .iter()
        .zip(&staged)
        .zip(&expressions)
        .map(|((c, s), e)| {
            let value = e.as_ref().map_or_else(|| s.clone(), |e| e.replace("{}", s));
            format!("{value} AS {}", quote_ident(&c.name))
        })
        .collect();
    format!(
        "SELECT {} FROM read_csv({}, columns = {{{}}}, header = false, auto_detect = false, \
         delim = ',', quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false, new_line = '\\n'{})",
        select.join(", "),
        quote_literal(&chunks.display().to_string()),
        read_columns.join(", "),
        read_buffer.map(|b| format!(", buffer_size = {b}")).unwrap_or_default()
    )
}

/// Create view `name` over a file of complete chunks (an extraction staged on disk): the same
/// types and values a [`ChunkLoader`] table would hold, typed as the view is read.
pub fn create_view(conn: &duckdb::Connection, name: &str, columns: &[LoadColumn], chunks: &Path) -> duckdb::Result<()> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE VIEW {} AS {}",
        quote_ident(name),
        select_sql(columns, chunks, None)
    ))
}

/// Like [`create_view`] with small read buffers: over a pipe that is being filled (a streamed
/// edge), or a staged file its one consumer reads once. A JSON extraction of 1M rows read by a
/// CSV writer: peak RSS 166 → 120 MiB, the write as fast (0.50 s; BENCHMARKS.md).
pub fn create_lean_view(
    conn: &duckdb::Connection,
    name: &str,
    columns: &[LoadColumn],
    chunks: &Path,
) -> duckdb::Result<()> {
    let select = select_sql(columns, chunks, Some(PIPE_READ_BUFFER));
    conn.execute_batch(&format!("CREATE OR REPLACE VIEW {} AS {select}", quote_ident(name)))
}

/// Number of records in complete chunk text.
pub fn count_records(chunk: &[u8]) -> u64 {
    record_ends(chunk).count() as u64
}

/// The offsets just past each record's newline (a newline outside quotes).
fn record_ends(buf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut in_quotes = false;
    buf.iter().enumerate().filter_map(move |(i, b)| match b {
        b'"' => {
            in_quotes = !in_quotes;
            None
        }
        b'\n' if !in_quotes => Some(i + 1),
        _ => None,
    })
}

/// Where a step's scratch chunk lives: `<run_dir>/tmp/<step>-chunk.csv` (directory created).
pub fn scratch_path(run_dir: &Path, step_id: &str) -> std::io::Result<PathBuf> {
    let tmp = run_dir.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    Ok(tmp.join(format!("{step_id}-chunk.csv")))
}

/// Appends one CSV record to a chunk: the leading `0` field, then each value (None = NULL).
pub fn push_record<'a>(chunk: &mut String, values: impl IntoIterator<Item = Option<&'a str>>) {
    chunk.push('0');
    for v in values {
        chunk.push(',');
        if let Some(v) = v {
            push_quoted(chunk, v);
        }
    }
    chunk.push('\n');
}

/// A CSV field in quotes, inner quotes doubled (so empty text stays distinct from NULL).
pub fn push_quoted(chunk: &mut String, value: &str) {
    chunk.push('"');
    for (i, part) in value.split('"').enumerate() {
        if i > 0 {
            chunk.push_str("\"\"");
        }
        chunk.push_str(part);
    }
    chunk.push('"');
}

/// Length of the longest prefix of `buf` that ends at a record boundary of quoted CSV
/// (a newline outside quotes), or 0 when there is none.
pub fn complete_records_len(buf: &[u8]) -> usize {
    record_ends(buf).last().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_null_and_empty_apart_and_split_on_real_boundaries() {
        let mut chunk = String::new();
        push_record(&mut chunk, [Some("a\"b"), None, Some("")]);
        assert_eq!(chunk, "0,\"a\"\"b\",,\"\"\n");
        assert_eq!(complete_records_len(b"1,\"x\ny\"\n2,\"z"), 8);
        assert_eq!(complete_records_len(b"1,\"x\ny"), 0);
        assert_eq!(count_records(b"1,\"x\ny\"\n2,\"z\"\n"), 2);
    }

    #[test]
    fn chunks_load_with_casts_and_expressions() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let columns = vec![
            LoadColumn::cast("n", "BIGINT"),
            LoadColumn::cast("s", "VARCHAR"),
            LoadColumn { name: "b".into(), duck_type: "BLOB".into(), expression: Some("unhex({})".into()) },
        ];
        let loader = ChunkLoader::new(&conn, "t", &columns, dir.path().join("c.csv"), true).unwrap();
        let mut chunk = String::new();
        push_record(&mut chunk, [Some("7"), Some(""), Some("4142")]);
        push_record(&mut chunk, [None, None, None]);
        assert_eq!(loader.load(&conn, chunk.as_bytes()).unwrap(), 2);
        let got: (i64, String, Vec<u8>, i64) = conn
            .query_row(
                "SELECT sum(n), string_agg(coalesce(s, 'NULL'), '|' ORDER BY n NULLS LAST), first(b), count(*) FILTER (s IS NULL) FROM t",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(got, (7, "|NULL".to_string(), b"AB".to_vec(), 1));
    }
}
