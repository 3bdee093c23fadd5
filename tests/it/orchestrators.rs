//! Integrations with other engines, tested against the real thing: definitions written by
//! `osiris export dagster` materialised by Dagster 1.13 (`materialize`, in the venv that
//! scripts/test-tools.sh creates), with osiris speaking Dagster Pipes over a file and over stderr.

use crate::util::Project;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("orchestrators/materialize.py");

fn dagster_python() -> PathBuf {
    let home = std::env::var("HOME").expect("HOME");
    let python = Path::new(&home).join(".cache/osiris-test/dagster/bin/python");
    assert!(python.exists(), "{} is missing: scripts/test-tools.sh installs Dagster", python.display());
    python
}

/// Export `pipeline` of `p` and materialise it with Dagster over `channel` (`file` or `stderr`).
fn materialize(p: &Project, pipeline: &str, channel: &str) -> Value {
    materialize_export(p, &[pipeline], channel, &[])
}

/// `osiris export dagster EXPORT… -o defs.py`, then materialise it over `channel` with `env` set.
fn materialize_export(p: &Project, export: &[&str], channel: &str, env: &[(&str, &str)]) -> Value {
    let args: Vec<&str> =
        ["export", "dagster"].into_iter().chain(export.iter().copied()).chain(["-o", "defs.py"]).collect();
    p.osiris(&args).expect_code(0);
    p.write("materialize.py", SCRIPT);
    let out = Command::new("timeout")
        .args(["300"])
        .arg(dagster_python())
        .args(["materialize.py", "defs.py", channel])
        .current_dir(p.dir.path())
        .env("OSIRIS_BIN", env!("CARGO_BIN_EXE_osiris"))
        .env("DAGSTER_HOME", p.path("dagster-home"))
        .envs(env.iter().copied())
        .output()
        .expect("run Dagster");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("no result from Dagster ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn keys(result: &Value) -> Vec<String> {
    result["materializations"].as_array().unwrap().iter().map(|m| m["key"].as_str().unwrap().to_string()).collect()
}

/// The run directory osiris used for a materialisation, from its metadata.
fn run_status(p: &Project, result: &Value) -> Value {
    let run_id = result["materializations"][0]["metadata"]["osiris_run_id"].as_str().expect("osiris_run_id");
    let text = std::fs::read_to_string(p.path(&format!(".osiris/runs/{run_id}/status.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn dagster_materialises_every_step_of_the_example_in_order_with_the_runs_rows() {
    let p = crate::operating::example_project();
    let result = materialize(&p, "orders_report.yaml", "file");
    assert_eq!(result["success"], true, "{result}");
    let status = run_status(&p, &result);
    let steps = status["steps"].as_array().unwrap();
    let expected: Vec<String> =
        steps.iter().map(|s| format!("orders_report/{}", s["id"].as_str().unwrap().replace('-', "_"))).collect();
    assert_eq!(keys(&result), expected, "every step, in the manifest's order");
    for (m, s) in result["materializations"].as_array().unwrap().iter().zip(steps) {
        assert_eq!(m["metadata"].get("rows").cloned().unwrap_or(Value::Null), s["rows"], "{m}");
        assert_eq!(m["metadata"]["component"], s["component"]);
    }
    assert!(p.exists("output/revenue_by_country.csv"));
}

#[test]
fn a_failing_sql_step_materialises_its_upstream_and_fails_retryably_and_exit_2_is_not_retried() {
    let p = Project::new();
    p.write("in.csv", "a,b\n1,2\n");
    p.write("p.yaml", crate::operating::FAILING);
    let result = materialize(&p, "p.yaml", "file");
    assert_eq!(result["success"], false);
    assert!(keys(&result).iter().all(|k| k == "fails/extract"), "{result}");
    assert!(keys(&result).contains(&"fails/extract".to_string()));
    let failures = result["failures"].to_string();
    assert!(failures.contains("exit 1") && failures.contains("no_such_column"), "{failures}");
    assert_eq!(result["retries"], 2, "exit 1 is retried under the retry policy");

    // A connection the project does not define: exit 2 at run time, never retried.
    let invalid = materialize(&invalid_project(), "p.yaml", "file");
    assert_eq!(invalid["success"], false);
    assert_eq!(invalid["retries"], 0, "{invalid}");
    assert!(invalid["failures"].to_string().contains("exit 2"), "{invalid}");
}

#[test]
fn the_mariadb_pipeline_materialises_under_dagster() {
    let db = crate::mysql::database(
        "dagster",
        &["CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))", "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"],
    );
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    db:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n      user: root\n      password: \"\"\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: maria\nsteps:\n  - id: extract\n    component: mysql.extractor\n    mode: read\n    config: {table: t}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract]\n    config: {path: out.csv}\n",
    );
    let result = materialize(&p, "p.yaml", "file");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(keys(&result), ["maria/extract", "maria/write"]);
    assert_eq!(result["materializations"][1]["metadata"]["rows"], 3);
    assert_eq!(p.read("out.csv").lines().count(), 4);
}

#[test]
fn messages_on_stderr_are_read_by_dagsters_own_log_parser() {
    let p = crate::operating::example_project();
    let result = materialize(&p, "orders_report.yaml", "stderr");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(keys(&result).len(), 7, "{result}");
    assert_eq!(keys(&result)[2], "orders_report/enriched");
}

/// A project whose pipeline names a connection it does not define: exit 2 when it runs.
fn invalid_project() -> Project {
    let q = Project::new();
    q.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: invalid\nsteps:\n  - id: rows\n    component: mysql.extractor\n    mode: read\n    config: {connection: \"@mysql.nowhere\", query: \"SELECT 1\"}\n",
    );
    q
}

#[test]
fn without_the_exit_code_the_verdict_comes_from_what_osiris_reported_over_pipes() {
    // The pod and container launchers only learn "non-zero"; the stderr channel parsed by
    // Dagster's own log parser is what they read, and the module's verdict uses only that.
    let invalid = materialize(&invalid_project(), "p.yaml", "stderr");
    assert_eq!(invalid["success"], false);
    assert_eq!(invalid["retries"], 0, "exit 2 is told by the report: {invalid}");
    assert!(invalid["failures"].to_string().contains("invalid pipeline (exit 2)"), "{invalid}");

    let p = Project::new();
    p.write("in.csv", "a,b\n1,2\n");
    p.write("p.yaml", crate::operating::FAILING);
    let failed = materialize(&p, "p.yaml", "stderr");
    assert_eq!(failed["success"], false);
    assert_eq!(failed["retries"], 2, "a failed step may be retried: {failed}");
    assert!(keys(&failed).contains(&"fails/extract".to_string()), "{failed}");
    assert!(failed["failures"].to_string().contains("no_such_column"), "{failed}");
}

#[test]
fn the_kubernetes_form_asks_dagster_k8s_for_a_valid_pod_with_the_secret_as_environment() {
    let p = crate::operating::example_project();
    let export = [
        "export",
        "dagster",
        "orders_report.yaml",
        "--launcher",
        "k8s",
        "--image",
        "registry.example.com/etl:1.4",
        "--secret",
        "etl-env",
        "--namespace",
        "data",
        "-o",
        "defs.py",
    ];
    p.osiris(&export).expect_code(0);
    p.write("k8s_pod.py", include_str!("orchestrators/k8s_pod.py"));
    let out =
        Command::new(dagster_python()).args(["k8s_pod.py", "defs.py"]).current_dir(p.dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    p.write("pod.json", &String::from_utf8_lossy(&out.stdout));
    let pod: Value = serde_json::from_slice(&out.stdout).unwrap();
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/etl:1.4");
    assert_eq!(
        container["command"],
        serde_json::json!(["osiris", "run", "/project/orders_report.yaml", "--json", "--quiet"])
    );
    assert_eq!(container["workingDir"], "/project");
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "etl-env");
    assert_eq!(pod["metadata"]["labels"]["osiris.dev/pipeline"], "orders-report");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    let validated = kubernetes_validate(&p, "pod.json");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    // The module loads in Dagster with the same assets as the subprocess form.
    let module = p.read("defs.py");
    assert!(
        module.contains("PipesK8sClient(message_reader=reader)")
            && module.contains("AssetKey([\"orders_report\", \"enriched\"])")
    );
}

#[test]
fn the_docker_form_fails_retryably_when_no_docker_daemon_answers_and_never_holds_env_values() {
    let p = crate::operating::example_project();
    let export = ["orders_report.yaml", "--launcher", "docker", "--image", "etl:1.4", "--env", "OSIRIS_TEST_PASSWORD"];
    let result = materialize_export(
        &p,
        &export,
        "file",
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock"), ("OSIRIS_TEST_PASSWORD", "s3cr3t-docker-value")],
    );
    assert_eq!(result["success"], false);
    assert_eq!(result["retries"], 2, "a launcher failure may be retried: {result}");
    assert!(result["failures"].to_string().contains("osiris run failed (exit unknown)"), "{result}");
    let module = p.read("defs.py");
    assert!(module.contains("ENV = [\"OSIRIS_TEST_PASSWORD\"]") && !module.contains("s3cr3t"), "{module}");
}

#[test]
fn a_flag_the_chosen_launcher_would_ignore_is_refused_by_name() {
    let p = crate::operating::example_project();
    let docker_secret =
        p.osiris(&["export", "dagster", "orders_report.yaml", "--launcher", "docker", "--image", "x", "--secret", "s"]);
    docker_secret.expect_code(2);
    assert!(
        docker_secret.stderr.contains("--secret and --namespace apply to --launcher k8s"),
        "{}",
        docker_secret.stderr
    );
    let k8s_env = p.osiris(&[
        "export",
        "dagster",
        "orders_report.yaml",
        "--launcher",
        "k8s",
        "--image",
        "x",
        "--env",
        "PGPASSWORD",
    ]);
    k8s_env.expect_code(2);
    assert!(k8s_env.stderr.contains("--env applies to --launcher docker"), "{}", k8s_env.stderr);
    let missing_image = p.osiris(&["export", "dagster", "orders_report.yaml", "--launcher", "docker"]);
    missing_image.expect_code(2);
    assert!(missing_image.stderr.contains("--image"), "{}", missing_image.stderr);
}

fn kubernetes_validate(p: &Project, file: &str) -> std::process::Output {
    let bin = dagster_python().with_file_name("kubernetes-validate");
    Command::new(bin).args(["--strict", file]).current_dir(p.dir.path()).output().expect("kubernetes-validate")
}

#[test]
fn the_exported_job_and_cronjob_pass_strict_kubernetes_validation() {
    let p = crate::operating::example_project();
    p.osiris(&["export", "k8s", "orders_report.yaml", "--image", "registry.example.com/etl:1.4", "-o", "job.yaml"])
        .expect_code(0);
    p.osiris(&[
        "export",
        "k8s",
        "orders_report.yaml",
        "--image",
        "registry.example.com/etl:1.4",
        "--schedule",
        "0 3 * * *",
        "--secret",
        "etl-env",
        "--cpu",
        "500m",
        "--memory",
        "2Gi",
        "--namespace",
        "etl",
        "-o",
        "cron.yaml",
    ])
    .expect_code(0);
    for file in ["job.yaml", "cron.yaml"] {
        let out = kubernetes_validate(&p, file);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains(" passed for resource "), "{file}: {text}");
    }
    let cron = p.read("cron.yaml");
    for expected in [
        "kind: CronJob",
        "concurrencyPolicy: Forbid",
        "name: etl-env",
        "osiris-orders-report",
        "- orders_report.yaml",
        "memory: 2Gi",
    ] {
        assert!(cron.contains(expected), "{expected} in:\n{cron}");
    }
    // The validator is strict: a property Kubernetes does not know fails it.
    p.write("bad.yaml", &p.read("job.yaml").replace("backoffLimit: 2", "backoffLimit: 2\n  retriesPlease: 5"));
    assert!(!kubernetes_validate(&p, "bad.yaml").status.success());
}

/// `airflow dags test` of the DAG `osiris export airflow` wrote for `pipeline` of `p`, on a
/// SQLite metadata database in the project; returns the run task's XCom value (None when the
/// task pushed none) and the command's output.
fn airflow_dags_test(p: &Project, pipeline: &str) -> (Option<Value>, String) {
    p.osiris(&["export", "airflow", pipeline, "-o", "dags/osiris_dag.py"]).expect_code(0);
    let home = std::env::var("HOME").expect("HOME");
    let airflow = Path::new(&home).join(".cache/osiris-test/airflow/bin/airflow");
    assert!(airflow.exists(), "{} is missing: scripts/test-tools.sh installs Airflow", airflow.display());
    let name: String = p
        .read("dags/osiris_dag.py")
        .lines()
        .find_map(|l| l.trim().strip_prefix("dag_id=\"").map(|r| r.trim_end_matches("\",").to_string()))
        .expect("dag_id");
    let env = [
        ("AIRFLOW_HOME", p.path("airflow-home")),
        ("AIRFLOW__CORE__DAGS_FOLDER", p.path("dags")),
        ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
        ("OSIRIS_BIN", env!("CARGO_BIN_EXE_osiris").into()),
    ];
    let run = |args: &[&str]| {
        let out = Command::new("timeout")
            .arg("300")
            .arg(&airflow)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(p.dir.path())
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    run(&["db", "migrate"]);
    let output = run(&["dags", "test", &name]);
    let db = xcom_of_run_task(&p.path("airflow-home/airflow.db"), &name);
    (db, output)
}

/// The `run` task's XCom value, read from Airflow's SQLite database with Python's sqlite3.
fn xcom_of_run_task(db: &Path, dag_id: &str) -> Option<Value> {
    let script = "import sqlite3, sys\nrow = sqlite3.connect(sys.argv[1]).execute(\"SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'run' AND key = 'return_value'\", (sys.argv[2],)).fetchone()\nprint(row[0] if row else 'null')";
    let out = Command::new("python3").args(["-c", script]).arg(db).arg(dag_id).output().unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).expect("the XCom value is JSON");
    (!value.is_null()).then_some(value)
}

#[test]
fn airflow_runs_the_exported_dag_and_its_xcom_is_the_run_json() {
    let p = crate::operating::example_project();
    for f in ["orders_report.yaml", "osiris.yaml", "data/orders.csv", "data/cities.csv"] {
        p.write(&format!("dags/{f}"), &p.read(f));
    }
    let (xcom, output) = airflow_dags_test(&p, "dags/orders_report.yaml");
    let xcom = xcom.unwrap_or_else(|| panic!("no XCom; airflow said:\n{output}"));
    assert_eq!(xcom["status"], "success", "{xcom}");
    let status: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(xcom["run_dir"].as_str().unwrap()).join("status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(xcom["run_id"], status["run_id"]);
    assert_eq!(xcom["total_rows"], status["total_rows"]);
    let steps = |v: &Value| -> Vec<Value> {
        v["steps"].as_array().unwrap().iter().map(|s| serde_json::json!([s["id"], s["status"], s["rows"]])).collect()
    };
    assert_eq!(steps(&xcom), steps(&status));
    let local = p.osiris(&["run", "dags/orders_report.yaml", "--json"]).expect_code(0).json();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&xcom), keys(&local), "the XCom value is the run --json object");
    assert!(p.read("dags/osiris_dag.py").contains("max_active_runs=1"));
}

#[test]
fn under_airflow_an_invalid_pipeline_fails_its_task_without_retries() {
    let p = Project::new();
    p.write(
        "dags/p.yaml",
        "oml_version: \"0.1.0\"\nname: invalid\nsteps:\n  - id: rows\n    component: mysql.extractor\n    mode: read\n    config: {connection: \"@mysql.nowhere\", query: \"SELECT 1\"}\n",
    );
    let (xcom, output) = airflow_dags_test(&p, "dags/p.yaml");
    assert_eq!(xcom, None);
    assert!(output.contains("AirflowFailException") && output.contains("exit 2"), "{output}");
    assert!(!output.contains("up_for_retry"), "{output}");
}

#[test]
fn the_kubernetes_pod_form_builds_its_pod_offline_with_the_xcom_sidecar() {
    let p = crate::operating::example_project();
    p.osiris(&[
        "export",
        "airflow",
        "orders_report.yaml",
        "--launcher",
        "k8s",
        "--image",
        "registry.example.com/etl:1.4",
        "--secret",
        "etl-env",
        "-o",
        "dags/osiris_pod.py",
    ])
    .expect_code(0);
    let script = "import importlib.util, json, sys\nspec = importlib.util.spec_from_file_location('d', sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\ndag = m.dag\npod = dag.get_task('run').build_pod_request_obj(dry_run=True)\nc = {x.name: x for x in pod.spec.containers}\nbase = c['base']\nprint(json.dumps({'containers': sorted(c), 'image': base.image, 'args': base.args, 'cmds': base.command, 'env': {e.name: e.value for e in base.env or []}, 'env_from': [e.secret_ref.name for e in base.env_from or []], 'mounts': [v.mount_path for v in base.volume_mounts or []], 'max_active_runs': dag.max_active_runs}))";
    let home = std::env::var("HOME").unwrap();
    let python = Path::new(&home).join(".cache/osiris-test/airflow/bin/python");
    let out = Command::new(python)
        .args(["-c", script, "dags/osiris_pod.py"])
        .current_dir(p.dir.path())
        .env("AIRFLOW_HOME", p.path("airflow-home"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pod: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(pod["containers"], serde_json::json!(["airflow-xcom-sidecar", "base"]), "{pod}");
    assert_eq!(pod["image"], "registry.example.com/etl:1.4");
    assert_eq!(pod["cmds"], serde_json::json!(["osiris"]));
    assert_eq!(pod["args"], serde_json::json!(["run", "/project/orders_report.yaml", "--json", "--quiet"]));
    assert_eq!(pod["env"]["OSIRIS_XCOM_RETURN"], "/airflow/xcom/return.json");
    assert_eq!(pod["env_from"], serde_json::json!(["etl-env"]));
    assert!(pod["mounts"].as_array().unwrap().contains(&Value::from("/airflow/xcom")), "{pod}");
    assert_eq!(pod["max_active_runs"], 1);

    // What the sidecar returns: osiris writes its run --json object where OSIRIS_XCOM_RETURN says;
    // a path it cannot write costs a warning, not the run.
    let xcom = p.path("xcom/return.json");
    let env = [("OSIRIS_XCOM_RETURN", xcom.to_str().unwrap())];
    let unwritable = p.osiris_env(&["run", "orders_report.yaml", "--json"], &env);
    assert!(unwritable.expect_code(0).stderr.contains("cannot write the XCom value"), "{unwritable:?}");
    std::fs::create_dir_all(p.path("xcom")).unwrap();
    let run = p.osiris_env(&["run", "orders_report.yaml", "--json"], &env);
    let written: Value = serde_json::from_str(&p.read("xcom/return.json")).unwrap();
    assert_eq!(written, run.expect_code(0).json());
}
