//! The incremental state store: `<runs_dir>/../state/<pipeline>/<step>.json` holds what a step
//! returned as state in the last successful run, and `<step>.resume/` its resume spool.
//!
//! State is staged while a run executes and written (atomically, one file per step) only when the
//! whole run succeeds, so a failed run leaves the previous state in force and the next run reads
//! the same rows again. A successful run also removes every resume spool. `--full-refresh` runs
//! as if no state existed (and drops resume spools); its own state replaces the old one only if
//! it succeeds.
//!
//! Each state file records the identity of the source it was read from (a fingerprint of the
//! component and the step's config without secrets and without tuning fields, see
//! [`source_fingerprint`]): a step whose source changed (another table, host, data type) starts
//! fresh with a warning instead of continuing from someone else's cursor. A run whose pipeline
//! keeps state holds an exclusive lock on the store for its whole duration, so two runs (or two
//! machines sharing the directory) never extract the same increment twice.
//!
//! With `state: {backend: postgres, dsn: …}` in `osiris.yaml` the committed states and the lock
//! live in PostgreSQL ([`postgres`]) so that runs on different machines continue each other;
//! resume spools stay local, and one left by a run that another machine's success has since
//! overtaken is discarded with a warning.

pub mod postgres;

use postgres::{PgState, PgStateError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Version tag of a state file that records its source.
const FORMAT: &str = "osiris_state";

/// The identity of a step's source: the component and its config without `ignored` fields
/// (paging, retries, dedup windows — what does not change which rows are read).
pub fn source_fingerprint(component: &str, config: &Map<String, Value>, ignored: &[String]) -> String {
    let mut identity = config.clone();
    identity.retain(|k, _| !ignored.contains(k));
    let canonical = crate::compiler::canonical::sorted(&json!({"component": component, "config": identity}));
    crate::compiler::canonical::sha256_hex(canonical.to_string().as_bytes())[..16].to_string()
}

/// The state file was written for another source.
#[derive(Debug, thiserror::Error)]
#[error(
    "the saved state of step `{step}` was written for another source (config or connection changed); starting fresh"
)]
pub struct SourceChanged {
    /// The step.
    pub step: String,
}

/// Why no committed state could be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The state belongs to another source: the step starts fresh (a warning).
    #[error(transparent)]
    SourceChanged(#[from] SourceChanged),
    /// The state backend cannot be read: the step fails (starting fresh would read everything
    /// again).
    #[error(transparent)]
    Backend(#[from] PgStateError),
}

/// Another run holds the store.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Held by another run.
    #[error("another run of this pipeline holds its incremental state ({}{}); this run did not start — wait for it to finish", path.display(), holder.as_ref().map(|h| format!(", {h}")).unwrap_or_default())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into it (pid and run id).
        holder: Option<String>,
    },
    /// The lock file cannot be created.
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Held by another run, on any machine, in the PostgreSQL state backend.
    #[error("another run of this pipeline holds its incremental state in the PostgreSQL state backend{}; this run did not start — wait for it to finish", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    HeldElsewhere {
        /// The holder's `application_name` (run id, pid, machine).
        holder: Option<String>,
    },
    /// The state backend cannot be reached.
    #[error(transparent)]
    Backend(#[from] PgStateError),
}

/// The store's lock, released when dropped (or when the process ends): a locked file, or the
/// connection holding the PostgreSQL advisory lock.
pub enum StateLock {
    /// `flock` on `<state dir>/.lock`.
    File(std::fs::File),
    /// A session advisory lock, released when the connection closes.
    Postgres(Box<::postgres::Client>),
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File(_) => "StateLock::File",
            Self::Postgres(_) => "StateLock::Postgres",
        })
    }
}

/// One pipeline's state: its local directory (state files, resume spools) and, when configured,
/// the PostgreSQL backend that holds the committed states instead of the files.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    pipeline: String,
    full_refresh: bool,
    staged: Mutex<Vec<(String, Value)>>,
    backend: Option<PgState>,
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// A name [`file_safe`] could have made, ending in `.json`: no separator, no `..`.
fn is_state_file_name(name: &str) -> bool {
    name.strip_suffix(".json")
        .is_some_and(|stem| !stem.is_empty() && file_safe(stem) == stem && stem != "." && stem != "..")
}

impl StateStore {
    /// The store of `pipeline` beside the runs directory.
    pub fn new(runs_dir: &Path, pipeline: &str, full_refresh: bool) -> Self {
        let root = runs_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| runs_dir.to_path_buf());
        Self {
            dir: root.join("state").join(file_safe(pipeline)),
            pipeline: pipeline.to_string(),
            full_refresh,
            staged: Mutex::new(Vec::new()),
            backend: None,
        }
    }

    /// The same store with its committed states and lock in PostgreSQL.
    pub fn with_backend(mut self, backend: Option<PgState>) -> Self {
        self.backend = backend;
        self
    }

    /// Where committed states live, for messages.
    pub fn location(&self) -> String {
        match &self.backend {
            Some(_) => format!("the PostgreSQL state backend (pipeline `{}`)", self.pipeline),
            None => self.dir.display().to_string(),
        }
    }

    /// Whether this run ignores committed state (`--full-refresh`).
    pub fn is_full_refresh(&self) -> bool {
        self.full_refresh
    }

    /// Where the store lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed state of `step` for `source` (None with `--full-refresh` or without a
    /// state); an error when it was written for another source. A state file from before
    /// sources were recorded is taken as is.
    pub fn load(&self, step: &str, source: &str) -> Result<Option<Value>, LoadError> {
        if self.full_refresh {
            return Ok(None);
        }
        let saved = match &self.backend {
            Some(pg) => pg.rows(&self.pipeline)?.remove(&file_safe(step)).map(|(content, _)| content),
            None => std::fs::read(self.dir.join(format!("{}.json", file_safe(step))))
                .ok()
                .and_then(|text| serde_json::from_slice::<Value>(&text).ok()),
        };
        let Some(mut saved) = saved else { return Ok(None) };
        if saved.get(FORMAT).is_none() {
            return Ok(Some(saved));
        }
        if saved["source"] != source {
            return Err(SourceChanged { step: step.to_string() }.into());
        }
        Ok(Some(saved["state"].take()))
    }

    /// Take the store's lock for this run, or say who holds it.
    pub fn lock(&self, run_id: &str) -> Result<StateLock, LockError> {
        use std::io::Write;
        if let Some(pg) = &self.backend {
            return match pg.lock(&self.pipeline, run_id)? {
                Ok(client) => Ok(StateLock::Postgres(Box::new(client))),
                Err(holder) => Err(LockError::HeldElsewhere { holder }),
            };
        }
        use std::os::fd::AsRawFd;
        let path = self.dir.join(".lock");
        let io = |source| LockError::Io { path: path.clone(), source };
        super::create_private_dir(&self.dir).map_err(io)?;
        let mut file =
            std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io)?;
        // SAFETY: flock on a descriptor this function owns; released when the file is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let holder = std::fs::read_to_string(&path).ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
            return Err(LockError::Held { path, holder });
        }
        file.set_len(0).map_err(io)?;
        write!(file, "pid {} run {run_id}", std::process::id()).map_err(io)?;
        Ok(StateLock::File(file))
    }

    /// Where the resume directory of `step` is.
    pub fn resume_path(&self, step: &str) -> PathBuf {
        self.dir.join(format!("{}.resume", file_safe(step)))
    }

    /// The resume directory of `step` (emptied first with `--full-refresh`), and a warning when
    /// a spool was discarded because the shared state advanced since it was written (another
    /// machine's run succeeded after the run that left it).
    pub fn resume_dir(&self, step: &str) -> (PathBuf, Option<String>) {
        let dir = self.resume_path(step);
        if self.full_refresh {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let Some(pg) = &self.backend else { return (dir, None) };
        // The committed version the spool continues from sits beside it.
        let marker = self.dir.join(format!("{}.resume.version", file_safe(step)));
        let version =
            pg.rows(&self.pipeline).ok().and_then(|mut r| r.remove(&file_safe(step))).map(|(_, v)| v).unwrap_or(0);
        let recorded = std::fs::read_to_string(&marker).ok().and_then(|t| t.trim().parse::<i64>().ok());
        let mut warning = None;
        if dir.exists() && recorded != Some(version) {
            let _ = std::fs::remove_dir_all(&dir);
            warning = Some(format!(
                "discarded the resume spool of step `{step}`: the shared state advanced (version {} → {version}) since the interrupted run on this machine that left it",
                recorded.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
            ));
        }
        if super::create_private_dir(&self.dir).is_ok() {
            let _ = super::write_atomic(&marker, version.to_string());
        }
        (dir, warning)
    }

    /// The committed state files (`<step>.json` name → content): what a host sends its worker
    /// and a worker returns after a successful run.
    pub fn committed_files(&self) -> Result<std::collections::BTreeMap<String, Value>, PgStateError> {
        let mut out = std::collections::BTreeMap::new();
        if self.full_refresh {
            return Ok(out);
        }
        if let Some(pg) = &self.backend {
            return Ok(pg
                .rows(&self.pipeline)?
                .into_iter()
                .map(|(step, (content, _))| (format!("{step}.json"), content))
                .collect());
        }
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_state_file_name(&name) {
                continue;
            }
            if let Some(v) = std::fs::read(entry.path()).ok().and_then(|t| serde_json::from_slice(&t).ok()) {
                out.insert(name, v);
            }
        }
        Ok(out)
    }

    /// Write state files (`<step>.json` → content: the staged states of [`Self::commit`], or
    /// files received from a worker, see [`Self::committed_files`]) and remove the resume spools
    /// of `steps`. Names that are not a plain
    /// `<step>.json` are refused.
    pub fn install_files<'a>(
        &self,
        files: &std::collections::BTreeMap<String, Value>,
        steps: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<()> {
        if let Some(bad) = files.keys().find(|n| !is_state_file_name(n)) {
            return Err(std::io::Error::other(format!("`{bad}` is not a state file name")));
        }
        if let Some(pg) = &self.backend {
            let states: Vec<(String, Value)> = files
                .iter()
                .map(|(name, content)| (name.trim_end_matches(".json").to_string(), content.clone()))
                .collect();
            pg.write(&self.pipeline, &states).map_err(std::io::Error::other)?;
            return self.remove_spools(steps);
        }
        if !files.is_empty() {
            super::create_private_dir(&self.dir)?;
        }
        for (name, state) in files {
            super::write_atomic(
                &self.dir.join(name),
                serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?,
            )?;
        }
        self.remove_spools(steps)
    }

    /// Remember `state` of `step` read from `source`, to be written if the run succeeds.
    pub fn stage(&self, step: &str, source: &str, state: Value) {
        let saved = json!({FORMAT: 1, "source": source, "state": state});
        self.staged.lock().unwrap_or_else(|p| p.into_inner()).push((step.to_string(), saved));
    }

    /// The run succeeded: write the staged states and remove the resume spools of `steps`.
    pub fn commit<'a>(&self, steps: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|p| p.into_inner()));
        let files = staged.into_iter().map(|(step, state)| (format!("{}.json", file_safe(&step)), state)).collect();
        self.install_files(&files, steps)
    }

    fn remove_spools<'a>(&self, steps: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
        for step in steps {
            let _ = std::fs::remove_dir_all(self.dir.join(format!("{}.resume", file_safe(step))));
        }
        Ok(())
    }
}
