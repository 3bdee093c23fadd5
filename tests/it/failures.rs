//! Runtime failures: exit 1, the failing step named, earlier relations kept, no output file.

use crate::util::Project;

fn pipeline(query: &str) -> String {
    format!(
        "oml_version: \"0.1.0\"\nname: fails\nsteps:\n  - id: extract-orders\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: orders.csv}}\n  - id: bad-sql\n    component: duckdb.processor\n    mode: transform\n    needs: [extract-orders]\n    config:\n      query: \"{query}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [bad-sql]\n    config: {{path: out/result.csv}}\n"
    )
}

fn run_failing(query: &str) -> (Project, serde_json::Value) {
    let p = Project::new();
    p.write("orders.csv", "id,name\n1,a\n2,b\n");
    p.write("p.yaml", &pipeline(query));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["status"], "failed", "{v}");
    assert!(!p.exists("out/result.csv"), "output file exists after a failure");
    (p, v)
}

fn upstream_rows(v: &serde_json::Value) -> i64 {
    let db = crate::util::exchange_db(v);
    db.query_row("SELECT count(*) FROM \"extract-orders\"", [], |r| r.get(0)).unwrap()
}

#[test]
fn sql_error_names_the_step_and_keeps_upstream_relations() {
    let (_p, v) = run_failing("SELECT no_such_column FROM \\\"extract-orders\\\"");
    assert_eq!(v["error"]["step"], "bad-sql");
    assert_eq!(v["error"]["kind"], "sql");
    assert!(v["error"]["message"].as_str().unwrap().contains("no_such_column"), "{v}");
    let statuses: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["success", "failed", "skipped"]);
    assert_eq!(upstream_rows(&v), 2);
}

#[test]
fn a_runtime_error_inside_a_folded_sql_step_is_reported_under_that_step() {
    let (_p, v) = run_failing("SELECT CAST(name AS INTEGER) AS n FROM \\\"extract-orders\\\"");
    assert_eq!(v["error"]["step"], "bad-sql", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("Conversion"), "{v}");
    assert_eq!(upstream_rows(&v), 2);
}

#[test]
fn missing_input_file_fails_the_extract_step_naming_the_path() {
    let p = Project::new();
    p.write("p.yaml", &pipeline("SELECT * FROM input_df"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["error"]["step"], "extract-orders");
    assert_eq!(v["error"]["kind"], "source");
    assert!(v["error"]["message"].as_str().unwrap().contains("orders.csv"), "{v}");
    let status: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(v["run_dir"].as_str().unwrap()).join("status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["ok"], false);
    assert!(p.read(".osiris/index/runs.jsonl").contains("\"failed\""), "failed runs are indexed too");
}

#[test]
fn a_failed_write_keeps_the_previous_output_file_intact() {
    let p = Project::new();
    p.write("orders.csv", "id,name\n1,a\n");
    p.write("out/result.csv", "previous content\n");
    p.write("p.yaml", &pipeline("SELECT CAST(name AS INTEGER) AS n FROM \\\"extract-orders\\\""));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(1);
    assert_eq!(p.read("out/result.csv"), "previous content\n");
    let names: Vec<String> =
        std::fs::read_dir(p.path("out")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["result.csv"], "a temp file was left behind");
}

/// A failing branch skips the steps that depend on it; an independent branch still loads its
/// target, and the run fails with the first error.
#[test]
fn a_failed_branch_skips_its_dependants_and_independent_ones_finish() {
    let p = Project::new();
    p.write("orders.csv", "id,name\n1,a\n2,b\n");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: branches\nsteps:\n  - id: src\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: orders.csv}\n  - id: bad-sql\n    component: duckdb.processor\n    mode: transform\n    needs: [src]\n    config: {query: \"SELECT nope FROM src\"}\n  - id: write-bad\n    component: filesystem.csv_writer\n    mode: write\n    needs: [bad-sql]\n    config: {path: bad.csv}\n  - id: good-sql\n    component: duckdb.processor\n    mode: transform\n    needs: [src]\n    config: {query: \"SELECT id FROM src ORDER BY id\"}\n  - id: write-good\n    component: filesystem.csv_writer\n    mode: write\n    needs: [good-sql]\n    config: {path: good.csv}\n",
    );
    let r = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "1"]);
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["error"]["step"], "bad-sql", "{v}");
    let status = |id: &str| v["steps"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["status"].clone();
    assert_eq!(
        ["src", "bad-sql", "write-bad", "good-sql", "write-good"].map(status),
        ["success", "failed", "skipped", "success", "success"].map(serde_json::Value::from)
    );
    assert_eq!(p.read("good.csv"), "id\n1\n2\n");
    assert!(!p.exists("bad.csv"));
}
