//! `osiris export dagster PIPELINE`: definitions for the engines users operate.

use super::output::invalid;
use osiris::compiler;
use osiris::oml;
use osiris::orchestrators::dagster::{module, Export};
use osiris::registry::Registry;
use std::path::PathBuf;

/// `export` targets.
#[derive(clap::Subcommand)]
pub enum Command {
    /// A Dagster definitions module: one asset per step (deps from `needs`, group = pipeline),
    /// the pipeline run whole through Dagster Pipes.
    #[command(after_help = "Load it with `dagster dev -f FILE` or import `defs` from it. Each step's \
materialization carries rows, duration_ms, component and relation; exit 2 (invalid pipeline) is not \
retried. docs/orchestrators.md has the whole walk-through.")]
    Dagster(Args),
}

/// Arguments of `export dagster`.
#[derive(clap::Args)]
pub struct Args {
    /// Pipeline file (OML).
    pipeline: PathBuf,
    /// Write the module here (default: stdout).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    let Command::Dagster(a) = c;
    let registry = Registry::builtin();
    let plan = match oml::load(&a.pipeline, &Default::default()).and_then(|p| compiler::plan(p, &registry)) {
        Ok(p) => p,
        Err(e) => return Ok(invalid(&e, false)),
    };
    let compiled = compiler::compile(&plan, &registry);
    let pipeline_path = std::path::absolute(&a.pipeline)?;
    let project_dir = std::path::absolute(osiris::project::base_dir_for(&a.pipeline))?;
    let text = module(&Export {
        pipeline: &compiled.manifest.name,
        pipeline_path: &pipeline_path,
        project_dir: &project_dir,
        steps: &compiled.manifest.steps,
    });
    match a.output {
        Some(path) => {
            osiris::runtime::write_atomic(&path, text)?;
            eprintln!("wrote {} ({} assets)", path.display(), compiled.manifest.steps.len());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
