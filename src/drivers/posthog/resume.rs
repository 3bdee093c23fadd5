//! Resumable extraction: every page the step has loaded is also appended to a durable spool
//! (`pages.csv`, the chunk format of exchange::chunk_load) and a checkpoint (`cursor.json`: where
//! the next page starts, the spool's length, the columns) is replaced atomically after it. A run
//! that is killed leaves both behind in the step's resume directory; the next run of the same
//! pipeline with the same source settings loads the spool into its table (cut back to the
//! checkpoint's length, so a page written but not checkpointed is fetched again) and continues
//! from the checkpoint: at most one page is read twice. When a run succeeds the runtime removes
//! the directory; `osiris run --full-refresh` removes it before the run.

use super::query::{Position, Window};
use crate::exchange::chunk_load::LoadColumn;
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The durable position of an extraction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Source settings this checkpoint belongs to; a different fingerprint starts over.
    pub fingerprint: String,
    /// The run's window (kept, so the resumed read is the same read).
    pub window: Window,
    /// Where the next page starts.
    pub position: Position,
    /// Target columns.
    pub columns: Vec<LoadColumn>,
    /// Bytes of `pages.csv` that belong to checkpointed pages.
    pub bytes: u64,
    /// Rows in those bytes.
    pub rows: u64,
    /// Pages fetched so far.
    pub pages: u64,
    /// Rows skipped as duplicates so far.
    pub deduplicated: u64,
}

/// A step's resume directory.
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool in `dir` (created on the first write).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    /// The spooled pages file.
    pub fn pages(&self) -> PathBuf {
        self.dir.join("pages.csv")
    }

    fn cursor(&self) -> PathBuf {
        self.dir.join("cursor.json")
    }

    /// The checkpoint left by an interrupted run with this fingerprint, with the spool cut back
    /// to it; anything else left there is removed.
    pub fn resume(&self, fingerprint: &str) -> Option<Checkpoint> {
        let checkpoint: Option<Checkpoint> =
            std::fs::read(self.cursor()).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match checkpoint {
            Some(c) if c.fingerprint == fingerprint => {
                let file = OpenOptions::new().write(true).open(self.pages()).ok()?;
                if file.metadata().ok()?.len() < c.bytes {
                    self.clear();
                    return None;
                }
                file.set_len(c.bytes).ok()?;
                Some(c)
            }
            _ => {
                self.clear();
                None
            }
        }
    }

    /// Hand the first `bytes` of the spooled pages to `sink`, a few MiB at a time.
    pub fn replay(&self, bytes: u64, mut sink: impl FnMut(&[u8])) -> std::io::Result<()> {
        use std::io::Read;
        let mut pages = std::fs::File::open(self.pages())?.take(bytes);
        let mut buf = vec![0u8; 4 << 20];
        loop {
            match pages.read(&mut buf)? {
                0 => return Ok(()),
                n => sink(&buf[..n]),
            }
        }
    }

    /// Append a page's chunk, then record the checkpoint that covers it.
    pub fn commit(&self, chunk: &[u8], checkpoint: &Checkpoint) -> std::io::Result<()> {
        crate::runtime::create_private_dir(&self.dir)?;
        let mut pages = OpenOptions::new().create(true).append(true).open(self.pages())?;
        pages.write_all(chunk)?;
        pages.sync_data()?;
        let tmp = self.dir.join("cursor.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(checkpoint).map_err(std::io::Error::other)?)?;
        f.sync_data()?;
        std::fs::rename(tmp, self.cursor())
    }

    /// Remove the directory.
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
