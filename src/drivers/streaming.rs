//! The producer/consumer shape every database extractor shares.
//!
//! A producer thread talks to the source and renders rows as CSV chunks (see
//! [`crate::exchange::chunk_load`]); a channel two chunks deep hands them to the step's thread,
//! which loads each into the step's table. Network reads and DuckDB loads overlap, and memory
//! holds at most a few chunks whatever the result size.
//!
//! When the step's output may be a view (one consumer, `--materialize auto`), the chunks are
//! appended to `<run_dir>/staged/<step>.csv` instead and the step's relation is a view that types
//! them as it is read. The consumer then parses the file once, on every core, and DuckDB does
//! not compress and store rows that are read once: 1M MariaDB rows extracted to CSV took 3.1 s
//! through a table and 2.2–2.5 s staged, 5M 16.6 s and 11.8 s (BENCHMARKS.md). The cost is disk:
//! the staged text (149 MB for the 1M-row orders) instead of DuckDB's compressed blocks (18 MB).
//! The run dir keeps the file, so the view stays inspectable after the run.
//!
//! On a streamed edge (`StepContext::stream`, planned by the scheduler) the view first reads a
//! pipe that gets every chunk as well, so the one consumer runs while rows are extracted; when it
//! has finished, the view is re-pointed at the staged file ([`crate::exchange::stream`]).

use super::{sql_error, DriverError, StepContext};
use crate::exchange::chunk_load::{
    count_records, create_lean_view, create_view, scratch_path, ChunkLoader, LoadColumn,
};
use crate::exchange::direct_write::DirectWriter;
use crate::exchange::stream::{PipeFeed, StreamOut};
use crate::exchange::RelationKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Target size of one CSV chunk loaded into a table: each load has a fixed cost (a WAL write).
pub const CHUNK_BYTES: usize = 16 << 20;

/// Target size of one chunk staged for a view (and fed to a streamed consumer). Appending has no
/// per-chunk cost, and on a streamed edge the chunk size is the pipeline's step: the consumer
/// waits for the first chunk and works through the last ones alone. MariaDB → CSV, 1M rows:
/// 16 MiB chunks 2.0–2.1 s, 4 MiB 1.9 s (with the pipe view's 4 MiB read buffer).
pub const STAGED_CHUNK_BYTES: usize = 4 << 20;

/// What a producer sends: the columns once, then chunks of complete CSV records.
pub enum Chunk {
    /// The target table's columns (first message).
    Columns(Vec<LoadColumn>),
    /// CSV records, each starting with the constant `0` field, and how many there are when the
    /// producer counted them (else the consumer counts record ends).
    Rows(Vec<u8>, Option<u64>),
}

/// The producer's end: sends the columns and the chunks, hands out chunk buffers the consumer
/// has finished with (a fresh multi-MiB buffer costs a page fault per 4 KiB: 180k at 5M orders
/// rows), and says how big a chunk to aim for.
pub struct ChunkSender {
    messages: SyncSender<Result<Chunk, DriverError>>,
    spent: Receiver<Vec<u8>>,
    /// Chunk size to aim for: [`CHUNK_BYTES`] for a table, [`STAGED_CHUNK_BYTES`] when staged.
    pub chunk_bytes: usize,
}

impl ChunkSender {
    /// Send the columns (first); false means the consumer is gone: stop producing.
    pub fn columns(&self, columns: Vec<LoadColumn>) -> bool {
        self.messages.send(Ok(Chunk::Columns(columns))).is_ok()
    }

    /// Send `chunk` (holding `records` records, when counted); false means stop producing.
    pub fn rows(&self, chunk: Vec<u8>, records: Option<u64>) -> bool {
        self.messages.send(Ok(Chunk::Rows(chunk, records))).is_ok()
    }

    /// An empty buffer for the next chunk: a spent one when there is one, else a new one.
    pub fn buffer(&self) -> Vec<u8> {
        self.spent.try_recv().unwrap_or_else(|_| Vec::with_capacity(self.chunk_bytes + (1 << 20)))
    }
}

/// The consumer's end: the producer's messages, and where spent chunk buffers go back.
struct Inbox {
    messages: Receiver<Result<Chunk, DriverError>>,
    spent: SyncSender<Vec<u8>>,
}

/// Run `produce` on its own thread and load what it sends into the step's table — or stage it
/// for a view when the step need not be materialized. On failure the partial table (or staged
/// file) is removed. Returns the rows and the kind of relation made.
pub fn extract_with<F>(ctx: &StepContext, produce: F) -> Result<(u64, RelationKind), DriverError>
where
    F: FnOnce(&ChunkSender) -> Result<(), DriverError> + Send,
{
    let chunk_bytes = if ctx.materialize { CHUNK_BYTES } else { STAGED_CHUNK_BYTES };
    let (messages_tx, messages) = sync_channel(2);
    let (spent_tx, spent) = sync_channel(2);
    let sender = ChunkSender { messages: messages_tx, spent, chunk_bytes };
    let inbox = Inbox { messages, spent: spent_tx };
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A panic must reach the consumer as a failure: a channel closed by unwinding looks
            // like the end of the rows, and a streamed writer would commit a truncated load.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(&sender))).unwrap_or_else(|p| {
                    Err(DriverError::Internal(format!("the source reader panicked: {}", super::panic_message(&*p))))
                });
            if let Err(e) = outcome {
                let _ = sender.messages.send(Err(e));
            }
        });
        if ctx.materialize {
            consume(ctx, inbox).map(|rows| (rows, RelationKind::Table))
        } else {
            stage(ctx, inbox).map(|rows| (rows, RelationKind::View))
        }
    });
    if result.is_err() {
        ctx.drop_partial_relation();
        let _ = std::fs::remove_file(staged_path(ctx.run_dir, ctx.step_id));
    }
    result
}

/// Where a step's staged rows live.
pub(crate) fn staged_path(run_dir: &Path, step_id: &str) -> PathBuf {
    run_dir.join("staged").join(format!("{step_id}.csv"))
}

/// The FIFO through which a step's table is filled while rows arrive (exchange::piped_insert).
pub(crate) fn load_pipe_path(run_dir: &Path, step_id: &str) -> PathBuf {
    run_dir.join("tmp").join(format!("{step_id}.load.fifo"))
}

/// Append every chunk to the staged file, then create the step's view over it. On a streamed
/// edge the view first reads a pipe that receives each chunk too, while the consumer runs.
fn stage(ctx: &StepContext, inbox: Inbox) -> Result<u64, DriverError> {
    let columns = first_columns(&inbox.messages)?;
    let path = staged_path(ctx.run_dir, ctx.step_id);
    let io_err = |e: std::io::Error| DriverError::at_source(format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(path.parent().unwrap_or(ctx.run_dir)).map_err(io_err)?;
    // Written past the page cache: DuckDB reads it once, and buffered writes cost more CPU
    // than the rest of staging (exchange::direct_write).
    let mut file = DirectWriter::create(&path).map_err(io_err)?;
    let mut feed = match ctx.stream {
        Some(out) => Some(publish(ctx, out, &columns)?),
        None => None,
    };
    let rows = for_each_chunk(ctx, inbox, |chunk| {
        if let Some(feed) = feed.as_mut() {
            feed.send(chunk);
        }
        file.write_all(chunk).map_err(io_err)?;
        Ok(())
    });
    if let Some(feed) = feed {
        // The consumer has finished when this returns, so the view can be replaced, or dropped
        // by `extract_with` on failure.
        feed.finish(rows.is_ok());
    }
    let rows = rows?;
    file.finish().map_err(io_err)?;
    create_view(ctx.conn, ctx.step_id, &columns, &path).map_err(sql_error)?;
    Ok(rows)
}

/// Create the pipe of a streamed edge and the step's view over it, then let the consumer start.
pub(crate) fn publish<'a>(
    ctx: &StepContext<'a>,
    out: &'a StreamOut,
    columns: &[LoadColumn],
) -> Result<PipeFeed<'a>, DriverError> {
    let feed = PipeFeed::create(out, ctx.cancel)
        .map_err(|e| DriverError::at_source(format!("cannot create the pipe {}: {e}", out.pipe.display())))?;
    create_lean_view(ctx.conn, ctx.step_id, columns, &out.pipe).map_err(sql_error)?;
    (out.publish)();
    Ok(feed)
}

/// The columns message every producer sends first.
fn first_columns(rx: &Receiver<Result<Chunk, DriverError>>) -> Result<Vec<LoadColumn>, DriverError> {
    let Ok(first) = rx.recv() else {
        return Err(DriverError::at_source("the source reader stopped without a result"));
    };
    match first? {
        Chunk::Columns(columns) => Ok(columns),
        Chunk::Rows(..) => Err(DriverError::at_source("the source reader sent rows before columns")),
    }
}

fn consume(ctx: &StepContext, inbox: Inbox) -> Result<u64, DriverError> {
    let columns = first_columns(&inbox.messages)?;
    let scratch = scratch_path(ctx.run_dir, ctx.step_id)
        .map_err(|e| DriverError::at_source(format!("cannot create the run's tmp dir: {e}")))?;
    let loader = ChunkLoader::new(ctx.conn, ctx.step_id, &columns, scratch, true).map_err(sql_error)?;
    let mut loaded = 0u64;
    for_each_chunk(ctx, inbox, |chunk| {
        loaded += loader.load(ctx.conn, chunk).map_err(DriverError::at_source)?;
        Ok(())
    })?;
    Ok(loaded)
}

/// Hand every chunk to `sink` until the producer is done; stops at the producer's error or a
/// cancelled run. Returns the records the chunks held.
fn for_each_chunk(
    ctx: &StepContext,
    inbox: Inbox,
    mut sink: impl FnMut(&[u8]) -> Result<(), DriverError>,
) -> Result<u64, DriverError> {
    let mut rows = 0u64;
    for message in inbox.messages {
        if ctx.cancel.load(Ordering::SeqCst) {
            return Err(DriverError::Cancelled);
        }
        if let Chunk::Rows(mut chunk, records) = message? {
            sink(&chunk)?;
            rows += records.unwrap_or_else(|| count_records(&chunk));
            chunk.clear();
            // Back to the producer for reuse; when two are waiting already, this one is freed.
            let _ = inbox.spent.try_send(chunk);
        }
    }
    Ok(rows)
}
