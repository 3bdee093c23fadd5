//! `osiris logs list|show|last|bundle|gc|html|report|open|aiop`: the operating side of runs.

use super::output::print_json;
use anyhow::Context;
use osiris::connections::Redactor;
use osiris::report::{aiop, bundle, history, html};
use osiris::runtime::retention::{prune, Policy};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// After-help of `osiris logs`.
pub const LOGS_HELP: &str = "\
A RUN is a run id, a unique prefix of one, `last`, or a run directory's path.
Examples:
  osiris logs list --status failed --since 2d
  osiris logs show last --events --tail 20
  osiris logs html --open
  osiris logs aiop show --run last --json";

/// Subcommands of `logs`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List runs, newest first (failed, cancelled and running ones included).
    List(ListArgs),
    /// One run: steps with rows, durations, relation kinds, errors and warnings.
    Show(ShowArgs),
    /// The most recent run (same as `show last`).
    Last {
        #[command(flatten)]
        common: Common,
    },
    /// Pack a run directory into a ZIP (the exchange database only with --with-data).
    Bundle {
        /// The run.
        run: Option<String>,
        /// The run (the original's spelling).
        #[arg(long, conflicts_with = "run")]
        session: Option<String>,
        /// Archive to write (default: <run_id>.zip in the current directory).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Include pipeline_data.duckdb (the rows).
        #[arg(long)]
        with_data: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Remove old runs: older than --days, then the oldest until under --max-gb.
    Gc {
        /// Keep runs younger than this many days.
        #[arg(long, default_value_t = 7)]
        days: u64,
        /// Keep the runs directory under this size.
        #[arg(long)]
        max_gb: Option<f64>,
        /// Show what would go.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Write the HTML report: one self-contained page per run and an index (opens from disk).
    Html(HtmlArgs),
    /// Write (and with --open, open) the HTML page of one run.
    #[command(alias = "open")]
    Report {
        /// The run (default: last).
        #[arg(default_value = "last")]
        run: String,
        /// Report directory.
        #[arg(long, default_value = "dist/logs")]
        out: PathBuf,
        /// Open the page in the browser.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        common: Common,
    },
    /// AI Operation Packages: the per-run account written for agents.
    #[command(subcommand)]
    Aiop(AiopCommand),
}

/// Flags every `logs` subcommand takes.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// Runs directory (default: filesystem.run_logs_dir of osiris.yaml, else .osiris/runs).
    #[arg(long, alias = "logs-dir")]
    runs_dir: Option<PathBuf>,
    /// JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `logs list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this pipeline (name or slug).
    #[arg(long)]
    pipeline: Option<String>,
    /// Only runs with this status.
    #[arg(long, value_parser = ["success", "failed", "cancelled", "running"])]
    status: Option<String>,
    /// Only runs started since: an RFC 3339 time or an age such as 30m, 12h, 7d.
    #[arg(long, value_parser = parse_since)]
    since: Option<SystemTime>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[command(flatten)]
    common: Common,
}

/// `logs show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The run (default: last).
    run: Option<String>,
    /// The run (the original's spelling).
    #[arg(long, conflicts_with = "run")]
    session: Option<String>,
    /// Print the run's events (with --tail N, the last N).
    #[arg(long, conflicts_with = "metrics")]
    events: bool,
    /// Print the run's metrics (with --tail N, the last N).
    #[arg(long)]
    metrics: bool,
    /// Only the last N lines (of events, metrics, or osiris.log when neither is asked for).
    #[arg(long)]
    tail: Option<usize>,
    /// Follow a running run: print its events as they happen until it ends.
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    common: Common,
}

/// `logs html`.
#[derive(clap::Args)]
pub struct HtmlArgs {
    /// Report directory.
    #[arg(long, default_value = "dist/logs")]
    out: PathBuf,
    /// Open the index in the browser.
    #[arg(long)]
    open: bool,
    /// Only the newest N runs.
    #[arg(long, alias = "limit")]
    sessions: Option<usize>,
    /// Only runs started since (RFC 3339 or 30m, 12h, 7d).
    #[arg(long, value_parser = parse_since)]
    since: Option<SystemTime>,
    /// Only runs with this status.
    #[arg(long, value_parser = ["success", "failed", "cancelled", "running"])]
    status: Option<String>,
    /// Only this pipeline.
    #[arg(long)]
    pipeline: Option<String>,
    /// Re-render pages that are up to date.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: Common,
}

/// `logs aiop …`.
#[derive(clap::Subcommand)]
pub enum AiopCommand {
    /// List packages, newest first.
    List {
        /// Only this pipeline (name or slug).
        #[arg(long)]
        pipeline: Option<String>,
        /// Only this profile.
        #[arg(long)]
        profile: Option<String>,
        /// Only runs started since (RFC 3339 or 30m, 12h, 7d).
        #[arg(long, value_parser = parse_since)]
        since: Option<SystemTime>,
        #[command(flatten)]
        common: Common,
    },
    /// Print a run's summary.json (or, without --json, its run card).
    Show {
        /// The run (id, prefix or `last`).
        #[arg(long, default_value = "last")]
        run: String,
        #[command(flatten)]
        common: Common,
    },
    /// (Re-)write the package of a run.
    Export {
        /// The run.
        #[arg(long, required_unless_present = "last_run", conflicts_with = "last_run")]
        run: Option<String>,
        /// The most recent run.
        #[arg(long)]
        last_run: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Remove packages beyond aiop.retention.keep_runs per pipeline.
    Prune {
        /// Show what would go.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// `30m`, `12h`, `7d` before now, or an RFC 3339 time.
fn parse_since(text: &str) -> Result<SystemTime, String> {
    if let Some(t) = osiris::runtime::retention::parse_rfc3339(text) {
        return Ok(t);
    }
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{text}` is neither an RFC 3339 time nor an age like 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return Err(format!("`{text}`: the age unit must be s, m, h, d or w")),
    };
    Ok(SystemTime::now() - Duration::from_secs(secs))
}

/// The project's runs directory, settings and redactor for the current directory.
struct Project {
    runs_dir: PathBuf,
    root: PathBuf,
    settings: Value,
}

impl Project {
    fn load(flag: Option<PathBuf>) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir()?;
        let (root, settings) = osiris::project::settings(&cwd)?;
        Ok(Self { runs_dir: super::runs_dir(flag, &root, &settings), root, settings })
    }

    fn aiop(&self) -> anyhow::Result<aiop::Settings> {
        Ok(aiop::Settings::configured(&self.runs_dir, &self.root, &self.settings)?
            .unwrap_or_else(|| aiop::Settings::new(self.runs_dir.parent().unwrap_or(Path::new(".")).join("aiop"))))
    }

    fn find(&self, run: &str) -> anyhow::Result<PathBuf> {
        Ok(history::find(&self.runs_dir, run)?)
    }
}

/// Secrets of every connection the project defines, for outputs made outside a run.
fn redactor() -> Redactor {
    osiris::connections::ConnectionsFile::discover(None, None).map(|c| c.redactor()).unwrap_or_default()
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::List(a) => list(a),
        Command::Show(a) => show(a),
        Command::Last { common } => show(ShowArgs {
            run: Some("last".into()),
            session: None,
            events: false,
            metrics: false,
            tail: None,
            follow: false,
            common,
        }),
        Command::Bundle { run, session, output, with_data, common } => {
            let p = Project::load(common.runs_dir)?;
            let dir = p.find(run.or(session).as_deref().unwrap_or("last"))?;
            let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let out = output.unwrap_or_else(|| PathBuf::from(format!("{id}.zip")));
            let files = bundle::bundle(&dir, &out, with_data)?;
            if common.json {
                print_json(&json!({"run_id": id, "bundle": out, "files": files, "with_data": with_data}));
            } else {
                println!("wrote {} ({files} files{})", out.display(), if with_data { ", with data" } else { "" });
            }
            Ok(0)
        }
        Command::Gc { days, max_gb, dry_run, common } => {
            let p = Project::load(common.runs_dir)?;
            let policy = Policy {
                keep_days: days,
                keep_runs: 1,
                max_bytes: max_gb.map(|g| (g * 1024.0 * 1024.0 * 1024.0) as u64),
            };
            let pruned = prune(&p.runs_dir, policy, SystemTime::now(), dry_run)?;
            if common.json {
                print_json(&serde_json::to_value(&pruned)?);
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for r in &pruned.removed {
                    println!("{verb} {} ({} bytes)", r.run_id, r.bytes);
                }
                println!("{verb} {} run(s), {} bytes; kept {}", pruned.removed.len(), pruned.bytes_freed, pruned.kept);
            }
            Ok(0)
        }
        Command::Html(a) => {
            let p = Project::load(a.common.runs_dir)?;
            let filter = history::Filter { pipeline: a.pipeline, status: a.status, since: a.since, limit: a.sessions };
            let written = html::write_report(&p.runs_dir, &a.out, &filter, &redactor(), a.force)?;
            if a.common.json {
                print_json(&serde_json::to_value(&written)?);
            } else {
                println!(
                    "wrote {} ({} run pages written, {} up to date)",
                    written.index.display(),
                    written.pages_written,
                    written.pages_kept
                );
            }
            if a.open {
                open_in_browser(&written.index);
            }
            Ok(0)
        }
        Command::Report { run, out, open, common } => {
            let p = Project::load(common.runs_dir)?;
            let dir = p.find(&run)?;
            let summary = history::load(&dir).context("not a run directory")?;
            let page = html::write_run_page(&summary, &out, &redactor())?;
            if common.json {
                print_json(&json!({"run_id": summary.run_id, "page": page}));
            } else {
                println!("wrote {}", page.display());
            }
            if open {
                open_in_browser(&page);
            }
            Ok(0)
        }
        Command::Aiop(a) => aiop_command(a),
    }
}

fn list(a: ListArgs) -> anyhow::Result<i32> {
    let p = Project::load(a.common.runs_dir)?;
    let filter = history::Filter { pipeline: a.pipeline, status: a.status, since: a.since, limit: Some(a.limit) };
    let runs = history::list(&p.runs_dir, &filter);
    if a.common.json {
        let mut v = json!({
            "version": "1.0.0", "generated_at": osiris::runtime::now_rfc3339(), "total_sessions": runs.len(),
            "sessions": runs.iter().map(history::RunSummary::session_json).collect::<Vec<_>>(),
        });
        redactor().redact_json(&mut v);
        print_json(&v);
        return Ok(0);
    }
    if runs.is_empty() {
        println!("no runs in {}", p.runs_dir.display());
    }
    for r in &runs {
        println!(
            "{:<24} {:<10} {:<24} {:>9} ms {:>10} rows  {}/{} steps",
            r.run_id,
            r.status,
            r.pipeline,
            r.duration_ms,
            r.total_rows,
            r.steps_ok(),
            r.steps.len()
        );
    }
    Ok(0)
}

fn show(a: ShowArgs) -> anyhow::Result<i32> {
    let p = Project::load(a.common.runs_dir.clone())?;
    let what = a.run.or(a.session).unwrap_or_else(|| "last".into());
    let dir = match p.find(&what) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let redactor = redactor();
    if a.follow {
        return follow(&dir, &redactor);
    }
    if a.events || a.metrics {
        let lines = if a.events { history::events(&dir) } else { history::metrics(&dir) };
        let skip = a.tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
        for mut line in lines.into_iter().skip(skip) {
            redactor.redact_json(&mut line);
            println!("{line}");
        }
        return Ok(0);
    }
    if let Some(n) = a.tail {
        let text = std::fs::read_to_string(dir.join("osiris.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(n)..] {
            println!("{}", redactor.redact(l));
        }
        return Ok(0);
    }
    let run = history::load(&dir).context("not a run directory")?;
    if a.common.json {
        let mut v = serde_json::to_value(&run)?;
        // The original's summary keys beside ours.
        v["session_id"] = json!(run.run_id);
        v["path"] = json!(run.run_dir);
        v["start_time"] = json!(run.started_at);
        v["end_time"] = json!(run.finished_at);
        v["duration_seconds"] = json!(run.duration_ms as f64 / 1000.0);
        v["size_bytes"] = json!(osiris::runtime::retention::size_of(&dir));
        v["event_count"] = json!(history::events(&dir).len());
        redactor.redact_json(&mut v);
        print_json(&v);
        return Ok(0);
    }
    print!("{}", redactor.redact(&describe(&run)));
    Ok(0)
}

/// `logs show` for a person.
fn describe(run: &history::RunSummary) -> String {
    let mut s = format!(
        "run {} of {}: {} in {} ms, {} rows ({}/{} steps)\n",
        run.run_id,
        run.pipeline,
        run.status,
        run.duration_ms,
        run.total_rows,
        run.steps_ok(),
        run.steps.len()
    );
    for st in &run.steps {
        let rows = match (st.rows, st.relation.as_deref()) {
            (Some(n), _) => format!("{n} rows"),
            (None, Some("view")) => "view".to_string(),
            _ => "-".to_string(),
        };
        let relation = match (&st.streams_to, &st.relation) {
            (Some(to), _) => format!("streamed → {to}"),
            (None, Some(r)) => r.clone(),
            _ => String::new(),
        };
        s.push_str(&format!("  {:<10} {:<28} {:>14} {:>8} ms  {relation}\n", st.status, st.id, rows, st.duration_ms));
        if let Some(e) = &st.error {
            s.push_str(&format!("             error: {e}\n"));
        }
    }
    for w in &run.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    if let Some(e) = &run.error {
        s.push_str(&format!(
            "error: step `{}` ({}): {}\n",
            e["step"].as_str().unwrap_or("-"),
            e["kind"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        ));
    }
    s.push_str(&format!("run dir: {}\n", run.run_dir.display()));
    s
}

/// Print a run's events as they are appended until `status.json` appears.
fn follow(dir: &Path, redactor: &Redactor) -> anyhow::Result<i32> {
    let mut printed = 0;
    loop {
        let finished = dir.join("status.json").is_file();
        let events = history::events(dir);
        for e in events.iter().skip(printed) {
            let line = format!(
                "{} {:<16} {} {}",
                e["ts"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or(""),
                e["step_id"].as_str().unwrap_or(""),
                [("rows", &e["rows"]), ("duration_ms", &e["duration_ms"]), ("error", &e["error"])]
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            println!("{}", redactor.redact(&line));
        }
        printed = events.len();
        if finished {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn aiop_command(a: AiopCommand) -> anyhow::Result<i32> {
    match a {
        AiopCommand::List { pipeline, profile, since, common } => {
            let p = Project::load(common.runs_dir)?;
            let settings = p.aiop()?;
            let mut records: Vec<Value> = aiop::records(&settings)
                .into_iter()
                .rev()
                .filter(|r| {
                    pipeline
                        .as_ref()
                        .is_none_or(|want| r["pipeline"] == json!(want) || r["pipeline_slug"] == json!(want))
                })
                .filter(|r| profile.as_ref().is_none_or(|want| r["profile"] == json!(want)))
                .filter(|r| {
                    since.is_none_or(|s| {
                        r["started_at"]
                            .as_str()
                            .and_then(osiris::runtime::retention::parse_rfc3339)
                            .is_some_and(|t| t >= s)
                    })
                })
                .collect();
            let mut v = json!({"aiop_dir": settings.dir, "total": records.len(), "packages": records});
            redactor().redact_json(&mut v);
            if common.json {
                print_json(&v);
            } else {
                records = v["packages"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    println!("no AIOP packages in {}", settings.dir.display());
                }
                for r in &records {
                    println!(
                        "{:<24} {:<10} {:<24} {:>10} rows {:>8} bytes  {}",
                        r["session_id"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["pipeline"].as_str().unwrap_or(""),
                        r["total_rows"],
                        r["bytes_core"],
                        r["core_path"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(0)
        }
        AiopCommand::Show { run, common } => {
            let p = Project::load(common.runs_dir)?;
            let settings = p.aiop()?;
            let id = p.find(&run)?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(record) = aiop::records(&settings).into_iter().rev().find(|r| r["session_id"] == json!(id)) else {
                eprintln!("error: run {id} has no AIOP package (write one with `osiris logs aiop export --run {id}`)");
                return Ok(2);
            };
            let core = PathBuf::from(record["core_path"].as_str().unwrap_or_default());
            let redactor = redactor();
            if common.json {
                let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&core)?)?;
                redactor.redact_json(&mut v);
                print_json(&v);
            } else {
                let card = record["run_card_path"].as_str().map(PathBuf::from).unwrap_or_else(|| core.clone());
                print!("{}", redactor.redact(&std::fs::read_to_string(card)?));
            }
            Ok(0)
        }
        AiopCommand::Export { run, last_run: _, common } => {
            let p = Project::load(common.runs_dir)?;
            let settings = p.aiop()?;
            let dir = p.find(run.as_deref().unwrap_or("last"))?;
            let summary = history::load(&dir).context("not a run directory")?;
            let out = settings.run_dir(
                summary.profile.as_deref(),
                &osiris::runtime::slugify(&summary.pipeline),
                summary.manifest_hash.as_deref().unwrap_or_default(),
                &summary.run_id,
            );
            let written = aiop::export(&dir, &out, &settings, &redactor())?;
            if common.json {
                print_json(&serde_json::to_value(&written)?);
            } else {
                println!(
                    "wrote {} ({} bytes{})",
                    written.core_path.display(),
                    written.bytes_core,
                    if written.truncated { ", truncated" } else { "" }
                );
            }
            Ok(0)
        }
        AiopCommand::Prune { dry_run, common } => {
            let p = Project::load(common.runs_dir)?;
            let settings = p.aiop()?;
            let removed = aiop::prune(&settings, dry_run)?;
            if common.json {
                print_json(&json!({"removed": removed, "dry_run": dry_run, "keep_runs": settings.keep_runs}));
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for d in &removed {
                    println!("{verb} {}", d.display());
                }
                println!("{verb} {} package(s); {} kept per pipeline", removed.len(), settings.keep_runs);
            }
            Ok(0)
        }
    }
}

/// Open `path` with the desktop's opener (best effort; the path is printed either way).
fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if std::process::Command::new(opener).arg(path).spawn().is_err() {
        eprintln!("open {} in a browser", path.display());
    }
}
