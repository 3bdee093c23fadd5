//! Test harness: a temporary project directory and a runner for the built binary that shows
//! the directory, stdout and stderr when an assertion fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary project.
pub struct Project {
    pub dir: tempfile::TempDir,
}

/// Result of one `osiris` invocation.
#[derive(Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} in {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.dir.display(),
            self.stdout,
            self.stderr
        )
    }
}

impl Run {
    /// Assert the exit code, showing everything when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "{self:?}");
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

impl Project {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file (parents created).
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Run `osiris ARGS` in the project directory with a clean OSIRIS_* environment.
    pub fn osiris(&self, args: &[&str]) -> Run {
        self.osiris_env(args, &[])
    }

    pub fn osiris_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        // Under coreutils' timeout, so a run that hangs fails its test (exit 124) instead of
        // stalling the suite.
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=10", "300", env!("CARGO_BIN_EXE_osiris")]).args(args).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("OSIRIS_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run osiris");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: self.dir.path().to_path_buf(),
        }
    }

    /// The one run directory under .osiris/runs.
    pub fn only_run_dir(&self) -> PathBuf {
        let runs: Vec<PathBuf> =
            std::fs::read_dir(self.path(".osiris/runs")).expect("runs dir").map(|e| e.unwrap().path()).collect();
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs.into_iter().next().unwrap()
    }

    /// Write `pipeline` as p.yaml, run it, expect success and return the file at `output`.
    pub fn run_ok(&self, pipeline: &str, output: &str) -> String {
        self.write("p.yaml", pipeline);
        self.osiris(&["run", "p.yaml", "--quiet"]).expect_code(0);
        self.read(output)
    }
}

/// The exchange database of a run, from its `run --json` output.
pub fn exchange_db(run_json: &serde_json::Value) -> duckdb::Connection {
    let dir = Path::new(run_json["run_dir"].as_str().expect("run_dir in run --json"));
    duckdb::Connection::open(dir.join("pipeline_data.duckdb")).expect("the run's pipeline_data.duckdb")
}

/// The events of the run in `run_dir`, in order (`events.jsonl`, one JSON object per line).
pub fn events(run_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir.join("events.jsonl")).expect("events.jsonl in the run dir");
    text.lines().map(|l| serde_json::from_str(l).expect("an event is one JSON object")).collect()
}

/// What `step_start` of `step` says it streams to (null when it does not stream).
pub fn streams_to(run_dir: &Path, step: &str) -> serde_json::Value {
    let events = events(run_dir);
    let start = events.iter().find(|e| e["event"] == "step_start" && e["step_id"] == step).expect("step_start");
    start["streams_to"].clone()
}

/// Assert that `secret` occurs in no file under `dir`.
pub fn assert_in_no_file(dir: &Path, secret: &str) {
    for f in files_under(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "`{secret}` found in {}", f.display());
    }
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A pipeline: extract `input` (CSV extractor config as YAML flow map) → write `output`.
pub fn copy_pipeline(extract_config: &str, writer_config: &str) -> String {
    format!(
        "oml_version: \"0.1.0\"\nname: copy\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {extract_config}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract]\n    config: {writer_config}\n"
    )
}

/// A pipeline whose writer evaluates an endless query (for cancellation and timeouts).
pub const ENDLESS: &str = "oml_version: \"0.1.0\"\nname: forever\nsteps:\n  - id: spin\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: SELECT sum(i % 7) AS s FROM range(1000000000000) t(i)\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: out.csv}\n";

/// Start `osiris run p.yaml --json` on [`ENDLESS`] in `p` and return once its writer is
/// evaluating the endless query.
pub fn start_endless_run(p: &Project) -> std::process::Child {
    p.write("p.yaml", ENDLESS);
    start_run_until(p, &[], "write")
}

/// Start `osiris run p.yaml --json` in `p` (with `env`) and return once step `step` has started.
/// The run is under coreutils' timeout (which passes Ctrl-C on), so one that never ends fails.
pub fn start_run_until(p: &Project, env: &[(&str, &str)], step: &str) -> std::process::Child {
    start_osiris_until(p, &["run", "p.yaml", "--json"], env, step)
}

/// Start `osiris ARGS` in `p` (with `env`) and return once a run directory's events show step
/// `step` started.
pub fn start_osiris_until(p: &Project, args: &[&str], env: &[(&str, &str)], step: &str) -> std::process::Child {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=10", "300", env!("CARGO_BIN_EXE_osiris")])
        .args(args)
        .current_dir(p.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("run osiris");
    let started = std::time::Instant::now();
    let needle = format!("\"step_id\":\"{step}\"");
    while !std::fs::read_dir(p.path(".osiris/runs"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|d| std::fs::read_to_string(d.path().join("events.jsonl")).is_ok_and(|t| t.contains(&needle)))
    {
        assert!(started.elapsed().as_secs() < 60, "the run never reached step {step}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

/// Ctrl-C (SIGINT) a run started by [`start_endless_run`] and wait for it to end.
pub fn interrupt(child: std::process::Child) -> std::process::Output {
    std::thread::sleep(std::time::Duration::from_millis(200));
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    child.wait_with_output().expect("the run ends")
}

/// A child process ended when the guard is dropped, also when the test panics first (a server
/// left running would hold the harness's output pipe open).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
