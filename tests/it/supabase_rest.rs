//! supabase.writer / supabase.extractor over PostgREST, against an in-process HTTP server that
//! answers the calls PostgREST answers (wiremock).

use crate::util::{assert_in_no_file, Project, Run};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "service-role-key-0123456789-abcdef";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn project(url: &str) -> Project {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  supabase:\n    rest:\n      url: \"{url}\"\n      service_role_key: \"${{SUPA_KEY}}\"\n      default: true\n"),
    );
    p
}

fn run_writer(p: &Project, rows: u32, writer: &str) -> Run {
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: rest\nsteps:\n  - id: gen\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT i AS id, 'name ' || i AS name, i % 2 = 0 AS even FROM range(1, {}) r(i)\"\n  - id: load\n    component: supabase.writer\n    mode: write\n    needs: [gen]\n    config: {{{writer}}}\n", rows + 1),
    );
    p.osiris_env(&["run", "p.yaml", "--json"], &[("SUPA_KEY", KEY)])
}

/// The key appears nowhere: not in output, not in any file of the project.
fn assert_key_hidden(p: &Project, r: &Run) {
    assert!(!r.stdout.contains(KEY) && !r.stderr.contains(KEY), "{r:?}");
    assert_in_no_file(&p.path(".osiris"), KEY);
}

async fn table_exists(server: &MockServer, table: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/rest/v1/{table}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
}

fn posted(server: &MockServer, rt: &tokio::runtime::Runtime) -> Vec<Request> {
    rt.block_on(server.received_requests()).unwrap().into_iter().filter(|r| r.method.as_str() == "POST").collect()
}

#[test]
fn batched_inserts_arrive_complete_and_in_order_with_the_key_headers() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        table_exists(&server, "people").await;
        Mock::given(method("POST"))
            .and(path("/rest/v1/people"))
            .respond_with(ResponseTemplate::new(201))
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    let r = run_writer(&p, 2500, "table: people, batch_size: 1000");
    r.expect_code(0);
    assert_eq!(r.json()["steps"][1]["rows"], 2500);
    let posts = posted(&server, &rt);
    assert_eq!(posts.len(), 3);
    let mut ids = Vec::new();
    for req in &posts {
        assert_eq!(req.headers.get("apikey").unwrap(), KEY);
        assert_eq!(req.headers.get("authorization").unwrap().to_str().unwrap(), format!("Bearer {KEY}"));
        assert_eq!(req.headers.get("prefer").unwrap(), "return=minimal");
        let body: Vec<Value> = serde_json::from_slice(&req.body).unwrap();
        assert!(body.len() <= 1000);
        ids.extend(body.iter().map(|row| row["id"].as_i64().unwrap()));
        assert_eq!(body[0]["name"], format!("name {}", body[0]["id"]));
    }
    assert_eq!(ids, (1..=2500).collect::<Vec<i64>>());
    assert_key_hidden(&p, &r);
    let events =
        std::fs::read_to_string(std::path::Path::new(r.json()["run_dir"].as_str().unwrap()).join("events.jsonl"))
            .unwrap();
    assert!(events.contains("not atomic"), "the REST warning is recorded");
}

#[test]
fn upsert_sends_merge_duplicates_with_the_conflict_key() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        table_exists(&server, "people").await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    });
    let p = project(&server.uri());
    run_writer(&p, 10, "table: people, write_mode: upsert, primary_key: [id]").expect_code(0);
    let posts = posted(&server, &rt);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].headers.get("prefer").unwrap(), "return=minimal,resolution=merge-duplicates");
    assert_eq!(posts[0].url.query(), Some("on_conflict=id"));
}

#[test]
fn a_429_is_retried_after_retry_after_and_the_load_completes_once() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        table_exists(&server, "people").await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).with_priority(2).mount(&server).await;
    });
    let p = project(&server.uri());
    let started = std::time::Instant::now();
    let r = run_writer(&p, 300, "table: people, batch_size: 100");
    r.expect_code(0);
    assert!(started.elapsed().as_millis() >= 1000, "Retry-After: 1 was honoured");
    let posts = posted(&server, &rt);
    assert_eq!(posts.len(), 4, "3 batches + 1 retried");
    assert_eq!(posts[0].body, posts[1].body, "the rejected batch is sent again");
    let events =
        std::fs::read_to_string(std::path::Path::new(r.json()["run_dir"].as_str().unwrap()).join("events.jsonl"))
            .unwrap();
    assert!(events.contains("\"http.retry\"") && events.contains("429"));
}

#[test]
fn a_400_mid_load_is_reported_with_postgrest_message() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    rt.block_on(async {
        table_exists(&server, "people").await;
        Mock::given(method("POST"))
            .respond_with(move |_: &Request| {
                if counter.fetch_add(1, Ordering::SeqCst) == 1 {
                    ResponseTemplate::new(400).set_body_json(json!({"code": "23502", "message": "null value in column \"name\" of relation \"people\" violates not-null constraint", "details": "Failing row contains (150, null).", "hint": null}))
                } else {
                    ResponseTemplate::new(201)
                }
            })
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    let r = run_writer(&p, 300, "table: people, batch_size: 100");
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("HTTP 400")
            && msg.contains("batch 2 (rows 101-200)")
            && msg.contains("violates not-null constraint")
            && msg.contains("23502"),
        "{msg}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a 4xx is not retried and stops the load");
    assert_key_hidden(&p, &r);
}

#[test]
fn a_missing_table_over_rest_says_rest_cannot_create_it() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(
                json!({"code": "PGRST205", "message": "Could not find the table 'public.nope' in the schema cache"}),
            ))
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    let r = run_writer(&p, 5, "table: nope");
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("does not exist") && msg.contains("pg_dsn") && msg.contains("PGRST205"), "{msg}");
    assert!(posted(&server, &rt).is_empty());
}

#[test]
fn the_rest_extractor_pages_until_a_short_page() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/rest/v1/items"))
            .respond_with(|req: &Request| {
                let q: std::collections::HashMap<String, String> = req.url.query_pairs().into_owned().collect();
                let (limit, offset): (u64, u64) = (q["limit"].parse().unwrap(), q["offset"].parse().unwrap());
                assert_eq!(q["select"], "*");
                assert_eq!(q["status"], "eq.open");
                assert_eq!(q["order"], "id.asc", "offset paging in primary-key order");
                let rows: Vec<Value> = (offset..(offset + limit).min(2345))
                    .map(|i| json!({"id": i, "label": format!("item {i}"), "price": i as f64 / 4.0, "meta": {"tag": i % 3}}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(rows)
            })
            .mount(&server)
            .await;
        // PostgREST's OpenAPI description marks the primary key with <pk/>.
        Mock::given(method("GET"))
            .and(path("/rest/v1/"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"definitions": {"items": {"properties": {
                "id": {"type": "integer", "description": "Note:\nThis is a Primary Key.<pk/>"},
                "label": {"type": "string"}}}}})))
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: rx\nsteps:\n  - id: items\n    component: supabase.extractor\n    mode: read\n    config: {table: items, limit: 1000, filter: {status: eq.open}}\n  - id: agg\n    component: duckdb.processor\n    mode: transform\n    config: {query: \"SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(price) AS total, max(meta->>'tag') AS tag FROM items\"}\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: out.csv}\n",
    );
    p.osiris_env(&["run", "p.yaml", "-q"], &[("SUPA_KEY", KEY)]).expect_code(0);
    assert_eq!(p.read("out.csv"), "n,ids,total,tag\n2345,2345,687085.0,2\n");
    let gets =
        rt.block_on(server.received_requests()).unwrap().iter().filter(|r| r.url.path() == "/rest/v1/items").count();
    assert_eq!(gets, 3);
}

#[test]
fn doctor_checks_the_rest_channel_and_reports_a_rejected_key() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/rest/v1/"))
            .respond_with(|req: &Request| {
                if req.headers.get("apikey").is_some_and(|k| k == KEY) {
                    ResponseTemplate::new(200).set_body_json(json!({"swagger": "2.0"}))
                } else {
                    ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"}))
                }
            })
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    let ok = p.osiris_env(&["connections", "doctor", "--json"], &[("SUPA_KEY", KEY)]);
    ok.expect_code(0);
    let v = ok.json();
    assert_eq!(v["results"][0]["status"], "success", "{v}");
    let checks = v["results"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "no DSN, no SQL check: {v}");
    assert_eq!((&checks[0]["name"], &checks[0]["category"]), (&"rest".into(), &"ok".into()), "{v}");
    let bad = p.osiris_env(&["connections", "doctor", "--json"], &[("SUPA_KEY", "not-the-key-0123456789")]);
    let v = bad.json();
    assert_eq!(v["results"][0]["status"], "failure", "{v}");
    assert_eq!(v["results"][0]["category"], "auth", "{v}");
    assert!(!bad.stdout.contains("not-the-key-0123456789") && !ok.stdout.contains(KEY));
}

/// A server that echoes the key it was sent: the doctor's reply still never shows it.
#[test]
fn the_doctor_redacts_a_key_the_server_echoes() {
    let rt = runtime();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(path("/rest/v1/"))
            .respond_with(ResponseTemplate::new(401).set_body_string(format!("{{\"message\": \"bad key {KEY}\"}}")))
            .mount(&server)
            .await;
        server
    });
    // The REST check reports the status, and a GraphQL endpoint on the same server the body.
    let p = project(&server.uri());
    let yaml = p.read("osiris_connections.yaml")
        + &format!(
            "  graphql:\n    echo:\n      endpoint: \"{}/rest/v1/\"\n      auth_token: \"${{SUPA_KEY}}\"\n",
            server.uri()
        );
    p.write("osiris_connections.yaml", &yaml);
    let r = p.osiris_env(&["connections", "doctor", "--json"], &[("SUPA_KEY", KEY)]);
    r.expect_code(1);
    let v = r.json();
    let echo = v["results"].as_array().unwrap().iter().find(|x| x["connection"] == "@graphql.echo").unwrap().clone();
    assert_eq!(echo["category"], "auth", "{v}");
    assert!(echo["message"].as_str().unwrap().contains("bad key ***"), "the echoed body, redacted: {v}");
    assert!(!r.stdout.contains(KEY) && !r.stderr.contains(KEY), "{r:?}");
    drop(rt);
}

/// A redirect to another origin is refused: the key never reaches the other server.
#[test]
fn credentials_never_follow_a_redirect_to_another_origin() {
    let rt = runtime();
    let (first, elsewhere) = rt.block_on(async {
        let elsewhere = MockServer::start().await;
        Mock::given(path("/rest/v1/")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
        let first = MockServer::start().await;
        Mock::given(path("/rest/v1/"))
            .respond_with(ResponseTemplate::new(302).insert_header("Location", format!("{}/rest/v1/", elsewhere.uri())))
            .mount(&first)
            .await;
        (first, elsewhere)
    });
    let p = project(&first.uri());
    let r = p.osiris_env(&["connections", "doctor", "--json"], &[("SUPA_KEY", KEY)]);
    r.expect_code(1);
    let received = rt.block_on(elsewhere.received_requests()).unwrap_or_default();
    assert!(received.is_empty(), "the other origin was called: {received:?}");
    assert_eq!(r.json()["results"][0]["status"], "failure", "{r:?}");
    drop(rt);
}

/// A plain insert that failed after reaching the server (503) is not sent again — the server may
/// have applied it, and a second copy would duplicate rows; an upsert's batch is resent.
#[test]
fn a_503_insert_is_not_resent_but_an_upsert_is() {
    let serve = |rt: &tokio::runtime::Runtime| {
        let server = rt.block_on(MockServer::start());
        rt.block_on(async {
            table_exists(&server, "people").await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(503))
                .up_to_n_times(1)
                .with_priority(1)
                .mount(&server)
                .await;
            Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).with_priority(2).mount(&server).await;
        });
        server
    };
    let rt = runtime();
    let append = serve(&rt);
    let p = project(&append.uri());
    let r = run_writer(&p, 100, "table: people, batch_size: 100");
    r.expect_code(1);
    assert_eq!(posted(&append, &rt).len(), 1, "the insert was sent once");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("HTTP 503") && msg.contains("not sent again"), "{msg}");
    let upsert = serve(&rt);
    let p = project(&upsert.uri());
    run_writer(&p, 100, "table: people, batch_size: 100, write_mode: upsert, primary_key: [id]").expect_code(0);
    assert_eq!(posted(&upsert, &rt).len(), 2, "the upsert batch was sent again");
    drop(rt);
}

/// A table name cannot steer the service key to another endpoint of the API.
#[test]
fn a_table_name_cannot_reach_other_endpoints() {
    let rt = runtime();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(ResponseTemplate::new(200)).mount(&server).await;
        server
    });
    let p = project(&server.uri());
    let r = run_writer(&p, 10, "table: \"rpc/delete_everything\"");
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("not a table name"), "{r:?}");
    assert_key_hidden(&p, &r);
    // With dots it is refused as a schema/table clash before any request, too.
    run_writer(&p, 10, "table: \"../../storage/v1/bucket\"").expect_code(1);
    let received = rt.block_on(server.received_requests()).unwrap_or_default();
    assert!(received.is_empty(), "nothing may be sent: {received:?}");
    assert_key_hidden(&p, &r);
    drop(rt);
}

/// A server that ignores `offset` answers every page with the first rows: the extraction stops
/// at the second page with a clear error instead of reading forever.
#[test]
fn a_server_that_ignores_the_offset_fails_the_step_instead_of_looping() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        let rows: Vec<Value> = (0..100).map(|i| json!({"id": i})).collect();
        Mock::given(method("GET"))
            .and(path("/rest/v1/items"))
            .respond_with(ResponseTemplate::new(200).set_body_json(rows))
            .mount(&server)
            .await;
    });
    let p = project(&server.uri());
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: rx\nsteps:\n  - id: items\n    component: supabase.extractor\n    mode: read\n    config: {table: items, limit: 100}\n",
    );
    let r = p.osiris_env(&["run", "p.yaml", "--json"], &[("SUPA_KEY", KEY)]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("paging does not advance"), "{r:?}");
    let pages =
        rt.block_on(server.received_requests()).unwrap().iter().filter(|r| r.url.path() == "/rest/v1/items").count();
    assert_eq!(pages, 2, "the first page and its repeat");
    assert!(r.json()["warnings"].to_string().contains("no primary key"), "no order to page by is said");
}
