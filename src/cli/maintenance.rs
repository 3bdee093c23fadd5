//! `osiris maintenance`: prune old run directories (runtime::retention).

use super::output::print_json;
use anyhow::Context;
use osiris::runtime::retention::{prune, Policy};
use std::path::PathBuf;

/// Days a run is kept when neither `--keep-days`, `OSIRIS_RETENTION_RUN_LOGS_DAYS` nor
/// `osiris.yaml` (`filesystem.retention.run_logs_days`) says otherwise — the original's default.
const DEFAULT_KEEP_DAYS: u64 = 7;

/// Arguments of `osiris maintenance`.
#[derive(clap::Args)]
#[command(after_help = "\
Removes run directories (exchange database, logs, staged rows) older than the retention period,
and their records in the run index. The newest --keep-runs runs of every pipeline stay whatever
their age. Retention comes from --keep-days, else OSIRIS_RETENTION_RUN_LOGS_DAYS, else
filesystem.retention.run_logs_days in osiris.yaml, else 7 days.

Examples:
  osiris maintenance --dry-run          # what would go, and how many bytes
  osiris maintenance --keep-days 1 --json")]
pub struct Args {
    /// `clean` (the original's spelling; the same as no action).
    #[arg(value_parser = ["clean"])]
    action: Option<String>,
    /// Runs directory to prune (default: the project's, see `osiris run --help`).
    #[arg(long)]
    runs_dir: Option<PathBuf>,
    /// Keep runs younger than this many days.
    #[arg(long)]
    keep_days: Option<u64>,
    /// Keep this many newest runs of each pipeline, however old.
    #[arg(long, default_value_t = 1)]
    keep_runs: usize,
    /// Report what would be removed without removing anything.
    #[arg(long)]
    dry_run: bool,
    /// JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Run `osiris maintenance`.
pub fn execute(a: Args) -> anyhow::Result<i32> {
    let keep_days = match a.keep_days.map(Ok).unwrap_or_else(configured_keep_days) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let policy = Policy { keep_days, keep_runs: a.keep_runs, max_bytes: None };
    let (runs_dir, _, _) = super::project_runs_dir(a.runs_dir)?;
    let pruned = prune(&runs_dir, policy, std::time::SystemTime::now(), a.dry_run)
        .with_context(|| format!("cannot prune {}", runs_dir.display()))?;
    if a.json {
        print_json(&serde_json::to_value(&pruned)?);
        return Ok(0);
    }
    let verb = if pruned.dry_run { "would remove" } else { "removed" };
    for r in &pruned.removed {
        println!("{verb} {} ({}, {} bytes)", r.run_id, r.pipeline.as_deref().unwrap_or("unfinished run"), r.bytes);
    }
    println!(
        "{verb} {} run(s), {} bytes; kept {} (older than {keep_days} days go, the newest {} of each pipeline stay)",
        pruned.removed.len(),
        pruned.bytes_freed,
        pruned.kept,
        a.keep_runs
    );
    Ok(0)
}

/// Retention days from the environment or the project's osiris.yaml.
fn configured_keep_days() -> anyhow::Result<u64> {
    if let Ok(v) = std::env::var("OSIRIS_RETENTION_RUN_LOGS_DAYS") {
        return v
            .trim()
            .parse()
            .with_context(|| format!("OSIRIS_RETENTION_RUN_LOGS_DAYS is not a whole number: `{v}`"));
    }
    let Some(root) = osiris::project::find_root(&std::env::current_dir()?) else { return Ok(DEFAULT_KEEP_DAYS) };
    let path = root.join(osiris::project::PROJECT_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: serde_json::Value =
        serde_saphyr::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
    match &config["filesystem"]["retention"]["run_logs_days"] {
        serde_json::Value::Null => Ok(DEFAULT_KEEP_DAYS),
        v => v.as_u64().with_context(|| {
            format!("{}: filesystem.retention.run_logs_days must be a whole number of days", path.display())
        }),
    }
}
