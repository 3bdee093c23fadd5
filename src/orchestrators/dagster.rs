//! `osiris export dagster`: a Dagster definitions module for one pipeline. Each step is an asset
//! (key `pipeline/step`, `deps` from `needs`, group = the pipeline); the whole pipeline is one
//! multi-asset whose body runs `osiris run PIPELINE --json` through Dagster Pipes, because a run
//! stays whole on one machine (its exchange file, views and streamed edges are local).
//!
//! Launchers: a local subprocess (`PipesSubprocessClient`'s file channels), a Kubernetes pod
//! (`PipesK8sClient`, messages read from the pod's logs) or a Docker container
//! (`PipesDockerClient`, messages read from the container's logs). Whatever the launcher, exit 2
//! (invalid pipeline) is a failure Dagster does not retry and anything else one it may retry:
//! the subprocess form reads the exit code; a failed pod or container only says "non-zero", so
//! the container forms read what osiris reported over Pipes before it exited
//! (`{"status": "invalid"}` for exit 2, the `run --json` object otherwise).

use super::{py, Image, Pod};
use crate::compiler::ManifestStep;

/// Where Dagster starts the run.
pub enum Launcher<'a> {
    /// A subprocess of the Dagster process, running the `osiris` on its PATH (or `OSIRIS_BIN`)
    /// in the project directory.
    Subprocess,
    /// A Kubernetes pod (dagster-k8s).
    Kubernetes(Pod<'a>),
    /// A Docker container (dagster-docker); `env` names the variables passed on from the Dagster
    /// process (read when the asset runs, never written into the module).
    Docker {
        /// What the container runs.
        image: Image<'a>,
        /// Environment variables passed on by name.
        env: &'a [String],
    },
}

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
    /// Where the run happens.
    pub launcher: Launcher<'a>,
}

/// The `SPECS = [...]` list: one asset spec per step.
fn specs(e: &Export, group: &str) -> String {
    let key = |step: &str| format!("AssetKey([{}, {}])", py(group), py(&super::asset_name(step)));
    let specs: Vec<String> = e
        .steps
        .iter()
        .map(|s| {
            let deps: Vec<String> = s.needs.iter().map(|n| key(n)).collect();
            format!(
                "    AssetSpec(\n        {},\n        deps=[{}],\n        group_name={},\n        kinds={{\"osiris\"}},\n        description={},\n        metadata={{\"osiris_step\": {}, \"component\": {}}},\n    ),",
                key(&s.id),
                deps.join(", "),
                py(group),
                py(&format!("step `{}` of osiris pipeline `{}`: {} ({})", s.id, e.pipeline, s.component, s.mode.canonical())),
                py(&s.id),
                py(&s.component),
            )
        })
        .collect();
    format!("SPECS = [\n{}\n]", specs.join("\n"))
}

/// What every form shares: reading osiris's report and turning a failure into Dagster's terms.
const VERDICT: &str = r#"def _report(messages):
    """The last object osiris reported: the `run --json` object, or {"status": "invalid"} (exit 2)."""
    return next((m for m in reversed(messages) if isinstance(m, dict)), {})


def _log_run(context, report):
    if report.get("run_id"):
        context.log.info(f"osiris run {report['run_id']}: {report.get('status')}, {report.get('total_rows')} rows")


def _fail(report, exit_code, detail):
    """Exit 2 (invalid pipeline) is never retried; any other failure may be, by the retry policy."""
    detail = (report.get("error") or {}).get("message") or detail
    if exit_code == 2 or report.get("status") == "invalid":
        raise Failure(description=f"osiris: invalid pipeline (exit 2), not retried: {detail}", allow_retries=False)
    raise Failure(description=f"osiris run failed (exit {exit_code or 'unknown'}): {detail}", allow_retries=True)"#;

/// The module's text.
pub fn module(e: &Export) -> String {
    let group = super::asset_name(e.pipeline);
    let decorator = format!(
        "@multi_asset(name={}, specs=SPECS, can_subset=False, retry_policy=RetryPolicy(max_retries=2))",
        py(&group)
    );
    let form = match &e.launcher {
        Launcher::Subprocess => subprocess_form(e),
        Launcher::Kubernetes(pod) => kubernetes_form(e, pod),
        Launcher::Docker { image, env } => docker_form(image, env),
    };
    format!(
        r#""""Dagster definitions for the osiris pipeline {name}, written by `osiris export dagster`.

Each step is an asset; the pipeline runs whole as one `osiris run` (one multi-asset) that reports
every step's materialization back through Dagster Pipes. {summary}
Edit PARAMS to pass pipeline parameters. Exit 2 (invalid pipeline) is not retried; any other
failure may be, by the retry policy.
"""
{imports}

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Definitions,
    Failure,
    RetryPolicy,
    multi_asset,
{dagster_names})

{settings}
PARAMS = {{}}

{specs}


{verdict}
{reader}

{decorator}
{body}


defs = Definitions(assets=[osiris_pipeline])
"#,
        name = py(e.pipeline),
        specs = specs(e, &group),
        verdict = VERDICT,
        summary = form.summary,
        imports = form.imports,
        settings = form.settings,
        reader = form.reader,
        dagster_names = form.dagster_names,
        body = form.body,
    )
}

/// What differs between launchers.
struct Form {
    /// The docstring's sentence on where the run happens.
    summary: String,
    /// Imports before Dagster's own.
    imports: String,
    /// Further names imported from `dagster` (indented lines).
    dagster_names: &'static str,
    /// Module-level settings (paths, image, command).
    settings: String,
    /// Helper classes (empty, or the remembering log reader).
    reader: String,
    /// The multi-asset's function.
    body: String,
}

fn subprocess_form(e: &Export) -> Form {
    let summary = "Dagster starts it as a local subprocess;\nset OSIRIS_BIN when `osiris` is not on PATH.".to_string();
    let imports = "import os\nimport shutil\nimport subprocess".to_string();
    let settings = format!(
        "OSIRIS = os.environ.get(\"OSIRIS_BIN\") or shutil.which(\"osiris\") or \"osiris\"\nPIPELINE = {}\nPROJECT = {}",
        py(&e.pipeline_path.display().to_string()),
        py(&e.project_dir.display().to_string()),
    );
    let body = r#"def osiris_pipeline(context: AssetExecutionContext):
    with open_pipes_session(
        context=context,
        context_injector=PipesTempFileContextInjector(),
        message_reader=PipesTempFileMessageReader(),
        extras={"params": PARAMS},
    ) as session:
        process = subprocess.run(
            [OSIRIS, "run", PIPELINE, "--json", "--quiet"],
            cwd=PROJECT,
            env={**os.environ, **session.get_bootstrap_env_vars()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    yield from session.get_results(implicit_materializations=False)
    report = _report(session.get_custom_messages())
    _log_run(context, report)
    if process.returncode != 0:
        _fail(report, process.returncode, process.stderr[-2000:])"#
        .to_string();
    let dagster_names = "    open_pipes_session,\n    PipesTempFileContextInjector,\n    PipesTempFileMessageReader,\n";
    Form { summary, imports, dagster_names, settings, reader: String::new(), body }
}

/// The body of a container form: the client runs the container; when it raises (the container
/// exited non-zero or never ran), what osiris reported before exiting decides the verdict.
fn container_body(client: &str, arguments: &str) -> String {
    format!(
        r#"def osiris_pipeline(context: AssetExecutionContext):
    reader = _Reader()
    try:
        invocation = {client}.run(
            context=context,
            image=IMAGE,
            command=COMMAND,
            extras={{"params": PARAMS}},
{arguments}
        )
    except Exception as error:
        if reader.handler is None:
            raise  # the session never opened (no cluster or daemon configuration): Dagster's error
        yield from reader.handler.get_reported_results()
        report = _report(reader.handler.get_custom_messages())
        _fail(report, report.get("exit_code") or (1 if report else None), f"{{type(error).__name__}}: {{error}}")
    else:
        yield from invocation.get_results(implicit_materializations=False)
        _log_run(context, _report(invocation.get_custom_messages()))"#
    )
}

/// A log reader that keeps Dagster's message handler, so osiris's reports stay readable after the
/// client raised.
fn remembering_reader(base: &str) -> String {
    format!(
        r#"

class _Reader({base}):
    """{base} that keeps the message handler: when the run fails, what osiris
    reported before exiting (the materialized steps, the exit-2 verdict) is still read."""

    handler = None

    @contextmanager
    def read_messages(self, handler):
        self.handler = handler
        with super().read_messages(handler) as params:
            yield params
"#
    )
}

fn image_settings(image: &Image) -> String {
    format!(
        "IMAGE = {}\nWORKDIR = {}\nCOMMAND = [\"osiris\", \"run\", {}, \"--json\", \"--quiet\"]",
        py(image.image),
        py(image.workdir),
        py(&image.pipeline_path()),
    )
}

fn kubernetes_form(e: &Export, pod: &Pod) -> Form {
    let summary = format!(
        "Dagster starts it in a Kubernetes pod from\n{} (dagster-k8s), reading osiris's messages from the pod's logs.",
        pod.image.image
    );
    let imports =
        "from contextlib import contextmanager\n\nfrom dagster_k8s import PipesK8sClient, PipesK8sPodLogsMessageReader"
            .to_string();
    let env_from = match pod.secret {
        Some(secret) => format!(", \"env_from\": [{{\"secret_ref\": {{\"name\": {}}}}}]", py(secret)),
        None => String::new(),
    };
    let settings = format!(
        "{}\nNAMESPACE = {}\n# The Secret's keys become environment variables of the pod; values never appear here.\nPOD_SPEC = {{\"containers\": [{{\"working_dir\": WORKDIR{env_from}}}]}}\nPOD_META = {{\"labels\": {{\"app.kubernetes.io/name\": \"osiris\", \"osiris.dev/pipeline\": {}}}}}",
        image_settings(&pod.image),
        pod.namespace.map(py).unwrap_or_else(|| "None".into()),
        py(&super::k8s::dns_name(e.pipeline, 63)),
    );
    let body = container_body(
        "PipesK8sClient(message_reader=reader)",
        "            namespace=NAMESPACE,\n            base_pod_spec=POD_SPEC,\n            base_pod_meta=POD_META,",
    );
    let reader = remembering_reader("PipesK8sPodLogsMessageReader");
    Form { summary, imports, dagster_names: "", settings, reader, body }
}

fn docker_form(image: &Image, env: &[String]) -> Form {
    let summary = format!(
        "Dagster starts it in a Docker container from\n{} (dagster-docker), reading osiris's messages from the container's logs.",
        image.image
    );
    let imports = "import os\nfrom contextlib import contextmanager\n\nfrom dagster_docker import PipesDockerClient, PipesDockerLogsMessageReader".to_string();
    let names: Vec<String> = env.iter().map(|n| py(n)).collect();
    let settings = format!(
        "{}\n# Passed on from this process's environment by name when the asset runs.\nENV = [{}]",
        image_settings(image),
        names.join(", ")
    );
    let body = container_body(
        "PipesDockerClient(message_reader=reader)",
        "            env={name: os.environ[name] for name in ENV if name in os.environ},\n            container_kwargs={\"working_dir\": WORKDIR},",
    );
    let reader = remembering_reader("PipesDockerLogsMessageReader");
    Form { summary, imports, dagster_names: "", settings, reader, body }
}
