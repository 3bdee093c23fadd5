//! graphql.extractor against a real GraphQL server (async-graphql on axum) bound to 127.0.0.1 on
//! a random port inside the test binary.

use crate::util::{assert_in_no_file, exchange_db, Project, Run};
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject, Union};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::path::Path;

const NODES: i32 = 10_000;
const TOKEN: &str = "gql-token-7f3a9c21e5";

#[derive(SimpleObject, Clone)]
struct Plan {
    seats: i32,
    tier: String,
}

#[derive(SimpleObject, Clone)]
struct Owner {
    login: String,
    plan: Plan,
}

#[derive(SimpleObject, Clone)]
struct Repo {
    id: i32,
    name: String,
    stars: f64,
    owner: Owner,
    tags: Vec<String>,
}

/// Only the nodes of page 3 (ids 2001-3000 at 1,000 per page) are featured, so `badge` first
/// appears on page 3.
#[derive(SimpleObject, Clone)]
struct FeaturedRepo {
    id: i32,
    name: String,
    stars: f64,
    owner: Owner,
    tags: Vec<String>,
    badge: String,
}

#[derive(Union, Clone)]
enum Node {
    Repo(Repo),
    Featured(FeaturedRepo),
}

#[derive(SimpleObject)]
struct Edge {
    cursor: String,
    node: Node,
}

#[derive(SimpleObject)]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(SimpleObject)]
struct RepoConnection {
    edges: Vec<Edge>,
    page_info: PageInfo,
}

fn node(i: i32) -> Node {
    let owner = Owner {
        login: format!("user-{}", i % 7),
        plan: Plan { seats: i % 5, tier: if i % 2 == 0 { "pro".into() } else { "free".into() } },
    };
    let (name, stars, tags) = (format!("repo-{i}"), f64::from(i) / 2.0, vec![format!("t{}", i % 3), "x".to_string()]);
    if (2001..=3000).contains(&i) {
        Node::Featured(FeaturedRepo { id: i, name, stars, owner, tags, badge: format!("gold-{i}") })
    } else {
        Node::Repo(Repo { id: i, name, stars, owner, tags })
    }
}

struct Query;

#[Object]
impl Query {
    /// A relay connection over the repositories, optionally of one owner.
    async fn repositories(&self, first: i32, after: Option<String>, owner_login: Option<String>) -> RepoConnection {
        let start: i32 = after.map(|c| c.parse::<i32>().unwrap()).unwrap_or(0);
        let matches = |i: &i32| owner_login.as_ref().is_none_or(|o| *o == format!("user-{}", i % 7));
        let ids: Vec<i32> = (start + 1..=NODES).filter(matches).take(first as usize).collect();
        let last = ids.last().copied();
        let has_next_page = last.is_some_and(|l| (l + 1..=NODES).any(|i| matches(&i)));
        RepoConnection {
            edges: ids.iter().map(|&i| Edge { cursor: i.to_string(), node: node(i) }).collect(),
            page_info: PageInfo { has_next_page, end_cursor: last.map(|l| l.to_string()) },
        }
    }

    /// Always fails.
    async fn broken(&self) -> async_graphql::Result<i32> {
        Err("the resolver failed on purpose".into())
    }
}

type RepoSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// What the server demands.
#[derive(Clone)]
enum Auth {
    Open,
    Bearer,
    Basic,
    ApiKey,
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn handler(
    State((schema, auth)): State<(RepoSchema, Auth)>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> Result<GraphQLResponse, StatusCode> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let ok = match auth {
        Auth::Open => true,
        Auth::Bearer => header("authorization") == format!("Bearer {TOKEN}"),
        Auth::Basic => header("authorization") == format!("Basic {}", base64(format!("alice:{TOKEN}").as_bytes())),
        Auth::ApiKey => header("x-shop-token") == TOKEN,
    };
    if !ok {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(schema.execute(req.into_inner()).await.into())
}

/// Start a server; returns its endpoint URL. It lives as long as the runtime.
fn serve(rt: &tokio::runtime::Runtime, auth: Auth) -> String {
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let app = axum::Router::new().route("/graphql", axum::routing::post(handler)).with_state((schema, auth));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/graphql")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const RELAY_QUERY: &str = "query Repos($first: Int!, $after: String, $ownerLogin: String) { repositories(first: $first, after: $after, ownerLogin: $ownerLogin) { \
    edges { cursor node { ... on Repo { id name stars owner { login plan { seats tier } } tags } \
    ... on FeaturedRepo { id name stars owner { login plan { seats tier } } tags badge } } } pageInfo { hasNextPage endCursor } } }";

fn project(endpoint: &str, auth: &str) -> Project {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  graphql:\n    api:\n      endpoint: \"{endpoint}\"\n      auth_token: \"${{GQL_TOKEN}}\"\n      auth_username: alice\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: gql\nsteps:\n  - id: repos\n    component: graphql.extractor\n    mode: read\n    config:\n      connection: \"@graphql.api\"\n      query: \"{}\"\n{auth}\n", RELAY_QUERY.replace('"', "\\\"")),
    );
    p
}

fn run(p: &Project, token: &str) -> Run {
    p.osiris_env(&["run", "p.yaml", "--json"], &[("GQL_TOKEN", token)])
}

fn duck(r: &Run) -> duckdb::Connection {
    exchange_db(&r.json())
}

fn one_string(conn: &duckdb::Connection, sql: &str) -> String {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `name TYPE, …` of a relation's columns, in order.
fn column_types(conn: &duckdb::Connection, relation: &str) -> String {
    one_string(
        conn,
        &format!("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '{relation}'"),
    )
}

const PAGED: &str = "      auth_type: bearer\n      variables: {first: 1000}\n      pagination_enabled: true\n      pagination_path: data.repositories.pageInfo\n      data_path: \"data.repositories.edges[*].node\"";

#[test]
fn a_relay_connection_of_10000_nodes_becomes_the_exact_table() {
    let rt = runtime();
    let p = project(&serve(&rt, Auth::Bearer), PAGED);
    let r = run(&p, TOKEN);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 10_000);
    let conn = duck(&r);
    assert_eq!(
        column_types(&conn, "repos"),
        "id BIGINT, name VARCHAR, stars DOUBLE, owner_login VARCHAR, owner_plan_seats BIGINT, owner_plan_tier VARCHAR, tags JSON, badge VARCHAR"
    );
    assert_eq!(
        one_string(&conn, "SELECT concat_ws('|', count(*), count(DISTINCT id), sum(id), sum(stars), count(badge), min(badge), sum(owner_plan_seats)) FROM repos"),
        format!("10000|10000|50005000|25002500.0|1000|gold-2001|{}", (1..=NODES).map(|i| i % 5).sum::<i32>())
    );
    assert_eq!(
        one_string(&conn, "SELECT concat_ws('|', id, name, stars, owner_login, owner_plan_seats, owner_plan_tier, tags, coalesce(badge, 'NULL')) FROM repos WHERE id IN (1, 2500) ORDER BY id LIMIT 1"),
        "1|repo-1|0.5|user-1|1|free|[\"t1\",\"x\"]|NULL"
    );
    assert_eq!(one_string(&conn, "SELECT concat_ws('|', badge, tags->>0) FROM repos WHERE id = 2500"), "gold-2500|t1");
    let metrics =
        std::fs::read_to_string(Path::new(r.json()["run_dir"].as_str().unwrap()).join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"metric\":\"pages_fetched\"") && metrics.contains("\"value\":10.0"), "{metrics}");
}

#[test]
fn one_reader_gets_a_view_over_the_staged_pages_with_the_rows_and_types_a_table_would_hold() {
    let rt = runtime();
    let endpoint = serve(&rt, Auth::Bearer);
    // Two pages (no `badge` yet: one column layout), read by one CSV writer.
    let p = project(&endpoint, &format!("{PAGED}\n      max_pages: 2"));
    let mut text = p.read("p.yaml");
    text.push_str("  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [repos]\n    config: {path: out.csv}\n");
    p.write("p.yaml", &text);
    let r = run(&p, TOKEN);
    r.expect_code(0);
    let step = &r.json()["steps"][0];
    assert_eq!((step["relation"].as_str(), step["rows"].as_u64()), (Some("view"), Some(2000)), "{step}");
    let conn = duck(&r);
    assert_eq!(
        column_types(&conn, "repos"),
        "id BIGINT, name VARCHAR, stars DOUBLE, owner_login VARCHAR, owner_plan_seats BIGINT, owner_plan_tier VARCHAR, tags JSON"
    );
    assert_eq!(
        one_string(&conn, "SELECT concat_ws('|', count(*), sum(id), min(tags->>0)) FROM repos"),
        "2000|2001000|t0"
    );
    let out = p.read("out.csv");
    assert_eq!(out.lines().count(), 2001, "a header and every row");
    assert_eq!(out.lines().nth(1), Some("1,repo-1,0.5,user-1,1,free,\"[\"\"t1\"\",\"\"x\"\"]\""));
}

#[test]
fn the_one_reader_of_staged_pages_runs_on_one_duckdb_thread() {
    let rt = runtime();
    let p = project(&serve(&rt, Auth::Bearer), &format!("{PAGED}\n      max_pages: 2"));
    let mut text = p.read("p.yaml");
    text.push_str("  - id: probe\n    component: duckdb.processor\n    mode: transform\n    needs: [repos]\n    config: {query: \"SELECT current_setting('threads') AS threads, count(*) AS n FROM repos\"}\n");
    p.write("p.yaml", &text);
    let r = run(&p, TOKEN);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["relation"], "view");
    // The probe is the last step, so a table: its query ran while the step ran.
    assert_eq!(one_string(&duck(&r), "SELECT concat_ws('|', threads, n) FROM probe"), "1|2000");
}

#[test]
fn variables_reach_the_server_and_max_pages_bounds_the_read() {
    let rt = runtime();
    let endpoint = serve(&rt, Auth::Bearer);
    let p = project(&endpoint, &PAGED.replace("{first: 1000}", "{first: 300, ownerLogin: user-3}"));
    let r = run(&p, TOKEN);
    r.expect_code(0);
    let expected = (1..=NODES).filter(|i| i % 7 == 3).count();
    assert_eq!(r.json()["steps"][0]["rows"], expected as u64);
    assert_eq!(one_string(&duck(&r), "SELECT string_agg(DISTINCT owner_login, ',') FROM repos"), "user-3");

    let p = project(&endpoint, &format!("{PAGED}\n      max_pages: 2"));
    let r = run(&p, TOKEN);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 2000);
    assert_eq!(one_string(&duck(&r), "SELECT max(id)::VARCHAR FROM repos"), "2000");
}

#[test]
fn each_auth_type_sends_its_header_and_a_wrong_token_fails_without_printing_it() {
    let rt = runtime();
    let single = "      variables: {first: 5}\n      data_path: data.repositories.edges.node";
    for (auth, config) in [
        (Auth::Bearer, "      auth_type: bearer"),
        (Auth::Basic, "      auth_type: basic"),
        (Auth::ApiKey, "      auth_type: api_key\n      auth_header_name: X-Shop-Token"),
    ] {
        let p = project(&serve(&rt, auth), &format!("{config}\n{single}"));
        let r = run(&p, TOKEN);
        r.expect_code(0);
        assert_eq!(r.json()["steps"][0]["rows"], 5, "{config}");
        let wrong = "wrong-token-0000";
        let r = run(&p, wrong);
        r.expect_code(1);
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains("rejected the credentials") && msg.contains("401"), "{config}: {msg}");
        assert!(!r.stdout.contains(wrong) && !r.stderr.contains(wrong), "{config}");
        for secret in [wrong, TOKEN] {
            assert_in_no_file(&p.path(".osiris"), secret);
        }
    }
}

#[test]
fn an_open_endpoint_needs_no_connection() {
    let rt = runtime();
    let endpoint = serve(&rt, Auth::Open);
    let p = Project::new();
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: gql\nsteps:\n  - id: repos\n    component: graphql.extractor\n    mode: read\n    config:\n      endpoint: \"{endpoint}\"\n      query: \"{{ repositories(first: 3) {{ edges {{ node {{ ... on Repo {{ id owner {{ login }} }} }} }} }} }}\"\n      data_path: data.repositories.edges.node\n      flatten_result: false\n"),
    );
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(0);
    assert_eq!(
        one_string(&duck(&r), "SELECT string_agg(id || ':' || CAST(owner AS VARCHAR), ',' ORDER BY id) FROM repos"),
        "1:{\"login\":\"user-1\"},2:{\"login\":\"user-2\"},3:{\"login\":\"user-3\"}"
    );
}

#[test]
fn a_graphql_error_fails_the_step_with_its_message() {
    let rt = runtime();
    let p = project(&serve(&rt, Auth::Bearer), "      auth_type: bearer");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: gql\nsteps:\n  - id: repos\n    component: graphql.extractor\n    mode: read\n    config:\n      connection: \"@graphql.api\"\n      auth_type: bearer\n      query: \"{ broken }\"\n",
    );
    let r = run(&p, TOKEN);
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["error"]["step"], "repos");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("the resolver failed on purpose") && msg.contains("broken"), "{msg}");
}

#[test]
fn doctor_runs_an_introspection_query_with_the_connection_auth() {
    let rt = runtime();
    let p = project(&serve(&rt, Auth::Bearer), "      auth_type: bearer");
    let ok = p.osiris_env(&["connections", "doctor", "--json"], &[("GQL_TOKEN", TOKEN)]);
    ok.expect_code(0);
    let v = ok.json();
    assert_eq!(v["results"][0]["status"], "success", "{v}");
    assert!(v["results"][0]["message"].as_str().unwrap().contains("query type Query"), "{v}");
    let bad = p.osiris_env(&["connections", "doctor", "--json"], &[("GQL_TOKEN", "wrong-token-1234")]);
    let v = bad.json();
    assert_eq!(v["results"][0]["category"], "auth", "{v}");
    assert!(!bad.stdout.contains("wrong-token-1234") && !ok.stdout.contains(TOKEN));
}

/// A server whose cursor never advances fails the step instead of paging forever.
#[test]
fn a_cursor_that_does_not_advance_fails_instead_of_looping() {
    use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};
    let rt = runtime();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        let page = serde_json::json!({"data": {"items": {"edges": [{"node": {"id": 1}}], "pageInfo": {"endCursor": "same", "hasNextPage": true}}}});
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(page)).mount(&server).await;
        server
    });
    let p = Project::new();
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: gql\nsteps:\n  - id: items\n    component: graphql.extractor\n    mode: read\n    config:\n      endpoint: \"{}\"\n      query: \"query($after: String) {{ items(after: $after) {{ edges {{ node {{ id }} }} pageInfo {{ endCursor hasNextPage }} }} }}\"\n      data_path: data.items.edges.node\n      pagination_enabled: true\n      pagination_path: data.items.pageInfo\n", server.uri()),
    );
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("paging does not advance"), "{r:?}");
    let calls = rt.block_on(server.received_requests()).unwrap_or_default().len();
    assert_eq!(calls, 2, "the first page, then the one that repeats the cursor");
    // The first page was loading into the table when the second failed: nothing of it is left.
    let left: i64 = crate::util::exchange_db(&r.json())
        .query_row("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'items'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(left, 0, "no partial table");
    let run_dir = std::path::PathBuf::from(r.json()["run_dir"].as_str().unwrap());
    assert!(
        !run_dir.join("tmp").join("items.load.fifo").exists() && !run_dir.join("staged").join("items.csv").exists()
    );
    drop(rt);
}

#[test]
fn discovery_introspects_query_fields_and_samples_a_relay_connection_then_serves_the_cache() {
    let rt = runtime();
    let p = project(&serve(&rt, Auth::Bearer), "");
    let discover = |extra: &[&str]| {
        let mut args = vec!["discovery", "run", "@graphql.api", "--samples", "2", "--json"];
        args.extend_from_slice(extra);
        p.osiris_env(&args, &[("GQL_TOKEN", TOKEN)]).expect_code(0).json()
    };
    let first = discover(&[]);
    assert_eq!(first["cached"], false);
    assert_eq!(first["overview"]["query_type"], "Query");
    let tables = first["tables"].as_array().unwrap();
    let repos = tables.iter().find(|t| t["name"] == "repositories").expect("the relay field");
    assert_eq!(repos["type"], "RepoConnection!");
    assert_eq!(
        repos["args"],
        serde_json::json!([
            {"name": "first", "type": "Int!", "required": true},
            {"name": "after", "type": "String", "required": false},
            {"name": "ownerLogin", "type": "String", "required": false},
        ])
    );
    assert_eq!(repos["relay"]["data_path"], "data.repositories.edges[*].node");
    assert_eq!(repos["relay"]["pagination_path"], "data.repositories.pageInfo");
    let columns: Vec<&str> = repos["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["id", "name", "stars", "owner", "tags", "badge"], "the fields of both union members, once");
    assert_eq!(repos["sample_columns"], serde_json::json!(["id", "name", "stars", "tags", "badge"]));
    assert_eq!(
        repos["samples"],
        serde_json::json!([[1, "repo-1", 0.5, ["t1", "x"], null], [2, "repo-2", 1.0, ["t2", "x"], null]])
    );
    assert_eq!(tables.iter().find(|t| t["name"] == "broken").unwrap()["type"], "Int!");
    let second = discover(&[]);
    assert_eq!(second["cached"], true);
    assert_eq!(second["tables"], first["tables"]);
    assert_in_no_file(&p.path(".osiris"), TOKEN);
    drop(rt);
}
