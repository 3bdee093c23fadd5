//! DAG behaviour: hyphenated ids, diamonds, file order vs `needs`, joins, compatibility names,
//! params — each producing an exact CSV.

use crate::util::Project;

const ORDERS: &str = "id,customer_id,amount\n1,10,5.5\n2,20,7\n3,10,1.5\n";
const CUSTOMERS: &str = "customer_id,name\n10,Ada\n20,Grace\n";

fn project() -> Project {
    let p = Project::new();
    p.write("data/orders.csv", ORDERS);
    p.write("data/customers.csv", CUSTOMERS);
    p
}

fn step(id: &str, component: &str, mode: &str, needs: &[&str], config: &str) -> String {
    let needs = needs.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    format!("  - id: {id}\n    component: {component}\n    mode: {mode}\n    needs: [{needs}]\n    config:\n{config}\n")
}

fn csv_in(id: &str, file: &str) -> String {
    step(id, "filesystem.csv_extractor", "read", &[], &format!("      path: data/{file}"))
}

fn sql(id: &str, needs: &[&str], query: &str) -> String {
    step(id, "duckdb.processor", "transform", needs, &format!("      query: |\n        {query}"))
}

fn csv_out(id: &str, need: &str, file: &str) -> String {
    step(id, "filesystem.csv_writer", "write", &[need], &format!("      path: {file}"))
}

fn pipeline(steps: &[String]) -> String {
    format!("oml_version: \"0.1.0\"\nname: dag\nsteps:\n{}", steps.concat())
}

#[test]
fn hyphenated_step_ids_work_in_sql() {
    let p = project();
    let out = p.run_ok(
        &pipeline(&[
            csv_in("extract-orders", "orders.csv"),
            sql(
                "sum-by.customer",
                &["extract-orders"],
                "SELECT customer_id, sum(amount) AS total FROM \"extract-orders\" GROUP BY ALL ORDER BY 1",
            ),
            csv_out("write-totals", "sum-by.customer", "out.csv"),
        ]),
        "out.csv",
    );
    assert_eq!(out, "customer_id,total\n10,7.0\n20,7.0\n");
}

#[test]
fn diamond_dag_joins_both_branches() {
    let p = project();
    let out = p.run_ok(
        &pipeline(&[
            csv_in("orders", "orders.csv"),
            sql("big", &["orders"], "SELECT id FROM orders WHERE amount > 5"),
            sql("small", &["orders"], "SELECT id FROM orders WHERE amount <= 5"),
            sql(
                "labelled",
                &["big", "small"],
                "SELECT id, 'big' AS size FROM big UNION ALL SELECT id, 'small' FROM small ORDER BY id",
            ),
            csv_out("write", "labelled", "out.csv"),
        ]),
        "out.csv",
    );
    assert_eq!(out, "id,size\n1,big\n2,big\n3,small\n");
}

#[test]
fn steps_listed_out_of_needs_order_run_by_needs() {
    let p = project();
    let out = p.run_ok(
        &pipeline(&[
            csv_out("write", "count", "out.csv"),
            sql("count", &["orders"], "SELECT count(*) AS n FROM orders"),
            csv_in("orders", "orders.csv"),
        ]),
        "out.csv",
    );
    assert_eq!(out, "n\n3\n");
}

#[test]
fn join_of_two_extractors() {
    let p = project();
    let out = p.run_ok(
        &pipeline(&[
            csv_in("orders", "orders.csv"),
            csv_in("customers", "customers.csv"),
            sql(
                "joined",
                &["orders", "customers"],
                "SELECT o.id, c.name, o.amount FROM orders o JOIN customers c USING (customer_id) ORDER BY o.id",
            ),
            csv_out("write", "joined", "out.csv"),
        ]),
        "out.csv",
    );
    assert_eq!(out, "id,name,amount\n1,Ada,5.5\n2,Grace,7.0\n3,Ada,1.5\n");
}

#[test]
fn input_df_and_df_names_from_older_pipelines_resolve() {
    let p = project();
    let out = p.run_ok(
        &pipeline(&[
            csv_in("extract-orders", "orders.csv"),
            sql("large", &["extract-orders"], "SELECT id FROM input_df WHERE amount > 5"),
            csv_in("customers", "customers.csv"),
            sql("both", &["large", "customers"], "WITH c AS (SELECT * FROM df_customers) SELECT s.id, (SELECT count(*) FROM c) AS customers FROM df_large s ORDER BY s.id"),
            csv_out("write", "both", "out.csv"),
        ]),
        "out.csv",
    );
    assert_eq!(out, "id,customers\n1,2\n2,2\n");
}

#[test]
fn params_default_env_and_command_line_override() {
    let p = project();
    let text = format!(
        "oml_version: \"0.1.0\"\nname: params\nparams:\n  min_amount: 5\nsteps:\n{}{}{}",
        csv_in("orders", "orders.csv"),
        sql("filtered", &["orders"], "SELECT id FROM orders WHERE amount >= ${params.min_amount} ORDER BY id"),
        csv_out("write", "filtered", "out.csv")
    );
    assert_eq!(p.run_ok(&text, "out.csv"), "id\n1\n2\n");
    p.osiris_env(&["run", "p.yaml", "-q"], &[("OSIRIS_PARAM_MIN_AMOUNT", "6")]).expect_code(0);
    assert_eq!(p.read("out.csv"), "id\n2\n");
    p.osiris_env(&["run", "p.yaml", "-q", "--param", "min_amount=1"], &[("OSIRIS_PARAM_MIN_AMOUNT", "6")])
        .expect_code(0);
    assert_eq!(p.read("out.csv"), "id\n1\n2\n3\n");
}

#[test]
fn every_relation_is_in_the_exchange_file_and_materialize_all_makes_tables() {
    let p = project();
    let text = pipeline(&[
        csv_in("extract-orders", "orders.csv"),
        sql("total", &["extract-orders"], "SELECT sum(amount) AS s FROM \"extract-orders\""),
        csv_out("write", "total", "out.csv"),
    ]);
    p.write("p.yaml", &text);
    let r = p.osiris(&["run", "p.yaml", "--json", "--materialize", "all"]);
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["steps"][0]["rows"], 3, "{v}");
    assert_eq!(v["steps"][0]["relation"], "table");
    assert_eq!(v["steps"][2]["rows"], 1);
    let db = crate::util::exchange_db(&v);
    let n: i64 = db.query_row("SELECT count(*) FROM \"extract-orders\"", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 3);
    let kinds: Vec<String> = db
        .prepare("SELECT table_type FROM information_schema.tables ORDER BY table_name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, ["BASE TABLE", "BASE TABLE"]);
}

#[test]
fn run_dir_has_events_status_and_index() {
    let p = project();
    p.run_ok(&pipeline(&[csv_in("orders", "orders.csv"), csv_out("write", "orders", "out.csv")]), "out.csv");
    let dir = p.only_run_dir();
    for f in [
        "manifest.yaml",
        "cfg/orders.json",
        "cfg/write.json",
        "events.jsonl",
        "metrics.jsonl",
        "status.json",
        "osiris.log",
        "pipeline_data.duckdb",
    ] {
        assert!(dir.join(f).exists(), "{f} missing in {}", dir.display());
    }
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["status"], "success");
    assert_eq!(status["ok"], true);
    assert_eq!(status["steps_completed"], 2);
    let events = crate::util::events(&dir);
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"run_start"));
    assert_eq!(names.last(), Some(&"run_end"));
    assert_eq!(names.iter().filter(|n| **n == "step_complete").count(), 2);
    assert!(events.iter().all(|e| e["ts"].is_string() && e["run_id"] == status["run_id"]));
    let index = p.read(".osiris/index/runs.jsonl");
    assert!(index.contains(status["run_id"].as_str().unwrap()));
    let listed = p.osiris(&["logs", "list", "--json"]);
    assert_eq!(listed.json()["sessions"][0]["session_id"], status["run_id"]);
}
