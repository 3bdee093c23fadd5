//! filesystem.json_extractor and filesystem.json_writer: JSON arrays and NDJSON in and out,
//! nested data kept as STRUCTs and LISTs.

use crate::util::Project;

const EVENTS: &str =
    "{\"id\":1,\"user\":{\"name\":\"Zoë\",\"city\":\"Praha\"},\"tags\":[\"a\",\"b\"],\"amount\":12.5}\n\
{\"id\":2,\"user\":{\"name\":\"Bob, Jr.\",\"city\":null},\"tags\":[],\"amount\":null}\n\
{\"id\":3,\"user\":{\"name\":\"東京\",\"city\":\"Brno\"},\"tags\":[\"c\"],\"amount\":-1}\n";

/// `extract` (json_extractor with `extract_config`) → `sql` → csv_writer to out.csv.
fn pipeline(extract_config: &str, sql: &str) -> String {
    format!(
        "oml_version: \"0.1.0\"\nname: json\nsteps:\n  - id: extract-events\n    component: filesystem.json_extractor\n    mode: read\n    config: {extract_config}\n  - id: shape\n    component: duckdb.processor\n    mode: transform\n    needs: [extract-events]\n    config:\n      query: \"{sql}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [shape]\n    config: {{path: out.csv}}\n"
    )
}

#[test]
fn ndjson_nested_fields_are_structs_and_lists_sql_can_reach() {
    let p = Project::new();
    p.write("data/events.ndjson", EVENTS);
    let out = p.run_ok(
        &pipeline(
            "{path: data/events.ndjson, format: newline_delimited}",
            "SELECT id, user.name AS name, user.city AS city, len(tags) AS n_tags, tags[1] AS first_tag, amount FROM input_df ORDER BY id",
        ),
        "out.csv",
    );
    assert_eq!(
        out,
        "id,name,city,n_tags,first_tag,amount\n1,Zoë,Praha,2,a,12.5\n2,\"Bob, Jr.\",,0,,\n3,東京,Brno,1,c,-1.0\n"
    );
}

#[test]
fn a_json_array_is_read_as_a_view_with_only_the_named_columns() {
    let p = Project::new();
    let array = format!("[{}]", EVENTS.trim_end().replace('\n', ",\n"));
    p.write("events.json", &array);
    p.write(
        "p.yaml",
        &pipeline("{path: events.json, format: array, columns: [tags, id]}", "SELECT * FROM \\\"extract-events\\\""),
    );
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(0);
    let steps = r.json()["steps"].clone();
    assert_eq!(steps[0]["relation"], "view", "no copy into the exchange: {steps}");
    assert_eq!(p.read("out.csv"), "tags,id\n\"[a, b]\",1\n[],2\n[c],3\n");
}

#[test]
fn a_missing_file_and_an_unknown_column_fail_naming_them() {
    let p = Project::new();
    p.write("p.yaml", &pipeline("{path: nowhere.ndjson}", "SELECT * FROM input_df"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("nowhere.ndjson"), "{r:?}");
    p.write("e.ndjson", EVENTS);
    p.write("p.yaml", &pipeline("{path: e.ndjson, columns: [id, nope]}", "SELECT * FROM input_df"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`nope`") && msg.contains("fields: id, user, tags, amount"), "{msg}");
    assert!(!p.exists("out.csv"));
}

/// NDJSON in, through SQL that builds nested values, NDJSON and a JSON array out: STRUCTs are
/// objects, LISTs arrays, NULL null, and reading the written file back gives the same rows.
#[test]
fn the_writer_keeps_nesting_and_reads_back_the_same() {
    let p = Project::new();
    p.write("events.ndjson", EVENTS);
    let run = |writer: &str, path: &str| {
        p.write(
            "p.yaml",
            &format!("oml_version: \"0.1.0\"\nname: jw\nsteps:\n  - id: src\n    component: filesystem.json_extractor\n    mode: read\n    config: {{path: events.ndjson}}\n  - id: shaped\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT id, user, tags, {{'total': amount, 'first': tags[1]}} AS extra FROM src ORDER BY id\"\n  - id: out\n    component: filesystem.json_writer\n    mode: write\n    config: {{path: {path}{writer}}}\n"),
        );
        p.osiris(&["run", "p.yaml", "--json"]).expect_code(0).json()["steps"][2]["rows"].clone()
    };
    assert_eq!(run("", "out/events.ndjson"), 3);
    let ndjson = p.read("out/events.ndjson");
    assert_eq!(
        ndjson.lines().next().unwrap(),
        "{\"id\":1,\"user\":{\"name\":\"Zoë\",\"city\":\"Praha\"},\"tags\":[\"a\",\"b\"],\"extra\":{\"total\":12.5,\"first\":\"a\"}}"
    );
    assert_eq!(
        ndjson.lines().nth(1).unwrap(),
        "{\"id\":2,\"user\":{\"name\":\"Bob, Jr.\",\"city\":null},\"tags\":[],\"extra\":{\"total\":null,\"first\":null}}"
    );
    assert_eq!(run(", format: array, compression: gzip", "out/events.json.gz"), 3);
    let out = p.run_ok(
        &pipeline(
            "{path: out/events.json.gz, format: array}",
            "SELECT id, user.name AS name, extra.total AS total FROM input_df ORDER BY id",
        ),
        "out.csv",
    );
    assert_eq!(out, "id,name,total\n1,Zoë,12.5\n2,\"Bob, Jr.\",\n3,東京,-1.0\n");
    let leftovers: Vec<_> = std::fs::read_dir(p.path("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
}

/// A query failing while the writer runs leaves the previous file as it was.
#[test]
fn a_failing_write_leaves_the_previous_file() {
    let p = Project::new();
    p.write("old.ndjson", "{\"kept\":true}\n");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: jw\nsteps:\n  - id: gen\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT CASE WHEN i < 5000 THEN i ELSE error('boom at ' || i) END AS i FROM range(10000) r(i)\"\n  - id: out\n    component: filesystem.json_writer\n    mode: write\n    config: {path: old.ndjson}\n",
    );
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("boom at"), "{r:?}");
    assert_eq!(p.read("old.ndjson"), "{\"kept\":true}\n");
    assert_eq!(
        std::fs::read_dir(p.dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count(),
        0
    );
}

/// A filesystem connection's `base_dir` is where the extractor's relative path resolves.
#[test]
fn a_filesystem_connection_supplies_the_base_dir() {
    let p = Project::new();
    p.write("lake/events.ndjson", EVENTS);
    p.write("osiris_connections.yaml", "connections:\n  filesystem:\n    lake: {base_dir: lake}\n");
    let out = p.run_ok(
        &pipeline("{connection: \"@filesystem.lake\", path: events.ndjson}", "SELECT count(*) AS n FROM input_df"),
        "out.csv",
    );
    assert_eq!(out, "n\n3\n");
}
