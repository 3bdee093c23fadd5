//! `osiris export dagster`: a Dagster definitions module for one pipeline. Each step is an asset
//! (key `pipeline/step`, `deps` from `needs`, group = the pipeline); the whole pipeline is one
//! multi-asset whose body runs `osiris run PIPELINE --json` through Dagster Pipes, because a run
//! stays whole on one machine (its exchange file, views and streamed edges are local). Exit 1 is
//! a failure Dagster may retry (the retry policy's); exit 2 (invalid pipeline) is not retried.
//! Dagster starts the run as a local subprocess inside a Pipes session.

use crate::compiler::ManifestStep;

/// What the module needs to know about the pipeline.
pub struct Export<'a> {
    /// OML `name`.
    pub pipeline: &'a str,
    /// The pipeline file, absolute.
    pub pipeline_path: &'a std::path::Path,
    /// The directory `osiris run` starts in (the project root).
    pub project_dir: &'a std::path::Path,
    /// Steps in topological order.
    pub steps: &'a [ManifestStep],
}

/// A Python string literal (JSON's escapes are Python's).
fn py(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// The definitions module's text.
pub fn module(e: &Export) -> String {
    let group = super::asset_name(e.pipeline);
    let key = |step: &str| format!("AssetKey([{}, {}])", py(&group), py(&super::asset_name(step)));
    let specs: Vec<String> = e
        .steps
        .iter()
        .map(|s| {
            let deps: Vec<String> = s.needs.iter().map(|n| key(n)).collect();
            format!(
                "    AssetSpec(\n        {},\n        deps=[{}],\n        group_name={},\n        kinds={{\"osiris\"}},\n        description={},\n        metadata={{\"osiris_step\": {}, \"component\": {}}},\n    ),",
                key(&s.id),
                deps.join(", "),
                py(&group),
                py(&format!("step `{}` of osiris pipeline `{}`: {} ({})", s.id, e.pipeline, s.component, s.mode.canonical())),
                py(&s.id),
                py(&s.component),
            )
        })
        .collect();
    format!(
        r#""""Dagster definitions for the osiris pipeline {name}, written by `osiris export dagster`.

Each step is an asset; the pipeline runs whole as one `osiris run` (one multi-asset) that reports
every step's materialization back through Dagster Pipes. Edit PARAMS to pass pipeline parameters;
set OSIRIS_BIN when `osiris` is not on PATH. Exit 1 (a step failed) may be retried by the retry
policy; exit 2 (invalid pipeline) is not.
"""
import os
import shutil
import subprocess

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Definitions,
    Failure,
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
    RetryPolicy,
    multi_asset,
    open_pipes_session,
)

OSIRIS = os.environ.get("OSIRIS_BIN") or shutil.which("osiris") or "osiris"
PIPELINE = {pipeline_path}
PROJECT = {project}
PARAMS = {{}}

SPECS = [
{specs}
]


@multi_asset(name={group_lit}, specs=SPECS, can_subset=False, retry_policy=RetryPolicy(max_retries=2))
def osiris_pipeline(context: AssetExecutionContext):
    with open_pipes_session(
        context=context,
        context_injector=PipesTempFileContextInjector(),
        message_reader=PipesTempFileMessageReader(),
        extras={{"params": PARAMS}},
    ) as session:
        process = subprocess.run(
            [OSIRIS, "run", PIPELINE, "--json", "--quiet"],
            cwd=PROJECT,
            env={{**os.environ, **session.get_bootstrap_env_vars()}},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    yield from session.get_results(implicit_materializations=False)
    runs = session.get_custom_messages()
    run = runs[-1] if runs else {{}}
    if run:
        context.log.info(f"osiris run {{run.get('run_id')}}: {{run.get('status')}}, {{run.get('total_rows')}} rows")
    error = (run.get("error") or {{}}).get("message") or process.stderr[-2000:]
    if process.returncode == 2:
        raise Failure(description=f"osiris: invalid pipeline (exit 2), not retried: {{error}}", allow_retries=False)
    if process.returncode != 0:
        raise Failure(description=f"osiris run failed (exit {{process.returncode}}): {{error}}", allow_retries=True)


defs = Definitions(assets=[osiris_pipeline])
"#,
        name = py(e.pipeline),
        pipeline_path = py(&e.pipeline_path.display().to_string()),
        project = py(&e.project_dir.display().to_string()),
        specs = specs.join("\n"),
        group_lit = py(&group),
    )
}
