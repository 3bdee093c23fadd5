//! Files a writer produces: written under a temporary name beside the target, flushed to disk
//! and renamed into place only when complete, so a failed step never leaves a partial file.

use super::{sql_error, DriverError, StepContext, StepOutput};
use crate::exchange::{quote_ident, quote_literal};
use std::path::{Path, PathBuf};

/// A target file being written; dropped without [`PendingFile::commit`], it leaves nothing.
pub struct PendingFile {
    temp: Option<PathBuf>,
    target: PathBuf,
}

impl PendingFile {
    /// A temporary name beside `target` for writing it ([`unguessable_sibling`] + `.tmp`).
    pub fn beside(target: &Path, tag: &str) -> Self {
        let temp = unguessable_sibling(target, tag).with_added_extension("tmp");
        Self { temp: Some(temp), target: target.to_path_buf() }
    }

    /// Where to write now.
    pub fn path(&self) -> &Path {
        self.temp.as_deref().expect("present until commit")
    }

    /// Flush the finished file to disk and move it into place.
    pub fn commit(mut self) -> Result<(), DriverError> {
        let temp = self.temp.take().expect("present until commit");
        let done =
            std::fs::File::open(&temp).and_then(|f| f.sync_all()).and_then(|_| std::fs::rename(&temp, &self.target));
        done.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            DriverError::at_target(format!(
                "cannot move the finished file into place at {}: {e}",
                self.target.display()
            ))
        })
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(p) = self.temp.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `.<name>.<tag>-<pid>-<64 random bits in hex>` beside `target`: hidden, and not a name another
/// user of a shared directory can plant a symlink under in advance.
pub fn unguessable_sibling(target: &Path, tag: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap_or_default();
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    target.with_file_name(format!(".{name}.{tag}-{}-{suffix}", std::process::id()))
}

/// Make sure `target`'s directory exists: created when `create_dirs`, else an error naming it.
pub fn ensure_parent(target: &Path, create_dirs: bool) -> Result<(), DriverError> {
    let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    if dir.is_dir() {
        return Ok(());
    }
    if !create_dirs {
        return Err(DriverError::at_target(format!(
            "directory {} does not exist and create_dirs is false",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| DriverError::at_target(format!("cannot create directory {}: {e}", dir.display())))
}

/// `COPY (SELECT * FROM input) TO target (options)` through a [`PendingFile`]: the previous file
/// stays until the new one is complete. Returns the rows written.
pub fn copy_into_file(ctx: &StepContext, input: &str, target: &Path, options: &str) -> Result<u64, DriverError> {
    let file = PendingFile::beside(target, "osiris");
    let sql = format!(
        "COPY (SELECT * FROM {}) TO {} ({options})",
        quote_ident(input),
        quote_literal(&file.path().display().to_string())
    );
    let rows = ctx.conn.execute(&sql, []).map_err(sql_error)? as u64;
    file.commit()?;
    Ok(rows)
}

/// What a file writer reports once `target` holds `rows` rows: the `rows_written` metric, an
/// `artifact_created` event of `artifact_type`, and the step's output.
pub fn written(ctx: &StepContext, artifact_type: &str, target: &Path, rows: u64) -> StepOutput {
    ctx.telemetry.metric("rows_written", rows as f64, Some(ctx.step_id));
    ctx.telemetry.event(
        "artifact_created",
        Some(ctx.step_id),
        serde_json::json!({"artifact_type": artifact_type, "path": target.display().to_string(), "rows": rows}),
    );
    StepOutput { relation: None, rows: Some(rows), state: None }
}
