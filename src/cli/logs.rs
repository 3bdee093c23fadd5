//! `osiris logs list|show`.

use super::output::print_json;
use serde_json::Value;
use std::path::PathBuf;

/// Subcommands of `logs`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List runs (newest first) from the run index, failed ones included.
    List {
        /// Runs directory whose sibling index/ is read.
        #[arg(long, default_value_os_t = super::default_runs_dir())]
        runs_dir: PathBuf,
        /// At most this many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show one run's status.json.
    Show {
        /// Run id (as printed by `osiris run` / `logs list`).
        run: String,
        /// Runs directory.
        #[arg(long, default_value_os_t = super::default_runs_dir())]
        runs_dir: PathBuf,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::List { runs_dir, limit, json } => {
            let index = osiris::runtime::index_path(&runs_dir);
            let text = std::fs::read_to_string(&index).unwrap_or_default();
            let mut runs: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            runs.reverse();
            runs.truncate(limit);
            if json {
                print_json(&Value::Array(runs));
            } else {
                for r in &runs {
                    println!(
                        "{:<24} {:<10} {:<24} {:>8} ms",
                        r["run_id"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["pipeline"].as_str().unwrap_or(""),
                        r["duration_ms"]
                    );
                }
                if runs.is_empty() {
                    println!("no runs recorded in {}", index.display());
                }
            }
            Ok(0)
        }
        Command::Show { run, runs_dir, json } => {
            let path = runs_dir.join(&run).join("status.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("error: no run `{run}` under {} (see `osiris logs list`)", runs_dir.display());
                return Ok(2);
            };
            let v: Value = serde_json::from_str(&text)?;
            if json {
                print_json(&v);
            } else {
                println!(
                    "run {} of {}: {} ({} ms)",
                    v["run_id"].as_str().unwrap_or(""),
                    v["pipeline"].as_str().unwrap_or(""),
                    v["status"].as_str().unwrap_or(""),
                    v["duration_ms"]
                );
                for s in v["steps"].as_array().into_iter().flatten() {
                    println!(
                        "  {:<10} {:<28} {:>14} {:>8} ms",
                        s["status"].as_str().unwrap_or(""),
                        s["id"].as_str().unwrap_or(""),
                        rows_for_people(s),
                        s["duration_ms"]
                    );
                }
                if !v["error"].is_null() {
                    println!("error: {}", v["error"]["message"].as_str().unwrap_or(""));
                }
            }
            Ok(0)
        }
    }
}

/// A step's rows as a person reads them: the count when there is one, `view` for a relation
/// that was not counted (a view is read by its consumers, never counted on its own), `-` else.
fn rows_for_people(step: &Value) -> String {
    match (step["rows"].as_u64(), step["relation"].as_str()) {
        (Some(n), _) => format!("{n} rows"),
        (None, Some("view")) => "view".to_string(),
        (None, _) => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rows_for_people;
    use serde_json::json;

    #[test]
    fn rows_are_counts_or_view_never_null() {
        assert_eq!(rows_for_people(&json!({"rows": 3, "relation": "table"})), "3 rows");
        assert_eq!(rows_for_people(&json!({"rows": null, "relation": "view"})), "view");
        assert_eq!(rows_for_people(&json!({"rows": null})), "-");
    }
}
