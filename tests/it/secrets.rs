//! A secret from an env var must appear in no file of the run dir or compile output, and not on
//! stdout/stderr — on success and when an error message would carry it.

use crate::util::{files_under, Project, Run};

const SECRET: &str = "s3nt1nel-Pa55word-xyz";

fn assert_no_secret(p: &Project, runs: &[Run]) {
    for r in runs {
        assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET), "secret printed: {r:?}");
    }
    for f in files_under(p.dir.path()) {
        // The connections file holds only `${OSIRIS_IT_TOKEN}`; data/ is input the test wrote.
        if f.file_name().is_some_and(|n| n == "osiris_connections.yaml") || f.starts_with(p.path("data")) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "secret found in {}", f.display());
    }
}

fn project(query: &str) -> Project {
    let p = Project::new();
    p.write("data/in.csv", "a\n1\n");
    p.write(
        "osiris_connections.yaml",
        "connections:\n  filesystem:\n    local:\n      base_dir: data\n      token: \"${OSIRIS_IT_TOKEN}\"\n      dsn: \"postgres://etl:${OSIRIS_IT_TOKEN}@db.internal:5432/x\"\n      default: true\n",
    );
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: secret\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: in.csv, connection: \"@filesystem.local\"}}\n  - id: q\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"{query}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config: {{path: out.csv}}\n"),
    );
    p
}

#[test]
fn secret_never_reaches_run_dir_compile_output_or_streams() {
    let p = project("SELECT * FROM extract");
    let env = [("OSIRIS_IT_TOKEN", SECRET)];
    let runs = vec![
        p.osiris_env(&["compile", "p.yaml", "--out", "compiled"], &env).expect_code(0).clone(),
        p.osiris_env(&["run", "p.yaml", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["run", "p.yaml"], &env).expect_code(0).clone(),
        p.osiris_env(&["connections", "list", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["connections", "list"], &env).expect_code(0).clone(),
        // The operating side: report pages, AIOP, bundles and log views.
        p.osiris_env(&["logs", "html", "--out", "report"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "show", "last", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "show", "last", "--events"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "list", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "aiop", "show", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "aiop", "export", "--last-run"], &env).expect_code(0).clone(),
        p.osiris_env(&["logs", "bundle", "last", "-o", "run.zip"], &env).expect_code(0).clone(),
    ];
    assert!(p.exists("report/index.html") && p.exists("run.zip") && p.exists(".osiris/aiop/index/runs.jsonl"));
    assert_eq!(p.read("out.csv"), "a\n1\n", "base_dir from the connection applies");
    assert_no_secret(&p, &runs);
}

#[test]
fn a_secret_inside_an_error_message_is_redacted_everywhere() {
    // The secret is also a value in the data, so DuckDB's conversion error quotes it.
    let p = project("SELECT CAST(a AS INTEGER) AS n FROM extract");
    p.write("data/in.csv", &format!("a\n{SECRET}\n"));
    let env = [("OSIRIS_IT_TOKEN", SECRET)];
    let r = p.osiris_env(&["run", "p.yaml", "--json"], &env);
    r.expect_code(1);
    assert_eq!(r.json()["error"]["step"], "q");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("***"), "{r:?}");
    let human = p.osiris_env(&["run", "p.yaml"], &env);
    human.expect_code(1);
    // The report previews `extract`, whose one value is the secret.
    let report = p.osiris_env(&["logs", "html", "--out", "report"], &env).expect_code(0).clone();
    assert!(p.read(&format!("report/{}/index.html", r.json()["run_id"].as_str().unwrap())).contains("***"));
    assert_no_secret(&p, &[r, human, report]);
}

/// Pipeline SQL cannot read the secrets files, the environment or write anywhere: every such
/// query is refused before any step runs (exit 2, the step and line named), and nothing is read
/// or written.
#[test]
fn pipeline_sql_cannot_read_dotenv_the_environment_or_write_files() {
    let p = Project::new();
    p.write(".env", &format!("OSIRIS_IT_TOKEN={SECRET}\n"));
    p.write("in.csv", "a\n1\n");
    for query in [
        "SELECT * FROM read_text('.env')",
        "SELECT content FROM read_text('osiris_connections.yaml')",
        "SELECT getenv('OSIRIS_IT_TOKEN') AS t",
        "SELECT * FROM extract; COPY (SELECT 42) TO 'pwned.csv'",
        "SELECT * FROM '.env.csv'",
    ] {
        p.write(
            "p.yaml",
            &format!("oml_version: \"0.1.0\"\nname: exfil\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: in.csv}}\n  - id: steal\n    component: duckdb.processor\n    mode: transform\n    needs: [extract]\n    config:\n      query: \"{query}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [steal]\n    config: {{path: out.csv}}\n"),
        );
        let r = p.osiris(&["run", "p.yaml", "--json"]);
        r.expect_code(2);
        let d = &r.json()["errors"][0];
        assert_eq!((d["type"].as_str(), d["step"].as_str()), (Some("unsafe_sql"), Some("steal")), "{query}: {r:?}");
        assert_eq!(d["line"], 13, "{query}: the query's line");
        assert!(!p.exists("out.csv") && !p.exists("pwned.csv") && !p.exists(".osiris/runs"), "{query}: nothing ran");
        assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
    }
}
