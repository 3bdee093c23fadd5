//! `osiris discovery run @family.alias`: what a connection holds, for people and agents.

use super::output::print_json;
use osiris::connections::ConnectionsFile;
use osiris::discovery::{run, Request, DEFAULT_TTL};
use std::path::PathBuf;

/// Subcommands of `discovery`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Tables (or files) with columns typed as osiris loads them, keys, row estimates and sample
    /// rows; cached 24 h under .osiris/discovery/<id>/ (MCP discovery_request reads the same).
    Run {
        /// Connection reference, e.g. @mysql.default.
        connection: String,
        /// Sample rows per table (0-100).
        #[arg(long, default_value_t = 5)]
        samples: usize,
        /// Ignore the cache.
        #[arg(long)]
        refresh: bool,
        /// Connections file (default: $OSIRIS_CONNECTIONS, ./osiris_connections.yaml).
        #[arg(long)]
        connections: Option<PathBuf>,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    let Command::Run { connection, samples, refresh, connections, json } = c;
    let (_, root, _) = super::project_runs_dir(None)?;
    let file = match ConnectionsFile::discover(connections.as_deref(), Some(&root)) {
        Ok(f) => f,
        Err(d) => return Ok(super::output::invalid(&osiris::Invalid::one(d), json)),
    };
    let req = Request { connection, samples, refresh, ttl: DEFAULT_TTL };
    let found = match run(&file, &root, &req) {
        Ok(v) => v,
        Err(e @ osiris::discovery::DiscoveryError::Connection(_)) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    if json {
        print_json(&found);
        return Ok(0);
    }
    let cached = if found["cached"] == true { " (cached)" } else { "" };
    println!(
        "{} {}{cached}",
        found["overview"]["connection"].as_str().unwrap_or(""),
        found["discovery_id"].as_str().unwrap_or("")
    );
    for t in found["tables"].as_array().into_iter().flatten() {
        let columns: Vec<String> = t["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {}", c["name"].as_str().unwrap_or(""), c["type"].as_str().unwrap_or("")))
            .collect();
        let rows = t["estimated_rows"].as_u64().map(|n| format!(" ~{n} rows")).unwrap_or_default();
        println!("  {}{rows}: {}", t["name"].as_str().unwrap_or(""), columns.join(", "));
    }
    Ok(0)
}
