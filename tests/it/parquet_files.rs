//! filesystem.parquet_extractor and filesystem.parquet_writer: exact round trips, views over the
//! files, Hive-partitioned directories swapped in whole.

use crate::util::Project;

/// `extract` (component + config) → `write` (component + config), nothing in between.
fn copy(extractor: &str, extract_config: &str, writer: &str, write_config: &str) -> String {
    format!(
        "oml_version: \"0.1.0\"\nname: pq\nsteps:\n  - id: extract\n    component: {extractor}\n    mode: read\n    config: {extract_config}\n  - id: write\n    component: {writer}\n    mode: write\n    needs: [extract]\n    config: {write_config}\n"
    )
}

fn orders() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/orders.csv")).unwrap()
}

/// CSV → Parquet → CSV gives what CSV → CSV gives (the CSV writer prints DOUBLEs in shortest
/// form, `0.10` as `0.1`, either way): the Parquet leg loses nothing.
#[test]
fn csv_to_parquet_to_csv_gives_back_the_input() {
    let p = Project::new();
    p.write("orders.csv", &orders());
    p.write(
        "to.yaml",
        &copy(
            "filesystem.csv_extractor",
            "{path: orders.csv}",
            "filesystem.parquet_writer",
            "{path: out/orders.parquet, compression: zstd, row_group_size: 1000}",
        ),
    );
    let r = p.osiris(&["run", "to.yaml", "--json"]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][1]["rows"], 3000);
    p.write(
        "back.yaml",
        &copy(
            "filesystem.parquet_extractor",
            "{path: out/orders.parquet}",
            "filesystem.csv_writer",
            "{path: back.csv}",
        ),
    );
    let r = p.osiris(&["run", "back.yaml", "--json"]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["relation"], "view", "read in place, not copied: {r:?}");
    p.write(
        "direct.yaml",
        &copy("filesystem.csv_extractor", "{path: orders.csv}", "filesystem.csv_writer", "{path: direct.csv}"),
    );
    p.osiris(&["run", "direct.yaml", "--quiet"]).expect_code(0);
    let (back, direct) = (p.read("back.csv"), p.read("direct.csv"));
    assert_eq!(back.lines().count(), 3001);
    let first_difference = back.lines().zip(direct.lines()).find(|(a, b)| a != b);
    assert!(back == direct, "first differing line: {first_difference:?}");
}

#[test]
fn a_partitioned_write_is_a_hive_tree_that_reads_back_and_a_rerun_replaces_it() {
    let p = Project::new();
    p.write("orders.csv", &orders());
    let write = |sql: &str| {
        p.write(
            "w.yaml",
            &format!("oml_version: \"0.1.0\"\nname: pw\nsteps:\n  - id: src\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: orders.csv}}\n  - id: pick\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"{sql}\"\n  - id: out\n    component: filesystem.parquet_writer\n    mode: write\n    config: {{path: lake/orders, partition_by: [status]}}\n"),
        );
        p.osiris(&["run", "w.yaml", "--quiet"]).expect_code(0);
    };
    write("SELECT * FROM src");
    let mut parts: Vec<String> = std::fs::read_dir(p.path("lake/orders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    parts.sort();
    assert_eq!(parts, ["status=delivered", "status=new", "status=paid", "status=returned", "status=shipped"]);
    let read_back = |p: &Project| {
        p.write(
            "r.yaml",
            "oml_version: \"0.1.0\"\nname: pr\nsteps:\n  - id: lake\n    component: filesystem.parquet_extractor\n    mode: read\n    config: {path: \"lake/orders/**/*.parquet\", hive_partitioning: true}\n  - id: sums\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT status, count(*) AS n, sum(quantity) AS q FROM lake GROUP BY ALL ORDER BY ALL\"\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: sums.csv}\n",
        );
        p.osiris(&["run", "r.yaml", "--quiet"]).expect_code(0);
        p.read("sums.csv")
    };
    let expected = {
        p.write(
            "e.yaml",
            "oml_version: \"0.1.0\"\nname: pe\nsteps:\n  - id: src\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: orders.csv}\n  - id: sums\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT status, count(*) AS n, sum(quantity) AS q FROM src GROUP BY ALL ORDER BY ALL\"\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: sums.csv}\n",
        );
        p.osiris(&["run", "e.yaml", "--quiet"]).expect_code(0);
        p.read("sums.csv")
    };
    assert_eq!(read_back(&p), expected);
    write("SELECT * FROM src WHERE status = 'new'");
    let after: Vec<_> = std::fs::read_dir(p.path("lake/orders")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(after, ["status=new"], "the rerun's tree replaced the old one whole");
    let leftovers: Vec<_> = std::fs::read_dir(p.path("lake")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["orders"], "nothing left beside it");
}

#[test]
fn a_failing_write_keeps_the_previous_file_and_a_missing_column_is_named() {
    let p = Project::new();
    p.write("orders.csv", &orders());
    p.write(
        "w.yaml",
        &copy("filesystem.csv_extractor", "{path: orders.csv}", "filesystem.parquet_writer", "{path: o.parquet}"),
    );
    p.osiris(&["run", "w.yaml", "--quiet"]).expect_code(0);
    let before = std::fs::read(p.path("o.parquet")).unwrap();
    p.write(
        "bad.yaml",
        "oml_version: \"0.1.0\"\nname: pb\nsteps:\n  - id: gen\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT CASE WHEN i < 200000 THEN i ELSE error('boom at ' || i) END AS i FROM range(300000) r(i)\"\n  - id: out\n    component: filesystem.parquet_writer\n    mode: write\n    config: {path: o.parquet, row_group_size: 1000}\n",
    );
    let r = p.osiris(&["run", "bad.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("boom at"), "{r:?}");
    assert_eq!(std::fs::read(p.path("o.parquet")).unwrap(), before);
    p.write(
        "c.yaml",
        &copy(
            "filesystem.parquet_extractor",
            "{path: o.parquet, columns: [order_id, nope]}",
            "filesystem.csv_writer",
            "{path: c.csv}",
        ),
    );
    let r = p.osiris(&["run", "c.yaml", "--json"]);
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`nope`") && msg.contains("order_id, customer_id"), "{msg}");
}
