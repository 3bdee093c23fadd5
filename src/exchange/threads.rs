//! DuckDB's worker threads, narrowed while a pipe sets the pace.
//!
//! DuckDB runs a query on as many threads as there are cores. When its input or its output is a
//! pipe with a slower party on the other end, extra threads do not go faster; in an
//! order-preserving COPY they render batches ahead and buffer them up to `memory_limit`, so
//! memory grows with the rows. Measured (BENCHMARKS.md): CSV → MariaDB through `LOAD DATA`, 1M
//! / 5M rows, every core 4.79 s / 23.0 s at 262 / 312 MiB, one thread 4.37 s / 21.9 s at
//! 110 / 111 MiB; the streamed MariaDB → CSV edge likewise (202 / 355 MiB → flat).
//!
//! `threads` is a setting of the whole database, so overlapping requests on one database share
//! it: the smallest requested count applies until the last guard is dropped, then DuckDB's default
//! returns. Databases are told apart by their file (in-memory ones share one entry).

use std::path::PathBuf;
use std::sync::Mutex;

/// Thread counts requested by live guards, with the database file they apply to.
static REQUESTS: Mutex<Vec<(Option<PathBuf>, usize)>> = Mutex::new(Vec::new());

/// Keeps DuckDB at the narrowed thread count while alive.
pub struct Narrowed<'a> {
    conn: &'a duckdb::Connection,
    request: (Option<PathBuf>, usize),
}

/// Run DuckDB (the whole database `conn` belongs to) with at most `threads` threads until the
/// returned guard is dropped.
pub fn narrow(conn: &duckdb::Connection, threads: usize) -> Narrowed<'_> {
    let request = (conn.path().map(PathBuf::from), threads.max(1));
    let mut requests = REQUESTS.lock().unwrap_or_else(|p| p.into_inner());
    requests.push(request.clone());
    apply(conn, &requests);
    Narrowed { conn, request }
}

/// The cores of this machine less one: what DuckDB gets while a streamed edge's producer needs
/// a core of its own (at least one).
pub fn all_but_one_core() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1)
}

impl Drop for Narrowed<'_> {
    fn drop(&mut self) {
        let mut requests = REQUESTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = requests.iter().position(|r| *r == self.request) {
            requests.swap_remove(at);
        }
        apply(self.conn, &requests);
    }
}

/// Set the smallest count requested for `conn`'s database, or DuckDB's default when none is.
/// Best effort: a failed SET leaves a thread count that is correct, only slower or bigger.
fn apply(conn: &duckdb::Connection, requests: &[(Option<PathBuf>, usize)]) {
    let db = conn.path();
    let sql = match requests.iter().filter(|(p, _)| p.as_deref() == db).map(|(_, n)| n).min() {
        Some(n) => format!("SET threads = {n}"),
        None => "RESET threads".to_string(),
    };
    let _ = conn.execute_batch(&sql);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(conn: &duckdb::Connection) -> i64 {
        conn.query_row("SELECT current_setting('threads')::BIGINT", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn the_smallest_request_applies_until_the_last_guard_goes() {
        // A file database of its own, so other tests' guards (in-memory) do not count here.
        let dir = tempfile::tempdir().unwrap();
        let conn = duckdb::Connection::open(dir.path().join("t.duckdb")).unwrap();
        let default = threads(&conn);
        {
            let _outer = narrow(&conn, 3);
            assert_eq!(threads(&conn), 3);
            {
                let _inner = narrow(&conn, 1);
                assert_eq!(threads(&conn), 1);
            }
            assert_eq!(threads(&conn), 3);
        }
        assert_eq!(threads(&conn), default);
    }
}
