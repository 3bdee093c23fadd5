//! posthog.extractor against an in-process server that implements PostHog's HogQL query endpoint
//! (`POST /api/projects/<id>/query/`) for the queries the extractor sends: it parses the HogQL
//! (window, event filter, seek condition, ORDER BY, LIMIT/OFFSET) and answers with real
//! HogQL-response JSON (`columns`, `types`, `results`, `hasMore`).

use crate::util::{assert_in_no_file, exchange_db, Project, Run};
use regex::Regex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "phx_personal_key_5d8e2a91bc";

/// One row of a HogQL table: the sort timestamp (`YYYY-MM-DD HH:MM:SS.ffffff`), the id, the row.
#[derive(Clone)]
struct Row {
    ts: String,
    id: String,
    values: Vec<Value>,
}

#[derive(Default)]
struct Hog {
    tables: Mutex<HashMap<&'static str, Vec<Row>>>,
    requests: AtomicUsize,
    /// Request number (1-based) → a fault answered instead.
    faults: Mutex<HashMap<usize, ResponseTemplate>>,
    delay: Mutex<Duration>,
    /// Answer as if no seek condition or offset had been sent (a broken server or proxy).
    ignore_position: std::sync::atomic::AtomicBool,
}

fn columns_of(table: &str) -> Vec<(&'static str, &'static str)> {
    match table {
        "events" => vec![
            ("uuid", "UUID"),
            ("event", "String"),
            ("timestamp", "DateTime64(6, 'UTC')"),
            ("distinct_id", "String"),
            ("person_id", "Nullable(UUID)"),
            ("properties", "String"),
        ],
        "persons" => vec![
            ("id", "UUID"),
            ("created_at", "DateTime64(3, 'UTC')"),
            ("properties", "String"),
            ("is_identified", "Bool"),
        ],
        "sessions" => vec![
            ("session_id", "String"),
            ("distinct_id", "String"),
            ("$start_timestamp", "DateTime64(6, 'UTC')"),
            ("$end_timestamp", "DateTime64(6, 'UTC')"),
            ("$pageview_count", "Int64"),
        ],
        _ => vec![("distinct_id", "String"), ("person_id", "UUID")],
    }
}

impl Hog {
    fn answer(&self, hogql: &str) -> ResponseTemplate {
        let cap = |re: &str| Regex::new(re).unwrap().captures(hogql).map(|c| c[1].to_string());
        if hogql == "SELECT 1" {
            return ResponseTemplate::new(200).set_body_json(
                json!({"columns": ["1"], "types": [["1", "UInt8"]], "results": [[1]], "hasMore": false}),
            );
        }
        let table = cap(r"FROM (\w+)").unwrap();
        let tables = self.tables.lock().unwrap();
        let rows = tables.get(table.as_str()).cloned().unwrap_or_default();
        if let Some(days) = cap(r"WHERE timestamp > now\(\) - INTERVAL (\d+) DAY") {
            return ResponseTemplate::new(200).set_body_json(recent_counts(hogql, &rows, days.parse().unwrap()));
        }
        if hogql.starts_with("SELECT count()") {
            return ResponseTemplate::new(200).set_body_json(
                json!({"columns": ["count()"], "types": [["count()", "UInt64"]], "results": [[rows.len()]]}),
            );
        }
        let since = cap(r"(?:timestamp|created_at) >= toDateTime\('([^']*)'\)");
        let until = cap(r"(?:timestamp|created_at) < toDateTime\('([^']*)'\)");
        let ignore = self.ignore_position.load(Ordering::SeqCst);
        let seek = Regex::new(r"> toDateTime\('([^']*)'\) OR \(\S+ = toDateTime\('[^']*'\) AND \w+ > '([^']*)'\)")
            .unwrap()
            .captures(hogql)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .filter(|_| !ignore);
        let events: Option<Vec<String>> =
            cap(r"event IN \(([^)]*)\)").map(|l| l.split(", ").map(|e| e.trim_matches('\'').to_string()).collect());
        let limit: usize = cap(r"LIMIT (\d+)").unwrap().parse().unwrap();
        let offset: usize = cap(r"OFFSET (\d+)").filter(|_| !ignore).map(|o| o.parse().unwrap()).unwrap_or(0);
        let selected: Vec<&Row> = rows
            .iter()
            .filter(|r| since.as_ref().is_none_or(|s| r.ts >= *s) && until.as_ref().is_none_or(|u| r.ts < *u))
            .filter(|r| {
                events.as_ref().is_none_or(|e| e.contains(&r.values[1].as_str().unwrap_or_default().to_string()))
            })
            .filter(|r| seek.as_ref().is_none_or(|(t, id)| r.ts > *t || (r.ts == *t && r.id > *id)))
            .skip(offset)
            .take(limit + 1)
            .collect();
        let has_more = selected.len() > limit;
        let cols = columns_of(&table);
        ResponseTemplate::new(200).set_body_json(json!({
            "columns": cols.iter().map(|c| c.0).collect::<Vec<_>>(),
            "types": cols.iter().map(|c| json!([c.0, c.1])).collect::<Vec<_>>(),
            "results": selected.iter().take(limit).map(|r| r.values.clone()).collect::<Vec<_>>(),
            "hasMore": has_more,
        }))
    }
}

/// Discovery's two aggregates over the recent events: `event` names or the keys of
/// `properties` (`arrayJoin(JSONExtractKeys(properties))`), each with its count, most first.
fn recent_counts(hogql: &str, rows: &[Row], days: i64) -> Value {
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    let cutoff = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        cutoff.year(),
        u8::from(cutoff.month()),
        cutoff.day(),
        cutoff.hour(),
        cutoff.minute(),
        cutoff.second()
    );
    let mut counts: HashMap<String, u64> = HashMap::new();
    for row in rows.iter().filter(|r| r.ts > cutoff) {
        if hogql.contains("JSONExtractKeys(properties)") {
            let props: Value = serde_json::from_str(row.values[5].as_str().unwrap()).unwrap();
            for key in props.as_object().unwrap().keys() {
                *counts.entry(key.clone()).or_default() += 1;
            }
        } else {
            *counts.entry(row.values[1].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let mut results: Vec<(String, u64)> = counts.into_iter().collect();
    results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    json!({"columns": ["key", "n"], "types": [["key", "String"], ["n", "UInt64"]],
        "results": results.iter().map(|(k, n)| json!([k, n])).collect::<Vec<_>>(), "hasMore": false})
}

struct Server(Arc<Hog>);

impl Respond for Server {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.0.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = *self.0.delay.lock().unwrap();
        if request.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
            return ResponseTemplate::new(401).set_body_json(json!({"type": "authentication_error", "code": "authentication_failed", "detail": "Personal API key is invalid."}));
        }
        if let Some(fault) = self.0.faults.lock().unwrap().remove(&n) {
            return fault;
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["query"]["kind"], "HogQLQuery");
        self.0.answer(body["query"]["query"].as_str().unwrap()).set_delay(delay)
    }
}

/// `n` events from `start` (event number), three sharing each microsecond timestamp, uuids in
/// an order unrelated to the event number.
fn events(start: u64, n: u64) -> Vec<Row> {
    (start..start + n).map(|i| event_at(i, i / 3)).collect()
}

/// Event number `i` at `tick` seconds + 250 µs after 2024-03-01.
fn event_at(i: u64, tick: u64) -> Row {
    let ts = format!(
        "2024-03-{:02} {:02}:{:02}:{:02}.000250",
        1 + tick / 86_400,
        (tick / 3600) % 24,
        (tick / 60) % 60,
        tick % 60
    );
    let uuid = format!("{:08x}-0000-4000-8000-{:012x}", (i.wrapping_mul(2_654_435_761)) % 0xffff_ffff, i);
    let name = ["pageview", "signup", "purchase"][(i % 3) as usize];
    Row {
        ts: ts.clone(),
        id: uuid.clone(),
        values: vec![
            json!(uuid),
            json!(name),
            json!(format!("{}+00:00", ts.replace(' ', "T"))),
            json!(format!("user-{}", i % 50)),
            Value::Null,
            json!(json!({"n": i, "$browser": "Firefox"}).to_string()),
        ],
    }
}

fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| (&a.ts, &a.id).cmp(&(&b.ts, &b.id)));
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    server: MockServer,
    hog: Arc<Hog>,
    project: Project,
}

fn fixture(rows: Vec<Row>, step_config: &str) -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let hog = Arc::new(Hog::default());
    let mut rows = rows;
    sort(&mut rows);
    hog.tables.lock().unwrap().insert("events", rows);
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/api/projects/4242/query/"))
            .respond_with(Server(Arc::clone(&hog)))
            .mount(&server),
    );
    let project = Project::new();
    project.write(
        "osiris_connections.yaml",
        &format!("connections:\n  posthog:\n    local:\n      api_key: \"${{PH_KEY}}\"\n      project_id: \"4242\"\n      region: self_hosted\n      custom_base_url: \"{}\"\n      default: true\n", server.uri()),
    );
    project.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: ph\nsteps:\n  - id: events\n    component: posthog.extractor\n    mode: read\n    config: {{{step_config}}}\n"),
    );
    Fixture { rt, server, hog, project }
}

impl Fixture {
    fn run(&self, extra: &[&str]) -> Run {
        let mut args = vec!["run", "p.yaml", "--json"];
        args.extend_from_slice(extra);
        self.project.osiris_env(&args, &[("PH_KEY", KEY)])
    }

    /// `osiris run p.yaml --quiet` started in the background (a run to kill or to overlap).
    fn spawn_quiet(&self) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_osiris"))
            .args(["run", "p.yaml", "--quiet"])
            .current_dir(self.project.dir.path())
            .env("PH_KEY", KEY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    fn add(&self, table: &'static str, rows: Vec<Row>) {
        let mut tables = self.hog.tables.lock().unwrap();
        let t = tables.entry(table).or_default();
        t.extend(rows);
        sort(t);
    }
}

fn duck(r: &Run) -> duckdb::Connection {
    exchange_db(&r.json())
}

/// The extracted uuids, in table order.
fn uuids(r: &Run) -> Vec<String> {
    let conn = duck(r);
    let mut stmt = conn.prepare("SELECT CAST(uuid AS VARCHAR) FROM events").unwrap();
    stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The uuids of `rows` in the order the extractor reads them.
fn ids_in_order(mut rows: Vec<Row>) -> Vec<String> {
    sort(&mut rows);
    rows.into_iter().map(|r| r.id).collect()
}

const EVENTS: &str = "data_type: events, page_size: 1000, initial_since: \"2024-03-01T00:00:00Z\"";

#[test]
fn pages_over_25000_events_through_a_429_and_a_503_with_every_row_once() {
    let f = fixture(events(0, 25_000), EVENTS);
    f.hog
        .faults
        .lock()
        .unwrap()
        .insert(2, ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_string("slow down"));
    f.hog.faults.lock().unwrap().insert(5, ResponseTemplate::new(503).set_body_string("upstream unavailable"));
    let started = std::time::Instant::now();
    let r = f.run(&[]);
    r.expect_code(0);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(r.json()["steps"][0]["rows"], 25_000);
    let got = uuids(&r);
    let mut expected = events(0, 25_000);
    sort(&mut expected);
    assert_eq!(got, expected.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), "every event once, in order");
    assert_eq!(f.hog.requests.load(Ordering::SeqCst), 26 + 2, "26 pages (the last one short) + 2 retried");
    let conn = duck(&r);
    let types: String = conn
        .query_row("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'events'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(types, "uuid UUID, event VARCHAR, timestamp TIMESTAMP WITH TIME ZONE, distinct_id VARCHAR, person_id UUID, properties JSON");
    let (browser, n): (String, i64) = conn
        .query_row("SELECT json_extract_string(properties, '$.\"$browser\"'), CAST(properties->>'n' AS BIGINT) FROM events ORDER BY timestamp, uuid LIMIT 1 OFFSET 3", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(browser, "Firefox");
    assert!((3..6).contains(&n), "{n}");
    let events =
        std::fs::read_to_string(Path::new(r.json()["run_dir"].as_str().unwrap()).join("events.jsonl")).unwrap();
    assert!(events.contains("HTTP 429") && events.contains("HTTP 503"));
    drop(f.server);
}

#[test]
fn incremental_runs_lose_and_duplicate_nothing_at_the_boundary_and_fetch_only_new_rows() {
    incremental_boundary(false);
}

#[test]
fn read_by_one_writer_the_extraction_is_a_view_over_the_spool_and_the_boundary_holds() {
    incremental_boundary(true);
}

/// Four runs across the boundary of the last timestamp; with `writer`, a CSV writer reads the
/// extraction, which is then a view over the spooled pages (the dedup window is read from it).
fn incremental_boundary(writer: bool) {
    let f = fixture(events(0, 3000), EVENTS);
    if writer {
        let mut text = f.project.read("p.yaml");
        text.push_str("  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [events]\n    config: {path: out.csv}\n");
        f.project.write("p.yaml", &text);
    }
    let first = f.run(&[]);
    first.expect_code(0);
    assert_eq!(first.json()["steps"][0]["rows"], 3000);
    let relation = if writer { "view" } else { "table" };
    assert_eq!(first.json()["steps"][0]["relation"], relation);
    let first_dir = Path::new(first.json()["run_dir"].as_str().unwrap()).to_path_buf();
    let streamed = if writer { json!("write") } else { Value::Null };
    assert_eq!(crate::util::streams_to(&first_dir, "events"), streamed, "the writer reads the pages as they arrive");
    if writer {
        assert_eq!(f.project.read("out.csv").lines().count(), 3001, "a header and every event");
        assert_eq!(uuids(&first), ids_in_order(events(0, 3000)), "the view reads the spool in order");
    }
    // New events: two at exactly the last timestamp of run 1 (their uuids sort before and after
    // the last uuid), one ingested late 5 minutes before it, and 500 after it.
    let last_tick = 2999 / 3;
    let boundary = vec![event_at(900_001, last_tick), event_at(900_002, last_tick), event_at(900_003, last_tick - 300)];
    f.add("events", boundary.clone());
    f.add("events", events(3000, 500));
    let second = f.run(&[]);
    second.expect_code(0);
    let mut got = uuids(&second);
    let mut expected: Vec<String> = boundary.iter().chain(events(3000, 500).iter()).map(|e| e.id.clone()).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "exactly the new rows");
    assert_eq!(second.json()["steps"][0]["relation"], relation);
    let third = f.run(&[]);
    third.expect_code(0);
    assert_eq!(third.json()["steps"][0]["rows"], 0, "nothing new, nothing read twice");
    let refreshed = f.run(&["--full-refresh"]);
    refreshed.expect_code(0);
    assert_eq!(refreshed.json()["steps"][0]["rows"], 3503);
}

/// Issue 18's parity: the same extraction locally and on a worker gives the same rows, steps and
/// events; and the incremental state is the host's, so local and remote runs continue each other.
#[test]
fn local_and_remote_runs_read_the_same_rows_and_continue_each_others_state() {
    use crate::remote::{event_shapes, step_shapes, worker_command};
    let here = fixture(events(0, 3000), EVENTS);
    let there = fixture(events(0, 3000), EVENTS);
    let local = here.run(&[]);
    let command = worker_command(&there.project);
    let remote = there.run(&["--remote", &command, "--fetch", "data"]);
    remote.expect_code(0);
    assert_eq!(uuids(&local), uuids(&remote));
    assert_eq!(step_shapes(&local.json()), step_shapes(&remote.json()));
    assert_eq!(event_shapes(&local.json()), event_shapes(&remote.json()));

    // remote after local, local after remote: each reads exactly the new rows.
    here.add("events", events(3000, 500));
    let second = here.run(&["--remote", &worker_command(&here.project), "--fetch", "data"]);
    second.expect_code(0);
    assert_eq!(uuids(&second), ids_in_order(events(3000, 500)));
    here.add("events", events(3500, 200));
    let third = here.run(&[]);
    third.expect_code(0);
    assert_eq!(uuids(&third), ids_in_order(events(3500, 200)));
}

#[test]
fn a_failed_run_commits_no_state() {
    let f = fixture(events(0, 1500), EVENTS);
    f.hog.faults.lock().unwrap().insert(
        2,
        ResponseTemplate::new(400).set_body_string("{\"type\": \"validation_error\", \"detail\": \"bad query\"}"),
    );
    let r = f.run(&[]);
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("HTTP 400") && msg.contains("bad query"), "{msg}");
    // The first page was already loading into the table when the second failed: nothing of it
    // is left to look complete, and the load's pipe is gone.
    let left: i64 = duck(&r)
        .query_row("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(left, 0, "no partial table");
    let tmp = Path::new(r.json()["run_dir"].as_str().unwrap()).join("tmp");
    assert!(!tmp.join("events.load.fifo").exists());
    let again = f.run(&[]);
    again.expect_code(0);
    assert_eq!(again.json()["steps"][0]["rows"], 1500, "the failed run left the state (and resume spool) consistent");
}

/// The uuids a CSV writer wrote (its first column), in file order.
fn written_uuids(f: &Fixture, file: &str) -> Vec<String> {
    f.project.read(file).lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

/// A writer streamed from the extraction: when the source fails after two pages it rolls back
/// (no file, the run's error is the extractor's), and the next run, resuming from the spool,
/// hands it the spooled pages before the new ones, so the file holds every event once, in order.
#[test]
fn a_streamed_writer_rolls_back_when_the_source_fails_and_gets_every_row_on_resume() {
    let f = fixture(events(0, 5000), EVENTS);
    let mut text = f.project.read("p.yaml");
    text.push_str("  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [events]\n    config: {path: out.csv}\n");
    f.project.write("p.yaml", &text);
    f.hog.faults.lock().unwrap().insert(
        3,
        ResponseTemplate::new(400).set_body_string("{\"type\": \"validation_error\", \"detail\": \"bad query\"}"),
    );
    let failed = f.run(&[]);
    failed.expect_code(1);
    let run_dir = Path::new(failed.json()["run_dir"].as_str().unwrap()).to_path_buf();
    assert_eq!(crate::util::streams_to(&run_dir, "events"), "write");
    assert_eq!(failed.json()["error"]["step"], "events", "{}", failed.json()["error"]);
    assert!(failed.json()["error"]["message"].as_str().unwrap().contains("bad query"));
    assert!(!f.project.exists("out.csv"), "the writer committed nothing");
    assert!(f.project.exists(".osiris/state/ph/events.resume/pages.csv"), "two pages spooled");

    let resumed = f.run(&[]);
    resumed.expect_code(0);
    let run_dir = Path::new(resumed.json()["run_dir"].as_str().unwrap()).to_path_buf();
    assert_eq!(crate::util::streams_to(&run_dir, "events"), "write");
    let log = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(log.contains("extraction.resumed"));
    assert_eq!(written_uuids(&f, "out.csv"), ids_in_order(events(0, 5000)));
    assert_eq!(uuids(&resumed), ids_in_order(events(0, 5000)), "the relation is the spool, in the run dir");
}

#[test]
fn a_killed_run_resumes_without_rereading_committed_pages() {
    let f = fixture(events(0, 20_000), EVENTS);
    *f.hog.delay.lock().unwrap() = Duration::from_millis(150);
    let mut child = f.spawn_quiet();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while f.hog.requests.load(Ordering::SeqCst) < 8 {
        assert!(std::time::Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = f.hog.requests.load(Ordering::SeqCst);
    *f.hog.delay.lock().unwrap() = Duration::ZERO;
    let r = f.run(&[]);
    r.expect_code(0);
    let mut expected = events(0, 20_000);
    sort(&mut expected);
    assert_eq!(uuids(&r), expected.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), "the same rows a clean run gives");
    let resumed_requests = f.hog.requests.load(Ordering::SeqCst) - before;
    // 21 pages in all (the last one empty); at least 7 were committed before the kill and at
    // most the page in flight is read again.
    assert!(resumed_requests <= 21 - 7 + 1, "resumed run made {resumed_requests} requests");
    let events =
        std::fs::read_to_string(Path::new(r.json()["run_dir"].as_str().unwrap()).join("events.jsonl")).unwrap();
    assert!(events.contains("extraction.resumed"));
}

#[test]
fn persons_and_sessions_have_their_documented_types() {
    let f = fixture(Vec::new(), "data_type: persons, page_size: 100");
    f.add(
        "persons",
        (0..250)
            .map(|i| Row {
                ts: format!("2024-02-01 00:{:02}:{:02}.000000", i / 60, i % 60),
                id: format!("00000000-0000-4000-8000-{i:012}"),
                values: vec![
                    json!(format!("00000000-0000-4000-8000-{i:012}")),
                    json!(format!("2024-02-01T00:{:02}:{:02}Z", i / 60, i % 60)),
                    json!(json!({"email": format!("p{i}@x.io")}).to_string()),
                    json!(i % 2 == 0),
                ],
            })
            .collect(),
    );
    f.add(
        "sessions",
        (0..120)
            .map(|i| Row {
                ts: format!("2024-03-02 10:00:{:02}.500000", i % 60),
                id: format!("s-{i:04}"),
                values: vec![
                    json!(format!("s-{i:04}")),
                    json!(format!("user-{i}")),
                    json!(format!("2024-03-02T10:00:{:02}.5Z", i % 60)),
                    json!(format!("2024-03-02T10:30:{:02}Z", i % 60)),
                    json!(i),
                ],
            })
            .collect(),
    );
    let r = f.run(&[]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 250);
    let conn = duck(&r);
    let (types, emails, identified): (String, i64, i64) = conn
        .query_row(
            "SELECT (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'events'), \
             count(DISTINCT properties->>'email'), count(*) FILTER (is_identified) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(types, "id UUID, created_at TIMESTAMP WITH TIME ZONE, properties JSON, is_identified BOOLEAN");
    assert_eq!((emails, identified), (250, 125));

    f.project.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: ph\nsteps:\n  - id: events\n    component: posthog.extractor\n    mode: read\n    config: {data_type: sessions, page_size: 100, initial_since: \"2024-03-01\"}\n",
    );
    let r = f.run(&[]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 120);
    let (types, pageviews): (String, i64) = duck(&r)
        .query_row(
            "SELECT (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'events'), sum(\"$pageview_count\") FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(types, "session_id VARCHAR, distinct_id VARCHAR, $start_timestamp TIMESTAMP WITH TIME ZONE, $end_timestamp TIMESTAMP WITH TIME ZONE, $pageview_count BIGINT");
    assert_eq!(pageviews, (0..120).sum::<i64>());
}

#[test]
fn a_bad_key_fails_at_once_and_is_never_printed() {
    let f = fixture(events(0, 10), EVENTS);
    let bad = "phx_wrong_key_000111";
    let r = f.project.osiris_env(&["run", "p.yaml", "--json"], &[("PH_KEY", bad)]);
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("rejected the API key") && msg.contains("401"), "{msg}");
    assert_eq!(f.hog.requests.load(Ordering::SeqCst), 1, "401 is not retried");
    assert!(!r.stdout.contains(bad) && !r.stderr.contains(bad));
    assert_in_no_file(&f.project.path(".osiris"), bad);
    let d = f.project.osiris_env(&["connections", "doctor", "--json"], &[("PH_KEY", KEY)]);
    d.expect_code(0);
    let v = d.json();
    assert_eq!(v["results"][0]["status"], "success", "{v}");
    assert_eq!(v["results"][0]["tables"][0]["table"], "events", "{v}");
    assert_eq!(v["results"][0]["tables"][0]["estimated_rows"], 10, "{v}");
    drop(f.rt);
}

#[test]
fn discovery_lists_data_types_recent_event_names_and_property_keys_then_serves_the_cache() {
    // 30 events of 2024 and 4 of the last hour: only the recent ones are counted.
    let mut rows = events(0, 30);
    let now = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    for (i, name) in ["signup", "signup", "signup", "purchase"].iter().enumerate() {
        let ts = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            i
        );
        let id = format!("ffffffff-0000-4000-8000-{i:012x}");
        let props = if *name == "purchase" { json!({"plan": "pro", "amount": 9}) } else { json!({"plan": "free"}) };
        rows.push(Row {
            ts: ts.clone(),
            id: id.clone(),
            values: vec![json!(id), json!(name), json!(ts), json!("u"), Value::Null, json!(props.to_string())],
        });
    }
    let f = fixture(rows, "data_type: events");
    let discover = |extra: &[&str]| {
        let mut args = vec!["discovery", "run", "@posthog.local", "--samples", "2", "--json"];
        args.extend_from_slice(extra);
        f.project.osiris_env(&args, &[("PH_KEY", KEY)]).expect_code(0).json()
    };
    let first = discover(&[]);
    assert_eq!(first["cached"], false);
    assert_eq!(first["overview"]["component"], "posthog.extractor");
    let tables = first["tables"].as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["events", "persons", "sessions", "person_distinct_ids"]);
    let events = &tables[0];
    assert_eq!(events["estimated_rows"], 34);
    assert_eq!(events["samples"].as_array().unwrap().len(), 2);
    let column_type = |name: &str| {
        events["columns"].as_array().unwrap().iter().find(|c| c["name"] == name).map(|c| c["type"].clone()).unwrap()
    };
    assert_eq!(column_type("timestamp"), "TIMESTAMPTZ");
    assert_eq!(column_type("properties"), "JSON");
    assert_eq!(column_type("uuid"), "UUID");
    assert_eq!(events["event_names"], json!([{"name": "signup", "count": 3}, {"name": "purchase", "count": 1}]));
    assert_eq!(
        events["property_keys"],
        json!([{"name": "plan", "count": 4}, {"name": "amount", "count": 1}]),
        "keys of the recent events only, most used first"
    );
    assert_eq!(tables[1]["estimated_rows"], 0);
    let requests = f.hog.requests.load(Ordering::SeqCst);
    let second = discover(&[]);
    assert_eq!(second["cached"], true);
    assert_eq!(second["tables"], first["tables"]);
    assert_eq!(f.hog.requests.load(Ordering::SeqCst), requests, "the cache answered without a request");
    assert_in_no_file(&f.project.path(".osiris"), KEY);
    // A wrong key fails discovery at once, without printing it.
    let wrong = f
        .project
        .osiris_env(&["discovery", "run", "@posthog.local", "--refresh"], &[("PH_KEY", "phx_wrong_key_123456")]);
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("rejected the API key"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("phx_wrong_key_123456"));
}

#[test]
fn a_server_that_ignores_the_seek_condition_fails_the_step_instead_of_looping() {
    let f = fixture(events(0, 500), "data_type: events, page_size: 100, initial_since: \"2024-03-01T00:00:00Z\"");
    f.hog.ignore_position.store(true, Ordering::SeqCst);
    let r = f.run(&[]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("paging does not advance"), "{r:?}");
    assert_eq!(f.hog.requests.load(Ordering::SeqCst), 2, "the first page and its repeat");
}

/// State belongs to its source: changing what a step reads (here the event filter) starts it
/// fresh with a warning, while a tuning field (page size) keeps the cursor.
#[test]
fn a_changed_source_starts_fresh_and_a_tuning_change_keeps_the_cursor() {
    let f = fixture(events(0, 300), EVENTS);
    f.run(&[]).expect_code(0);
    let write = |config: &str| {
        f.project.write(
            "p.yaml",
            &format!("oml_version: \"0.1.0\"\nname: ph\nsteps:\n  - id: events\n    component: posthog.extractor\n    mode: read\n    config: {{{config}}}\n"),
        )
    };
    write(&EVENTS.replace("page_size: 1000", "page_size: 500"));
    let tuned = f.run(&[]);
    tuned.expect_code(0);
    assert_eq!(tuned.json()["steps"][0]["rows"], 0, "same source: continues after the cursor");
    write(&format!("{EVENTS}, event_types: [signup]"));
    let changed = f.run(&[]);
    changed.expect_code(0);
    assert_eq!(changed.json()["steps"][0]["rows"], 100, "another source: every signup from the start");
    let warnings = changed.json()["warnings"].to_string();
    assert!(warnings.contains("written for another source"), "{warnings}");
}

/// Two runs of one incremental pipeline never overlap: the second finds the state locked and
/// does not start (nothing is requested), and runs once the lock is free.
/// Issue 19's shared state: two project directories stand for two machines; both keep the
/// pipeline's state in one PostgreSQL schema.
#[test]
fn two_machines_sharing_a_postgres_state_backend_extract_every_event_once() {
    let schema = crate::postgres::schema("shared_state", &[]);
    let a = fixture(events(0, 1000), EVENTS);
    let b = Project::new();
    for f in ["osiris_connections.yaml", "p.yaml"] {
        b.write(f, &a.project.read(f));
    }
    let settings = format!(
        "state:\n  backend: postgres\n  dsn: \"postgresql://postgres@127.0.0.1:5432/test\"\n  schema: {schema}\n"
    );
    for p in [&a.project, &b] {
        p.write("osiris.yaml", &settings);
    }
    let run_b = |extra: &[&str]| {
        let mut args = vec!["run", "p.yaml", "--json"];
        args.extend_from_slice(extra);
        b.osiris_env(&args, &[("PH_KEY", KEY)])
    };
    // Four runs, alternating machines: each reads exactly what is new.
    let first = a.run(&[]);
    first.expect_code(0);
    assert_eq!(uuids(&first), ids_in_order(events(0, 1000)));
    let mut added = 1000;
    for (n, machine) in [(300, 'b'), (200, 'a'), (100, 'b')] {
        a.add("events", events(added, n));
        let r = if machine == 'a' { a.run(&[]) } else { run_b(&[]) };
        r.expect_code(0);
        assert_eq!(uuids(&r), ids_in_order(events(added, n)), "run on {machine}");
        added += n;
    }
    assert!(!b.exists(".osiris/state/ph/events.json"), "machine b keeps no state file");
    let version: i64 =
        crate::postgres::texts(&format!("SELECT version::text FROM {schema}.state WHERE pipeline = 'ph'"))[0]
            .parse()
            .unwrap();
    assert_eq!(version, 4);

    // A slow run on a holds the lock: b does not start and names the holder.
    a.add("events", events(added, 5000));
    *a.hog.delay.lock().unwrap() = Duration::from_millis(300);
    let slow = crate::util::KillOnDrop(a.spawn_quiet());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !a.project.exists(".osiris/state/ph/events.resume/cursor.json") {
        assert!(std::time::Instant::now() < deadline, "the slow run never spooled a page");
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = run_b(&[]);
    refused.expect_code(1);
    let error = &refused.json()["error"];
    assert_eq!(error["kind"], "state", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("PostgreSQL state backend") && message.contains(&format!("pid {}", slow.0.id())),
        "{message}"
    );
    // Killed while holding it: the server releases the lock with the connection.
    drop(slow);
    *a.hog.delay.lock().unwrap() = Duration::ZERO;
    let after_kill = run_b(&[]);
    after_kill.expect_code(0);
    assert_eq!(uuids(&after_kill), ids_in_order(events(added, 5000)));
    added += 5000;
    // a's spool is from before b's success: it is discarded, not resumed into duplicates.
    a.add("events", events(added, 10));
    let last = a.run(&[]);
    last.expect_code(0);
    assert_eq!(uuids(&last), ids_in_order(events(added, 10)));
    let warnings = last.json()["warnings"].to_string();
    assert!(warnings.contains("discarded the resume spool"), "{warnings}");
}

#[test]
fn a_second_run_finds_the_state_locked_and_does_not_start() {
    use std::os::fd::AsRawFd;
    let f = fixture(events(0, 30), EVENTS);
    let dir = f.project.path(".osiris/state/ph");
    std::fs::create_dir_all(&dir).unwrap();
    let held = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock")).unwrap();
    std::fs::write(dir.join(".lock"), "pid 1 run other").unwrap();
    // SAFETY: flock on a descriptor this test owns; released when `held` is dropped.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let r = f.run(&[]);
    r.expect_code(1);
    let error = &r.json()["error"];
    assert_eq!(error["kind"], "state", "{error}");
    assert!(error["message"].as_str().unwrap().contains("pid 1 run other"), "{error}");
    assert_eq!(f.hog.requests.load(Ordering::SeqCst), 0, "nothing was requested");
    drop(held);
    f.run(&[]).expect_code(0);
}
