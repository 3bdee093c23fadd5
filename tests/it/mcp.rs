//! The MCP server driven by a real MCP client (rmcp's) over stdio: the author's whole loop, the
//! read-only default, output schemas and secrets.

use crate::operating::example_project;
use crate::util::{files_under, Project};
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams, ResourceContents};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use std::collections::HashMap;

const SECRET: &str = "mcp-S3ntinel-pw-42";

/// A pipeline with three mistakes, each on its own line.
const THREE_MISTAKES: &str = "oml_version: \"0.1.0\"\nname: broken\nsteps:\n  - id: extract-orders\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: data/orders.csv, delimeter: \",\"}\n  - id: shape\n    component: duckdb.procesor\n    mode: transform\n    needs: [extract-orders]\n    config: {query: \"SELECT 1\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [shapes]\n    config: {path: output/out.csv}\n";

const FIXED: &str = "oml_version: \"0.1.0\"\nname: fixed\nsteps:\n  - id: extract-orders\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: data/orders.csv}\n  - id: shape\n    component: duckdb.processor\n    mode: transform\n    needs: [extract-orders]\n    config: {query: \"SELECT city, count(*) AS orders FROM \\\"extract-orders\\\" GROUP BY city ORDER BY city\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [shape]\n    config: {path: output/out.csv}\n";

type Client = RunningService<RoleClient, ()>;

async fn start(p: &Project, flags: &[&str]) -> Client {
    let dir = p.dir.path().to_path_buf();
    let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris")).configure(|c| {
        c.arg("mcp").arg("run").args(&flags).current_dir(&dir).env("OSIRIS_MCP_IT_PW", SECRET);
        for (k, _) in std::env::vars() {
            if k.starts_with("OSIRIS_") && k != "OSIRIS_MCP_IT_PW" {
                c.env_remove(k);
            }
        }
    });
    ().serve(TokioChildProcess::new(cmd).expect("spawn osiris mcp run")).await.expect("initialize")
}

/// Call a tool; returns (envelope, is_error) after checking the envelope against the tool's
/// output schema and that text content and structured content agree.
async fn call(client: &Client, schemas: &HashMap<String, Value>, name: &str, args: Value) -> (Value, bool) {
    let mut params = CallToolRequestParams::new(name.to_string());
    if let Value::Object(m) = args {
        params = params.with_arguments(m);
    }
    let result: CallToolResult = client.call_tool(params).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    let envelope = result.structured_content.clone().unwrap_or_else(|| panic!("{name}: no structuredContent"));
    let text = result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).expect("text content");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), envelope, "{name}: text and structured content differ");
    // An alias answers with the canonical tool's name in `_meta.tool`, and its schema.
    let tool = envelope["_meta"]["tool"].as_str().expect("_meta.tool");
    let schema = schemas.get(tool).unwrap_or_else(|| panic!("{tool} ({name}) is not listed"));
    let validator = jsonschema::validator_for(schema).expect("output schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&envelope).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{envelope:#}");
    assert!(!envelope.to_string().contains(SECRET), "{name} leaked the secret");
    (envelope, result.is_error == Some(true))
}

async fn tool_schemas(client: &Client) -> HashMap<String, Value> {
    let tools = client.list_all_tools().await.expect("tools/list");
    tools
        .into_iter()
        .map(|t| {
            (
                t.name.to_string(),
                Value::Object(t.output_schema.expect("every tool has an outputSchema").as_ref().clone()),
            )
        })
        .collect()
}

/// The example project, with a MariaDB connection whose password is the sentinel secret (an
/// account made for it, reading a database made for it).
fn project(tag: &str) -> Project {
    let db = crate::mysql::database(
        &format!("mcp_{tag}"),
        &[
            "CREATE TABLE IF NOT EXISTS customers (id INT PRIMARY KEY, name VARCHAR(20))",
            "INSERT IGNORE INTO customers VALUES (1, 'Ada'), (2, 'Grace')",
        ],
    );
    let user = format!("osiris_it_mcp_{tag}");
    crate::mysql::account(
        &user,
        &format!("IDENTIFIED BY '{SECRET}'"),
        &[&format!("GRANT SELECT ON `{db}`.* TO {{user}}")],
    );
    let p = example_project();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    default: {{host: 127.0.0.1, port: 3306, database: {db}, user: {user}, password: \"${{OSIRIS_MCP_IT_PW}}\"}}\n  filesystem:\n    local: {{base_dir: ., default: true}}\n"),
    );
    p
}

fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") as u64 + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_goes_from_schema_to_a_verified_run() {
    let p = project("loop");
    let client = start(&p, &["--allow-run"]).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("osiris-mcp-server"));
    let schemas = tool_schemas(&client).await;
    for name in [
        "connections_list",
        "components_list",
        "oml_schema_get",
        "oml_validate",
        "oml_compile",
        "pipeline_run",
        "aiop_show",
        "sql_query",
    ] {
        assert!(schemas.contains_key(name), "{name} is offered");
    }

    let (schema, _) = call(&client, &schemas, "oml_schema_get", json!({})).await;
    assert_eq!(schema["result"]["schema"]["required"], json!(["oml_version", "name", "steps"]));
    let (conns, _) = call(&client, &schemas, "connections_list", json!({})).await;
    assert_eq!(conns["result"]["count"], 2);
    call(&client, &schemas, "components_list", json!({})).await;
    call(&client, &schemas, "usecases_list", json!({})).await;
    call(&client, &schemas, "guide_start", json!({"intent": "orders per city"})).await;

    let (found, is_error) =
        call(&client, &schemas, "discovery_request", json!({"connection": "@mysql.default", "samples": 2})).await;
    assert!(!is_error, "{found:#}");
    let customers = &found["result"]["tables"][0];
    assert_eq!(
        (customers["name"].as_str(), customers["samples"].as_array().map(Vec::len)),
        (Some("customers"), Some(2)),
        "{found:#}"
    );
    let (again, _) =
        call(&client, &schemas, "osiris.introspect_sources", json!({"connection": "mysql.default", "samples": 2}))
            .await;
    assert_eq!(again["result"]["cached"], true);
    let (doctor, _) = call(&client, &schemas, "connections_doctor", json!({"connection": "@mysql.default"})).await;
    assert_eq!(doctor["result"]["results"][0]["status"], "success", "{doctor:#}");

    let (bad, is_error) = call(&client, &schemas, "oml_validate", json!({"oml_content": THREE_MISTAKES})).await;
    assert!(!is_error, "an invalid pipeline is a successful validation");
    assert_eq!(bad["result"]["valid"], false);
    let lines: Vec<u64> = bad["result"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "error")
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            line_of(THREE_MISTAKES, "delimeter"),
            line_of(THREE_MISTAKES, "procesor"),
            line_of(THREE_MISTAKES, "[shapes]")
        ],
        "{bad:#}"
    );
    let (good, _) = call(&client, &schemas, "oml_validate", json!({"oml_content": FIXED})).await;
    assert_eq!(good["result"]["valid"], true, "{good:#}");

    let (compiled, _) = call(&client, &schemas, "oml_compile", json!({"oml_content": FIXED})).await;
    assert!(std::path::Path::new(compiled["result"]["manifest_path"].as_str().unwrap()).is_file());

    let (run, is_error) = call(&client, &schemas, "pipeline_run", json!({"oml_content": FIXED})).await;
    assert!(!is_error, "{run:#}");
    let run = &run["result"];
    assert_eq!(run["status"], "success");
    assert_eq!(p.read("output/out.csv").lines().count() as u64, run["steps"][2]["rows"].as_u64().unwrap() + 1);
    let run_id = run["run_id"].as_str().unwrap();

    let (status, _) = call(&client, &schemas, "run_status", json!({"run_id": run_id})).await;
    assert_eq!(status["result"]["status"], "success");
    let (events, _) = call(&client, &schemas, "run_events", json!({"run_id": run_id, "limit": 3})).await;
    assert_eq!(events["result"]["events"].as_array().unwrap().len(), 3);
    assert_eq!(events["result"]["next_cursor"], 3);
    let (preview, _) =
        call(&client, &schemas, "table_preview", json!({"run_id": run_id, "step": "shape", "limit": 2})).await;
    assert_eq!(preview["result"]["columns"][0]["name"], "city");
    assert_eq!(preview["result"]["rows"].as_array().unwrap().len(), 2);
    let (aiop, _) = call(&client, &schemas, "aiop_show", json!({"run_id": run_id})).await;
    assert_eq!(aiop["result"]["run"]["total_rows"], run["total_rows"]);
    let (sql, _) =
        call(&client, &schemas, "sql_query", json!({"run_id": run_id, "sql": "SELECT sum(orders) AS n FROM shape"}))
            .await;
    assert_eq!(sql["result"]["rows"][0][0], "3000");
    let (runs, _) = call(&client, &schemas, "runs_list", json!({})).await;
    assert_eq!(runs["result"]["sessions"][0]["session_id"], run_id);

    // SQL an agent wrote cannot reach files or write.
    for sql in
        ["SELECT * FROM read_text('osiris_connections.yaml')", "SELECT 1; DROP TABLE shape", "COPY shape TO 'x.csv'"]
    {
        let (refused, is_error) = call(&client, &schemas, "sql_query", json!({"run_id": run_id, "sql": sql})).await;
        assert!(is_error && refused["error"]["code"] == "sql_error", "{sql}: {refused:#}");
    }
    let (missing, is_error) =
        call(&client, &schemas, "table_preview", json!({"run_id": "nope", "step": "shape"})).await;
    assert!(is_error && missing["error"]["code"] == "not_found");
    client.cancel().await.unwrap();

    // Replies were checked above; the files the server wrote hold no secret either.
    for f in files_under(&p.path(".osiris")) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "{} holds the secret", f.display());
    }
    assert!(p.read(".osiris/mcp/logs/audit.jsonl").lines().count() >= 15, "every call is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_run_the_server_refuses_to_run_and_names_the_flag() {
    let p = project("refused");
    let client = start(&p, &[]).await;
    let schemas = tool_schemas(&client).await;
    assert!(!schemas.contains_key("pipeline_run") && !schemas.contains_key("memory_capture"), "not offered");
    let params = CallToolRequestParams::new("pipeline_run")
        .with_arguments(json!({"oml_content": FIXED}).as_object().unwrap().clone());
    let refused = client.call_tool(params).await.expect("a refusal is a tool result");
    assert_eq!(refused.is_error, Some(true));
    let envelope = refused.structured_content.unwrap();
    assert_eq!(envelope["error"]["code"], "not_allowed");
    assert!(envelope["error"]["message"].as_str().unwrap().contains("--allow-run"), "{envelope}");
    assert!(!p.exists("output/out.csv"));
    let params = CallToolRequestParams::new("osiris.memory.capture")
        .with_arguments(json!({"consent": true, "session_id": "s1", "intent": "x"}).as_object().unwrap().clone());
    let refused = client.call_tool(params).await.unwrap();
    assert!(refused.structured_content.unwrap()["error"]["message"].as_str().unwrap().contains("--allow-write"));
    client.cancel().await.unwrap();
}

/// The text of one resource (panics when it cannot be read).
async fn read_text(client: &Client, uri: &str) -> String {
    let read = client.read_resource(ReadResourceRequestParams::new(uri)).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
    match read.contents.as_slice() {
        [ResourceContents::TextResourceContents { text, uri: got, .. }] if got == uri => text.clone(),
        other => panic!("{uri}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_serve_the_schema_specs_usecases_guide_and_what_tools_point_to() {
    let p = project("resources");
    let client = start(&p, &["--allow-write"]).await;
    let schemas = tool_schemas(&client).await;
    let resources = client.list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    let components = osiris::registry::Registry::builtin().names().count();
    let (usecases, _) = call(&client, &schemas, "usecases_list", json!({})).await;
    let usecases = usecases["result"]["usecases"].as_array().unwrap().clone();
    assert_eq!(uris.len(), 2 + components + usecases.len(), "{uris:?}");

    // The schema is the one oml_schema_get returns; each use case is its OML; each spec is
    // `components show --json`.
    let (schema, _) = call(&client, &schemas, "oml_schema_get", json!({})).await;
    let schema_uri = schema["result"]["schema_uri"].as_str().unwrap();
    assert!(uris.contains(&schema_uri));
    assert_eq!(
        serde_json::from_str::<Value>(&read_text(&client, schema_uri).await).unwrap(),
        schema["result"]["schema"]
    );
    for u in &usecases {
        assert_eq!(read_text(&client, u["snippet_uri"].as_str().unwrap()).await, u["oml"].as_str().unwrap());
    }
    let spec: Value =
        serde_json::from_str(&read_text(&client, "osiris://mcp/components/filesystem.csv_extractor.json").await)
            .unwrap();
    let shown = p.osiris(&["components", "show", "filesystem.csv_extractor", "--json"]).expect_code(0).json();
    assert_eq!(spec, shown);
    assert!(read_text(&client, "osiris://mcp/prompts/agent-guide.md").await.contains("oml_validate"));

    // Project resources: the URIs that oml_save and discovery_request hand out can be read.
    let templates = client.list_all_resource_templates().await.expect("resources/templates/list");
    assert_eq!(templates.len(), 3);
    let (saved, _) = call(
        &client,
        &schemas,
        "oml_save",
        json!({"oml_content": FIXED, "session_id": "s1", "filename": "fixed.yaml"}),
    )
    .await;
    assert_eq!(read_text(&client, saved["result"]["uri"].as_str().unwrap()).await, FIXED);
    let (found, _) =
        call(&client, &schemas, "discovery_request", json!({"connection": "@mysql.default", "samples": 1})).await;
    let tables: Value =
        serde_json::from_str(&read_text(&client, found["result"]["artifacts"]["tables"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!(tables[0]["name"], "customers");
    let overview = read_text(&client, found["result"]["artifacts"]["overview"].as_str().unwrap()).await;
    assert!(!overview.contains(SECRET));
    let (kept, _) = call(
        &client,
        &schemas,
        "memory_capture",
        json!({"consent": true, "session_id": "s1", "intent": "orders per city"}),
    )
    .await;
    let memory = read_text(&client, kept["result"]["uri"].as_str().unwrap()).await;
    assert!(memory.contains("\"intent\":\"orders per city\""), "{memory}");

    // No URI reaches another file: traversal, encoded traversal, other schemes, unknown names.
    for uri in [
        "osiris://mcp/drafts/oml/../../../osiris_connections.yaml",
        "osiris://mcp/drafts/oml/..%2F..%2F..%2Fosiris_connections.yaml",
        "osiris://mcp/drafts/oml/.env",
        "osiris://mcp/memory/../../../osiris_connections.yaml",
        "osiris://mcp/memory/s1.json",
        "osiris://mcp/discovery/disc_0123456789abcdef/../../../../osiris_connections.yaml",
        "osiris://mcp/discovery/../mcp/logs/audit.jsonl",
        "osiris://mcp/components/../../osiris_connections.yaml",
        "file:///etc/passwd",
        "osiris://mcp/usecases/nope.yaml",
    ] {
        let refused = client.read_resource(ReadResourceRequestParams::new(uri)).await;
        assert!(refused.is_err(), "{uri} was served");
    }
    client.cancel().await.unwrap();
    let audit = p.read(".osiris/mcp/logs/audit.jsonl");
    assert!(audit.contains("\"method\":\"resources/read\""), "reads are audited");
    assert!(!audit.contains(SECRET));
}

/// The official Python SDK's client (`mcp` from PyPI, in the venv scripts/test-tools.sh makes).
fn python_client(args: &[&str]) -> Value {
    let home = std::env::var("HOME").expect("HOME");
    let python = std::path::Path::new(&home).join(".cache/osiris-test/venv/bin/python");
    assert!(python.is_file(), "{} is missing: run scripts/test-tools.sh", python.display());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/python_client.py");
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run the Python MCP client");
    assert!(
        out.status.success(),
        "python client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

fn assert_python_loop(seen: &Value, p: &Project) {
    assert!(seen["tools"].as_array().unwrap().contains(&json!("pipeline_run")), "{seen}");
    assert_eq!(seen["valid"], true, "{seen}");
    assert!(seen["alias_errors"].as_u64().unwrap() > 0, "the original's alias validates too: {seen}");
    assert_eq!((seen["run_is_error"].as_bool(), seen["run_status"].as_str()), (Some(false), Some("success")), "{seen}");
    assert_eq!(seen["run_text_matches"], true);
    assert_eq!(seen["progress"].as_array().unwrap().len(), 3, "one progress notification per step: {seen}");
    assert_eq!(seen["sql_rows"], json!([["3000"]]));
    assert!(p.exists("output/python.csv"));
}

#[test]
fn the_python_sdk_runs_the_loop_over_stdio() {
    let p = project("py_stdio");
    let seen = python_client(&["stdio", env!("CARGO_BIN_EXE_osiris"), p.dir.path().to_str().unwrap()]);
    assert_python_loop(&seen, &p);
}

#[test]
fn the_python_sdk_runs_the_loop_over_streamable_http() {
    let p = project("py_http");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let server = crate::util::KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_osiris"))
            .args(["mcp", "serve", "--http", &addr, "--allow-run"])
            .current_dir(p.dir.path())
            .env("OSIRIS_MCP_IT_PW", SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(started.elapsed().as_secs() < 30, "the HTTP server never listened");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let seen = python_client(&["http", &format!("http://{addr}/mcp")]);
    drop(server);
    assert_python_loop(&seen, &p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_tool_timeout_is_cancelled_and_the_call_says_timeout() {
    let p = project("timeout");
    let client = start(&p, &["--allow-run", "--tool-timeout", "2"]).await;
    let params = CallToolRequestParams::new("pipeline_run")
        .with_arguments(json!({"oml_content": crate::util::ENDLESS}).as_object().unwrap().clone());
    let reply = client.call_tool(params).await.unwrap();
    assert_eq!(reply.is_error, Some(true));
    let envelope = reply.structured_content.unwrap();
    assert_eq!(envelope["error"]["code"], "timeout", "{envelope}");
    // The run itself is cancelled, not left spinning: its status says so shortly after.
    let started = std::time::Instant::now();
    let status = loop {
        let dirs: Vec<_> = std::fs::read_dir(p.path(".osiris/runs")).unwrap().flatten().collect();
        if let Some(text) = dirs.first().and_then(|d| std::fs::read_to_string(d.path().join("status.json")).ok()) {
            break serde_json::from_str::<Value>(&text).unwrap();
        }
        assert!(started.elapsed().as_secs() < 60, "the timed-out run never ended");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status["status"], "cancelled");
    assert!(!p.exists("out.csv"));
    client.cancel().await.unwrap();
}
