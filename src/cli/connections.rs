//! `osiris connections list|doctor`.

use super::output::{invalid, print_json};
use osiris::connections::ConnectionsFile;
use serde_json::json;
use std::path::PathBuf;

/// Subcommands of `connections`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every connection alias with secrets masked and env-var status.
    List {
        /// Connections file.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Check that each connection resolves (env vars set) and, where this build can, that it answers.
    Doctor {
        /// Only this alias (`@family.alias` or `family.alias`).
        name: Option<String>,
        /// Connections file.
        #[arg(long)]
        connections: Option<PathBuf>,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::List { connections, json } => {
            let file = match ConnectionsFile::discover(connections.as_deref(), None) {
                Ok(f) => f,
                Err(d) => return Ok(invalid(&osiris::Invalid::one(d), json)),
            };
            let masked = file.masked();
            if json {
                print_json(&json!({"connections_file": file.path, "connections": masked}));
            } else {
                match &file.path {
                    Some(p) => println!("connections file: {}", p.display()),
                    None => println!("no connections file found (looked at --connections, $OSIRIS_CONNECTIONS, ./osiris_connections.yaml)"),
                }
                for (family, aliases) in masked.as_object().into_iter().flatten() {
                    println!("{family}:");
                    for (alias, info) in aliases.as_object().into_iter().flatten() {
                        let default = if info["is_default"] == true { " (default)" } else { "" };
                        let missing: Vec<&String> = info["env_vars"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(_, set)| **set == false)
                            .map(|(k, _)| k)
                            .collect();
                        let env = if missing.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "  missing env: {}",
                                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                            )
                        };
                        println!("  @{family}.{alias}{default}  {}{env}", info["config"]);
                    }
                }
            }
            Ok(0)
        }
        Command::Doctor { name, connections, json } => {
            let file = match ConnectionsFile::discover(connections.as_deref(), None) {
                Ok(f) => f,
                Err(d) => return Ok(invalid(&osiris::Invalid::one(d), json)),
            };
            let wanted = name.map(|n| n.trim_start_matches('@').to_string());
            let results = osiris::drivers::health::doctor(&file, wanted.as_deref());
            let failures = results.iter().filter(|r| r["status"] == "failure" || r["status"] == "error").count();
            if json {
                print_json(&json!({"results": results}));
            } else {
                for r in &results {
                    println!(
                        "{:<30} {:<8} {}",
                        r["connection"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["message"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(if failures > 0 { 1 } else { 0 })
        }
    }
}
