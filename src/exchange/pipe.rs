//! DuckDB's `COPY … TO` streamed into a consumer through a named pipe, so rendering the rows and
//! sending them overlap instead of running one after the other.
//!
//! The writers (PostgreSQL `COPY FROM STDIN`, MySQL `LOAD DATA LOCAL INFILE`) read a file; here
//! that file is a FIFO: DuckDB writes into it on this thread while the consumer reads it on
//! another, and the pipe's capacity is the only buffer (memory stays flat, no disk copy).
//! A failure on either side cannot leave the other blocked: a failed consumer drains the pipe
//! so DuckDB finishes, and once COPY has returned the write end is opened and closed until the
//! consumer has returned, so a reader blocked in `open` sees end-of-file. When COPY fails the
//! result is that error, whatever the consumer made of the partial data — callers commit only
//! after this returns Ok.

use super::quote_literal;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Capacity asked for the pipe (Linux's default is 64 KiB; 1 MiB is the usual unprivileged
/// maximum): fewer wake-ups between DuckDB's writer and the loader.
const PIPE_BYTES: libc::c_int = 1 << 20;

/// A FIFO that is removed when dropped. It holds a read end of its own, opened without blocking,
/// to size the pipe; a writer therefore never waits in `open` (the consumer's own read end still
/// sees end-of-file when the writer closes, since only writers decide that).
struct Fifo {
    path: PathBuf,
    /// Kept open only to keep the pipe (and its size) alive.
    _holder: Option<std::fs::File>,
}

impl Fifo {
    fn create(path: PathBuf) -> std::io::Result<Self> {
        make_fifo(&path)?;
        let holder = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&path).ok();
        if let Some(f) = &holder {
            enlarge(f);
        }
        Ok(Self { path, _holder: holder })
    }
}

/// Create a FIFO at `path` (replacing whatever is there), readable and writable by us only.
pub(super) fn make_fifo(path: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let c = CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Ask for [`PIPE_BYTES`] of capacity on the pipe `end` belongs to (Linux; elsewhere, and on
/// failure, the default size stays).
pub(super) fn enlarge(end: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; this only changes the pipe's capacity.
        unsafe { libc::fcntl(end.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = end;
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where [`copy_through_pipe`] puts the pipe named `name` in `dir`.
pub fn pipe_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.fifo"))
}

/// Read the pipe to its end, discarding the data (so a writer blocked on it can finish).
fn drain(path: &Path) {
    if let Ok(mut f) = std::fs::File::open(path) {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Release a reader blocked in `open`: open the write end without blocking and close it.
fn poke(path: &Path) {
    let _ = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path);
}

/// Run `COPY (select) TO <fifo> (options)` on `conn` while `consume` reads the FIFO (its path is
/// the argument) on a second thread. `dir` holds the FIFO (the run's tmp/).
pub fn copy_through_pipe<T: Send>(
    conn: &duckdb::Connection,
    select: &str,
    options: &str,
    dir: &Path,
    name: &str,
    consume: impl FnOnce(&Path) -> Result<T, String> + Send,
) -> Result<T, String> {
    let fifo =
        Fifo::create(pipe_path(dir, name)).map_err(|e| format!("cannot create a pipe in {}: {e}", dir.display()))?;
    let path = fifo.path.as_path();
    let sql = format!("COPY ({select}) TO {} ({options})", quote_literal(&path.display().to_string()));
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let result = consume(path);
            if result.is_err() {
                drain(path);
            }
            result
        });
        // The loader on the other end sets the pace; more DuckDB threads would only buffer
        // rendered batches (exchange::threads).
        let narrowed = super::threads::narrow(conn, 1);
        let copied = conn.execute(&sql, []);
        drop(narrowed);
        // COPY has returned, so nothing will write any more: keep releasing a reader that is (or
        // will be) blocked opening the pipe until the consumer has returned.
        while !reader.is_finished() {
            poke(path);
            std::thread::sleep(Duration::from_millis(5));
        }
        let consumed = reader.join().map_err(|_| "the pipe reader panicked".to_string())?;
        copied.map_err(|e| format!("DuckDB could not render the input: {e}"))?;
        consumed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stream_through_and_failures_on_either_side_return() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let lines = copy_through_pipe(
            &conn,
            "SELECT range FROM range(100000)",
            "FORMAT csv, HEADER false",
            dir.path(),
            "ok",
            |p| {
                let mut s = String::new();
                std::fs::File::open(p).unwrap().read_to_string(&mut s).unwrap();
                Ok(s.lines().count())
            },
        );
        assert_eq!(lines, Ok(100_000));
        let consumer_fails: Result<(), String> =
            copy_through_pipe(&conn, "SELECT range FROM range(100000)", "FORMAT csv", dir.path(), "c", |_| {
                Err("server said no".into())
            });
        assert_eq!(consumer_fails, Err("server said no".to_string()));
        let copy_fails = copy_through_pipe(&conn, "SELECT * FROM missing_table", "FORMAT csv", dir.path(), "d", |p| {
            let mut s = String::new();
            std::fs::File::open(p).unwrap().read_to_string(&mut s).unwrap();
            Ok(s.len())
        });
        assert!(copy_fails.unwrap_err().contains("missing_table"));
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "pipes are removed");
    }
}
