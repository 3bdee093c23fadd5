//! A table filled while its rows are still being produced: one `INSERT … FROM read_csv(pipe)`
//! runs on a connection of its own and reads the chunks the producer sends into a FIFO, so the
//! load overlaps the extraction instead of following it (PostHog extracted alone, 1M events:
//! 8.35 → 7.66 s; BENCHMARKS.md). One statement for all rows: DuckDB's per-INSERT cost into a
//! growing table is paid once.
//!
//! The INSERT runs with DuckDB narrowed to one thread (exchange::threads): the pipe sets the
//! pace, and on one thread DuckDB plans a plain order-preserving insert that hands each full row
//! group to its optimistic writer, where on more it plans a batch insert that holds row groups
//! back to put them in order — up to ~70 MiB for 1M GraphQL edges, growing with the rows. With
//! `write_buffer_row_group_count = 1` (exchange::Exchange::create), 1M GraphQL edges extracted
//! alone peak at 104 MiB instead of 173 MiB, PostHog's 1M events at 165 instead of 219 MiB.
//!
//! The pipe is a [`PipeFeed`] that owns its edge and ignores the run's cancel flag: a feed that
//! gave up on a cancelled run before the INSERT opened the FIFO would leave it blocked in
//! `open(2)`. A failed or cancelled producer ends the pipe with the poison record instead, which
//! fails the INSERT (the caller then drops the table).

use super::block_cache::BlockCache;
use super::chunk_load::{insert_file, LoadColumn};
use super::stream::{PipeFeed, StreamOut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Never set: the INSERT ends with its pipe, not with the run's cancel flag (module doc).
static NEVER: AtomicBool = AtomicBool::new(false);

/// Sets its flag when dropped, however the thread holding it ends.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Bytes sent between two releases of the blocks the load has written (exchange::block_cache).
/// About a row group of GraphQL nodes. 1M `edges` alone, three pairs: peak RSS 104-105 -> 99-100
/// MiB for +6 % CPU; releasing after every page (1 MiB) gave 94-95 MiB for +12 % (BENCHMARKS.md).
const RELEASE_EVERY: usize = 8 << 20;

/// Releases the cached blocks of a running load every [`RELEASE_EVERY`] bytes.
struct Releases {
    cache: Arc<BlockCache>,
    conn: duckdb::Connection,
    since: usize,
    /// Releases done (for tests).
    done: u32,
}

/// An INSERT into an existing table, reading what [`PipedInsert::send`] is given.
pub struct PipedInsert {
    feed: PipeFeed<'static>,
    load: JoinHandle<duckdb::Result<u64>>,
    releases: Option<Releases>,
}

impl PipedInsert {
    /// Start appending records of `columns` (chunk format, exchange::chunk_load) to `table`
    /// through the FIFO `pipe`, on a clone of `conn`; with `cache`, the blocks it writes are
    /// dropped from DuckDB's cache as it goes (exchange::block_cache).
    pub fn start(
        conn: &duckdb::Connection,
        table: &str,
        columns: &[LoadColumn],
        pipe: PathBuf,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Self, PipedInsertError> {
        let done = Arc::new(AtomicBool::new(false));
        let out = StreamOut {
            pipe: pipe.clone(),
            publish: Box::new(|| {}),
            consumer_done: Arc::clone(&done),
            producer_failed: Default::default(),
        };
        let feed = PipeFeed::create_owned(out, &NEVER)
            .map_err(|e| PipedInsertError::Pipe { path: pipe.clone(), source: e })?;
        let releases = match cache {
            Some(cache) => Some(Releases { cache, conn: conn.try_clone()?, since: 0, done: 0 }),
            None => None,
        };
        let conn = conn.try_clone()?;
        let (table, columns) = (table.to_string(), columns.to_vec());
        let done = SetOnDrop(done);
        let load = std::thread::spawn(move || {
            let _done = done;
            // One DuckDB thread (module doc).
            let _narrowed = super::threads::narrow(&conn, 1);
            insert_file(&conn, &table, &columns, &pipe)
        });
        Ok(Self { feed, load, releases })
    }

    /// Send complete records; after the INSERT has failed this does nothing (its error comes
    /// from [`Self::finish`]).
    pub fn send(&mut self, chunk: &[u8]) {
        self.feed.send(chunk);
        if let Some(r) = &mut self.releases {
            r.since += chunk.len();
            // Only while the INSERT runs: it holds its append buffers pinned (block_cache).
            if r.since >= RELEASE_EVERY && !self.load.is_finished() {
                r.since = 0;
                // A release that fails costs memory, not rows: the load goes on.
                r.done += u32::from(r.cache.release(&r.conn).unwrap_or(false));
            }
        }
    }

    /// How many times the load's cached blocks were released.
    #[cfg(test)]
    fn releases(&self) -> u32 {
        self.releases.as_ref().map_or(0, |r| r.done)
    }

    /// End the rows — with `succeeded` false, with a record that fails the INSERT — and wait for
    /// it: the rows it loaded, or why it failed.
    pub fn finish(self, succeeded: bool) -> Result<u64, PipedInsertError> {
        self.feed.finish(succeeded);
        match self.load.join() {
            Ok(loaded) => Ok(loaded?),
            Err(p) => Err(PipedInsertError::Panicked(crate::drivers::panic_message(&*p))),
        }
    }
}

/// Why a piped INSERT failed.
#[derive(Debug, thiserror::Error)]
pub enum PipedInsertError {
    /// The FIFO could not be made.
    #[error("cannot create the pipe {}: {source}", path.display())]
    Pipe {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// DuckDB refused the INSERT (or the poison record failed it).
    #[error(transparent)]
    Sql(#[from] duckdb::Error),
    /// The loading thread panicked.
    #[error("the table's load panicked: {0}")]
    Panicked(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::chunk_load::{create_table, push_record};

    fn chunk(ids: std::ops::Range<u32>) -> Vec<u8> {
        let mut text = String::new();
        for i in ids {
            push_record(&mut text, [Some(i.to_string().as_str()), Some("x")]);
        }
        text.into_bytes()
    }

    /// A database with the empty table `t (id BIGINT, s VARCHAR)`, and its columns.
    fn empty_table() -> (tempfile::TempDir, duckdb::Connection, [LoadColumn; 2]) {
        let dir = tempfile::tempdir().unwrap();
        let conn = duckdb::Connection::open(dir.path().join("x.duckdb")).unwrap();
        let columns = [LoadColumn::cast("id", "BIGINT"), LoadColumn::cast("s", "VARCHAR")];
        create_table(&conn, "t", &columns).unwrap();
        (dir, conn, columns)
    }

    fn count_and_sum(conn: &duckdb::Connection) -> (i64, i64) {
        conn.query_row("SELECT count(*), sum(id) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
    }

    #[test]
    fn rows_load_while_sent_and_a_failed_producer_fails_the_insert() {
        let (dir, conn, columns) = empty_table();
        let mut load = PipedInsert::start(&conn, "t", &columns, dir.path().join("t.fifo"), None).unwrap();
        load.send(&chunk(0..1000));
        load.send(&chunk(1000..2500));
        assert_eq!(load.finish(true).unwrap(), 2500);
        assert_eq!(count_and_sum(&conn), (2500, 2499 * 2500 / 2));

        let mut failed = PipedInsert::start(&conn, "t", &columns, dir.path().join("t.fifo"), None).unwrap();
        failed.send(&chunk(0..10));
        assert!(matches!(failed.finish(false), Err(PipedInsertError::Sql(_))));
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2500, "the failed INSERT added nothing");
        assert!(!dir.path().join("t.fifo").exists());
    }

    #[test]
    fn releasing_cached_blocks_mid_load_keeps_every_row() {
        let (dir, conn, columns) = empty_table();
        let cache = Arc::new(BlockCache::new("512MB"));
        let running = cache.step_running();
        let mut load =
            PipedInsert::start(&conn, "t", &columns, dir.path().join("t.fifo"), Some(Arc::clone(&cache))).unwrap();
        let rows = 2_000_000u32;
        for start in (0..rows).step_by(100_000) {
            load.send(&chunk(start..start + 100_000));
        }
        // What a release rests on: a running INSERT holds buffers, so the pool refuses to shrink
        // to nothing and keeps its limit (exchange::block_cache).
        let side = conn.try_clone().unwrap();
        let refused = side.execute_batch("SET memory_limit = '0B'").is_err();
        side.execute_batch("SET memory_limit = '512MB'").unwrap();
        assert!(refused, "the pool shrank to 0 bytes under a running INSERT");
        let released = load.releases();
        assert_eq!(load.finish(true).unwrap(), u64::from(rows));
        assert!(released >= 2, "{released} releases for ~22 MB of rows");
        assert_eq!(count_and_sum(&conn), (i64::from(rows), i64::from(rows - 1) * i64::from(rows) / 2));
        drop(running);
    }
}
