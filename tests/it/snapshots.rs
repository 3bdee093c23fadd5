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
