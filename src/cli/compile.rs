//! `osiris compile PIPELINE`.

use super::output::{invalid, print_json, print_warnings};
use osiris::compiler;
use osiris::oml;
use osiris::registry::Registry;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `compile`.
#[derive(clap::Args)]
pub struct Args {
    /// Pipeline file (OML).
    pipeline: PathBuf,
    #[command(flatten)]
    params: super::ParamArgs,
    /// Output directory (default: build/pipelines/[<profile>/]<name>/<short>-<hash>/ under the project).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub fn execute(a: Args) -> anyhow::Result<i32> {
    let registry = Registry::builtin();
    let params = a.params.inputs();
    let plan = match oml::load(&a.pipeline, &params).and_then(|p| compiler::plan(p, &registry)) {
        Ok(p) => p,
        Err(e) => return Ok(invalid(&e, a.json)),
    };
    let compiled = compiler::compile(&plan, &registry);
    let base = osiris::project::base_dir_for(&a.pipeline);
    let slug = a.pipeline.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into());
    let settings = osiris::project::settings(&base).map(|(_, s)| s).unwrap_or_default();
    let build_dir = match settings["filesystem"]["build_dir"].as_str().filter(|d| !d.is_empty()) {
        Some(d) => osiris::project::resolve_path(&base, d),
        None => base.join("build"),
    };
    let dir = a.out.clone().unwrap_or_else(|| compiled.default_dir(&build_dir, &slug));
    let manifest_path = compiled.write_to(&dir)?;
    compiler::record_last_compile(&base, &manifest_path, &compiled)?;
    if a.json {
        print_json(&json!({
            "status": "success", "manifest_path": manifest_path, "manifest_hash": compiled.manifest.meta.manifest_hash,
            "manifest_short": compiled.manifest.meta.manifest_short, "pipeline_slug": slug, "profile": compiled.manifest.meta.profile,
            "steps": compiled.manifest.steps.iter().map(|s| &s.id).collect::<Vec<_>>(), "warnings": plan.warnings,
        }));
    } else {
        print_warnings(&plan.warnings);
        eprintln!("compiled {} steps → {}", compiled.manifest.steps.len(), manifest_path.display());
    }
    Ok(0)
}
