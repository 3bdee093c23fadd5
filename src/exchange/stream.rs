//! A streamed edge: an extractor's rows flow to its one consumer through a named pipe while they
//! are still being extracted, so the network read and the consumer's work overlap instead of
//! running one after the other (docs/architecture.md, "Streamed edges").
//!
//! The producer creates the FIFO and, over it, the step's view, then tells the scheduler the
//! consumer may start. Each chunk of complete records goes into the pipe (and, separately, to the
//! staged file that the view is re-pointed at afterwards, so the run dir stays inspectable).
//! Nothing can hang or silently lose rows:
//! - the write end is opened without blocking, retried until the consumer's reader is there, and
//!   abandoned when the consumer has finished or will never run;
//! - a consumer that stops reading (it failed) makes the writes fail with EPIPE, and the producer
//!   goes on staging alone;
//! - when the producer fails, it writes one record with a single field where the view expects
//!   two or more, so the consumer's read fails instead of finishing on a truncated stream — a
//!   writer then rolls back as on any other error.

use super::pipe::{enlarge, make_fifo};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The record sent when the producer fails: one field, so no view over the pipe can accept it.
pub const POISON: &[u8] = b"osiris: the upstream step failed while streaming (see its error)\n";

/// How often a waiting producer looks again for the consumer.
const POLL: Duration = Duration::from_millis(2);

/// The producer's side of a streamed edge, handed to the step by the scheduler.
pub struct StreamOut {
    /// The FIFO the consumer's view reads (in the run's tmp/).
    pub pipe: PathBuf,
    /// Called once the view over the pipe exists: from then on the consumer may start.
    pub publish: Box<dyn Fn() + Send + Sync>,
    /// Set by the scheduler when the consumer has finished, or will never run.
    pub consumer_done: Arc<AtomicBool>,
    /// Set by the producer before it sends [`POISON`]: the consumer's failure is a consequence.
    pub producer_failed: Arc<AtomicBool>,
}

impl StreamOut {
    /// Whether the consumer is finished (or will never start).
    fn consumer_gone(&self) -> bool {
        self.consumer_done.load(Ordering::SeqCst)
    }
}

/// The edge a feed serves: the scheduler's, or one the feed owns (a pipe whose reader the
/// producer started itself, as `exchange::piped_insert` does).
enum Edge<'a> {
    Borrowed(&'a StreamOut),
    Owned(StreamOut),
}

impl std::ops::Deref for Edge<'_> {
    type Target = StreamOut;

    fn deref(&self) -> &StreamOut {
        match self {
            Self::Borrowed(out) => out,
            Self::Owned(out) => out,
        }
    }
}

/// Feeds one streamed edge's pipe; created after the view over the pipe exists.
pub struct PipeFeed<'a> {
    out: Edge<'a>,
    cancel: &'a AtomicBool,
    writer: Option<File>,
    /// True once the consumer is gone: chunks are no longer forwarded.
    abandoned: bool,
    /// True once the stream has been ended (by [`Self::finish`] or on drop).
    ended: bool,
}

impl<'a> PipeFeed<'a> {
    /// Create the FIFO at `out.pipe` (replacing any leftover).
    pub fn create(out: &'a StreamOut, cancel: &'a AtomicBool) -> std::io::Result<Self> {
        Self::over(Edge::Borrowed(out), cancel)
    }

    /// Like [`Self::create`], for an edge the feed keeps.
    pub fn create_owned(out: StreamOut, cancel: &'a AtomicBool) -> std::io::Result<Self> {
        Self::over(Edge::Owned(out), cancel)
    }

    fn over(out: Edge<'a>, cancel: &'a AtomicBool) -> std::io::Result<Self> {
        if let Some(dir) = out.pipe.parent() {
            std::fs::create_dir_all(dir)?;
        }
        make_fifo(&out.pipe)?;
        Ok(Self { out, cancel, writer: None, abandoned: false, ended: false })
    }

    /// Forward a chunk of complete records; after the consumer is gone this does nothing.
    pub fn send(&mut self, chunk: &[u8]) {
        let Some(writer) = self.writer() else { return };
        if writer.write_all(chunk).is_err() {
            self.abandon();
        }
    }

    /// End the stream: on failure send [`POISON`] first. Then close the pipe, which the consumer
    /// reads as the end, and wait until it has finished (or the run is cancelled), so the view
    /// can be changed without a reader on it. The FIFO is removed on drop.
    pub fn finish(mut self, succeeded: bool) {
        self.end(succeeded);
        while !self.out.consumer_gone() && !self.cancel.load(Ordering::SeqCst) {
            std::thread::sleep(POLL);
        }
    }

    /// Send [`POISON`] unless `succeeded`, then close the write end; once only.
    fn end(&mut self, succeeded: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if !succeeded {
            self.out.producer_failed.store(true, Ordering::SeqCst);
        }
        // Opening (even with nothing to send) releases a consumer blocked in `open`.
        if let Some(writer) = self.writer() {
            if !succeeded {
                let _ = writer.write_all(POISON);
            }
        }
        self.writer = None;
    }

    /// The write end, opened once the consumer's reader is there; None once it is gone.
    fn writer(&mut self) -> Option<&mut File> {
        while self.writer.is_none() && !self.abandoned {
            match open_write_end(&self.out.pipe) {
                Ok(file) => self.writer = Some(file),
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    if self.out.consumer_gone() || self.cancel.load(Ordering::SeqCst) {
                        self.abandon();
                    } else {
                        std::thread::sleep(POLL);
                    }
                }
                Err(_) => self.abandon(),
            }
        }
        self.writer.as_mut()
    }

    fn abandon(&mut self) {
        self.abandoned = true;
        self.writer = None;
    }
}

impl Drop for PipeFeed<'_> {
    /// A feed dropped without [`PipeFeed::finish`] (an error path that forgot it, a panic
    /// unwinding) ends as a failure: closing the pipe alone would read as the end of the rows,
    /// and the consumer would commit a truncated stream.
    fn drop(&mut self) {
        self.end(false);
        let _ = std::fs::remove_file(&self.out.pipe);
    }
}

/// Open the write end without blocking (ENXIO: no reader yet), then make writes blocking again
/// so a full pipe waits for the consumer instead of failing.
fn open_write_end(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a valid open descriptor owned by `file`; this only changes its flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    enlarge(&file);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn edge(dir: &Path) -> StreamOut {
        StreamOut {
            pipe: dir.join("s.fifo"),
            publish: Box::new(|| {}),
            consumer_done: Arc::new(AtomicBool::new(false)),
            producer_failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// What a consumer reads from the pipe until the producer closes it.
    fn read_to_end(pipe: &Path) -> String {
        let mut text = String::new();
        File::open(pipe).unwrap().read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn the_consumer_reads_every_chunk_or_the_poison_record() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        for succeeded in [true, false] {
            let out = edge(dir.path());
            let mut feed = PipeFeed::create(&out, &cancel).unwrap();
            let read = std::thread::scope(|s| {
                let reader = s.spawn(|| {
                    let text = read_to_end(&out.pipe);
                    out.consumer_done.store(true, Ordering::SeqCst);
                    text
                });
                feed.send(b"0,1\n");
                feed.send(b"0,2\n");
                feed.finish(succeeded);
                reader.join().unwrap()
            });
            let poison = std::str::from_utf8(POISON).unwrap();
            let expected = if succeeded { "0,1\n0,2\n".to_string() } else { format!("0,1\n0,2\n{poison}") };
            assert_eq!(read, expected);
            assert_eq!(out.producer_failed.load(Ordering::SeqCst), !succeeded);
            assert!(!out.pipe.exists(), "the FIFO is removed");
        }
    }

    #[test]
    fn a_feed_dropped_without_finishing_sends_the_poison_record() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let out = edge(dir.path());
        let mut feed = PipeFeed::create(&out, &cancel).unwrap();
        let read = std::thread::scope(|s| {
            let reader = s.spawn(|| read_to_end(&out.pipe));
            feed.send(b"0,1\n");
            drop(feed);
            reader.join().unwrap()
        });
        assert_eq!(read.as_bytes(), [b"0,1\n".as_slice(), POISON].concat());
        assert!(out.producer_failed.load(Ordering::SeqCst));
    }

    #[test]
    fn a_consumer_that_never_reads_or_stops_reading_does_not_block_the_producer() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let out = edge(dir.path());
        out.consumer_done.store(true, Ordering::SeqCst);
        let mut feed = PipeFeed::create(&out, &cancel).unwrap();
        feed.send(b"0,1\n");
        feed.finish(true);

        let out = edge(dir.path());
        let mut feed = PipeFeed::create(&out, &cancel).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut first = [0u8; 4];
                File::open(&out.pipe).unwrap().read_exact(&mut first).unwrap();
                out.consumer_done.store(true, Ordering::SeqCst);
            });
            // Far more than the pipe holds: the writes fail once the reader has closed.
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..8 {
                feed.send(&chunk);
            }
            feed.finish(true);
        });
    }
}
