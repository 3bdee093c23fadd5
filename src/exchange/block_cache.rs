//! Dropping the table blocks DuckDB keeps cached after a load has written them.
//!
//! A load hands each full row group to disk (exchange::Exchange::create), and DuckDB keeps the
//! blocks it wrote in its buffer pool until `memory_limit` needs the room. A lone extractor filling
//! its table therefore grew with its rows, towards the limit (512 MB by default): 1M GraphQL
//! nodes peaked at 97 MiB, 3M at 116 MiB. Nothing reads those blocks before the step ends (its
//! readers start after it), so a long load drops them now and then ([`BlockCache::release`]):
//! 3M then peaks at 95 MiB, about what 1M does (BENCHMARKS.md).
//!
//! DuckDB has no statement that only evicts. `SET memory_limit` evicts unpinned blocks down to the
//! new limit before it applies it, and keeps the old limit when it cannot get there
//! (`BufferPool::SetLimit`). A loading INSERT holds its append buffers pinned until its pipe ends,
//! so asking for `0B` while it runs evicts every block that can go and leaves the limit as it
//! was. The configured limit is set again right after all the same: it puts DuckDB's copy of the
//! setting back, and it covers a pool that had nothing pinned (an INSERT that has just failed),
//! with no other step running to allocate in between. Eviction works through the
//! pool's queues in order, table blocks first; what a step's statements have left unpinned goes
//! to the run's tmp/ as it would under memory pressure. So it is done only while the loading step
//! is the only one running ([`BlockCache::step_running`] counts them under the same lock): a
//! transform running beside it keeps its buffers.

use std::sync::Mutex;

/// The run's buffer pool, as far as loads and the scheduler share it.
#[derive(Debug)]
pub struct BlockCache {
    /// The configured `memory_limit`, set again after each release.
    memory_limit: String,
    /// Steps running now.
    running: Mutex<usize>,
}

/// Counts one running step until dropped.
#[must_use = "the step counts as running only while this is held"]
pub struct RunningStep<'a>(&'a BlockCache);

impl Drop for RunningStep<'_> {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
    }
}

impl BlockCache {
    /// For an exchange opened with `memory_limit`.
    pub fn new(memory_limit: &str) -> Self {
        Self { memory_limit: memory_limit.to_string(), running: Mutex::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a step as running while the guard lives. Waits for a release in progress.
    pub fn step_running(&self) -> RunningStep<'_> {
        *self.lock() += 1;
        RunningStep(self)
    }

    /// Evict every unpinned block of the pool (module doc), on `conn`, when the caller's step is
    /// the only one running; returns whether it did. Meant for a load whose statement is running
    /// (a piped INSERT).
    pub fn release(&self, conn: &duckdb::Connection) -> duckdb::Result<bool> {
        let running = self.lock();
        // Held until the limit is back: no step starts in between.
        if *running != 1 {
            return Ok(false);
        }
        // Refused while the caller's INSERT holds its buffers (module doc): the eviction is what
        // it leaves behind. Whatever it says, the configured limit is set again.
        let _ = conn.execute_batch("SET memory_limit = '0B'");
        conn.execute_batch(&format!("SET memory_limit = {}", super::quote_literal(&self.memory_limit)))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached_table_bytes(conn: &duckdb::Connection) -> i64 {
        conn.query_row(
            "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = 'BASE_TABLE'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_release_drops_cached_blocks_only_for_a_lone_step_and_keeps_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let conn = duckdb::Connection::open(dir.path().join("x.duckdb")).unwrap();
        conn.execute_batch(
            "SET memory_limit = '300MB'; CREATE TABLE t AS SELECT range AS i, range::VARCHAR AS s FROM range(2000000); \
             CHECKPOINT; SELECT sum(i) FROM t",
        )
        .unwrap();
        let cached = cached_table_bytes(&conn);
        assert!(cached > 1 << 20, "the table's blocks are cached after the scan: {cached}");
        let cache = BlockCache::new("300MB");

        assert!(!cache.release(&conn).unwrap(), "no step running: nothing to release for");
        let (a, b) = (cache.step_running(), cache.step_running());
        assert!(!cache.release(&conn).unwrap(), "two steps running: the other's buffers stay");
        assert_eq!(cached_table_bytes(&conn), cached);
        drop(b);

        assert!(cache.release(&conn).unwrap());
        let after = cached_table_bytes(&conn);
        assert!(after < cached / 4, "cached table bytes {cached} -> {after}");
        let limit: String = conn.query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0)).unwrap();
        assert_eq!(limit, "286.1 MiB", "the configured limit (300 MB) is in force again");
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2_000_000, "the table reads back from disk");
        drop(a);
        assert_eq!(*cache.lock(), 0);
        // Released with nothing pinned (no statement running): the limit was set again.
        let n: i64 = conn.query_row("SELECT count(DISTINCT s) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2_000_000, "a query that needs memory runs after the release");
    }
}
