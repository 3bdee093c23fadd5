//! The CLI's `--json` outputs and error texts, snapshot-tested (insta): a change to what agents
//! and people read shows up as a diff in review. Volatile fields (ids, times, temp paths) are
//! redacted. To accept an intended change: `INSTA_UPDATE=always cargo test --test it snapshots`,
//! then review the `.snap` files in the diff.

use crate::util::Project;
use serde_json::Value;

/// `run` in a fresh project, the temporary directory replaced by `[project]`.
fn run(p: &Project, args: &[&str]) -> (i32, String, String) {
    let r = p.osiris(args);
    let dir = p.dir.path().display().to_string();
    (r.code, r.stdout.replace(&dir, "[project]"), r.stderr.replace(&dir, "[project]"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A pipeline with three mistakes, each on its own line.
const THREE_MISTAKES: &str = "oml_version: \"0.1.0\"\nname: broken\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv, delimeter: \";\"}\n  - id: shape\n    component: duckdb.procesor\n    mode: transform\n    needs: [extract]\n    config: {query: \"SELECT 1\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [shapes]\n    config: {path: out.csv}\n";

#[test]
fn validate_json_lists_every_mistake_with_its_place() {
    let p = Project::new();
    p.write("p.yaml", THREE_MISTAKES);
    let (code, stdout, _) = run(&p, &["validate", "p.yaml", "--json"]);
    assert_eq!(code, 2);
    insta::assert_json_snapshot!(json(&stdout));
}

#[test]
fn validate_text_for_people() {
    let p = Project::new();
    p.write("p.yaml", THREE_MISTAKES);
    let (code, _, stderr) = run(&p, &["validate", "p.yaml"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(stderr);
}

#[test]
fn run_json_of_a_failing_sql_step() {
    let p = Project::new();
    p.write("in.csv", "a\n1\n2\n");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: fails\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: broken-sql\n    component: duckdb.processor\n    mode: transform\n    needs: [extract]\n    config: {query: \"SELECT no_such_column FROM extract\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [broken-sql]\n    config: {path: out.csv}\n",
    );
    let (code, stdout, _) = run(&p, &["run", "p.yaml", "--json"]);
    assert_eq!(code, 1);
    insta::assert_json_snapshot!(json(&stdout), {
        ".run_id" => "[run_id]",
        ".run_dir" => "[run_dir]",
        ".aiop_dir" => "[aiop_dir]",
        ".duration_ms" => "[ms]",
        ".steps[].duration_ms" => "[ms]",
    });
}

/// One component's contract as agents read it (a list of all would change with every new
/// component; this one changes only when the CSV writer does).
#[test]
fn components_show_json() {
    let p = Project::new();
    let (code, stdout, _) = run(&p, &["components", "show", "filesystem.csv_writer", "--json"]);
    assert_eq!(code, 0);
    insta::assert_json_snapshot!(json(&stdout));
}

#[test]
fn connections_list_json_masks_secrets() {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  mysql:\n    prod: {host: db.example, port: 3306, database: shop, user: etl, password: \"${OSIRIS_SNAP_PW}\", default: true}\n  filesystem:\n    local: {base_dir: data}\n",
    );
    let r = p.osiris_env(&["connections", "list", "--json"], &[("OSIRIS_SNAP_PW", "Snap-Secret-99")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("Snap-Secret-99"));
    let dir = p.dir.path().display().to_string();
    insta::assert_json_snapshot!(json(&r.stdout.replace(&dir, "[project]")));
}

/// Keys whose values change from run to run (times, ids, sizes, paths, hashes).
const VOLATILE: &[&str] = &[
    "ts",
    "started_at",
    "finished_at",
    "completed_at",
    "ended_at",
    "start_time",
    "end_time",
    "generated_at",
    "duration_ms",
    "duration_seconds",
    "duration",
    "started_ms",
    "total_duration_ms",
    "run_id",
    "session_id",
    "previous_run_id",
    "run_dir",
    "path",
    "core_path",
    "run_card_path",
    "annex_dir",
    "aiop_dir",
    "manifest_hash",
    "size_bytes",
    "bytes_core",
    "bytes_annex",
    "peak_rss_bytes",
    "@id",
    "event_count",
    "generator",
    "durations",
];

/// `value` with volatile fields replaced by `[key]` and the project dir, run ids and hashes in
/// strings by placeholders.
fn scrub(value: &mut Value, project: &str) {
    let run_id = regex::Regex::new(r"\d{8}T\d{6}Z-[0-9a-f]{6}").unwrap();
    let hash = regex::Regex::new(r"[0-9a-f]{64}|[0-9a-f]{7}-").unwrap();
    let seconds = regex::Regex::new(r"\d+\.\d s").unwrap();
    let millis = regex::Regex::new(r"\.\d{13}\b").unwrap();
    fn walk(v: &mut Value, f: &dyn Fn(&str) -> String) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if VOLATILE.contains(&k.as_str()) && !child.is_null() {
                        *child = Value::String(format!("[{k}]"));
                    } else {
                        walk(child, f);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, f)),
            Value::String(s) => *s = f(s),
            _ => {}
        }
    }
    let f = |s: &str| {
        let s = s.replace(project, "[project]");
        let s = run_id.replace_all(&s, "[run_id]");
        let s = hash.replace_all(&s, "[hash]");
        let s = seconds.replace_all(&s, "[s] s");
        millis.replace_all(&s, ".[ts_ms]").into_owned()
    };
    walk(value, &f);
}

/// A project with one successful and one failing run.
fn two_runs() -> Project {
    let p = crate::operating::example_project();
    p.osiris(&["run", "orders_report.yaml", "--quiet"]).expect_code(0);
    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", crate::operating::FAILING);
    p.osiris(&["run", "fails.yaml", "--quiet"]).expect_code(1);
    p
}

fn scrubbed_json(p: &Project, args: &[&str]) -> Value {
    let r = p.osiris(args);
    assert_eq!(r.code, 0, "{r:?}");
    let mut v = json(&r.stdout);
    scrub(&mut v, &p.dir.path().display().to_string());
    v
}

#[test]
fn logs_list_and_show_json() {
    let p = two_runs();
    insta::assert_json_snapshot!("logs_list_json", scrubbed_json(&p, &["logs", "list", "--json"]));
    insta::assert_json_snapshot!("logs_show_json_failed_run", scrubbed_json(&p, &["logs", "show", "last", "--json"]));
}

#[test]
fn logs_aiop_list_and_show_json() {
    let p = two_runs();
    insta::assert_json_snapshot!("logs_aiop_list_json", scrubbed_json(&p, &["logs", "aiop", "list", "--json"]));
    insta::assert_json_snapshot!(
        "logs_aiop_show_json_failed_run",
        scrubbed_json(&p, &["logs", "aiop", "show", "--json"])
    );
}
