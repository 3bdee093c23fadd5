//! The producer/consumer shape every database extractor shares.
//!
//! A producer thread talks to the source and renders rows as CSV chunks (see
//! [`crate::exchange::chunk_load`]); a channel two chunks deep hands them to the step's thread,
//! which loads each into the step's table. Network reads and DuckDB loads overlap, and memory
//! holds at most a few chunks whatever the result size.

use super::{sql_error, DriverError, StepContext};
use crate::exchange::chunk_load::{scratch_path, ChunkLoader, LoadColumn};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Target size of one CSV chunk handed to DuckDB.
pub const CHUNK_BYTES: usize = 16 << 20;

/// What a producer sends: the columns once, then chunks of complete CSV records.
pub enum Chunk {
    /// The target table's columns (first message).
    Columns(Vec<LoadColumn>),
    /// CSV records, each starting with the constant `0` field.
    Rows(Vec<u8>),
}

/// The sending half a producer writes to.
pub type ChunkSender = SyncSender<Result<Chunk, DriverError>>;

/// Run `produce` on its own thread and load what it sends into the step's table.
/// On failure the partial table is dropped. Returns the rows loaded.
pub fn extract_with<F>(ctx: &StepContext, produce: F) -> Result<u64, DriverError>
where
    F: FnOnce(&ChunkSender) -> Result<(), DriverError> + Send,
{
    let (tx, rx) = sync_channel(2);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Err(e) = produce(&tx) {
                let _ = tx.send(Err(e));
            }
        });
        consume(ctx, rx)
    });
    if result.is_err() {
        ctx.drop_partial_table();
    }
    result
}

fn consume(ctx: &StepContext, rx: Receiver<Result<Chunk, DriverError>>) -> Result<u64, DriverError> {
    let Ok(first) = rx.recv() else {
        return Err(DriverError::Source("the source reader stopped without a result".into()));
    };
    let Chunk::Columns(columns) = first? else {
        return Err(DriverError::Source("the source reader sent rows before columns".into()));
    };
    let scratch = scratch_path(ctx.run_dir, ctx.step_id)
        .map_err(|e| DriverError::Source(format!("cannot create the run's tmp dir: {e}")))?;
    let loader = ChunkLoader::new(ctx.conn, ctx.step_id, &columns, scratch, true).map_err(sql_error)?;
    let mut rows = 0u64;
    for message in rx {
        if ctx.cancel.load(Ordering::SeqCst) {
            return Err(DriverError::Cancelled);
        }
        let Chunk::Rows(chunk) = message? else { continue };
        rows += loader.load(ctx.conn, &chunk).map_err(DriverError::Source)?;
    }
    Ok(rows)
}

/// Send `chunk` unless the consumer is gone; false means stop producing.
pub fn send_rows(tx: &ChunkSender, chunk: Vec<u8>) -> bool {
    tx.send(Ok(Chunk::Rows(chunk))).is_ok()
}
