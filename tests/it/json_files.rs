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
