//! `osiris validate [PIPELINE]`.

use super::output::{invalid, print_json, print_warnings};
use osiris::connections::ConnectionsFile;
use osiris::registry::Registry;
use osiris::runtime::{prepare, RunOptions, RunSource};
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Pipeline file (OML). Omit to check the project: osiris.yaml, connections, env vars.
    pipeline: Option<PathBuf>,
    #[command(flatten)]
    params: super::ParamArgs,
    /// Connections file (default: $OSIRIS_CONNECTIONS, ./osiris_connections.yaml, then the pipeline's dir).
    #[arg(long)]
    connections: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub fn execute(a: Args) -> anyhow::Result<i32> {
    let Some(pipeline) = a.pipeline else {
        return validate_project(a.connections, a.json);
    };
    let registry = Registry::builtin();
    let opts = RunOptions {
        params: a.params.inputs(),
        connections_file: a.connections,
        runs_dir: std::path::PathBuf::from(".osiris").join("runs"),
        max_parallel: 1,
        materialize_all: false,
        memory_limit: osiris::exchange::DEFAULT_MEMORY_LIMIT.into(),
        cancel: Default::default(),
        full_refresh: false,
        aiop: None,
        connections: None,
        project_dir: None,
        state_backend: None,
    };
    match prepare(&RunSource::Pipeline(pipeline.clone()), opts, &registry) {
        Ok(req) => {
            if a.json {
                print_json(
                    &json!({"status": "valid", "valid": true, "file": pipeline, "name": req.pipeline_name, "steps_count": req.steps.len(), "errors": [], "warnings": req.warnings}),
                );
            } else {
                print_warnings(&req.warnings);
                eprintln!("{}: valid ({} steps)", pipeline.display(), req.steps.len());
            }
            Ok(0)
        }
        Err(e) => Ok(invalid(&e, a.json)),
    }
}

fn validate_project(connections: Option<PathBuf>, as_json: bool) -> anyhow::Result<i32> {
    let project = osiris::project::find_root(std::path::Path::new("."));
    let file = match ConnectionsFile::discover(connections.as_deref(), None) {
        Ok(f) => f,
        Err(d) => return Ok(invalid(&osiris::Invalid::one(d), as_json)),
    };
    let mut problems = Vec::new();
    for (family, aliases) in &file.families {
        for alias in aliases.keys() {
            if let Err(d) = file.resolve(family, Some(alias)) {
                problems.push(d);
            }
        }
    }
    let unknown = match osiris::project::settings(&std::env::current_dir()?) {
        Ok((_, settings)) => osiris::project::unknown_settings(&settings),
        Err(e) => {
            problems.push(
                osiris::Diagnostic::error("invalid_settings", "root", e.to_string())
                    .with_file(e.path.display().to_string()),
            );
            Vec::new()
        }
    };
    if as_json {
        let warnings: Vec<String> = unknown.iter().map(|k| format!("osiris.yaml: unknown setting `{k}`")).collect();
        print_json(
            &json!({"valid": problems.is_empty(), "project_root": project, "connections_file": file.path, "errors": problems, "warnings": warnings}),
        );
    } else {
        match &project {
            Some(p) => eprintln!("project root: {}", p.display()),
            None => eprintln!("no osiris.yaml found at or above the current directory (run `osiris init`)"),
        }
        match &file.path {
            Some(p) => eprintln!("connections: {} ({} families)", p.display(), file.families.len()),
            None => eprintln!("connections: none found"),
        }
        for p in &problems {
            eprintln!("{p}");
        }
        for k in &unknown {
            eprintln!("warning: osiris.yaml: unknown setting `{k}` (ignored)");
        }
    }
    Ok(if problems.is_empty() { 0 } else { 2 })
}
