//! Every validation rule: exit 2, a message naming the file position, step and field, and
//! nothing written (no output file, no run directory).

use crate::util::{Project, Run};

const BASE: &str = r#"oml_version: "0.1.0"
name: base
steps:
  - id: extract-in
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/in.csv
  - id: write-out
    component: filesystem.csv_writer
    mode: write
    needs: [extract-in]
    config:
      path: out.csv
"#;

fn project(pipeline: &str) -> Project {
    let p = Project::new();
    p.write("data/in.csv", "a,b\n1,2\n");
    p.write("p.yaml", pipeline);
    p
}

/// Run `pipeline`, expect exit 2 with `kind` and every fragment in stderr, and nothing written.
fn assert_invalid(pipeline: &str, kind: &str, fragments: &[&str]) -> Run {
    assert_invalid_with(pipeline, &[], kind, fragments)
}

/// Like [`assert_invalid`] with extra `run` arguments.
fn assert_invalid_with(pipeline: &str, args: &[&str], kind: &str, fragments: &[&str]) -> Run {
    let p = project(pipeline);
    let mut all = vec!["run", "p.yaml"];
    all.extend_from_slice(args);
    let r = p.osiris(&all);
    r.expect_code(2);
    assert!(r.stderr.contains(&format!("[{kind}]")), "expected {kind}: {r:?}");
    for f in fragments {
        assert!(r.stderr.contains(f), "expected `{f}` in stderr: {r:?}");
    }
    assert!(!p.exists("out.csv"), "output written despite invalid input");
    assert!(!p.exists(".osiris/runs"), "a run directory was created for invalid input");
    r
}

#[test]
fn the_base_pipeline_is_valid() {
    let p = project(BASE);
    p.osiris(&["validate", "p.yaml"]).expect_code(0);
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "a,b\n1,2\n");
}

#[test]
fn yaml_syntax_error_names_line() {
    assert_invalid("oml_version: \"0.1.0\"\nname: [broken\nsteps: []\n", "yaml_syntax", &["p.yaml:"]);
}

#[test]
fn missing_required_top_level_key() {
    assert_invalid(&BASE.replace("name: base\n", ""), "missing_required_key", &["missing required key `name`"]);
}

#[test]
fn forbidden_legacy_top_level_key() {
    assert_invalid(
        &BASE.replace("name: base", "name: base\nversion: 1"),
        "forbidden_key",
        &["p.yaml:3:1", "oml_version"],
    );
}

#[test]
fn unsupported_oml_version() {
    assert_invalid(&BASE.replace("\"0.1.0\"", "\"2.0\""), "unsupported_version", &["p.yaml:1:", "oml_version"]);
}

#[test]
fn duplicate_step_ids() {
    assert_invalid(
        &BASE.replace("id: write-out", "id: extract-in").replace("needs: [extract-in]", "needs: []"),
        "duplicate_id",
        &["step `extract-in`", "steps[1].id"],
    );
}

#[test]
fn invalid_step_id() {
    assert_invalid(
        &BASE.replace("id: write-out", "id: \"../escape\""),
        "invalid_id",
        &["step `../escape`", "steps[1].id"],
    );
}

#[test]
fn invalid_mode() {
    assert_invalid(
        &BASE.replace("mode: write", "mode: load"),
        "invalid_mode",
        &["step `write-out`", "steps[1].mode", "p.yaml:11:"],
    );
}

#[test]
fn mode_the_component_does_not_support() {
    assert_invalid(
        &BASE.replace("mode: write", "mode: transform"),
        "incompatible_mode",
        &["step `write-out`", "steps[1].mode", "use mode: write"],
    );
}

#[test]
fn unknown_component_suggests_the_closest() {
    assert_invalid(
        &BASE.replace("filesystem.csv_writer", "filesystem.csv_writr"),
        "unknown_component",
        &["step `write-out`", "did you mean `filesystem.csv_writer`?"],
    );
}

/// An empty component is invalid input (it used to pass validation and panic in `run`).
#[test]
fn an_empty_component_is_invalid_input_not_a_panic() {
    for command in [&["validate", "p.yaml", "--json"][..], &["run", "p.yaml", "--json"][..]] {
        let p = project(&BASE.replace("component: filesystem.csv_writer", "component: \"\""));
        let r = p.osiris(command);
        r.expect_code(2);
        assert!(r.stdout.contains("`component` is empty") && !r.stderr.contains("panicked"), "{r:?}");
    }
}

#[test]
fn a_connection_reference_without_a_connections_file() {
    let pipeline = BASE.replace(
        "component: filesystem.csv_writer\n    mode: write\n    needs: [extract-in]\n    config:\n      path: out.csv",
        "component: supabase.writer\n    mode: write\n    needs: [extract-in]\n    config:\n      connection: \"@supabase.db\"\n      table: t",
    );
    assert_invalid(&pipeline, "missing_connection", &["step `write-out`", "steps[1].config.connection", "supabase"]);
}

#[test]
fn needs_an_unknown_step() {
    assert_invalid(
        &BASE.replace("needs: [extract-in]", "needs: [extract-inn]"),
        "unknown_dependency",
        &["step `write-out`", "steps[1].needs[0]", "did you mean `extract-in`?"],
    );
}

#[test]
fn dependency_cycle() {
    let pipeline = BASE.replace(
        "    config:\n      path: data/in.csv",
        "    needs: [write-out]\n    config:\n      path: data/in.csv",
    );
    assert_invalid(&pipeline, "dependency_cycle", &["extract-in -> write-out -> extract-in"]);
}

#[test]
fn legacy_step_key_gets_a_hint() {
    assert_invalid(
        &BASE.replace("needs: [extract-in]", "depends_on: [extract-in]"),
        "legacy_key",
        &["step `write-out`", "steps[1].depends_on", "use `needs"],
    );
}

#[test]
fn unknown_config_key_suggests_the_field() {
    let r = assert_invalid(
        &BASE.replace("path: out.csv", "path: out.csv\n      delimeter: \";\""),
        "unknown_config_key",
        &["step `write-out`", "steps[1].config.delimeter", "did you mean `delimiter`?", "p.yaml:15:"],
    );
    assert!(r.stderr.contains("Valid fields: path, delimiter"), "{r:?}");
}

#[test]
fn config_value_violating_the_schema() {
    assert_invalid(
        &BASE.replace("path: out.csv", "path: out.csv\n      newline: cr"),
        "invalid_config_value",
        &["step `write-out`", "steps[1].config.newline", "valid values: lf, crlf"],
    );
}

#[test]
fn config_type_violating_the_schema() {
    assert_invalid(
        &BASE.replace("path: data/in.csv", "path: data/in.csv\n      skip_rows: -1"),
        "invalid_config_value",
        &["step `extract-in`", "steps[0].config.skip_rows"],
    );
}

#[test]
fn missing_required_config_key() {
    assert_invalid(
        &BASE.replace("      path: out.csv\n", "      header: true\n"),
        "missing_config_key",
        &["step `write-out`", "missing required field `path`"],
    );
}

#[test]
fn writer_without_an_input() {
    assert_invalid(
        &BASE.replace("needs: [extract-in]", "needs: []"),
        "invalid_inputs",
        &["step `write-out`", "exactly one input"],
    );
}

#[test]
fn malformed_connection_reference() {
    assert_invalid(
        &BASE.replace("path: data/in.csv", "path: data/in.csv\n      connection: local"),
        "invalid_connection_ref",
        &["step `extract-in`", "steps[0].config.connection", "@filesystem.<alias>"],
    );
}

#[test]
fn missing_connection_alias() {
    let p = project(&BASE.replace("path: data/in.csv", "path: data/in.csv\n      connection: \"@filesystem.archive\""));
    p.write("osiris_connections.yaml", "connections:\n  filesystem:\n    archiv: {base_dir: .}\n");
    let r = p.osiris(&["run", "p.yaml"]);
    r.expect_code(2);
    for f in [
        "[missing_connection]",
        "step `extract-in`",
        "@filesystem.archive",
        "did you mean `@filesystem.archiv`?",
        "p.yaml:9:",
    ] {
        assert!(r.stderr.contains(f), "expected `{f}`: {r:?}");
    }
    assert!(!p.exists("out.csv") && !p.exists(".osiris/runs"));
}

#[test]
fn missing_env_var_in_connection() {
    let p = project(BASE);
    p.write(
        "osiris_connections.yaml",
        "connections:\n  filesystem:\n    local: {base_dir: \"${OSIRIS_IT_NO_SUCH_DIR_VAR}\", default: true}\n",
    );
    let r = p.osiris(&["run", "p.yaml"]);
    r.expect_code(2);
    for f in ["[missing_env_var]", "OSIRIS_IT_NO_SUCH_DIR_VAR", "step `extract-in`", "@filesystem.local"] {
        assert!(r.stderr.contains(f), "expected `{f}`: {r:?}");
    }
    assert!(!p.exists("out.csv") && !p.exists(".osiris/runs"));
}

#[test]
fn explicit_connections_file_that_does_not_exist() {
    let p = project(BASE);
    let r = p.osiris(&["run", "p.yaml", "--connections", "nope.yaml"]);
    r.expect_code(2);
    assert!(r.stderr.contains("nope.yaml") && r.stderr.contains("[connections_file_missing]"), "{r:?}");
}

#[test]
fn undeclared_param_on_the_command_line() {
    assert_invalid_with(
        &BASE.replace("name: base", "name: base\nparams:\n  limit: 5"),
        &["--param", "limt=3"],
        "unknown_param",
        &["--param `limt`", "did you mean `limit`?"],
    );
}

#[test]
fn unresolved_placeholder() {
    assert_invalid(
        &BASE.replace("path: out.csv", "path: \"${params.out}\""),
        "unresolved_param",
        &["step `write-out`", "steps[1].config.path", "p.yaml:14:"],
    );
}

#[test]
fn credentials_written_inline_are_rejected() {
    let pipeline = BASE.replace(
        "component: filesystem.csv_extractor\n    mode: read\n    config:\n      path: data/in.csv",
        "component: mysql.extractor\n    mode: read\n    config:\n      query: SELECT 1\n      password: hunter22",
    );
    let r = assert_invalid(
        &pipeline,
        "forbidden_override",
        &["step `extract-in`", "steps[0].config.password", "osiris_connections.yaml"],
    );
    assert!(!r.stderr.contains("hunter22"), "{r:?}");
}

#[test]
fn all_errors_are_reported_at_once_and_as_json() {
    let pipeline = BASE
        .replace("mode: write", "mode: load")
        .replace("path: data/in.csv", "path: data/in.csv\n      delimeter: \";\"");
    let p = project(&pipeline);
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(2);
    let v = r.json();
    let kinds: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"invalid_mode") && kinds.contains(&"unknown_config_key"), "{kinds:?}");
    assert_eq!(v["status"], "invalid");
    assert!(v["errors"][0]["line"].is_u64(), "{v}");
    let validate = p.osiris(&["validate", "p.yaml", "--json"]);
    validate.expect_code(2);
    assert_eq!(validate.json()["valid"], false);
}

/// One test per remaining rule: (test name, pipeline text, expected type, fragments).
macro_rules! invalid_cases {
    ($($name:ident: $pipeline:expr, $kind:expr, [$($frag:expr),*];)*) => {$(
        #[test]
        fn $name() {
            assert_invalid(&$pipeline, $kind, &[$($frag),*]);
        }
    )*};
}

invalid_cases! {
    document_that_is_not_a_mapping: "- just\n- a list\n", "invalid_type", ["p.yaml"];
    oml_version_not_a_string: BASE.replace("\"0.1.0\"", "0.1"), "invalid_version_type", ["oml_version", "quote it"];
    blank_name: BASE.replace("name: base", "name: \" \""), "empty_name", ["name"];
    name_not_a_string: BASE.replace("name: base", "name: [a]"), "invalid_name_type", ["name"];
    empty_steps: "oml_version: \"0.1.0\"\nname: x\nsteps: []\n", "empty_steps", ["steps"];
    steps_not_a_list: "oml_version: \"0.1.0\"\nname: x\nsteps: {a: 1}\n", "invalid_steps_type", ["steps"];
    step_not_a_mapping: BASE.replace("steps:\n", "steps:\n  - just-a-string\n"), "invalid_step_type", ["steps[0]"];
    step_id_not_a_string: BASE.replace("id: write-out", "id: [w]"), "invalid_id_type", ["steps[1].id"];
    step_without_component: BASE.replace("    component: filesystem.csv_writer\n", ""), "missing_step_field", ["step `write-out`", "steps[1].component"];
    component_not_a_string: BASE.replace("component: filesystem.csv_writer", "component: 7"), "invalid_component_type", ["step `write-out`"];
    mode_not_a_string: BASE.replace("mode: write", "mode: [write]"), "invalid_mode_type", ["step `write-out`", "steps[1].mode"];
    needs_not_a_list: BASE.replace("needs: [extract-in]", "needs: extract-in"), "invalid_needs_type", ["step `write-out`", "steps[1].needs"];
    needs_entry_not_a_string: BASE.replace("needs: [extract-in]", "needs: [1]"), "invalid_dependency_type", ["step `write-out`", "steps[1].needs[0]"];
    step_needing_itself: BASE.replace("needs: [extract-in]", "needs: [write-out]"), "self_dependency", ["step `write-out`"];
    config_not_a_mapping: BASE.replace("    config:\n      path: out.csv", "    config: out.csv"), "invalid_config_type", ["step `write-out`", "steps[1].config"];
    connection_of_another_family: BASE.replace("path: data/in.csv", "path: data/in.csv\n      connection: \"@mysql.db\""), "connection_family_mismatch", ["step `extract-in`", "@filesystem.<alias>"];
    spec_constraint: BASE.replace("path: out.csv", "path: out.csv\n      delimiter: \"\\t\"\n      quoting: all"), "constraint_violation", ["step `write-out`", "minimal quoting"];
    secret_field_written_inline: BASE.replace(
        "component: filesystem.csv_extractor\n    mode: read\n    config:\n      path: data/in.csv",
        "component: graphql.extractor\n    mode: read\n    config:\n      endpoint: http://x/graphql\n      query: \"{ a }\"\n      auth_token: tok-123456"),
        "forbidden_override", ["step `extract-in`", "steps[0].config.auth_token"];
}

#[test]
fn profile_that_does_not_exist() {
    let pipeline = BASE.replace("name: base", "name: base\nparams: {n: 1}\nprofiles: {prod: {params: {n: 2}}}");
    assert_invalid_with(&pipeline, &["--profile", "nope"], "unknown_profile", &["profile `nope`", "prod"]);
}
