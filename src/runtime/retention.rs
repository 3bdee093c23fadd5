//! Pruning old run directories (`osiris maintenance`).
//!
//! A run directory keeps everything needed to inspect the run: the exchange database, logs and,
//! for staged extractions, the extracted rows as text (149 MB for 1M orders rows). Nothing else
//! removes them, so they accumulate. The policy mirrors the original's `retention.run_logs_days`:
//! a run older than `keep_days` is removed, except the `keep_runs` newest runs of each pipeline
//! (so the last run of every pipeline stays inspectable however old it is). Only directories
//! that are runs are considered: named like a run id and holding the `manifest.yaml` every run
//! writes first — `--runs-dir .osiris` must not take `state/` or `index/` for runs. A run without
//! `status.json` is in progress or was killed; it is judged by the newest of its directory, event
//! and log modification times, so a long run that is still writing is never removed. The run index
//! loses the removed runs' records (rewritten through a temp file).

use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to keep.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Runs younger than this many days are kept.
    pub keep_days: u64,
    /// This many newest runs of each pipeline are kept whatever their age.
    pub keep_runs: usize,
    /// After the age rule, the oldest remaining runs (except each pipeline's `keep_runs` newest)
    /// go until the runs directory holds at most this many bytes.
    pub max_bytes: Option<u64>,
}

/// One run directory the policy removes.
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    /// Run id (the directory name).
    pub run_id: String,
    /// Pipeline name, or None when the run never wrote `status.json`.
    pub pipeline: Option<String>,
    /// Bytes under the directory.
    pub bytes: u64,
}

/// Result of a pruning pass.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// Runs removed (or, in a dry run, that would be).
    pub removed: Vec<Expired>,
    /// Runs kept.
    pub kept: usize,
    /// Bytes freed (or that would be).
    pub bytes_freed: u64,
    /// True when nothing was deleted.
    pub dry_run: bool,
}

struct RunDir {
    path: PathBuf,
    run_id: String,
    pipeline: Option<String>,
    started: SystemTime,
}

/// Apply `policy` to the runs under `runs_dir` as of `now`; with `dry_run` only report.
pub fn prune(runs_dir: &Path, policy: Policy, now: SystemTime, dry_run: bool) -> std::io::Result<Pruned> {
    let mut runs = list_runs(runs_dir)?;
    // Newest first, so the first `keep_runs` of each pipeline are its newest.
    runs.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.run_id.cmp(&a.run_id)));
    let cutoff = now.checked_sub(Duration::from_secs(policy.keep_days * 86_400)).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut seen: HashMap<Option<String>, usize> = HashMap::new();
    let mut doomed = Vec::new();
    // (run, bytes, protected), newest first.
    let mut remaining = Vec::new();
    for run in runs {
        let rank = seen.entry(run.pipeline.clone()).or_default();
        *rank += 1;
        let protected = run.pipeline.is_some() && *rank <= policy.keep_runs;
        let bytes = size_of(&run.path);
        if protected || run.started >= cutoff {
            remaining.push((run, bytes, protected));
        } else {
            doomed.push((run, bytes));
        }
    }
    if let Some(max) = policy.max_bytes {
        let mut total: u64 = remaining.iter().map(|(_, b, _)| b).sum();
        while total > max {
            let Some(i) = remaining.iter().rposition(|(_, _, protected)| !protected) else { break };
            let (run, bytes, _) = remaining.remove(i);
            total -= bytes;
            doomed.push((run, bytes));
        }
    }
    let kept = remaining.len();
    let mut removed = Vec::new();
    for (run, bytes) in doomed {
        if !dry_run {
            std::fs::remove_dir_all(&run.path)?;
        }
        removed.push(Expired { run_id: run.run_id, pipeline: run.pipeline, bytes });
    }
    if !dry_run && !removed.is_empty() {
        drop_from_index(runs_dir, &removed)?;
    }
    let bytes_freed = removed.iter().map(|r| r.bytes).sum();
    Ok(Pruned { removed, kept, bytes_freed, dry_run })
}

/// Every run directory with its pipeline and start time (from `status.json`, else the
/// directory's modification time).
fn list_runs(runs_dir: &Path) -> std::io::Result<Vec<RunDir>> {
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !looks_like_run_id(&name) || !path.join("manifest.yaml").is_file() {
            continue;
        }
        let status: Option<Value> =
            std::fs::read_to_string(path.join("status.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let started_at = status.as_ref().and_then(|s| s["started_at"].as_str()).and_then(parse_rfc3339);
        let started = match started_at {
            Some(t) => t,
            None => last_activity(&path)?,
        };
        runs.push(RunDir {
            run_id: entry.file_name().to_string_lossy().into_owned(),
            pipeline: status.as_ref().and_then(|s| s["pipeline"].as_str()).map(str::to_string),
            started,
            path,
        });
    }
    Ok(runs)
}

/// `YYYYMMDDTHHMMSSZ-xxxxxx`, as `run_dir::new_run_id` makes them.
pub fn looks_like_run_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 23
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(u8::is_ascii_hexdigit)
}

/// The newest modification time of a run dir and the files a running run appends to.
fn last_activity(dir: &Path) -> std::io::Result<SystemTime> {
    let mut newest = std::fs::metadata(dir)?.modified()?;
    for f in ["events.jsonl", "osiris.log", "metrics.jsonl"] {
        if let Ok(t) = std::fs::metadata(dir.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    Ok(newest)
}

/// An RFC 3339 time as a `SystemTime`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

/// Bytes of the files under `dir` (best effort).
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// Rewrite the run index without the removed runs' records.
fn drop_from_index(runs_dir: &Path, removed: &[Expired]) -> std::io::Result<()> {
    let index = super::run_dir::index_path(runs_dir);
    let Ok(text) = std::fs::read_to_string(&index) else { return Ok(()) };
    let gone: std::collections::HashSet<&str> = removed.iter().map(|r| r.run_id.as_str()).collect();
    let keep: String = text
        .lines()
        .filter(|line| {
            let id = serde_json::from_str::<Value>(line).ok().and_then(|v| v["run_id"].as_str().map(str::to_string));
            !id.is_some_and(|id| gone.contains(id.as_str()))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    super::run_dir::write_atomic(&index, keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_ids_name_runs() {
        assert!(looks_like_run_id(&crate::runtime::run_dir::new_run_id()));
        for other in ["state", "index", "20261129T224506Z", "20261129T224506Z-1b067g", "x20261129T224506Z-1b067c"] {
            assert!(!looks_like_run_id(other), "{other}");
        }
    }

    fn run(runs: &Path, id: &str, pipeline: &str, started_at: &str) {
        let dir = runs.join(id);
        std::fs::create_dir_all(dir.join("staged")).unwrap();
        std::fs::write(dir.join("staged/x.csv"), vec![b'x'; 1000]).unwrap();
        std::fs::write(dir.join("manifest.yaml"), "pipeline: {}\n").unwrap();
        let status = serde_json::json!({"run_id": id, "pipeline": pipeline, "started_at": started_at});
        std::fs::write(dir.join("status.json"), status.to_string()).unwrap();
    }

    #[test]
    fn old_runs_go_except_the_newest_of_each_pipeline_and_the_index_follows() {
        let root = tempfile::tempdir().unwrap();
        let runs = root.path().join("runs");
        run(&runs, "20260101T000000Z-00000a", "a", "2026-01-01T00:00:00Z");
        run(&runs, "20251201T000000Z-00000b", "a", "2025-12-01T00:00:00Z");
        run(&runs, "20260102T000000Z-00000c", "b", "2026-01-02T00:00:00Z");
        run(&runs, "20261124T000000Z-00000d", "a", "2026-11-24T00:00:00Z");
        std::fs::create_dir_all(root.path().join("index")).unwrap();
        let index: String = [
            "20260101T000000Z-00000a",
            "20251201T000000Z-00000b",
            "20260102T000000Z-00000c",
            "20261124T000000Z-00000d",
        ]
        .iter()
        .map(|id| format!("{}\n", serde_json::json!({"run_id": id})))
        .collect();
        std::fs::write(root.path().join("index/runs.jsonl"), index).unwrap();
        let now = parse_rfc3339("2026-11-25T00:00:00Z").unwrap();
        let policy = Policy { keep_days: 7, keep_runs: 1, max_bytes: None };

        let dry = prune(&runs, policy, now, true).unwrap();
        let names = |p: &Pruned| p.removed.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
        assert_eq!(names(&dry), vec!["20260101T000000Z-00000a", "20251201T000000Z-00000b"]);
        assert!(runs.join("20260101T000000Z-00000a").exists(), "a dry run deletes nothing");

        let done = prune(&runs, policy, now, false).unwrap();
        assert_eq!(
            (names(&done), done.kept),
            (vec!["20260101T000000Z-00000a".to_string(), "20251201T000000Z-00000b".to_string()], 2)
        );
        assert!(done.bytes_freed >= 2000);
        assert!(
            !runs.join("20260101T000000Z-00000a").exists()
                && runs.join("20261124T000000Z-00000d").exists()
                && runs.join("20260102T000000Z-00000c").exists()
        );
        let left = std::fs::read_to_string(root.path().join("index/runs.jsonl")).unwrap();
        assert_eq!(left.lines().count(), 2);
        assert!(left.contains("20260102T000000Z-00000c") && left.contains("20261124T000000Z-00000d"));
    }
}
