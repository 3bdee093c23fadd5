//! `osiris run --remote CMD` against real workers: `osiris worker` started by the host as a local
//! process, and one behind a real OpenSSH server on a loopback port. Parity (same files, step
//! rows and events as a local run), faults (killed, silent, garbage, another protocol version,
//! Ctrl-C) and secrets (in no file, argv or environment of the worker).

use crate::mysql::{account, database};
use crate::util::{assert_in_no_file, events, files_under, Project, Run};
use mysql::prelude::Queryable;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_osiris");

/// The command that starts a worker keeping its sessions under the project's `worker-sessions/`
/// (a path unique to the test, by which its process is found in /proc).
pub fn worker_command(p: &Project) -> String {
    format!("{BIN} worker --sessions-dir {}", p.path("worker-sessions").display())
}

/// `osiris run FILE --json --remote <worker>` plus `extra`, with `env`.
pub fn run_remote(p: &Project, file: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let command = worker_command(p);
    let mut args = vec!["run", file, "--json", "--remote", command.as_str()];
    args.extend_from_slice(extra);
    p.osiris_env(&args, env)
}

/// What a local and a remote run must agree on per step.
pub fn step_shapes(run: &Value) -> Vec<Value> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| json!([s["id"], s["component"], s["status"], s["rows"], s["relation"]]))
        .collect()
}

/// An event without what differs between two runs of the same pipeline: its name, step and the
/// names of its fields.
fn event_shape(e: &Value) -> String {
    let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    format!("{} {} {keys:?}", e["event"].as_str().unwrap(), e["step_id"].as_str().unwrap_or("-"))
}

/// The event shapes of a run, in order.
pub fn event_shapes(run: &Value) -> Vec<String> {
    events(Path::new(run["run_dir"].as_str().unwrap())).iter().map(event_shape).collect()
}

/// The same, sorted: for pipelines whose independent branches may interleave differently.
fn sorted_event_shapes(run: &Value) -> Vec<String> {
    let mut shapes = event_shapes(run);
    shapes.sort();
    shapes
}

/// Every process whose command line contains `needle`: (pid, argv joined by spaces).
fn processes_with(needle: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let argv = String::from_utf8_lossy(&raw).replace('\0', " ");
        if argv.contains(needle) && pid != std::process::id() {
            out.push((pid, argv));
        }
    }
    out
}

/// The pid of the `osiris worker` of project `p` (not the `sh -c` around it).
fn worker_pid(p: &Project) -> u32 {
    let marker = p.path("worker-sessions").display().to_string();
    let started = Instant::now();
    loop {
        let found: Vec<u32> = processes_with(&marker)
            .into_iter()
            .filter(|(_, argv)| argv.starts_with(&format!("{BIN} worker ")))
            .map(|(pid, _)| pid)
            .collect();
        if let Some(pid) = found.first() {
            return *pid;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no worker process for {marker}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Start `osiris run p.yaml --json --remote <worker> EXTRA` and return once the local mirror
/// shows step `step` started.
fn start_remote_until(p: &Project, extra: &[&str], env: &[(&str, &str)], step: &str) -> std::process::Child {
    let mut args: Vec<String> =
        vec!["run".into(), "p.yaml".into(), "--json".into(), "--remote".into(), worker_command(p)];
    args.extend(extra.iter().map(|s| s.to_string()));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::util::start_osiris_until(p, &arg_refs, env, step)
}

#[test]
fn the_example_pipeline_gives_the_same_files_steps_and_events_on_a_worker() {
    let local = crate::operating::example_project();
    let remote = crate::operating::example_project();
    let a = local.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    let r = run_remote(&remote, "orders_report.yaml", &["--fetch", "data"], &[]);
    let b = r.expect_code(0).json();
    for f in ["output/revenue_by_country.csv", "output/top_customers.csv"] {
        assert_eq!(local.read(f), remote.read(f), "{f}");
    }
    assert_eq!(step_shapes(&a), step_shapes(&b));
    assert_eq!(sorted_event_shapes(&a), sorted_event_shapes(&b));
    assert_eq!(a["total_rows"], b["total_rows"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b), "run --json prints the same object");

    // The mirror is a run directory like a local one: under the host's run id, in the index.
    let run_dir = PathBuf::from(b["run_dir"].as_str().unwrap());
    assert!(run_dir.starts_with(remote.path(".osiris/runs")));
    let run_id = b["run_id"].as_str().unwrap();
    assert!(events(&run_dir).iter().all(|e| e["run_id"] == run_id));
    let status: Value = serde_json::from_str(&std::fs::read_to_string(run_dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["status"], "success");
    assert_eq!(status["remote"]["osiris"], env!("CARGO_PKG_VERSION"));
    assert!(status["remote"]["pid"].as_u64().is_some());
    assert!(remote.read(".osiris/index/runs.jsonl").contains(run_id));
    let shown = remote.osiris(&["logs", "show", "--session", run_id, "--json"]);
    shown.expect_code(0);
    // --fetch data brought the exchange file; the worker's session directory is gone.
    let conn = crate::util::exchange_db(&b);
    let enriched: i64 = conn.query_row("SELECT count(*) FROM enriched", [], |r| r.get(0)).unwrap();
    let local_conn = crate::util::exchange_db(&a);
    assert_eq!(enriched, local_conn.query_row("SELECT count(*) FROM enriched", [], |r| r.get::<_, i64>(0)).unwrap());
    assert_eq!(files_under(&remote.path("worker-sessions")), Vec::<PathBuf>::new());
}

/// A sample `orders` table in MariaDB and a pipeline MariaDB → DuckDB → PostgreSQL whose target
/// table is a param.
fn mariadb_to_postgres(db: &str, pg_schema: &str) -> Project {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    src:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n      user: root\n      password: \"\"\n      default: true\n  supabase:\n    dst:\n      pg_dsn: \"postgresql://postgres@127.0.0.1:5432/test\"\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: m2p\nparams:\n  table: t\nsteps:\n  - id: extract-orders\n    component: mysql.extractor\n    mode: read\n    config: {{table: orders}}\n  - id: totals\n    component: duckdb.processor\n    mode: transform\n    needs: [extract-orders]\n    config:\n      query: \"SELECT id, customer, amount, amount * 2 AS doubled, created FROM \\\"extract-orders\\\" WHERE amount > 1\"\n  - id: load\n    component: supabase.writer\n    mode: write\n    needs: [totals]\n    config: {{table: \"{pg_schema}.${{params.table}}\", write_mode: replace, create_if_missing: true}}\n"),
    );
    p
}

fn orders_db(name: &str) -> String {
    database(
        name,
        &[
            "CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), amount DECIMAL(10,2), created DATETIME(3))",
            "INSERT INTO orders SELECT seq, CONCAT('c-', seq % 17, ' ü'), seq / 7, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_5000",
        ],
    )
}

fn pg_rows(table: &str) -> Vec<String> {
    crate::postgres::texts(&format!("SELECT CAST(t.* AS text) FROM {table} t ORDER BY id"))
}

#[test]
fn mariadb_to_duckdb_to_postgres_writes_the_same_rows_with_the_same_events_on_a_worker() {
    let db = orders_db("remote_parity");
    let schema = crate::postgres::schema("remote_parity", &[]);
    let p = mariadb_to_postgres(&db, &schema);
    let a = p.osiris(&["run", "p.yaml", "--json", "--param", "table=local_t"]).expect_code(0).json();
    let b = run_remote(&p, "p.yaml", &["--param", "table=remote_t"], &[]).expect_code(0).json();
    let local_rows = pg_rows(&format!("{schema}.local_t"));
    assert_eq!(local_rows.len(), 4993);
    assert_eq!(local_rows, pg_rows(&format!("{schema}.remote_t")));
    assert_eq!(step_shapes(&a), step_shapes(&b));
    assert_eq!(event_shapes(&a), event_shapes(&b));
}

/// sshd on a free loopback port, with a host key and a client key made for the test; stopped
/// when dropped.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sshd {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, comment) in [("host_key", "host"), ("client_key", "client")] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(d.join(name))
                .status()
                .expect("ssh-keygen (scripts/test-tools.sh installs OpenSSH)");
            assert!(ok.success());
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\nPidFile {pid}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nPermitUserEnvironment no\nAcceptEnv none\nSubsystem sftp internal-sftp\n",
            host = d.join("host_key").display(),
            keys = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/sshd (scripts/test-tools.sh installs openssh-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "sshd never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, key: d.join("client_key"), _dir: dir }
    }

    /// `ssh … 127.0.0.1 REMOTE_COMMAND` as a --remote command.
    fn command(&self, remote_command: &str) -> String {
        format!(
            "ssh -p {} -i {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR 127.0.0.1 {remote_command}",
            self.port,
            self.key.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_mariadb_pipeline_runs_on_a_worker_behind_a_real_sshd() {
    let db = orders_db("remote_ssh");
    let schema = crate::postgres::schema("remote_ssh", &[]);
    let p = mariadb_to_postgres(&db, &schema);
    let sshd = Sshd::start();
    let worker = format!(
        "{BIN} worker --project {} --sessions-dir {}",
        p.dir.path().display(),
        p.path("ssh-sessions").display()
    );
    let command = sshd.command(&worker);
    let b =
        p.osiris(&["run", "p.yaml", "--json", "--param", "table=over_ssh", "--remote", &command]).expect_code(0).json();
    let a = p.osiris(&["run", "p.yaml", "--json", "--param", "table=here"]).expect_code(0).json();
    assert_eq!(pg_rows(&format!("{schema}.over_ssh")), pg_rows(&format!("{schema}.here")));
    assert_eq!(step_shapes(&a), step_shapes(&b));
    assert_eq!(event_shapes(&a), event_shapes(&b));
}

#[test]
fn a_worker_killed_mid_step_fails_the_run_naming_the_step_and_writes_nothing() {
    let p = Project::new();
    p.write("p.yaml", crate::util::ENDLESS);
    // `spin` is a view its writer evaluates: the endless query runs in step `write`.
    let child = start_remote_until(&p, &[], &[], "write");
    let pid = worker_pid(&p);
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["kind"], "worker");
    assert_eq!(v["error"]["step"], "write");
    assert!(v["error"]["message"].as_str().unwrap().contains("ended the connection"), "{v}");
    assert_eq!(v["steps"][1]["status"], "failed");
    assert!(!p.exists("out.csv"));
    let run_dir = Path::new(v["run_dir"].as_str().unwrap());
    let names: Vec<String> = events(run_dir).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.last().map(String::as_str), Some("run_end"), "{names:?}");
    assert!(names.contains(&"run_error".to_string()));
}

#[test]
fn a_silent_worker_is_taken_for_hung_after_the_timeout() {
    let p = Project::new();
    p.write("p.yaml", &crate::util::copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    p.write("in.csv", "a\n1\n");
    let r = p.osiris(&["run", "p.yaml", "--json", "--remote", "sleep 120", "--remote-timeout", "2"]);
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "worker");
    assert!(v["error"]["message"].as_str().unwrap().contains("sent nothing for 2 s"), "{v}");
    assert!(!p.exists("out.csv"));
}

#[test]
fn a_garbage_line_is_a_protocol_error_quoting_the_line_and_the_workers_stderr() {
    let p = Project::new();
    p.write("p.yaml", &crate::util::copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    p.write("in.csv", "a\n1\n");
    let fake = "echo 'worker: cannot find libfoo' >&2; echo 'Welcome to box-7!'; sleep 60";
    let r = p.osiris(&["run", "p.yaml", "--json", "--remote", fake]);
    r.expect_code(1);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("not protocol") && message.contains("Welcome to box-7!"), "{message}");
    assert!(message.contains("cannot find libfoo"), "the stderr tail: {message}");
}

/// `osiris worker` with its stdio piped to the test, sessions under the project.
fn spawn_worker(p: &Project) -> std::process::Child {
    Command::new(BIN)
        .args(["worker", "--sessions-dir"])
        .arg(p.path("sessions"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_worker_of_another_protocol_version_is_refused_at_hello_on_both_sides() {
    // The host, facing a worker that answers with protocol 2.
    let p = Project::new();
    p.write("p.yaml", &crate::util::copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    p.write("in.csv", "a\n1\n");
    let fake = r#"read line; echo '{"status":"hello","protocol":2,"osiris":"9.0.0","pid":1}'; sleep 60"#;
    let r = p.osiris(&["run", "p.yaml", "--json", "--remote", fake]);
    r.expect_code(1);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("speaks protocol 2 (osiris 9.0.0)"), "{message}");
    // The worker, greeted by a host that speaks protocol 2.
    let mut worker = spawn_worker(&p);
    use std::io::Write;
    writeln!(worker.stdin.as_mut().unwrap(), r#"{{"cmd":"hello","protocol":2,"osiris":"9.0.0"}}"#).unwrap();
    let out = worker.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let reply: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(reply["status"], "error");
    assert_eq!(reply["error"]["code"], "protocol_mismatch");
}

#[test]
fn the_worker_answers_ping_and_refuses_what_is_not_a_command() {
    let p = Project::new();
    let mut worker = spawn_worker(&p);
    use std::io::Write;
    let stdin = worker.stdin.as_mut().unwrap();
    writeln!(stdin, r#"{{"cmd":"hello","protocol":1,"osiris":"test"}}"#).unwrap();
    writeln!(stdin, r#"{{"cmd":"ping","data":{{"n":7}}}}"#).unwrap();
    writeln!(stdin, "rm -rf /").unwrap();
    writeln!(stdin, r#"{{"cmd":"run"}}"#).unwrap();
    writeln!(stdin, r#"{{"cmd":"artifact","path":"../../etc/passwd"}}"#).unwrap();
    writeln!(stdin, r#"{{"cmd":"cleanup"}}"#).unwrap();
    let out = worker.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let replies: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["type"] != "heartbeat")
        .collect();
    let statuses: Vec<&str> = replies.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["hello", "pong", "error", "error", "error", "cleaned"], "{replies:?}");
    assert_eq!(replies[1]["echo"]["n"], 7);
    assert_eq!(replies[2]["error"]["code"], "protocol_error");
    assert_eq!(replies[3]["error"]["code"], "not_prepared");
    assert_eq!(replies[4]["error"]["code"], "not_prepared");
}

#[test]
fn ctrl_c_on_the_host_cancels_the_remote_run_and_its_writer_rolls_back() {
    let db = database("remote_cancel", &["CREATE TABLE target (s INT)", "INSERT INTO target VALUES (1), (2), (3)"]);
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    local:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n      user: root\n      password: \"\"\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: cancel\nsteps:\n  - id: extract-rows\n    component: mysql.extractor\n    mode: read\n    config: {query: \"SELECT 7 AS s UNION ALL SELECT SLEEP(3601)\"}\n  - id: load\n    component: mysql.writer\n    mode: write\n    needs: [extract-rows]\n    config: {table: target, mode: replace}\n",
    );
    let child = start_remote_until(&p, &[], &[], "extract-rows");
    std::thread::sleep(Duration::from_millis(500));
    let out = crate::util::interrupt(child);
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "cancelled");
    let status: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(v["run_dir"].as_str().unwrap()).join("status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(status["status"], "cancelled");
    let mut c = crate::mysql::admin_in(&db);
    let rows: Vec<i64> = c.query("SELECT s FROM target ORDER BY s").unwrap();
    assert_eq!(rows, [1, 2, 3], "the replace rolled back");
    let still: u64 = c
        .query_first("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%SLEEP(3601)%' AND command <> 'Sleep' AND id <> CONNECTION_ID()")
        .unwrap()
        .unwrap();
    assert_eq!(still, 0, "the server no longer runs the query");
}

#[test]
fn a_sentinel_secret_is_in_no_file_argv_or_environment_of_the_worker() {
    const SENTINEL: &str = "Sentinel-Pw-93e1c7";
    account("osiris_it_remote", &format!("IDENTIFIED BY '{SENTINEL}'"), &["GRANT ALL ON *.* TO {user}"]);
    let db = database("remote_secret", &[]);
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    local:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n      user: osiris_it_remote\n      password: \"${{REMOTE_PW}}\"\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: secret\nsteps:\n  - id: extract-rows\n    component: mysql.extractor\n    mode: read\n    config: {query: \"SELECT SLEEP(2) AS s, CURRENT_USER() AS who\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract-rows]\n    config: {path: out.csv}\n",
    );
    let env = [("REMOTE_PW", SENTINEL)];
    let child = start_remote_until(&p, &[], &env, "extract-rows");
    let pid = worker_pid(&p);
    // The worker and the shell around it (the host and `timeout` hold the secret legitimately).
    let remote_side = processes_with(&p.path("worker-sessions").display().to_string())
        .into_iter()
        .filter(|(_, argv)| !argv.contains(" run p.yaml "))
        .map(|(pid, _)| pid);
    let mut checked = 0;
    for pid in remote_side.chain([pid]) {
        for f in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{f}")) {
                assert!(!String::from_utf8_lossy(&bytes).contains(SENTINEL), "the secret is in /proc/{pid}/{f}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "the worker's argv and environment were read");
    assert_in_no_file(&p.path("worker-sessions"), SENTINEL);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(p.read("out.csv").contains("osiris_it_remote@"), "the worker logged in with the secret");
    assert_in_no_file(p.dir.path(), SENTINEL);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(SENTINEL));
}
