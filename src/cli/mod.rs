//! Command-line interface. The only place that prints or knows exit codes:
//! 0 success, 1 a step failed at run time, 2 invalid input (nothing ran), 130 cancelled.

mod compile;
mod components;
mod connections;
mod discovery;
mod export;
mod init;
mod logs;
mod maintenance;
mod mcp;
mod output;
mod run;
mod validate;
mod worker;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 a step failed at run time, 2 invalid input (nothing ran), 130 cancelled.

Relative file paths in step config resolve against the filesystem connection's base_dir when one
is given, else the project root (nearest directory at or above the pipeline holding osiris.yaml),
else the current directory.

Quick start:
  osiris init my-project && cd my-project
  osiris run pipelines/example.yaml";

/// osiris: compile and run OML pipelines; steps exchange data through one DuckDB file per run.
#[derive(Parser)]
#[command(name = "osiris", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scaffold a project: osiris.yaml, osiris_connections.yaml, pipelines/, data/, .env.example.
    Init(init::Args),
    /// Check a pipeline (OML rules, component configs, connections); exit 0 valid, 2 invalid.
    /// Without a pipeline, checks the project (osiris.yaml, connections, env vars).
    Validate(validate::Args),
    /// Compile a pipeline into a deterministic manifest.yaml + cfg/<step>.json.
    Compile(compile::Args),
    /// Run a pipeline, a compiled manifest, or the last compile.
    Run(run::Args),
    /// List and inspect components.
    #[command(subcommand)]
    Components(components::Command),
    /// List and check connections (secrets are always masked).
    #[command(subcommand)]
    Connections(connections::Command),
    /// What a connection holds: tables, columns as osiris loads them, keys, samples (cached).
    #[command(subcommand)]
    Discovery(discovery::Command),
    /// Inspect past runs: list, show, HTML report, AIOP, bundles, cleanup.
    #[command(subcommand, after_help = logs::LOGS_HELP)]
    Logs(logs::Command),
    /// Remove run directories older than the retention period (see --help).
    Maintenance(maintenance::Args),
    /// MCP server for AI agents (stdio, or streamable HTTP); read-only unless --allow-run.
    #[command(subcommand)]
    Mcp(mcp::Command),
    /// Definitions for other engines: `export dagster PIPELINE` (docs/orchestrators.md).
    #[command(subcommand)]
    Export(export::Command),
    /// Execute runs for a host over stdin/stdout (started by `run --remote`).
    Worker(worker::Args),
    /// Compatibility with the original's `osiris oml validate`.
    #[command(subcommand)]
    Oml(OmlCommand),
}

#[derive(Subcommand)]
enum OmlCommand {
    /// Same as `osiris validate PIPELINE`.
    Validate(validate::Args),
}

/// Parse the command line, run the command and return the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // A worker's connections arrive resolved from its host: nothing of this machine's .env
    // belongs in its environment.
    if !matches!(cli.command, Command::Worker(_)) && std::path::Path::new(".env").is_file() {
        let _ = dotenvy::from_path(".env");
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OSIRIS_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Init(a) => init::execute(a),
        Command::Validate(a) | Command::Oml(OmlCommand::Validate(a)) => validate::execute(a),
        Command::Compile(a) => compile::execute(a),
        Command::Run(a) => run::execute(a),
        Command::Maintenance(a) => maintenance::execute(a),
        Command::Components(c) => components::execute(c),
        Command::Connections(c) => connections::execute(c),
        Command::Logs(c) => logs::execute(c),
        Command::Discovery(c) => discovery::execute(c),
        Command::Mcp(c) => mcp::execute(c),
        Command::Worker(a) => worker::execute(a),
        Command::Export(c) => export::execute(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// `--param` and `--profile`, shared by validate, compile and run.
#[derive(clap::Args)]
struct ParamArgs {
    /// Override a parameter: NAME=VALUE (repeatable; beats OSIRIS_PARAM_NAME and the profile).
    #[arg(long = "param", value_parser = osiris::oml::params::parse_assignment)]
    pub(crate) params: Vec<(String, String)>,
    /// Profile whose `profiles.<name>.params` apply (default: $OSIRIS_PROFILE).
    #[arg(long, short = 'p')]
    profile: Option<String>,
}

impl ParamArgs {
    /// The overrides plus this process's OSIRIS_PARAM_* and OSIRIS_PROFILE.
    fn inputs(self) -> osiris::oml::ParamInputs {
        osiris::oml::ParamInputs::from_process(self.params, self.profile)
    }
}

/// The runs directory: `--runs-dir` when given, else `filesystem.run_logs_dir` of osiris.yaml
/// (relative to `filesystem.base_path` / `OSIRIS_FILESYSTEM_BASE`, else the project root), else
/// `<project root>/.osiris/runs` — the current directory standing in for the root outside a
/// project. The run index and AIOP packages live beside it (`../index`, `../aiop`).
fn runs_dir(flag: Option<PathBuf>, root: &std::path::Path, settings: &serde_json::Value) -> PathBuf {
    if let Some(f) = flag {
        return f;
    }
    let fs = &settings["filesystem"];
    let base = std::env::var("OSIRIS_FILESYSTEM_BASE")
        .ok()
        .filter(|b| !b.is_empty())
        .or_else(|| fs["base_path"].as_str().filter(|b| !b.is_empty()).map(str::to_string))
        .map(|b| osiris::project::resolve_path(root, &b))
        .unwrap_or_else(|| root.to_path_buf());
    match fs["run_logs_dir"].as_str().filter(|d| !d.is_empty()) {
        Some(d) => osiris::project::resolve_path(&base, d),
        None => base.join(".osiris").join("runs"),
    }
}

/// The project settings for the current directory and the runs directory they give.
fn project_runs_dir(flag: Option<PathBuf>) -> anyhow::Result<(PathBuf, PathBuf, serde_json::Value)> {
    let cwd = std::env::current_dir()?;
    let (root, settings) = osiris::project::settings(&cwd)?;
    Ok((runs_dir(flag, &root, &settings), root, settings))
}
