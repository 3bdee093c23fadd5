//! `osiris export airflow`: an Airflow DAG that runs one pipeline. One task runs `osiris run
//! PIPELINE --json` and returns the parsed JSON, so the task's XCom value is exactly the
//! `run --json` object (a BashOperator would push only the last line of the output as text).
//! Exit 2 (invalid pipeline) fails the task without retries (`AirflowFailException`); exit 1 is
//! retried (`retries=2`). `max_active_runs=1`: one run of a pipeline at a time.

use super::py;

/// Where the task runs.
pub enum Launcher<'a> {
    /// A Python task on the Airflow worker, running the `osiris` on its PATH.
    Local,
    /// A pod (KubernetesPodOperator); osiris writes its `run --json` object to
    /// `/airflow/xcom/return.json` (`OSIRIS_XCOM_RETURN`) for the operator's xcom sidecar.
    Kubernetes(super::Pod<'a>),
}

/// What the DAG needs.
pub struct Dag<'a> {
    /// OML `name`.
    pub pipeline: &'a str,
    /// The pipeline file, absolute.
    pub pipeline_path: &'a std::path::Path,
    /// Where `osiris run` starts (the project root).
    pub project_dir: &'a std::path::Path,
    /// Cron schedule, or None for runs triggered by hand or by other DAGs.
    pub schedule: Option<&'a str>,
    /// Where the task runs.
    pub launcher: Launcher<'a>,
}

/// The `@dag(...)` line both forms share: id `osiris_<pipeline>`, one run at a time, no catchup.
fn dag_decorator(d: &Dag) -> String {
    format!(
        "@dag(\n    dag_id={},\n    schedule={},\n    start_date=datetime(2024, 1, 1),\n    catchup=False,\n    max_active_runs=1,\n    tags=[\"osiris\"],\n)",
        py(&format!("osiris_{}", super::asset_name(d.pipeline))),
        d.schedule.map(py).unwrap_or_else(|| "None".into()),
    )
}

/// The DAG file's text.
pub fn dag_file(d: &Dag) -> String {
    match &d.launcher {
        Launcher::Local => local_dag(d),
        Launcher::Kubernetes { .. } => pod_dag(d),
    }
}

/// The KubernetesPodOperator form.
fn pod_dag(d: &Dag) -> String {
    let Launcher::Kubernetes(pod) = &d.launcher else { unreachable!("called for the Kubernetes launcher only") };
    let pod_name = format!("osiris-{}", super::k8s::dns_name(d.pipeline, 45));
    let env_from = match pod.secret {
        Some(s) => format!("[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name={}))]", py(s)),
        None => "[]".into(),
    };
    format!(
        r#""""Airflow DAG for the osiris pipeline {name}, written by `osiris export airflow --launcher k8s`.

The run happens in a pod from {image}; osiris writes its `run --json` object to
/airflow/xcom/return.json, which the operator's xcom sidecar returns as the task's XCom value.
Secrets come from the named Secret as environment variables, never from this file.
"""
from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import dag
from kubernetes.client import models as k8s


{decorator}
def osiris_pipeline():
    KubernetesPodOperator(
        task_id="run",
        name={pod_name},
        namespace={namespace},
        image={image},
        cmds=["osiris"],
        arguments=["run", {pipeline_file}, "--json", "--quiet"],
        env_vars={{"OSIRIS_XCOM_RETURN": "/airflow/xcom/return.json"}},
        env_from={env_from},
        do_xcom_push=True,
        get_logs=True,
        retries=2,
        labels={{"app.kubernetes.io/name": "osiris", "osiris.dev/pipeline": {label}}},
    )


dag = osiris_pipeline()
"#,
        name = py(d.pipeline),
        image = py(pod.image.image),
        decorator = dag_decorator(d),
        pod_name = py(&pod_name),
        namespace = pod.namespace.map(py).unwrap_or_else(|| "None".into()),
        pipeline_file = py(&pod.image.pipeline_path()),
        env_from = env_from,
        label = py(&super::k8s::dns_name(d.pipeline, 63)),
    )
}

/// The local (Python task) form.
fn local_dag(d: &Dag) -> String {
    format!(
        r#""""Airflow DAG for the osiris pipeline {name}, written by `osiris export airflow`.

The task's XCom value is the `osiris run --json` object. Exit 2 (invalid pipeline) fails without
retries; exit 1 (a step failed) is retried twice. Set OSIRIS_BIN when `osiris` is not on PATH.
"""
import json
import os
import shutil
import subprocess
from datetime import datetime

from airflow.exceptions import AirflowException, AirflowFailException
from airflow.sdk import dag, task

OSIRIS = os.environ.get("OSIRIS_BIN") or shutil.which("osiris") or "osiris"
PIPELINE = {pipeline_path}
PROJECT = {project}


{decorator}
def osiris_pipeline():
    @task(task_id="run", retries=2)
    def run_pipeline():
        process = subprocess.run(
            [OSIRIS, "run", PIPELINE, "--json", "--quiet"],
            cwd=PROJECT,
            capture_output=True,
            text=True,
        )
        result = json.loads(process.stdout) if process.stdout.strip() else {{}}
        print(process.stderr)
        if process.returncode == 2:
            raise AirflowFailException(f"osiris: invalid pipeline (exit 2), not retried: {{json.dumps(result)}}")
        if process.returncode != 0:
            error = (result.get("error") or {{}}).get("message") or process.stderr[-2000:]
            raise AirflowException(f"osiris run failed (exit {{process.returncode}}): {{error}}")
        return result

    run_pipeline()


dag = osiris_pipeline()
"#,
        name = py(d.pipeline),
        pipeline_path = py(&d.pipeline_path.display().to_string()),
        project = py(&d.project_dir.display().to_string()),
        decorator = dag_decorator(d),
    )
}
