//! Scheduler behaviour: parallel branches and cancellation.

use crate::util::Project;
use serde_json::Value;

fn slow_branch(id: &str) -> String {
    format!(
        "  - id: {id}\n    component: duckdb.processor\n    mode: transform\n    needs: []\n    config:\n      query: SELECT sum(i % 7) AS s FROM range(150000000) t(i)\n  - id: write-{id}\n    component: filesystem.csv_writer\n    mode: write\n    needs: [{id}]\n    config: {{path: {id}.csv}}\n"
    )
}

fn events(run_dir: &str) -> Vec<Value> {
    crate::util::events(std::path::Path::new(run_dir))
}

/// Position of the first event named `name` for `step`.
fn position(events: &[Value], name: &str, step: &str) -> usize {
    events
        .iter()
        .position(|e| e["event"] == name && e["step_id"] == step)
        .unwrap_or_else(|| panic!("no {name} for {step}"))
}

#[test]
fn independent_branches_overlap_and_max_parallel_one_serialises_them() {
    let p = Project::new();
    p.write("p.yaml", &format!("oml_version: \"0.1.0\"\nname: par\nsteps:\n{}{}", slow_branch("a"), slow_branch("b")));
    let parallel = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "2"]);
    parallel.expect_code(0);
    let ev = events(parallel.json()["run_dir"].as_str().unwrap());
    let (a_done, b_done) = (position(&ev, "step_complete", "write-a"), position(&ev, "step_complete", "write-b"));
    let (a_start, b_start) = (position(&ev, "step_start", "write-a"), position(&ev, "step_start", "write-b"));
    assert!(b_start < a_done && a_start < b_done, "branches did not overlap: {ev:#?}");

    let serial = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "1"]);
    serial.expect_code(0);
    let ev = events(serial.json()["run_dir"].as_str().unwrap());
    let starts: Vec<usize> =
        ev.iter().enumerate().filter(|(_, e)| e["event"] == "step_start").map(|(i, _)| i).collect();
    let completes: Vec<usize> =
        ev.iter().enumerate().filter(|(_, e)| e["event"] == "step_complete").map(|(i, _)| i).collect();
    for (s, c) in starts.iter().zip(&completes) {
        assert!(s < c);
    }
    for w in starts.windows(2) {
        assert!(completes.iter().any(|c| w[0] < *c && *c < w[1]), "a step started before the previous finished");
    }
    assert_eq!(p.read("a.csv"), p.read("b.csv"));
}

#[test]
fn ctrl_c_cancels_the_run_and_records_it() {
    let p = Project::new();
    // Interrupted while the writer is evaluating the endless query.
    let out = crate::util::interrupt(crate::util::start_endless_run(&p));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "cancelled");
    let status: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(v["run_dir"].as_str().unwrap()).join("status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(status["status"], "cancelled");
    assert!(!p.exists("out.csv"));
    assert!(p.read(".osiris/index/runs.jsonl").contains("\"cancelled\""));
}

#[test]
fn maintenance_removes_runs_past_retention_but_the_newest_of_each_pipeline() {
    let p = Project::new();
    p.write("osiris.yaml", "version: '2.0'\nfilesystem:\n  retention:\n    run_logs_days: 3\n");
    p.write("in.csv", "id\n1\n2\n");
    p.write("p.yaml", &crate::util::copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    let first = p.osiris(&["run", "p.yaml", "--json"]);
    first.expect_code(0);
    let second = p.osiris(&["run", "p.yaml", "--json"]);
    second.expect_code(0);
    let old_dir = std::path::PathBuf::from(first.json()["run_dir"].as_str().unwrap());
    let new_dir = std::path::PathBuf::from(second.json()["run_dir"].as_str().unwrap());
    // The first run started long ago (osiris.yaml keeps 3 days).
    let status_path = old_dir.join("status.json");
    let mut status: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&status_path).unwrap()).unwrap();
    status["started_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&status_path, status.to_string()).unwrap();

    let dry = p.osiris(&["maintenance", "--dry-run", "--json"]);
    dry.expect_code(0);
    let old_id = first.json()["run_id"].clone();
    assert_eq!(dry.json()["removed"][0]["run_id"], old_id, "{}", dry.stdout);
    assert!(old_dir.exists(), "a dry run removes nothing");

    let done = p.osiris(&["maintenance", "--json"]);
    done.expect_code(0);
    let report = done.json();
    assert_eq!((report["removed"].as_array().unwrap().len(), report["kept"].as_u64()), (1, Some(1)), "{report}");
    assert!(report["bytes_freed"].as_u64().unwrap() > 0);
    assert!(!old_dir.exists() && new_dir.exists());
    let listed = p.osiris(&["logs", "list", "--json"]).json();
    assert_eq!(listed["total_sessions"], 1, "{listed}");
    assert_eq!(listed["sessions"][0]["session_id"], second.json()["run_id"]);
    let index = p.read(".osiris/index/runs.jsonl");
    assert!(!index.contains(old_id.as_str().unwrap()), "the index forgets the removed run: {index}");

    // The newest run of a pipeline stays however old, unless --keep-runs 0.
    let kept = p.osiris(&["maintenance", "--keep-days", "0", "--json"]).json();
    assert_eq!((kept["removed"].as_array().unwrap().len(), kept["kept"].as_u64()), (0, Some(1)));
    let all = p.osiris(&["maintenance", "--keep-days", "0", "--keep-runs", "0", "--json"]).json();
    assert_eq!(all["removed"].as_array().unwrap().len(), 1);
    assert!(!new_dir.exists());

    // Pointed at the wrong directory, it removes nothing that is not a run.
    p.write(".osiris/state/p/cursor.json", "{\"since\": 1}");
    let wrong = p.osiris(&["maintenance", "--runs-dir", ".osiris", "--keep-days", "0", "--keep-runs", "0", "--json"]);
    wrong.expect_code(0);
    assert_eq!(wrong.json()["removed"].as_array().unwrap().len(), 0, "{wrong:?}");
    assert!(p.exists(".osiris/state/p/cursor.json") && p.exists(".osiris/index/runs.jsonl"));

    let bad = p.osiris_env(&["maintenance"], &[("OSIRIS_RETENTION_RUN_LOGS_DAYS", "a week")]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("OSIRIS_RETENTION_RUN_LOGS_DAYS"), "{bad:?}");
}
