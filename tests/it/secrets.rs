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
    // What a run leaves behind is the owner's alone: run dirs, their folders, the index, AIOP.
    use std::os::unix::fs::PermissionsExt;
    let runs_dir = p.path(".osiris/runs");
    let mut private = vec![p.path(".osiris/index"), p.path(".osiris/aiop/index")];
    for run in std::fs::read_dir(&runs_dir).unwrap() {
        let run = run.unwrap().path();
        private.extend([run.join("cfg"), run.join("artifacts"), run]);
    }
    for dir in private {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    }
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

/// A field that decides where a connection's credentials go (host, URL, endpoint, TLS checks) is
/// the connection's to set: a pipeline that points it elsewhere is invalid before anything
/// connects, and repeating the connection's own value is fine.
#[test]
fn a_pipeline_cannot_send_a_connections_secret_to_a_host_of_its_choosing() {
    crate::mysql::account(
        "osiris_it_redirect",
        &format!("IDENTIFIED BY '{SECRET}'"),
        &["GRANT SELECT ON test.* TO {user}"],
    );
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  mysql:\n    db: {host: 127.0.0.1, port: 3306, database: test, user: osiris_it_redirect, password: \"${OSIRIS_IT_TOKEN}\"}\n  posthog:\n    prod: {api_key: \"${OSIRIS_IT_TOKEN}\", project_id: \"1\", region: us}\n  graphql:\n    api: {endpoint: \"https://api.example.com/graphql\", auth_token: \"${OSIRIS_IT_TOKEN}\"}\n  supabase:\n    main: {url: \"https://abc.supabase.co\", key: \"${OSIRIS_IT_TOKEN}\"}\n",
    );
    // Where a redirected request would land: it must never be contacted.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let to_trap = format!("connection: \"@posthog.prod\", data_type: events, custom_base_url: \"{trap_url}\"");
    let gql_to_trap = format!("connection: \"@graphql.api\", query: \"{{ a }}\", endpoint: \"{trap_url}/graphql\"");
    let cases = [
        ("posthog.extractor", to_trap.as_str(), "custom_base_url"),
        ("graphql.extractor", gql_to_trap.as_str(), "endpoint"),
        ("mysql.extractor", "connection: \"@mysql.db\", table: t, host: evil.example.com", "host"),
        ("mysql.extractor", "connection: \"@mysql.db\", table: t, port: 3307", "port"),
        ("posthog.extractor", "connection: \"@posthog.prod\", data_type: events, region: self_hosted, custom_base_url: \"https://evil.example.com\"", "region"),
        ("graphql.extractor", "connection: \"@graphql.api\", query: \"{ a }\", endpoint: \"https://evil.example.com/graphql\"", "endpoint"),
        ("graphql.extractor", "connection: \"@graphql.api\", query: \"{ a }\", validate_ssl: false", "validate_ssl"),
        ("supabase.extractor", "connection: \"@supabase.main\", table: users, url: \"https://evil.supabase.co\"", "url"),
    ];
    for (component, config, field) in cases {
        p.write(
            "p.yaml",
            &format!("oml_version: \"0.1.0\"\nname: redirect\nsteps:\n  - id: extract\n    component: {component}\n    mode: read\n    config: {{{config}}}\n"),
        );
        let r = p.osiris_env(&["run", "p.yaml", "--json"], &[("OSIRIS_IT_TOKEN", SECRET)]);
        r.expect_code(2);
        let d = &r.json()["errors"][0];
        assert_eq!(d["type"], "forbidden_override", "{component} {field}: {r:?}");
        assert!(d["message"].as_str().unwrap().contains("@"), "names the connection: {d}");
        assert_eq!(d["step"], "extract");
        assert_eq!(d["line"], 7, "the step's config line");
        assert!(d["message"].as_str().unwrap().contains(&format!("`{field}`")), "{d}");
        assert!(!p.exists(".osiris/runs"), "nothing ran");
        assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
    }
    assert!(
        matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a redirected request reached the trap"
    );
    // The connection's own value is not a redirection.
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: same\nsteps:\n  - id: extract\n    component: mysql.extractor\n    mode: read\n    config: {connection: \"@mysql.db\", query: \"SELECT 1 AS a\", host: 127.0.0.1, port: 3306}\n",
    );
    p.osiris_env(&["run", "p.yaml", "--json"], &[("OSIRIS_IT_TOKEN", SECRET)]).expect_code(0);
    // The trusted side may open a field to pipelines.
    let connections = p.read("osiris_connections.yaml").replace(
        "    db: {host: 127.0.0.1, port: 3306,",
        "    db: {allow_override: [port], host: 127.0.0.1, port: 3399,",
    );
    p.write("osiris_connections.yaml", &connections);
    p.osiris_env(&["run", "p.yaml", "--json"], &[("OSIRIS_IT_TOKEN", SECRET)]).expect_code(0);
}

/// File steps read and write only inside the project (or the directory a filesystem
/// connection names), never hidden files or osiris's own configuration.
#[test]
fn file_steps_cannot_leave_the_project_or_touch_its_configuration() {
    let p = Project::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shared.csv"), "a\n7\n").unwrap();
    p.write("in.csv", "a\n1\n");
    p.write(".env", &format!("OSIRIS_IT_TOKEN={SECRET}\n"));
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  filesystem:\n    shared: {{base_dir: \"{}\"}}\n", outside.path().display()),
    );
    let pipeline = |read: &str, write: &str| {
        format!("oml_version: \"0.1.0\"\nname: files\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{{read}}}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract]\n    config: {{{write}}}\n")
    };
    let escape = format!("path: \"{}\"", outside.path().join("shared.csv").display());
    for (read, write, line) in [
        ("path: ../in.csv", "path: out.csv", 7),
        ("path: /etc/passwd", "path: out.csv", 7),
        (escape.as_str(), "path: out.csv", 7),
        ("path: .env", "path: out.csv", 7),
        ("path: osiris_connections.yaml", "path: out.csv", 7),
        ("path: in.csv", "path: ../pwned.csv", 12),
        ("path: in.csv", "path: .osiris/runs/pwned.csv", 12),
        ("path: in.csv", "path: osiris_connections.yaml", 12),
    ] {
        p.write("p.yaml", &pipeline(read, write));
        let r = p.osiris_env(&["run", "p.yaml", "--json"], &[("OSIRIS_IT_TOKEN", SECRET)]);
        r.expect_code(2);
        let d = &r.json()["errors"][0];
        assert_eq!(d["type"], "path_not_allowed", "{read} → {write}: {r:?}");
        assert_eq!(d["line"], line, "{read} → {write}");
        assert!(!p.exists("out.csv") && !outside.path().join("pwned.csv").exists());
        assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
    }
    assert!(p.read("osiris_connections.yaml").contains("shared"), "the connections file is intact");
    // The trusted side opens a directory by naming it in a connection.
    p.write("p.yaml", &pipeline("path: shared.csv, connection: \"@filesystem.shared\"", "path: out.csv"));
    p.osiris(&["run", "p.yaml", "--json"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "a\n7\n");
}

/// A secret in every kind of connection field — a number, a camelCase name, a nested header fed
/// by `${ENV}`, the Basic-auth form a server echoes back — appears in no output of any command,
/// and an inline secret nested in step config is refused before it reaches the manifest.
#[test]
fn every_kind_of_secret_field_is_masked_and_scrubbed() {
    use wiremock::{matchers::method, Mock, MockServer, Request, ResponseTemplate};
    const TOKEN: &str = "tok-S3ntinel-basic-991";
    const HEADER: &str = "hdr-S3ntinel-nested-992";
    const CAMEL: &str = "camel-S3ntinel-993";
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        // A server that echoes what it was sent, as some do in their errors.
        Mock::given(method("POST"))
            .respond_with(|req: &Request| {
                let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                ResponseTemplate::new(400).set_body_string(format!(
                    "bad request; you sent {} and {}",
                    header("authorization"),
                    header("x-api-key")
                ))
            })
            .mount(&server)
            .await;
        server
    });
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  graphql:\n    api:\n      endpoint: \"{}/graphql\"\n      auth_type: basic\n      auth_username: alice\n      auth_token: \"${{OSIRIS_IT_TOKEN}}\"\n      headers: {{X-Api-Key: \"${{OSIRIS_IT_HEADER}}\"}}\n      accessToken: \"${{OSIRIS_IT_CAMEL}}\"\n  mysql:\n    numeric: {{host: 127.0.0.1, database: test, user: u, password: 12345678}}\n", server.uri()),
    );
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: echo\nsteps:\n  - id: q\n    component: graphql.extractor\n    mode: read\n    config: {connection: \"@graphql.api\", query: \"{ a }\", auth_type: basic, max_retries: 0}\n",
    );
    let env = [("OSIRIS_IT_TOKEN", TOKEN), ("OSIRIS_IT_HEADER", HEADER), ("OSIRIS_IT_CAMEL", CAMEL)];
    let run = p.osiris_env(&["run", "p.yaml", "--json"], &env);
    run.expect_code(1);
    assert!(run.json()["error"]["message"].as_str().unwrap().contains("you sent Basic ***"), "{run:?}");
    let outputs = [
        run.clone(),
        p.osiris_env(&["connections", "list", "--json"], &env).expect_code(0).clone(),
        p.osiris_env(&["connections", "list"], &env).expect_code(0).clone(),
        p.osiris_env(&["connections", "doctor", "--json"], &env).clone(),
        p.osiris_env(&["logs", "show", "last", "--events"], &env).clone(),
    ];
    let basic = "YWxpY2U6dG9rLVMzbnRpbmVsLWJhc2ljLTk5MQ=="; // base64("alice:" + TOKEN)
    for r in &outputs {
        for secret in [TOKEN, HEADER, CAMEL, basic, "12345678"] {
            assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "{secret} printed: {r:?}");
        }
    }
    let listed = outputs[1].json();
    assert_eq!(listed["connections"]["mysql"]["numeric"]["config"]["password"], "***");
    for f in files_under(&p.path(".osiris")) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for secret in [TOKEN, HEADER, CAMEL, basic] {
            assert!(!text.contains(secret), "{secret} in {}", f.display());
        }
    }
    // Written inline, nested in a step's headers: refused, and in no compiled file.
    p.write(
        "inline.yaml",
        "oml_version: \"0.1.0\"\nname: inline\nsteps:\n  - id: q\n    component: graphql.extractor\n    mode: read\n    config:\n      endpoint: \"http://127.0.0.1:9/graphql\"\n      query: \"{ a }\"\n      headers: {Authorization: \"Bearer inline-S3ntinel-994\"}\n",
    );
    let r = p.osiris(&["run", "inline.yaml", "--json"]);
    r.expect_code(2);
    let d = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "inline_secret")
        .cloned()
        .expect("inline_secret");
    assert_eq!(d["line"], 10, "{d}");
    p.osiris(&["compile", "inline.yaml", "--out", "inline-build"]).expect_code(2);
    assert!(!p.exists("inline-build/manifest.yaml"));
    drop(rt);
}
