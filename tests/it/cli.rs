//! The smaller commands: init, components, connections, logs, the `oml validate` alias.

use crate::util::Project;

#[test]
fn init_scaffolds_a_project_whose_example_runs() {
    let p = Project::new();
    p.osiris(&["init", "proj"]).expect_code(0);
    for f in ["osiris.yaml", "osiris_connections.yaml", ".env.example", "pipelines/example.yaml", "data/orders.csv"] {
        assert!(p.exists(&format!("proj/{f}")), "{f} missing");
    }
    // Run from outside the project: paths resolve against the project root (osiris.yaml).
    p.osiris(&["run", "proj/pipelines/example.yaml", "-q"]).expect_code(0);
    assert_eq!(p.read("proj/output/totals.csv"), "customer,total,orders\nLinus,300.0,1\nAda,162.75,2\nGrace,80.0,1\n");
    let again = p.osiris(&["init", "proj"]);
    again.expect_code(2);
    assert!(again.stderr.contains("--force"), "{again:?}");
}

#[test]
fn components_list_and_show() {
    let p = Project::new();
    let list = p.osiris(&["components", "list", "--json"]);
    list.expect_code(0);
    let items = list.json();
    let items = items.as_array().unwrap();
    // Every listed component runs in this build; the list is the registry's, not this test's.
    assert!(items.iter().all(|c| c["runnable"] == true), "{items:?}");
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by name: {names:?}");
    for known in ["duckdb.processor", "filesystem.csv_extractor", "mysql.writer", "supabase.writer"] {
        assert!(names.contains(&known), "{names:?}");
    }
    let show = p.osiris(&["components", "show", "filesystem.csv_writer"]);
    show.expect_code(0);
    assert!(show.stdout.contains("newline") && show.stdout.contains("one of [\"lf\",\"crlf\"]"), "{show:?}");
    let json = p.osiris(&["components", "show", "mysql.writer", "--json"]);
    assert_eq!(json.json()["configSchema"]["properties"]["batch_size"]["default"], 1000);
    let unknown = p.osiris(&["components", "show", "mysql.writter"]);
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("did you mean `mysql.writer`?")
            || unknown.stderr.contains("Did you mean `mysql.writer`?"),
        "{unknown:?}"
    );
}

#[test]
fn connections_list_masks_literal_secrets_and_reports_env_vars() {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  mysql:\n    prod:\n      host: db\n      password: literal-secret-123\n      default: true\n    dev:\n      host: localhost\n      password: ${OSIRIS_IT_UNSET_PW}\n",
    );
    let r = p.osiris(&["connections", "list", "--json"]);
    r.expect_code(0);
    assert!(!r.stdout.contains("literal-secret-123"), "{r:?}");
    let v = r.json();
    assert_eq!(v["connections"]["mysql"]["prod"]["config"]["password"], "***");
    assert_eq!(v["connections"]["mysql"]["prod"]["is_default"], true);
    assert_eq!(v["connections"]["mysql"]["dev"]["env_vars"]["OSIRIS_IT_UNSET_PW"], false);
    let doctor = p.osiris(&["connections", "doctor", "--json"]);
    doctor.expect_code(1);
    let results = doctor.json()["results"].as_array().unwrap().clone();
    let dev = results.iter().find(|r| r["connection"] == "@mysql.dev").unwrap();
    assert_eq!(dev["status"], "error");
    assert!(dev["message"].as_str().unwrap().contains("OSIRIS_IT_UNSET_PW"));
}

#[test]
fn oml_validate_alias_and_logs_show() {
    let p = Project::new();
    p.write("in.csv", "a\n1\n");
    p.write("p.yaml", &crate::util::copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    p.osiris(&["oml", "validate", "p.yaml"]).expect_code(0);
    let run = p.osiris(&["run", "p.yaml", "--json"]);
    let id = run.json()["run_id"].as_str().unwrap().to_string();
    let show = p.osiris(&["logs", "show", &id, "--json"]);
    show.expect_code(0);
    assert_eq!(show.json()["steps"][1]["rows"], 1);
    p.osiris(&["logs", "show", "nope"]).expect_code(2);
    let human = p.osiris(&["logs", "show", &id]);
    human.expect_code(0);
    let extract = human.stdout.lines().find(|l| l.contains(" extract ")).expect("a line for the extract step");
    assert!(extract.contains(" view ") && !human.stdout.contains("null"), "{human:?}");
    assert!(human.stdout.lines().any(|l| l.contains(" write ") && l.contains("1 rows")), "{human:?}");
    assert!(human.stdout.ends_with('\n'), "{human:?}");
}

#[test]
fn validate_without_a_pipeline_checks_the_project_and_connections() {
    let p = Project::new();
    p.osiris(&["init", "."]).expect_code(0);
    let ok = p.osiris(&["validate", "--json"]);
    ok.expect_code(0);
    assert_eq!(ok.json()["valid"], true);
    p.write(
        "osiris_connections.yaml",
        "connections:\n  mysql:\n    prod: {host: db, password: \"${OSIRIS_IT_NOT_SET}\"}\n",
    );
    let bad = p.osiris(&["validate", "--json"]);
    bad.expect_code(2);
    assert!(bad.stdout.contains("OSIRIS_IT_NOT_SET"), "{bad:?}");
}

#[test]
fn run_last_compile_without_a_compile_is_invalid_input() {
    let p = Project::new();
    let r = p.osiris(&["run", "--last-compile", "--json"]);
    r.expect_code(2);
    assert_eq!(r.json()["errors"][0]["type"], "no_last_compile");
}
