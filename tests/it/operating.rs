//! The operating side: the run index, `logs list/show/last/bundle/gc`, AIOP packages and the
//! HTML report's files (the browser test is in `report_browser.rs`).

use crate::util::{files_under, Project, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A project holding the bundled example pipeline and its data.
pub fn example_project() -> Project {
    let p = Project::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for f in ["orders_report.yaml", "osiris.yaml", "data/orders.csv", "data/cities.csv"] {
        p.write(f, &std::fs::read_to_string(examples.join(f)).unwrap());
    }
    p
}

/// A pipeline whose SQL step fails.
pub const FAILING: &str = "oml_version: \"0.1.0\"\nname: fails\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: broken-sql\n    component: duckdb.processor\n    mode: transform\n    needs: [extract]\n    config: {query: \"SELECT no_such_column FROM extract\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [broken-sql]\n    config: {path: out.csv}\n";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary_of(run: &Value) -> Value {
    read_json(&PathBuf::from(run["aiop_dir"].as_str().expect("run --json names the AIOP dir")).join("summary.json"))
}

/// `summary.json` against the schema shipped in `schemas/`.
pub fn assert_valid_aiop(summary: &Value) {
    let schema: Value = serde_json::from_str(osiris::report::aiop::SUMMARY_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the shipped schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(summary).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "summary.json does not follow the schema: {errors:#?}");
}

#[test]
fn every_run_is_indexed_with_the_originals_fields_and_events() {
    let p = example_project();
    let ok = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", FAILING);
    let failed = p.osiris(&["run", "fails.yaml", "--json"]).expect_code(1).json();
    let index = jsonl(&p.path(".osiris/index/runs.jsonl"));
    assert_eq!(index.len(), 2, "failed runs are indexed too");
    for (record, run) in index.iter().zip([&ok, &failed]) {
        for field in [
            "run_id",
            "pipeline_slug",
            "profile",
            "manifest_hash",
            "manifest_short",
            "run_ts",
            "status",
            "duration_ms",
            "run_logs_path",
            "aiop_path",
            "build_manifest_path",
        ] {
            assert!(record.get(field).is_some(), "index record lacks `{field}`: {record}");
        }
        assert_eq!(record["run_id"], run["run_id"]);
        assert_eq!(record["status"], run["status"]);
        assert_eq!(record["manifest_short"].as_str().unwrap(), &record["manifest_hash"].as_str().unwrap()[..7]);
        assert!(Path::new(record["aiop_path"].as_str().unwrap()).is_file(), "{record}");
    }
    assert_eq!(index[0]["pipeline_slug"], "orders-report");
    assert_eq!(jsonl(&p.path(".osiris/index/by_pipeline/fails.jsonl")).len(), 1);

    // The original's event names beside ours.
    let events = crate::util::events(Path::new(failed["run_dir"].as_str().unwrap()));
    let named = |n: &str| events.iter().filter(|e| e["event"] == n).cloned().collect::<Vec<_>>();
    assert_eq!(named("step_error")[0]["step_id"], "broken-sql");
    assert_eq!(named("run_error")[0]["step_id"], "broken-sql");
    let ok_events = crate::util::events(Path::new(ok["run_dir"].as_str().unwrap()));
    let cleanup = ok_events.iter().find(|e| e["event"] == "cleanup_complete").expect("cleanup_complete");
    assert_eq!(cleanup["total_rows"], ok["total_rows"]);
}

#[test]
fn aiop_of_a_success_a_failure_and_a_delta_follows_the_schema() {
    let p = example_project();
    let first = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    let summary = summary_of(&first);
    assert_valid_aiop(&summary);
    let writers: u64 = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"].as_str().unwrap().starts_with("write-"))
        .map(|s| s["rows"].as_u64().unwrap())
        .sum();
    assert!(writers > 0);
    assert_eq!(first["total_rows"], writers, "total_rows counts what the writers delivered");
    assert_eq!(summary["run"]["total_rows"], first["total_rows"]);
    assert_eq!(summary["evidence"]["metrics"]["rows_source"], "writers");
    assert_eq!(summary["metadata"]["delta"]["first_run"], true);
    assert_eq!(summary["metadata"]["truncated"], false);
    assert_eq!(summary["semantic"]["dag"]["nodes"].as_array().unwrap().len(), 7);
    let aiop_dir = PathBuf::from(first["aiop_dir"].as_str().unwrap());
    assert!(aiop_dir.join("run-card.md").is_file() && aiop_dir.join("annex/timeline.ndjson").is_file());
    let hash = summary["pipeline"]["manifest_hash"].as_str().unwrap();
    assert!(
        aiop_dir.ends_with(format!("orders-report/{}-{hash}/{}", &hash[..7], first["run_id"].as_str().unwrap())),
        "{}",
        aiop_dir.display()
    );

    let second = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    let delta = &summary_of(&second)["metadata"]["delta"];
    assert_eq!(delta["first_run"], false);
    assert_eq!(delta["previous_run_id"], first["run_id"]);
    assert_eq!(delta["total_rows"]["previous"], first["total_rows"]);

    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", FAILING);
    let failed = p.osiris(&["run", "fails.yaml", "--json"]).expect_code(1).json();
    let summary = summary_of(&failed);
    assert_valid_aiop(&summary);
    assert_eq!(summary["run"]["status"], "failed");
    assert_eq!(summary["evidence"]["errors"][0]["step_id"], "broken-sql");
    assert!(summary["narrative"]["summary"].as_str().unwrap().contains("broken-sql"));
    assert!(!summary["narrative"]["evidence_refs"].as_array().unwrap().is_empty());
}

#[test]
fn aiop_is_truncated_to_max_core_bytes_and_can_be_turned_off() {
    let p = example_project();
    let run = p
        .osiris_env(
            &["run", "orders_report.yaml", "--json"],
            &[("OSIRIS_AIOP_MAX_CORE_BYTES", "6000"), ("OSIRIS_AIOP_TIMELINE_DENSITY", "high")],
        )
        .expect_code(0)
        .json();
    let path = PathBuf::from(run["aiop_dir"].as_str().unwrap()).join("summary.json");
    let summary = read_json(&path);
    assert_valid_aiop(&summary);
    assert_eq!(summary["metadata"]["truncated"], true);
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert!(bytes <= 6000, "summary.json is {bytes} bytes");
    assert_eq!(summary["metadata"]["size_bytes"], bytes);

    let off = p.osiris_env(&["run", "orders_report.yaml", "--json"], &[("OSIRIS_AIOP_ENABLED", "false")]);
    assert!(off.expect_code(0).json().get("aiop_dir").is_none());
    let bad = p.osiris_env(&["run", "orders_report.yaml"], &[("OSIRIS_AIOP_TIMELINE_DENSITY", "extreme")]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("timeline_density"), "{bad:?}");
}

#[test]
fn aiop_of_a_cancelled_run_follows_the_schema() {
    let p = Project::new();
    let child = crate::util::start_endless_run(&p);
    // A running run is listed as running.
    let listed = p.osiris(&["logs", "list", "--status", "running", "--json"]).expect_code(0).json();
    assert_eq!(listed["total_sessions"], 1, "{listed}");
    let out = crate::util::interrupt(child);
    assert_eq!(out.status.code(), Some(130));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = summary_of(&run);
    assert_valid_aiop(&summary);
    assert_eq!(summary["run"]["status"], "cancelled");
}

fn run_ids(r: &Run) -> Vec<String> {
    r.json()["sessions"].as_array().unwrap().iter().map(|s| s["session_id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn logs_list_filters_and_show_finds_runs_by_prefix_and_last() {
    let p = example_project();
    let ok = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", FAILING);
    let failed = p.osiris(&["run", "fails.yaml", "--json"]).expect_code(1).json();
    let (ok_id, failed_id) = (ok["run_id"].as_str().unwrap(), failed["run_id"].as_str().unwrap());

    let all = p.osiris(&["logs", "list", "--json"]).expect_code(0).clone();
    assert_eq!(run_ids(&all), vec![failed_id, ok_id], "newest first");
    assert_eq!(all.json()["total_sessions"], 2);
    let only_failed = p.osiris(&["logs", "list", "--status", "failed", "--json"]).expect_code(0).clone();
    assert_eq!(run_ids(&only_failed), vec![failed_id]);
    let by_pipeline = p.osiris(&["logs", "list", "--pipeline", "orders-report", "--json"]).expect_code(0).clone();
    assert_eq!(run_ids(&by_pipeline), vec![ok_id]);
    let none = p.osiris(&["logs", "list", "--since", "2999-01-01T00:00:00Z", "--json"]).expect_code(0).clone();
    assert!(run_ids(&none).is_empty());
    assert_eq!(run_ids(&p.osiris(&["logs", "list", "--limit", "1", "--json"]).expect_code(0).clone()), vec![failed_id]);

    let last = p.osiris(&["logs", "last", "--json"]).expect_code(0).json();
    assert_eq!(last["run_id"], failed_id);
    let broken = last["steps"].as_array().unwrap().iter().find(|s| s["id"] == "broken-sql").unwrap();
    assert_eq!(broken["status"], "failed");
    assert!(broken["error"].as_str().unwrap().contains("no_such_column"));

    let shown = p.osiris(&["logs", "show", &ok_id[..20], "--json"]).expect_code(0).json();
    assert_eq!(shown["run_id"], ok_id);
    assert_eq!(shown["total_rows"], ok["total_rows"]);
    let text = p.osiris(&["logs", "show", "--session", ok_id]).expect_code(0).stdout.clone();
    assert!(text.contains("enriched") && text.contains("view") && text.ends_with('\n'), "{text}");
    let events = p.osiris(&["logs", "show", ok_id, "--events", "--tail", "2"]).expect_code(0).stdout.clone();
    assert_eq!(events.lines().count(), 2);
    assert!(events.lines().last().unwrap().contains("run_end"));
    let missing = p.osiris(&["logs", "show", "19990101T000000Z-000000"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("no run"), "{missing:?}");
}

#[test]
fn bundle_is_a_zip_that_python_reads_and_gc_respects_size() {
    let p = example_project();
    let run = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    let id = run["run_id"].as_str().unwrap();
    p.osiris(&["logs", "bundle", id, "-o", "run.zip"]).expect_code(0);
    p.osiris(&["logs", "bundle", "last", "-o", "data.zip", "--with-data"]).expect_code(0);
    // A reader that is not ours checks the archive, its CRCs and what it holds.
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nfor path in sys.argv[1:]:\n    z = zipfile.ZipFile(path)\n    assert z.testzip() is None, path\n    print(path, ' '.join(sorted(z.namelist())))",
            "run.zip",
            "data.zip",
        ])
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{listing}{}", String::from_utf8_lossy(&check.stderr));
    let (plain, with_data) = listing.split_once('\n').unwrap();
    assert!(plain.contains(&format!("{id}/status.json")) && plain.contains(&format!("{id}/events.jsonl")), "{plain}");
    assert!(!plain.contains("pipeline_data.duckdb"), "{plain}");
    assert!(with_data.contains("pipeline_data.duckdb"), "{with_data}");

    let runs_before = files_under(&p.path(".osiris/runs")).len();
    p.osiris(&["run", "orders_report.yaml", "--quiet"]).expect_code(0);
    let gc = p.osiris(&["logs", "gc", "--max-gb", "0", "--dry-run", "--json"]).expect_code(0).json();
    assert_eq!(gc["removed"].as_array().unwrap().len(), 1, "the newest run of the pipeline stays: {gc}");
    assert_eq!(gc["removed"][0]["run_id"], id);
    assert!(files_under(&p.path(".osiris/runs")).len() > runs_before, "a dry run removes nothing");
    p.osiris(&["logs", "gc", "--max-gb", "0"]).expect_code(0);
    assert!(!p.path(".osiris/runs").join(id).exists());
    p.osiris(&["maintenance", "clean", "--dry-run"]).expect_code(0);
}

#[test]
fn logs_html_writes_an_index_and_a_page_per_run_without_external_resources() {
    let p = example_project();
    let ok = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", FAILING);
    let failed = p.osiris(&["run", "fails.yaml", "--json"]).expect_code(1).json();
    let out = p.osiris(&["logs", "html", "--out", "report", "--json"]).expect_code(0).json();
    assert_eq!(out["pages_written"], 2);
    let index = p.read("report/index.html");
    for r in [&ok, &failed] {
        assert!(index.contains(r["run_id"].as_str().unwrap()));
    }
    let page = p.read(&format!("report/{}/index.html", ok["run_id"].as_str().unwrap()));
    for step in ok["steps"].as_array().unwrap() {
        assert!(page.contains(&format!("data-step=\"{}\"", step["id"].as_str().unwrap())), "{}", step["id"]);
    }
    assert!(page.contains("<svg") && page.contains("Content-Security-Policy"));
    assert!(page.contains("Data (first 10 rows per step)"), "previews from the exchange file");
    for html in [&index, &page] {
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external resource");
    }
    // Unchanged runs keep their pages.
    let again = p.osiris(&["logs", "html", "--out", "report", "--json"]).expect_code(0).json();
    assert_eq!((again["pages_written"].as_u64(), again["pages_kept"].as_u64()), (Some(0), Some(2)));
    p.osiris(&["logs", "report", "last", "--out", "one"]).expect_code(0);
    assert!(p.read(&format!("one/{}/index.html", failed["run_id"].as_str().unwrap())).contains("no_such_column"));
}

#[test]
fn osiris_yaml_places_runs_and_packages_and_names_unknown_settings() {
    let p = example_project();
    p.write(
        "osiris.yaml",
        "version: '2.0'\nfilesystem:\n  run_logs_dir: run_logs\n  aiop_dir: packages\naiop:\n  max_core_byte: 10\n  timeline_density: low\n",
    );
    let r = p.osiris(&["run", "orders_report.yaml"]);
    r.expect_code(0);
    assert!(r.stderr.contains("unknown setting `aiop.max_core_byte`"), "{r:?}");
    let run_dir = std::fs::read_dir(p.path("run_logs")).unwrap().next().unwrap().unwrap().path();
    assert!(run_dir.join("status.json").is_file());
    assert!(p.exists("run_logs/../index/runs.jsonl"), "the index lives beside the runs directory");
    let summary = jsonl(&p.path("packages/index/runs.jsonl"));
    let core = read_json(Path::new(summary[0]["core_path"].as_str().unwrap()));
    assert!(core["evidence"]["timeline"].as_array().unwrap().iter().all(|t| t["type"] != "STEP_START"), "density low");
    // The log commands find the runs where osiris.yaml puts them; --follow of a finished run
    // prints its events and returns.
    let listed = p.osiris(&["logs", "list", "--json"]).expect_code(0).json();
    assert_eq!(listed["total_sessions"], 1);
    let follow = p.osiris(&["logs", "show", "last", "--follow"]).expect_code(0).stdout.clone();
    assert!(follow.lines().next().unwrap().contains("run_start") && follow.contains("run_end"), "{follow}");
    let invalid = p.osiris_env(&["run", "orders_report.yaml"], &[("OSIRIS_AIOP_ENABLED", "maybe")]);
    invalid.expect_code(2);
}
