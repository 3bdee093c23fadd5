//! mysql.extractor against the real MariaDB on 127.0.0.1:3306 (root, no password). Each test
//! creates and drops its own database.

use crate::util::{assert_in_no_file, exchange_db, Project};
use mysql::prelude::Queryable;

fn admin() -> mysql::Conn {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(3306)
        .user(Some("root"))
        .prefer_socket(false);
    mysql::Conn::new(opts).expect("MariaDB on 127.0.0.1:3306 (scripts/services.sh starts it)")
}

/// An admin connection using database `db`.
pub fn admin_in(db: &str) -> mysql::Conn {
    let mut c = admin();
    c.query_drop(format!("USE `{db}`")).unwrap();
    c
}

/// Serialises changes to MariaDB's accounts: the server re-reads its grant tables on every
/// CREATE/DROP USER, and a login checked at that moment can be refused with another code than
/// the one the account would get on a quiet server.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A login `name` (at `%` and `localhost`) created afresh with `auth` (`IDENTIFIED BY 'pw'`,
/// `IDENTIFIED VIA unix_socket`, …) and then `extra` statements run (`{user}` is replaced by
/// each account), whatever the server held before: safe on a fresh server and on a re-run.
pub fn account(name: &str, auth: &str, extra: &[&str]) {
    let _guard = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut c = admin();
    for host in ["%", "localhost"] {
        let user = format!("'{name}'@'{host}'");
        c.query_drop(format!("CREATE OR REPLACE USER {user} {auth}")).unwrap();
        for e in extra {
            c.query_drop(e.replace("{user}", &user)).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }
}

/// A fresh database named `osiris_it_<name>` with `setup` run inside it.
pub fn database(name: &str, setup: &[&str]) -> String {
    let db = format!("osiris_it_{name}");
    let mut c = admin();
    c.query_drop(format!("DROP DATABASE IF EXISTS `{db}`")).unwrap();
    c.query_drop(format!("CREATE DATABASE `{db}` CHARACTER SET utf8mb4")).unwrap();
    c.query_drop(format!("USE `{db}`")).unwrap();
    c.query_drop("SET SESSION sql_mode = '', time_zone = '+00:00'").unwrap();
    for s in setup {
        c.query_drop(*s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    db
}

fn project(db: &str, password: &str, port: u16, query: &str) -> Project {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    local:\n      host: 127.0.0.1\n      port: {port}\n      database: {db}\n      user: root\n      password: \"{password}\"\n      default: true\n"),
    );
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: my\nsteps:\n  - id: extract-rows\n    component: mysql.extractor\n    mode: read\n    config:\n      query: \"{query}\"\n      batch_size: 100\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config: {{path: out.csv}}\n"),
    );
    p
}

#[test]
fn every_type_arrives_exactly() {
    let db = database(
        "types",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, ti TINYINT(1), tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, i INT, bu BIGINT UNSIGNED, bs BIGINT, \
             d38 DECIMAL(38,10), d65 DECIMAL(65,30), f FLOAT, dbl DOUBLE, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), y YEAR, \
             c CHAR(3), v VARCHAR(50), tx TEXT, e ENUM('a','b'), st SET('a','b','c'), j JSON, bin VARBINARY(4), bl BLOB, bit BIT(10))",
            "INSERT INTO t VALUES (1, 2, 255, -32768, 16777215, -2147483648, 18446744073709551615, -9223372036854775808, \
             1234567890123456789012345678.1234567890, 12345678901234567890123456789012345.123456789012345678901234567890, 1.5, 0.1, \
             '2024-02-29', '2024-01-05 10:00:00.123456', '2038-01-19 03:14:07.999999', '838:59:59', 2024, \
             'abc', 'Zoë 🚀 東京', 'line1\\nline2, \"quoted\"', 'b', 'a,c', '{\"k\": [1, 2]}', X'00FF', X'DEADBEEF', b'1010')",
            "INSERT INTO t (id, ti, dt, dtm, tm) VALUES (2, -1, '0000-00-00', '0000-00-00 00:00:00', '-01:30:00.5')",
            "INSERT INTO t (id) VALUES (3)",
        ],
    );
    let p = project(&db, "", 3306, "SELECT * FROM t ORDER BY id");
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    let expected = "id,ti,tu,si,mi,i,bu,bs,d38,d65,f,dbl,dt,dtm,ts,tm,y,c,v,tx,e,st,j,bin,bl,bit\n\
1,2,255,-32768,16777215,-2147483648,18446744073709551615,-9223372036854775808,1234567890123456789012345678.1234567890,12345678901234567890123456789012345.123456789012345678901234567890,1.5,0.1,2024-02-29,2024-01-05 10:00:00.123456,2038-01-19 03:14:07.999999,838:59:59,2024,abc,Zoë 🚀 東京,\"line1\nline2, \"\"quoted\"\"\",b,\"a,c\",\"{\"\"k\"\": [1, 2]}\",\\x00\\xFF,\\xDE\\xAD\\xBE\\xEF,10\n\
2,-1,,,,,,,,,,,,,,-01:30:00.5,,,,,,,,,,\n\
3,,,,,,,,,,,,,,,,,,,,,,,,,\n";
    assert_eq!(p.read("out.csv"), expected);
}

#[test]
fn types_in_duckdb_are_the_documented_ones() {
    let db = database("duck_types", &["CREATE TABLE t (a TINYINT(1), b BIGINT UNSIGNED, c DECIMAL(12,3), d DATETIME(6), e TIME, f VARBINARY(3), g BIT(3))", "INSERT INTO t VALUES (1, 1, 1.5, '2024-01-01', '01:00:00', 'x', b'1')"]);
    let p = project(&db, "", 3306, "SELECT * FROM t");
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(0);
    let duck = exchange_db(&r.json());
    let types: Vec<String> = duck.prepare("SELECT data_type FROM information_schema.columns WHERE table_name = 'extract-rows' ORDER BY ordinal_position").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(types, ["TINYINT", "UBIGINT", "DECIMAL(12,3)", "TIMESTAMP", "INTERVAL", "BLOB", "UBIGINT"]);
}

#[test]
fn table_config_streams_in_batches_and_counts_rows() {
    let db = database(
        "table",
        &[
            "CREATE TABLE big (id INT PRIMARY KEY, label VARCHAR(20))",
            "INSERT INTO big SELECT seq, CONCAT('row-', seq) FROM seq_1_to_2500",
        ],
    );
    let p = project(&db, "", 3306, "");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: my\nsteps:\n  - id: extract\n    component: mysql.extractor\n    mode: read\n    config: {table: big, columns: [label, id], batch_size: 100, limit: 2000, offset: 100}\n  - id: count\n    component: duckdb.processor\n    mode: transform\n    config: {query: \"SELECT count(*) AS n, min(id) AS lo, max(label) AS hi FROM extract\"}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: out.csv}\n",
    );
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 2000);
    assert_eq!(p.read("out.csv"), "n,lo,hi\n2000,101,row-999\n");
}

fn assert_connection_failure(p: &Project, fragments: &[&str], secret: Option<&str>) {
    let started = std::time::Instant::now();
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    let v = r.json();
    assert_eq!(v["error"]["step"], "extract-rows");
    let msg = v["error"]["message"].as_str().unwrap();
    for f in fragments {
        assert!(msg.contains(f), "`{f}` not in `{msg}`");
    }
    if let Some(s) = secret {
        assert!(!r.stdout.contains(s) && !r.stderr.contains(s));
        assert_in_no_file(&p.path(".osiris"), s);
    }
    assert!(!p.exists("out.csv"));
}

#[test]
fn bad_password_unreachable_port_and_unknown_database_fail_clearly() {
    let db = database("errors", &["CREATE TABLE t (a INT)"]);
    account("osiris_it", "IDENTIFIED BY 'Right-Pass-771'", &[]);
    let wrong = project(&db, "Wrong-Pass-123", 3306, "SELECT * FROM t");
    std::fs::write(
        wrong.path("osiris_connections.yaml"),
        wrong.read("osiris_connections.yaml").replace("user: root", "user: osiris_it"),
    )
    .unwrap();
    assert_connection_failure(&wrong, &["127.0.0.1:3306/osiris_it_errors", "Access denied"], Some("Wrong-Pass-123"));
    assert_connection_failure(
        &project(&db, "", 1, "SELECT 1"),
        &["127.0.0.1:1/osiris_it_errors", "Connection refused"],
        None,
    );
    assert_connection_failure(
        &project("osiris_it_no_such_db", "", 3306, "SELECT 1"),
        &["127.0.0.1:3306/osiris_it_no_such_db", "Unknown database"],
        None,
    );
}

#[test]
fn password_from_an_env_var_appears_in_no_file() {
    let db = database("secret", &["CREATE TABLE t (a INT)", "INSERT INTO t VALUES (1)"]);
    account("osiris_it2", "IDENTIFIED BY 'Env-Pass-4242'", &[&format!("GRANT ALL ON `{db}`.* TO {{user}}")]);
    let p = project(&db, "${OSIRIS_IT_MYSQL_PW}", 3306, "SELECT a FROM t");
    std::fs::write(
        p.path("osiris_connections.yaml"),
        p.read("osiris_connections.yaml").replace("user: root", "user: osiris_it2"),
    )
    .unwrap();
    let r = p.osiris_env(&["run", "p.yaml"], &[("OSIRIS_IT_MYSQL_PW", "Env-Pass-4242")]);
    r.expect_code(0);
    assert!(!r.stdout.contains("Env-Pass-4242") && !r.stderr.contains("Env-Pass-4242"));
    assert_in_no_file(&p.path(".osiris"), "Env-Pass-4242");
}

#[test]
fn connections_doctor_checks_mysql_and_lists_tables() {
    let db = database("doctor", &["CREATE TABLE customers (id INT)", "INSERT INTO customers VALUES (1), (2)"]);
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        &format!("connections:\n  mysql:\n    good: {{host: 127.0.0.1, port: 3306, database: {db}, user: root, password: \"\"}}\n    bad: {{host: 127.0.0.1, port: 3306, database: {db}, user: osiris_it_nobody, password: \"No-Such-Pass-1\"}}\n"),
    );
    let r = p.osiris(&["connections", "doctor", "--json"]);
    r.expect_code(1);
    assert!(!r.stdout.contains("No-Such-Pass-1"));
    let results = r.json()["results"].as_array().unwrap().clone();
    let good = results.iter().find(|x| x["connection"] == "@mysql.good").unwrap();
    assert_eq!(good["status"], "success", "{good}");
    assert!(good["server_version"].as_str().unwrap().contains("MariaDB"), "{good}");
    assert_eq!(good["tables"][0]["table"], "customers");
    let bad = results.iter().find(|x| x["connection"] == "@mysql.bad").unwrap();
    assert_eq!(bad["status"], "failure");
    assert_eq!(bad["category"], "auth", "{bad}");
}

/// Every way MariaDB refuses a login is `auth` to the doctor, whatever code it sends: a wrong
/// password (1045), an account that authenticates through unix_socket reached over TCP (1698),
/// an expired password (1820) and a login without rights on the database (1044).
#[test]
fn doctor_says_auth_for_each_access_denied_code() {
    let db = database("doctor_codes", &["CREATE TABLE t (id INT)"]);
    account("osiris_it_dr_pass", "IDENTIFIED BY 'Right-Pass-1'", &[&format!("GRANT ALL ON `{db}`.* TO {{user}}")]);
    account("osiris_it_dr_sock", "IDENTIFIED VIA unix_socket", &[]);
    account(
        "osiris_it_dr_expired",
        "IDENTIFIED BY 'Old-Pass-2'",
        &[&format!("GRANT ALL ON `{db}`.* TO {{user}}"), "ALTER USER {user} PASSWORD EXPIRE"],
    );
    account("osiris_it_dr_nogrant", "IDENTIFIED BY 'No-Grant-3'", &[]);
    let cases = [
        ("wrongpw", "osiris_it_dr_pass", "Wrong-Pass-9", 1045),
        ("socket", "osiris_it_dr_sock", "Any-Pass-8", 1698),
        // The client accepts sandbox mode, so the server lets it in and refuses its first
        // statement with 1820 (a client without that capability gets 1862 at login).
        ("expired", "osiris_it_dr_expired", "Old-Pass-2", 1820),
        ("nogrant", "osiris_it_dr_nogrant", "No-Grant-3", 1044),
    ];
    let mut yaml = String::from("connections:\n  mysql:\n");
    for (alias, user, pw, _) in cases {
        yaml += &format!(
            "    {alias}: {{host: 127.0.0.1, port: 3306, database: {db}, user: {user}, password: \"{pw}\"}}\n"
        );
    }
    let p = Project::new();
    p.write("osiris_connections.yaml", &yaml);
    let r = p.osiris(&["connections", "doctor", "--json"]);
    r.expect_code(1);
    let results = r.json()["results"].as_array().unwrap().clone();
    for (alias, _, pw, code) in cases {
        let item = results.iter().find(|x| x["connection"] == format!("@mysql.{alias}")).unwrap();
        assert_eq!(item["status"], "failure", "{item}");
        assert!(item["message"].as_str().unwrap().contains(&format!("server error {code} ")), "{alias}: {item}");
        assert_eq!(item["category"], "auth", "{alias}: {item}");
        assert!(!r.stdout.contains(pw) && !r.stderr.contains(pw), "{alias}'s password printed: {r:?}");
    }
}

/// CSV numbers DOUBLE cannot hold reach MariaDB with every digit (DECIMAL columns).
#[test]
fn exact_csv_decimals_and_128_bit_integers_reach_mysql() {
    let db = database("csv_exact", &[]);
    let p = project(&db, "", 3306, "SELECT 1");
    p.write(
        "in.csv",
        "id,big,huge\n1,12345678901234567890.123456789,123456789012345678901234\n2,-98765432109876543210.5,-5\n",
    );
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: exact\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: load\n    component: mysql.writer\n    mode: write\n    needs: [extract]\n    config: {table: exact, create_table: true}\n",
    );
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    let rows: Vec<String> =
        admin().query(format!("SELECT CONCAT(big, ' ', huge) FROM `{db}`.exact ORDER BY id")).unwrap();
    assert_eq!(rows, ["12345678901234567890.123456789 123456789012345678901234", "-98765432109876543210.500000000 -5"]);
}

/// A pipeline: extract `source_query` from MySQL → mysql.writer with `writer_config` (YAML flow map body).
fn writer_project(db: &str, source_query: &str, writer_config: &str) -> Project {
    let p = project(db, "", 3306, source_query);
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: w\nsteps:\n  - id: src\n    component: mysql.extractor\n    mode: read\n    config: {{query: \"{source_query}\"}}\n  - id: load\n    component: mysql.writer\n    mode: write\n    config: {{{writer_config}}}\n"),
    );
    p
}

fn count(db: &str, sql: &str) -> u64 {
    admin().query_first(format!("SELECT ({sql}) FROM (SELECT 1) x").replace("{db}", db)).unwrap().unwrap()
}

#[test]
fn mysql_to_duckdb_to_mysql_keeps_every_value() {
    let cols = "id INT PRIMARY KEY, ti TINYINT(1), bu BIGINT UNSIGNED, d38 DECIMAL(38,10), f FLOAT, dbl DOUBLE, dt DATE, dtm DATETIME(6), tm TIME(6), \
                y YEAR, v VARCHAR(50), e ENUM('a','b'), st SET('a','b','c'), bin VARBINARY(4), bit BIT(10)";
    let db = database(
        "roundtrip",
        &[
            &format!("CREATE TABLE src ({cols})"),
            &format!("CREATE TABLE dst ({cols})"),
            "INSERT INTO src VALUES (1, -1, 18446744073709551615, -1234567890123456789012345678.1234567890, 1.5, 0.1, '2024-02-29', '2024-01-05 10:00:00.123456', '-838:59:59', 2024, 'Zoë 🚀 ''q'' \\\\ end', 'b', 'a,c', X'00FF', b'1010')",
            "INSERT INTO src (id) VALUES (2)",
        ],
    );
    let p = writer_project(&db, "SELECT * FROM src", "table: dst");
    let diff = "SELECT COUNT(*) FROM (SELECT * FROM {db}.src EXCEPT SELECT * FROM {db}.dst) a";
    let back = "SELECT COUNT(*) FROM (SELECT * FROM {db}.dst EXCEPT SELECT * FROM {db}.src) a";
    // Streamed into the writer (two workers) and one step after the other (one worker).
    for workers in ["2", "1"] {
        let r = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", workers]);
        r.expect_code(0);
        let run_dir = std::path::PathBuf::from(r.json()["run_dir"].as_str().unwrap());
        let expected = if workers == "2" { serde_json::json!("load") } else { serde_json::Value::Null };
        assert_eq!(crate::util::streams_to(&run_dir, "src"), expected);
        assert_eq!((count(&db, diff), count(&db, back), count(&db, "SELECT COUNT(*) FROM {db}.dst")), (0, 0, 2));
        admin().query_drop(format!("DELETE FROM `{db}`.dst")).unwrap();
    }
}

#[test]
fn write_modes_append_replace_and_idempotent_upsert() {
    let db = database(
        "modes",
        &[
            "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO src VALUES (1, 'a'), (2, 'b')",
            "CREATE TABLE dst (id INT PRIMARY KEY, name VARCHAR(20))",
        ],
    );
    let run = |cfg: &str| {
        writer_project(&db, "SELECT id + 10 * 0 AS id, name FROM src", cfg).osiris(&["run", "p.yaml", "-q"]).code
    };
    let rows = |db: &str| count(db, "SELECT GROUP_CONCAT(CONCAT(id, name) ORDER BY id) = '1a,2b' FROM {db}.dst");
    assert_eq!(run("table: dst"), 0);
    assert_eq!(rows(&db), 1);
    assert_eq!(run("table: dst"), 1, "append of duplicate keys fails and is rolled back");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.dst"), 2);
    admin().query_drop(format!("UPDATE {db}.src SET name = 'z' WHERE id = 2")).unwrap();
    admin().query_drop(format!("INSERT INTO {db}.dst VALUES (9, 'stale')")).unwrap();
    assert_eq!(run("table: dst, mode: upsert, upsert_keys: [id]"), 0);
    assert_eq!(run("table: dst, mode: upsert, upsert_keys: [id]"), 0);
    assert_eq!(count(&db, "SELECT GROUP_CONCAT(CONCAT(id, name) ORDER BY id) = '1a,2z,9stale' FROM {db}.dst"), 1);
    assert_eq!(run("table: dst, mode: replace"), 0);
    assert_eq!(count(&db, "SELECT GROUP_CONCAT(CONCAT(id, name) ORDER BY id) = '1a,2z' FROM {db}.dst"), 1);
}

#[test]
fn a_failing_row_mid_load_leaves_the_target_unchanged() {
    let db = database(
        "atomic",
        &[
            "CREATE TABLE src (id INT, name VARCHAR(20))",
            "INSERT INTO src SELECT seq, IF(seq = 2500, NULL, CONCAT('n', seq)) FROM seq_1_to_5000",
            "CREATE TABLE dst (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
            "INSERT INTO dst VALUES (-1, 'kept')",
        ],
    );
    for mode in ["append", "replace"] {
        let p = writer_project(
            &db,
            "SELECT * FROM src ORDER BY id",
            &format!("table: dst, mode: {mode}, batch_size: 1000"),
        );
        let r = p.osiris(&["run", "p.yaml", "--json"]);
        r.expect_code(1);
        assert_eq!(r.json()["error"]["step"], "load");
        assert!(r.json()["error"]["message"].as_str().unwrap().contains("cannot be null"), "{r:?}");
        assert_eq!(count(&db, "(SELECT GROUP_CONCAT(CONCAT(id, name)) FROM {db}.dst) = '-1kept'"), 1, "{mode}");
    }
}

#[test]
fn missing_table_without_create_table_is_a_clear_error_and_create_table_builds_it() {
    let db = database(
        "create",
        &[
            "CREATE TABLE src (id BIGINT UNSIGNED, amount DECIMAL(12,2), at DATETIME(6), label VARCHAR(10))",
            "INSERT INTO src VALUES (18446744073709551615, 12.50, '2024-01-01 00:00:00.5', 'x')",
        ],
    );
    let p = writer_project(&db, "SELECT * FROM src", "table: fresh");
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`fresh` does not exist") && msg.contains("create_table"), "{msg}");
    let p =
        writer_project(&db, "SELECT * FROM src", "table: fresh, create_table: true, mode: upsert, upsert_keys: [id]");
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM (SELECT * FROM {db}.src EXCEPT SELECT * FROM {db}.fresh) a"), 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.fresh"), 1);
    let ty: String = admin().query_first(format!("SELECT column_type FROM information_schema.columns WHERE table_schema = '{db}' AND table_name = 'fresh' AND column_name = 'id'")).unwrap().unwrap();
    assert_eq!(ty, "bigint(20) unsigned");
}

#[test]
fn a_single_consumer_reads_a_staged_view_and_materialize_all_gives_the_same_rows_in_a_table() {
    let db = database(
        "staged",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, amount DECIMAL(10,2), note TEXT)",
            "INSERT INTO t SELECT seq, seq / 4, IF(seq % 3 = 0, NULL, CONCAT('n,', seq, '\"q\"')) FROM seq_1_to_3000",
        ],
    );
    let p = project(&db, "", 3306, "SELECT * FROM t ORDER BY id");
    let staged = p.osiris(&["run", "p.yaml", "--json"]);
    staged.expect_code(0);
    let step = &staged.json()["steps"][0];
    assert_eq!((step["relation"].as_str(), step["rows"].as_u64()), (Some("view"), Some(3000)), "{step}");
    let run_dir = std::path::PathBuf::from(staged.json()["run_dir"].as_str().unwrap());
    assert!(run_dir.join("staged/extract-rows.csv").is_file(), "the view's rows stay in the run dir");
    let through_view = p.read("out.csv");

    let table = p.osiris(&["run", "p.yaml", "--json", "--materialize", "all"]);
    table.expect_code(0);
    assert_eq!(table.json()["steps"][0]["relation"], "table");
    assert_eq!(p.read("out.csv"), through_view);
    assert_eq!(through_view.lines().nth(3), Some("3,0.75,"));
    assert_eq!(through_view.lines().nth(1), Some("1,0.25,\"n,1\"\"q\"\"\""));
}

/// A function `check_row(x)` that returns x, and fails the query with `row <bad> is bad` at x = bad.
fn check_row_failing_at(bad: u32) -> String {
    format!(
        "CREATE FUNCTION check_row(x INT) RETURNS INT DETERMINISTIC BEGIN \
         IF x = {bad} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'row {bad} is bad'; END IF; RETURN x; END"
    )
}

#[test]
fn an_error_mid_result_fails_the_step_and_leaves_no_staged_rows() {
    let db = database(
        "midfail",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY)",
            "INSERT INTO t SELECT seq FROM seq_1_to_5000",
            &check_row_failing_at(4000),
        ],
    );
    let p = project(&db, "", 3306, "SELECT check_row(id) AS id FROM t ORDER BY id");
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.stdout.contains("row 4000 is bad") || r.stderr.contains("row 4000 is bad"), "{}{}", r.stdout, r.stderr);
    let run_dir = std::path::PathBuf::from(r.json()["run_dir"].as_str().unwrap());
    assert!(!run_dir.join("staged/extract-rows.csv").exists());
    let duck = exchange_db(&r.json());
    let left: i64 = duck
        .query_row("SELECT count(*) FROM duckdb_views() WHERE view_name = 'extract-rows'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    assert!(!p.exists("out.csv"));
}

/// Position of the first event named `event` for `step`.
fn event_position(run_dir: &std::path::Path, event: &str, step: &str) -> usize {
    crate::util::events(run_dir)
        .iter()
        .position(|e| e["event"] == event && e["step_id"] == step)
        .unwrap_or_else(|| panic!("no {event} for {step}"))
}

#[test]
fn an_extractor_streams_into_its_writer_while_it_reads() {
    let db = database(
        "stream",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, amount DECIMAL(10,2), note TEXT)",
            "INSERT INTO t SELECT seq, seq / 4, IF(seq % 3 = 0, NULL, CONCAT('n,', seq, '\"q\"')) FROM seq_1_to_20000",
        ],
    );
    let p = project(&db, "", 3306, "SELECT * FROM t ORDER BY id");
    let streamed = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "2"]);
    streamed.expect_code(0);
    let run_dir = std::path::PathBuf::from(streamed.json()["run_dir"].as_str().unwrap());
    assert_eq!(crate::util::streams_to(&run_dir, "extract-rows"), "write");
    assert!(
        event_position(&run_dir, "step_start", "write") < event_position(&run_dir, "step_complete", "extract-rows"),
        "the writer starts while the extractor still runs"
    );
    let step = &streamed.json()["steps"][0];
    assert_eq!((step["relation"].as_str(), step["rows"].as_u64()), (Some("view"), Some(20000)), "{step}");
    let through_pipe = p.read("out.csv");
    assert_eq!(through_pipe.lines().count(), 20001);
    let leftovers: Vec<_> = std::fs::read_dir(run_dir.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "no pipe is left: {leftovers:?}");
    // After the run the view reads the staged rows, so the step stays inspectable.
    let (rows, total): (i64, String) = exchange_db(&streamed.json())
        .query_row("SELECT count(*), sum(amount)::VARCHAR FROM \"extract-rows\"", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((rows, total.as_str()), (20000, "50002500.00"));

    let one_worker = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "1"]);
    one_worker.expect_code(0);
    let run_dir = std::path::PathBuf::from(one_worker.json()["run_dir"].as_str().unwrap());
    assert_eq!(crate::util::streams_to(&run_dir, "extract-rows"), serde_json::Value::Null, "one worker cannot stream");
    assert_eq!(p.read("out.csv"), through_pipe);
}

#[test]
fn a_source_failure_mid_stream_fails_the_writer_and_writes_nothing() {
    // 1 KB rows: the first 4 MiB staged chunks reach the writer before row 19000 fails.
    let db = database(
        "streamfail",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)",
            "INSERT INTO t SELECT seq, REPEAT('x', 1000) FROM seq_1_to_20000",
            &check_row_failing_at(19000),
        ],
    );
    let p = project(&db, "", 3306, "SELECT check_row(id) AS id, pad FROM t ORDER BY id");
    let r = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "2"]);
    r.expect_code(1);
    let run = r.json();
    assert_eq!(run["error"]["step"], "extract-rows", "{run}");
    assert!(run["error"]["message"].as_str().unwrap().contains("row 19000 is bad"), "{run}");
    assert_eq!(run["steps"][1]["status"], "failed", "{run}");
    let run_dir = std::path::PathBuf::from(run["run_dir"].as_str().unwrap());
    assert_eq!(crate::util::streams_to(&run_dir, "extract-rows"), "write");
    assert!(!p.exists("out.csv"), "a truncated stream must not become a file");
    let project_files: Vec<_> = std::fs::read_dir(p.path(".")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!project_files.iter().any(|n| n.to_string_lossy().ends_with(".tmp")), "{project_files:?}");
    assert!(!run_dir.join("staged/extract-rows.csv").exists());
    assert!(!run_dir.join("tmp/extract-rows.stream.fifo").exists());
    let views: i64 = exchange_db(&run)
        .query_row("SELECT count(*) FROM duckdb_views() WHERE view_name = 'extract-rows'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(views, 0);
}

#[test]
fn a_writer_that_fails_before_reading_does_not_hold_up_its_extractor() {
    let db = database(
        "streamwriter",
        &["CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_3000"],
    );
    let p = project(&db, "", 3306, "SELECT * FROM t ORDER BY id");
    let pipeline =
        p.read("p.yaml").replace("config: {path: out.csv}", "config: {path: missing/out.csv, create_dirs: false}");
    p.write("p.yaml", &pipeline);
    let r = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "2"]);
    r.expect_code(1);
    let run = r.json();
    assert_eq!(run["error"]["step"], "write", "{run}");
    assert!(run["error"]["message"].as_str().unwrap().contains("create_dirs is false"), "{run}");
    let extract = &run["steps"][0];
    assert_eq!((extract["status"].as_str(), extract["rows"].as_u64()), (Some("success"), Some(3000)), "{run}");
    let rows: i64 = exchange_db(&run).query_row("SELECT count(*) FROM \"extract-rows\"", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 3000, "the extractor finished staging and its view reads the rows");
}

#[test]
fn two_streamed_edges_on_two_workers_take_turns_instead_of_waiting_on_each_other() {
    let db =
        database("twoedges", &["CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_5000"]);
    let p = project(&db, "", 3306, "SELECT * FROM t ORDER BY id");
    let edge = |n: u32| {
        format!(
            "  - id: extract{n}\n    component: mysql.extractor\n    mode: read\n    needs: []\n    config: {{query: \"SELECT id * {n} AS id FROM t ORDER BY id\"}}\n  - id: write{n}\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract{n}]\n    config: {{path: out{n}.csv}}\n"
        )
    };
    p.write("p.yaml", &format!("oml_version: \"0.1.0\"\nname: two\nsteps:\n{}{}", edge(1), edge(2)));
    let r = p.osiris(&["run", "p.yaml", "--json", "--max-parallel", "2"]);
    r.expect_code(0);
    let run_dir = std::path::PathBuf::from(r.json()["run_dir"].as_str().unwrap());
    assert_eq!(crate::util::streams_to(&run_dir, "extract1"), "write1");
    assert_eq!(crate::util::streams_to(&run_dir, "extract2"), "write2");
    assert_eq!(p.read("out1.csv").lines().last(), Some("5000"));
    assert_eq!(p.read("out2.csv").lines().last(), Some("10000"));
}

#[test]
fn discovery_lists_tables_with_loaded_types_keys_and_samples_then_serves_the_cache() {
    let db = database(
        "discovery",
        &[
            "CREATE TABLE customers (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(40) NOT NULL, balance DECIMAL(12,2), joined DATETIME(6))",
            "INSERT INTO customers VALUES (1, 'Ada', 12.50, '2024-01-02 03:04:05.123456'), (2, 'Grace', NULL, NULL)",
            "CREATE VIEW big_customers AS SELECT id, name FROM customers WHERE balance > 10",
        ],
    );
    let p = project(&db, "", 3306, "SELECT 1");
    let first = p.osiris(&["discovery", "run", "@mysql.local", "--samples", "1", "--json"]).expect_code(0).json();
    assert_eq!(first["cached"], false);
    assert!(first["discovery_id"].as_str().unwrap().starts_with("disc_"));
    let tables = first["tables"].as_array().unwrap();
    assert_eq!(tables.iter().map(|t| t["name"].as_str().unwrap()).collect::<Vec<_>>(), ["big_customers", "customers"]);
    let customers = &tables[1];
    assert_eq!(customers["primary_key"], serde_json::json!(["id"]));
    let types: Vec<(&str, &str)> = customers["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(types, [("id", "UBIGINT"), ("name", "VARCHAR"), ("balance", "DECIMAL(12,2)"), ("joined", "TIMESTAMP")]);
    assert_eq!(customers["samples"], serde_json::json!([["1", "Ada", "12.50", "2024-01-02 03:04:05.123456"]]));
    assert_eq!(tables[0]["kind"], "view");
    for f in ["overview.json", "tables.json", "samples.json"] {
        assert!(p.exists(&format!(".osiris/discovery/{}/{f}", first["discovery_id"].as_str().unwrap())), "{f}");
    }
    let second = p.osiris(&["discovery", "run", "@mysql.local", "--samples", "1", "--json"]).expect_code(0).json();
    assert_eq!(second["cached"], true);
    assert_eq!(second["tables"], first["tables"]);
    let refreshed =
        p.osiris(&["discovery", "run", "@mysql.local", "--samples", "1", "--refresh", "--json"]).expect_code(0).json();
    assert_eq!(refreshed["cached"], false);
    p.osiris(&["discovery", "run", "@mysql.nope"]).expect_code(2);
}

/// A `mysql.writer` step without `mode:` gets the spec's `append`, not the step's `write`: so
/// `truncate_before: true` replaces, and the compiled manifest passes its own schema and runs.
#[test]
fn a_modeless_writer_with_truncate_before_replaces_and_its_manifest_runs() {
    let db = database(
        "modeless",
        &[
            "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO src VALUES (1, 'a'), (2, 'b')",
            "CREATE TABLE dst (id INT PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO dst VALUES (9, 'stale')",
        ],
    );
    let p = writer_project(&db, "SELECT * FROM src", "table: dst, truncate_before: true");
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(count(&db, "SELECT GROUP_CONCAT(CONCAT(id, name) ORDER BY id) = '1a,2b' FROM {db}.dst"), 1);
    p.osiris(&["compile", "p.yaml", "--out", "compiled"]).expect_code(0);
    let cfg: serde_json::Value = serde_json::from_str(&p.read("compiled/cfg/load.json")).unwrap();
    assert_eq!(cfg["mode"], "append", "{cfg}");
    admin().query_drop(format!("INSERT INTO `{db}`.dst VALUES (9, 'stale')")).unwrap();
    p.osiris(&["run", "compiled/manifest.yaml", "-q"]).expect_code(0);
    assert_eq!(count(&db, "SELECT GROUP_CONCAT(CONCAT(id, name) ORDER BY id) = '1a,2b' FROM {db}.dst"), 1);
}

/// What `mysql.writer` refuses or leaves alone: an upsert with no unique index on its keys (it
/// would append copies on every run), a replace whose DELETE would cascade into a child table,
/// a value too long for its column in an upsert; and a user's own tables named like the shadow
/// tables of `replace` survive it.
#[test]
fn writer_guards_upsert_keys_cascades_truncation_and_other_tables() {
    let db = database(
        "guards",
        &[
            "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO src VALUES (1, 'a'), (2, 'abcdef')",
            "CREATE TABLE nokey (id INT, name VARCHAR(20))",
            "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB",
            "INSERT INTO parent VALUES (1, 'a'), (5, 'e')",
            "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE) ENGINE=InnoDB",
            "INSERT INTO child VALUES (10, 1), (50, 5)",
            "CREATE TABLE short (id INT PRIMARY KEY, name VARCHAR(3))",
            "CREATE TABLE dst (id INT PRIMARY KEY, name VARCHAR(20))",
            "CREATE TABLE dst__osiris_new (keep INT)",
            "INSERT INTO dst__osiris_new VALUES (42)",
            "CREATE TABLE dst__osiris_old (keep INT)",
            "INSERT INTO dst__osiris_old VALUES (43)",
        ],
    );
    let run = |cfg: &str| {
        let r = writer_project(&db, "SELECT * FROM src", cfg).osiris(&["run", "p.yaml", "--json"]);
        let message = r.json()["error"]["message"].as_str().unwrap_or_default().to_string();
        (r.code, message)
    };
    let (code, message) = run("table: nokey, mode: upsert, upsert_keys: [id]");
    assert_eq!(code, 1);
    assert!(message.contains("needs a PRIMARY KEY or UNIQUE index on exactly (id)"), "{message}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.nokey"), 0);

    let (code, message) = run("table: parent, mode: replace");
    assert_eq!(code, 1);
    assert!(message.contains("child (ON DELETE CASCADE)"), "{message}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.child"), 2, "the child rows are untouched");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.parent"), 2);

    let (code, message) = run("table: short, mode: upsert, upsert_keys: [id]");
    assert_eq!(code, 1, "'abcdef' does not fit VARCHAR(3): {message}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.short"), 0, "rolled back");

    assert_eq!(run("table: dst, mode: replace").0, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM {db}.dst"), 2);
    assert_eq!(count(&db, "SELECT keep FROM {db}.dst__osiris_new"), 42);
    assert_eq!(count(&db, "SELECT keep FROM {db}.dst__osiris_old"), 43);
}

/// TLS against the second MariaDB that scripts/mariadb-tls.sh runs on 3307 (TLS only, a CA of
/// its own, a certificate for `localhost`): the default (`preferred`) encrypts, `disabled` is
/// refused by that server, `verify_ca` needs the CA, `verify_identity` also the right host name,
/// and an unknown mode is an error rather than a weaker one. (The 3306 server has no TLS:
/// `preferred` falls back to plain there, as every other test shows.)
#[test]
fn ssl_mode_reaches_a_tls_only_server_and_the_verify_modes_check_its_certificate() {
    let ca = std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/osiris-test/mariadb-tls/ca.pem");
    assert!(ca.is_file(), "{} (scripts/mariadb-tls.sh makes it)", ca.display());
    let p = Project::new();
    let attempt = |host: &str, tls: &str| {
        p.write(
            "osiris_connections.yaml",
            &format!("connections:\n  mysql:\n    tls: {{host: {host}, port: 3307, database: test, user: root, password: \"\"{tls}}}\n"),
        );
        p.write(
            "p.yaml",
            "oml_version: \"0.1.0\"\nname: tls\nsteps:\n  - id: q\n    component: mysql.extractor\n    mode: read\n    config: {connection: \"@mysql.tls\", query: \"SELECT variable_value AS cipher FROM information_schema.session_status WHERE variable_name = 'SSL_CIPHER'\"}\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    needs: [q]\n    config: {path: out.csv}\n",
        );
        let r = p.osiris(&["run", "p.yaml", "--json"]);
        match r.code {
            0 => Ok(p.read("out.csv").lines().nth(1).unwrap_or_default().to_string()),
            _ => Err(r.json()["error"]["message"].as_str().unwrap_or_default().to_string()),
        }
    };
    let with_ca = format!(", ssl_ca: \"{}\"", ca.display());
    let cipher = attempt("127.0.0.1", "").expect("preferred connects");
    assert!(!cipher.is_empty(), "preferred (the default) encrypts when the server offers TLS");
    assert!(attempt("127.0.0.1", ", ssl_mode: disabled").is_err(), "the server takes TLS only");
    assert!(!attempt("127.0.0.1", ", ssl_mode: required").unwrap().is_empty());
    assert!(attempt("127.0.0.1", ", ssl_mode: verify_ca").is_err(), "a CA no system root knows");
    assert!(!attempt("127.0.0.1", &format!(", ssl_mode: verify_ca{with_ca}")).unwrap().is_empty());
    assert!(
        attempt("127.0.0.1", &format!(", ssl_mode: verify_identity{with_ca}")).is_err(),
        "the certificate names localhost"
    );
    assert!(!attempt("localhost", &format!(", ssl_mode: verify_identity{with_ca}")).unwrap().is_empty());
    let bogus = attempt("127.0.0.1", ", ssl_mode: verify-fully").unwrap_err();
    assert!(bogus.contains("ssl_mode `verify_fully` is not one of"), "{bogus}");
}

/// Ctrl-C while MariaDB is still running the extractor's query (nothing has come back, so no
/// row loop looks at the cancel flag): the query is killed on the server and the run ends
/// cancelled, instead of waiting for the server. (A run that waited would hit the harness's
/// 300-second timeout and fail.)
#[test]
fn ctrl_c_kills_a_query_the_server_is_still_running() {
    let db = database("cancel", &[]);
    let p = project(&db, "", 3306, "SELECT SLEEP(3600) AS s");
    let out = crate::util::interrupt(crate::util::start_run_until(&p, &[], "extract-rows"));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "cancelled");
    assert!(!p.exists("out.csv"));
    let still: u64 =
        count(&db, "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(3600)%'");
    assert_eq!(still, 0, "the server no longer runs the query");
}
