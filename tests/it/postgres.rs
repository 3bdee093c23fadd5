//! supabase.writer and supabase.extractor over the SQL channel, against the real PostgreSQL on
//! 127.0.0.1:5432 (trust auth, database `test`). Each test works in its own schema.

use crate::util::{assert_in_no_file, exchange_db, Project};

fn admin() -> postgres::Client {
    postgres::Client::connect("host=127.0.0.1 port=5432 user=postgres dbname=test", postgres::NoTls)
        .expect("PostgreSQL on 127.0.0.1:5432 (scripts/services.sh starts it)")
}

/// A fresh schema `osiris_it_<name>` with `setup` run inside it.
pub fn schema(name: &str, setup: &[&str]) -> String {
    let s = format!("osiris_it_{name}");
    let mut c = admin();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET search_path = {s}")).unwrap();
    for q in setup {
        c.batch_execute(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    s
}

/// Query one text column per row, in order.
pub fn texts(sql: &str) -> Vec<String> {
    admin()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_else(|| "NULL".into()))
        .collect()
}

const PASSWORD: &str = "Pg-Secret-4711";

fn project() -> Project {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  supabase:\n    local:\n      pg_dsn: \"postgresql://postgres:${PG_TEST_PASSWORD}@127.0.0.1:5432/test\"\n      default: true\n",
    );
    p
}

/// generate (duckdb.processor SQL) → supabase.writer with `writer` config (YAML flow map body).
fn write_pipeline(sql: &str, writer: &str) -> String {
    format!(
        "oml_version: \"0.1.0\"\nname: pgw\nsteps:\n  - id: gen\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"{sql}\"\n  - id: load\n    component: supabase.writer\n    mode: write\n    needs: [gen]\n    config: {{{writer}}}\n"
    )
}

fn run(p: &Project, pipeline: &str) -> crate::util::Run {
    p.write("p.yaml", pipeline);
    p.osiris_env(&["run", "p.yaml", "--json"], &[("PG_TEST_PASSWORD", PASSWORD)])
}

#[test]
fn append_replace_and_upsert_each_do_what_they_say() {
    let s = schema(
        "modes",
        &[
            "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, score numeric(6,2))",
            "INSERT INTO t VALUES (1, 'old', 1.00)",
        ],
    );
    let p = project();
    let gen = "SELECT i AS id, 'n' || i AS name, i * 1.25 AS score FROM range(2, 5) r(i)";
    run(&p, &write_pipeline(gen, &format!("table: t, schema: {s}, write_mode: append"))).expect_code(0);
    assert_eq!(
        texts(&format!("SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM {s}.t")),
        ["1:old,2:n2,3:n3,4:n4"]
    );

    let upsert = "SELECT * FROM (VALUES (1, 'new', 9.5), (5, 'five', 5.0)) v(id, name, score)";
    for _ in 0..2 {
        let r =
            run(&p, &write_pipeline(upsert, &format!("table: t, schema: {s}, write_mode: upsert, primary_key: id")));
        r.expect_code(0);
    }
    assert_eq!(
        texts(&format!("SELECT string_agg(id || ':' || name || ':' || score, ',' ORDER BY id) FROM {s}.t")),
        ["1:new:9.50,2:n2:2.50,3:n3:3.75,4:n4:5.00,5:five:5.00"],
        "upsert twice updates once and inserts once"
    );

    run(
        &p,
        &write_pipeline(
            "SELECT 7 AS id, 'only' AS name, NULL::DECIMAL(6,2) AS score",
            &format!("table: t, schema: {s}, write_mode: replace"),
        ),
    )
    .expect_code(0);
    assert_eq!(
        texts(&format!("SELECT string_agg(id || ':' || name || ':' || coalesce(score::text, 'NULL'), ',') FROM {s}.t")),
        ["7:only:NULL"]
    );
}

#[test]
fn a_not_null_violation_mid_load_leaves_the_target_unchanged() {
    let s = schema(
        "atomic",
        &["CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)", "INSERT INTO t VALUES (0, 'kept')"],
    );
    let p = project();
    let gen = "SELECT i AS id, CASE WHEN i = 50001 THEN NULL ELSE 'row' || i END AS name FROM range(1, 100001) r(i)";
    for mode in ["append", "replace", "upsert"] {
        let r = run(&p, &write_pipeline(gen, &format!("table: t, schema: {s}, write_mode: {mode}, primary_key: id")));
        r.expect_code(1);
        let v = r.json();
        assert_eq!(v["error"]["step"], "load", "{mode}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("null value in column \"name\"") && msg.contains("23502"), "{mode}: {msg}");
        assert_eq!(texts(&format!("SELECT count(*) || ':' || string_agg(name, ',') FROM {s}.t")), ["1:kept"], "{mode}");
    }
}

#[test]
fn create_if_missing_builds_the_documented_types_and_false_names_the_missing_table() {
    let s = schema("create", &[]);
    let p = project();
    let gen = "SELECT 1::TINYINT AS tiny, 2::INTEGER AS i, 3::BIGINT AS b, 18446744073709551615::UBIGINT AS ub, 12.345::DECIMAL(10,3) AS d, 0.1::DOUBLE AS f, \
               true AS flag, DATE '2024-02-29' AS day, TIMESTAMP '2024-01-05 10:00:00.123456' AS ts, TIMESTAMPTZ '2024-01-05 10:00:00.5+00' AS tstz, \
               INTERVAL '1 day 2 hours' AS iv, 'Zoë 🚀' AS txt, ''::VARCHAR AS empty, NULL::VARCHAR AS nothing, '\\\\x00\\\\xFF'::BLOB AS bin, \
               '6f1c3e0e-2b7a-4a57-9f55-0c1f2a3b4c5d'::UUID AS u, '{\\\"k\\\": [1, 2]}'::JSON AS j, [1, 2, 3] AS list, {'a': 1} AS st";
    run(&p, &write_pipeline(gen, &format!("table: made, schema: {s}, primary_key: i"))).expect_code(0);
    let types = texts(&format!(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '{s}' AND table_name = 'made'"
    ));
    assert_eq!(
        types,
        ["tiny smallint, i integer, b bigint, ub numeric, d numeric, f double precision, flag boolean, day date, ts timestamp without time zone, \
          tstz timestamp with time zone, iv interval, txt text, empty text, nothing text, bin bytea, u uuid, j jsonb, list jsonb, st jsonb"]
    );
    let row = texts(&format!(
        "SELECT concat_ws('|', tiny, ub, d, f, flag, day, ts, tstz AT TIME ZONE 'UTC', iv, txt, '[' || empty || ']', coalesce(nothing, 'NULL'), encode(bin, 'hex'), u, j, list, st) FROM {s}.made"
    ));
    assert_eq!(
        row,
        ["1|18446744073709551615|12.345|0.1|t|2024-02-29|2024-01-05 10:00:00.123456|2024-01-05 10:00:00.5|1 day 02:00:00|Zoë 🚀|[]|NULL|00ff|6f1c3e0e-2b7a-4a57-9f55-0c1f2a3b4c5d|{\"k\": [1, 2]}|[1, 2, 3]|{\"a\": 1}"]
    );
    let r =
        run(&p, &write_pipeline("SELECT 1 AS id", &format!("table: absent, schema: {s}, create_if_missing: false")));
    r.expect_code(1);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&format!("\"{s}\".\"absent\" does not exist")) && msg.contains("create_if_missing"), "{msg}");
}

/// CSV numbers DOUBLE cannot hold reach PostgreSQL with every digit (numeric columns).
#[test]
fn exact_csv_decimals_and_128_bit_integers_reach_postgres() {
    let s = schema("csv_exact", &[]);
    let p = project();
    p.write(
        "in.csv",
        "id,big,huge\n1,12345678901234567890.123456789,123456789012345678901234\n2,-98765432109876543210.5,-5\n",
    );
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: exact\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: in.csv}}\n  - id: load\n    component: supabase.writer\n    mode: write\n    needs: [extract]\n    config: {{table: exact, schema: {s}, primary_key: id}}\n"),
    );
    p.osiris_env(&["run", "p.yaml", "--json"], &[("PG_TEST_PASSWORD", PASSWORD)]).expect_code(0);
    assert_eq!(
        texts(&format!("SELECT big::text || ' ' || huge::text FROM {s}.exact ORDER BY id")),
        ["12345678901234567890.123456789 123456789012345678901234", "-98765432109876543210.500000000 -5"]
    );
}

/// `table: schema.name` writes `name` in `schema`, not a table called "schema.name".
#[test]
fn a_dotted_table_names_its_schema() {
    let s = schema("dotted", &[]);
    let p = project();
    run(&p, &write_pipeline("SELECT 1 AS id", &format!("table: {s}.people"))).expect_code(0);
    assert_eq!(
        texts(&format!(
            "SELECT table_schema || '|' || table_name FROM information_schema.tables WHERE table_schema = '{s}'"
        )),
        [format!("{s}|people")]
    );
}

#[test]
fn types_round_trip_postgres_to_duckdb_to_postgres() {
    let s = schema(
        "roundtrip",
        &["CREATE TABLE src (id int PRIMARY KEY, si smallint, bi bigint, r real, dp double precision, n numeric(38,10), n2 numeric(12,2), \
           b boolean, d date, ts timestamp(6), tstz timestamptz, t time, iv interval, tx text, vc varchar(20), ch char(3), j jsonb, js json, \
           by bytea, u uuid, ia int[], ta text[])",
          "INSERT INTO src VALUES (1, -32768, 9223372036854775807, 1.5, 0.1, 1234567890123456789012345678.1234567890, -0.01, true, '2024-02-29', \
           '2024-01-05 10:00:00.123456', '2024-01-05 10:00:00.123456+02', '23:59:59.999999', '1 year 2 mons 3 days 04:05:06.5', 'Zoë 🚀 東京 \"q\", x', 'v', 'ab', \
           '{\"k\": [1, 2]}', '{\"a\": null}', '\\x00ff10', '6f1c3e0e-2b7a-4a57-9f55-0c1f2a3b4c5d', '{1,2,NULL}', '{\"a,b\",c}')",
          "INSERT INTO src (id, iv, tx) VALUES (2, '-3 days -00:00:01', '')",
          "INSERT INTO src (id) VALUES (3)"],
    );
    let p = project();
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: rt\nsteps:\n  - id: read\n    component: supabase.extractor\n    mode: read\n    config: {{table: src, schema: {s}}}\n  - id: back\n    component: supabase.writer\n    mode: write\n    needs: [read]\n    config: {{table: dst, schema: {s}, primary_key: id}}\n"),
    );
    let r = p.osiris_env(&["run", "p.yaml", "--json"], &[("PG_TEST_PASSWORD", PASSWORD)]);
    r.expect_code(0);
    assert_eq!(r.json()["steps"][0]["rows"], 3);
    let duck = exchange_db(&r.json());
    let types: Vec<String> = duck
        .prepare("SELECT data_type FROM information_schema.columns WHERE table_name = 'read' ORDER BY ordinal_position")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        types,
        [
            "INTEGER",
            "SMALLINT",
            "BIGINT",
            "FLOAT",
            "DOUBLE",
            "DECIMAL(38,10)",
            "DECIMAL(12,2)",
            "BOOLEAN",
            "DATE",
            "TIMESTAMP",
            "TIMESTAMP WITH TIME ZONE",
            "TIME",
            "INTERVAL",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "JSON",
            "JSON",
            "BLOB",
            "UUID",
            "INTEGER[]",
            "VARCHAR[]"
        ]
    );
    // Every scalar column equal both ways; arrays come back as jsonb (documented), compared as JSON.
    let cols = "id, si, bi, r, dp, n, n2, b, d, ts, tstz, t, iv, tx, vc, ch, j, js::text, by, u";
    let diff = texts(&format!(
        "SELECT count(*)::text FROM ((SELECT {cols}, to_jsonb(ia), to_jsonb(ta) FROM {s}.src EXCEPT SELECT {cols2}, ia, ta FROM {s}.dst) \
         UNION ALL (SELECT {cols2}, ia, ta FROM {s}.dst EXCEPT SELECT {cols}, to_jsonb(ia), to_jsonb(ta) FROM {s}.src)) x",
        cols2 = cols
    ));
    assert_eq!(diff, ["0"]);
}

#[test]
fn the_extractor_translates_select_filter_and_order_to_sql() {
    let s = schema("filters", &["CREATE TABLE o (id int, status text, total numeric(8,2))", "INSERT INTO o SELECT i, CASE WHEN i % 2 = 0 THEN 'done' ELSE 'open' END, i * 1.5 FROM generate_series(1, 2500) i"]);
    let p = project();
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: f\nsteps:\n  - id: read\n    component: supabase.extractor\n    mode: read\n    config: {{table: o, schema: {s}, select: \"id,total\", filter: {{status: eq.done, id: lte.10}}, order: id.desc}}\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config: {{path: out.csv}}\n"),
    );
    p.osiris_env(&["run", "p.yaml", "-q"], &[("PG_TEST_PASSWORD", PASSWORD)]).expect_code(0);
    assert_eq!(p.read("out.csv"), "id,total\n10,15.00\n8,12.00\n6,9.00\n4,6.00\n2,3.00\n");
}

#[test]
fn the_dsn_password_appears_in_no_file_and_doctor_reports_the_server() {
    let s = schema("secret", &[]);
    let p = project();
    let r = run(&p, &write_pipeline("SELECT 1 AS id", &format!("table: t, schema: {s}")));
    r.expect_code(0);
    assert!(!r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD));
    assert_in_no_file(&p.path(".osiris"), PASSWORD);
    let d = p.osiris_env(&["connections", "doctor", "--json"], &[("PG_TEST_PASSWORD", PASSWORD)]);
    d.expect_code(0);
    assert!(!d.stdout.contains(PASSWORD));
    let v = d.json();
    let result = &v["results"][0];
    assert_eq!(result["status"], "success", "{v}");
    let sql = &result["checks"][0];
    assert_eq!(sql["name"], "sql", "{v}");
    assert!(sql["server_version"].as_str().is_some_and(|v| !v.is_empty()), "{v}");
    assert!(sql["tables"].as_array().unwrap().iter().any(|t| t["schema"] == s.as_str() && t["table"] == "t"), "{v}");
}

#[test]
fn an_unreachable_server_fails_fast_naming_it_without_the_password() {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  supabase:\n    local:\n      pg_dsn: \"postgresql://postgres:${PG_TEST_PASSWORD}@127.0.0.1:1/test\"\n      default: true\n",
    );
    let started = std::time::Instant::now();
    let r = run(&p, &write_pipeline("SELECT 1 AS id", "table: t"));
    r.expect_code(1);
    assert!(started.elapsed().as_secs() < 30);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("127.0.0.1:1/test") && !msg.contains(PASSWORD), "{msg}");
}

#[test]
fn a_dsn_on_the_transaction_pooler_port_gets_a_warning_that_explains_it() {
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  supabase:\n    pooled:\n      pg_dsn: \"postgresql://postgres.abc:${PG_TEST_PASSWORD}@127.0.0.1:6543/postgres\"\n      default: true\n",
    );
    let r = run(&p, &write_pipeline("SELECT 1 AS id", "table: t"));
    r.expect_code(1);
    let v = r.json();
    let warning = v["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("transaction pooler") && warning.contains("session mode (port 5432)"), "{v}");
    assert!(!r.stdout.contains(PASSWORD));
}

/// The `write.copy` event of a run: the COPY format its load used and why not binary.
fn copy_event(r: &crate::util::Run) -> serde_json::Value {
    let dir = std::path::PathBuf::from(r.json()["run_dir"].as_str().unwrap());
    crate::util::events(&dir).into_iter().find(|e| e["event"] == "write.copy").expect("a write.copy event")
}

#[test]
fn binary_copy_stores_exactly_what_the_csv_path_stores() {
    let cols = "b boolean, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, n numeric(14,4), nf numeric, \
                ni numeric, tx text, vc varchar(12), ch char(4), js json, jb jsonb, by bytea, d date, t time, ts timestamp, \
                tz timestamptz, iv interval, u uuid";
    let s = schema(
        "binary",
        &[
            &format!("CREATE TABLE bin (id int PRIMARY KEY, {cols})"),
            &format!("CREATE TABLE csv (id int PRIMARY KEY, {cols}, only_text timetz)"),
        ],
    );
    // Three rows of the same column types: ordinary values, edges (infinities, epochs, NaN,
    // extremes, an embedded quote and newline, rounding on receipt), and NULL everywhere.
    let row = |id: u32, values: &str| format!("SELECT {id} AS id, {values}");
    let typed = |b: &str,
                 i2: &str,
                 i4: &str,
                 i8: &str,
                 f4: &str,
                 f8: &str,
                 n: &str,
                 nf: &str,
                 ni: &str,
                 tx: &str,
                 rest: &str| {
        format!(
            "CAST({b} AS BOOLEAN) AS b, CAST({i2} AS SMALLINT) AS i2, CAST({i4} AS BIGINT) AS i4, CAST({i8} AS BIGINT) AS i8, \
             CAST({f4} AS FLOAT) AS f4, CAST({f8} AS DOUBLE) AS f8, CAST({n} AS DECIMAL(18,6)) AS n, CAST({nf} AS DOUBLE) AS nf, \
             CAST({ni} AS BIGINT) AS ni, CAST({tx} AS VARCHAR) AS tx, {rest}"
        )
    };
    let rest = |vc: &str,
                ch: &str,
                js: &str,
                jb: &str,
                by: &str,
                d: &str,
                t: &str,
                ts: &str,
                tz: &str,
                iv: &str,
                u: &str| {
        format!(
            "CAST({vc} AS VARCHAR) AS vc, CAST({ch} AS VARCHAR) AS ch, CAST({js} AS JSON) AS js, {jb} AS jb, CAST({by} AS BLOB) AS by, \
             CAST({d} AS DATE) AS d, CAST({t} AS TIME) AS t, CAST({ts} AS TIMESTAMP) AS ts, CAST({tz} AS TIMESTAMPTZ) AS tz, \
             CAST({iv} AS INTERVAL) AS iv, CAST({u} AS UUID) AS u"
        )
    };
    let rows = [
        row(
            1,
            &typed(
                "true",
                "-32768",
                "2147483647",
                "-9223372036854775807",
                "1.5",
                "0.1",
                "1.123456",
                "695.03",
                "12345678901234567",
                "'Zoë 🚀 東京, x' || chr(34) || 'q' || chr(10) || 'line'",
                &rest(
                    "'short'",
                    "'ab'",
                    "json_object('k', [1, 2])",
                    "{'k': [1, 2], 's': 'x'}",
                    "unhex('00ff10')",
                    "'2024-02-29'",
                    "'23:59:59.999999'",
                    "'2024-01-05 10:00:00.123456'",
                    "'2024-01-05 10:00:00.123456+02'",
                    "'1 year 2 months 3 days 04:05:06.5'",
                    "'6f1c3e0e-2b7a-4a57-9f55-0c1f2a3b4c5d'",
                ),
            ),
        ),
        row(
            2,
            &typed(
                "false",
                "32767",
                "-2147483648",
                "9223372036854775807",
                "'-inf'",
                "'nan'",
                "-99999.99995",
                "1.5e-7",
                "-1",
                "''",
                &rest(
                    "''",
                    "'abcd'",
                    "json_array()",
                    "{'k': [], 's': ''}",
                    "unhex('')",
                    "'1969-12-31'",
                    "'00:00:00'",
                    "'1999-12-31 23:59:59.999999'",
                    "'infinity'",
                    "'-3 days -00:00:01'",
                    "'00000000-0000-0000-0000-000000000000'",
                ),
            ),
        ),
        row(
            3,
            &typed(
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                &rest(
                    "NULL",
                    "NULL",
                    "NULL",
                    "CAST(NULL AS STRUCT(k INTEGER[], s VARCHAR))",
                    "NULL",
                    "'infinity'",
                    "NULL",
                    "'-infinity'",
                    "NULL",
                    "NULL",
                    "NULL",
                ),
            ),
        ),
    ]
    .join(" UNION ALL ");
    let p = project();
    let binary = run(&p, &write_pipeline(&rows, &format!("table: bin, schema: {s}")));
    binary.expect_code(0);
    let event = copy_event(&binary);
    assert_eq!(event["format"], "binary", "{event}");

    let with_timetz = format!("SELECT *, CAST('10:00:00+02' AS TIMETZ) AS only_text FROM ({rows})");
    let csv = run(&p, &write_pipeline(&with_timetz, &format!("table: csv, schema: {s}")));
    csv.expect_code(0);
    let event = copy_event(&csv);
    assert_eq!(event["format"], "csv", "{event}");
    assert!(event["reason"].as_str().unwrap().contains("only_text"), "{event}");

    let all = "id, b, i2, i4, i8, f4, f8, n, nf, ni, tx, vc, ch, js::text, jb, by, d, t, ts, tz, iv, u";
    assert_eq!(
        texts(&format!(
            "SELECT count(*)::text FROM ((SELECT {all} FROM {s}.bin EXCEPT SELECT {all} FROM {s}.csv) \
             UNION ALL (SELECT {all} FROM {s}.csv EXCEPT SELECT {all} FROM {s}.bin)) x"
        )),
        ["0"],
        "both paths store the same values"
    );
    assert_eq!(texts(&format!("SELECT count(*)::text FROM {s}.bin")), ["3"]);
    assert_eq!(
        texts(&format!(
            "SELECT concat_ws('|', n, nf, ni, f4, f8, ch, d, ts, tz AT TIME ZONE 'UTC', iv, jb) FROM {s}.bin ORDER BY id"
        )),
        [
            "1.1235|695.03|12345678901234567|1.5|0.1|ab  |2024-02-29|2024-01-05 10:00:00.123456|2024-01-05 08:00:00.123456|1 year 2 mons 3 days 04:05:06.5|{\"k\": [1, 2], \"s\": \"x\"}",
            "-100000.0000|0.00000015|-1|-Infinity|NaN|abcd|1969-12-31|1999-12-31 23:59:59.999999|infinity|-3 days -00:00:01|{\"k\": [], \"s\": \"\"}",
            "infinity|-infinity",
        ]
    );
}

#[test]
fn text_in_canonical_spelling_goes_binary_and_any_other_repeats_the_load_as_csv() {
    let s = schema(
        "textparse",
        &["CREATE TABLE t (id int PRIMARY KEY, d date, ts timestamp, n numeric(8,2), b boolean, f float8, u uuid)"],
    );
    let p = project();
    let canonical = "SELECT CAST(i AS VARCHAR) AS id, '2024-02-' || lpad(CAST(i % 28 + 1 AS VARCHAR), 2, '0') AS d, \
                     '1999-12-31T23:59:59.5' AS ts, CAST(i AS VARCHAR) || '.125' AS n, CASE WHEN i % 2 = 0 THEN 't' ELSE 'false' END AS b, \
                     '-1.5e-3' AS f, '6F1C3E0E-2B7A-4A57-9F55-0C1F2A3B4C5D' AS u FROM range(1, 50001) r(i)";
    let r = run(&p, &write_pipeline(&format!("{canonical} ORDER BY i"), &format!("table: t, schema: {s}")));
    r.expect_code(0);
    assert_eq!(copy_event(&r)["format"], "binary");
    let check = format!("SELECT concat_ws('|', count(*), min(d), max(d), min(ts), sum(n), count(*) FILTER (WHERE b), min(f), min(u::text)) FROM {s}.t");
    assert_eq!(
        texts(&check),
        ["50000|2024-02-01|2024-02-28|1999-12-31 23:59:59.5|1250031500.00|25000|-0.0015|6f1c3e0e-2b7a-4a57-9f55-0c1f2a3b4c5d"],
        "numeric rounds on receipt (x.125 -> x.13) as it would from text"
    );

    // Row 50,001 spells its date the way only PostgreSQL reads: the binary COPY, already past
    // its first megabytes, is rolled back to its savepoint and the load repeats as CSV.
    let odd = format!(
        "SELECT * FROM ({canonical} UNION ALL SELECT '50001', 'Jan 5 2024', '2000-01-01 00:00:00', '1', 'yes', '2', NULL) x ORDER BY CAST(id AS INTEGER)"
    );
    let r = run(&p, &write_pipeline(&odd, &format!("table: t, schema: {s}, write_mode: replace")));
    r.expect_code(0);
    let event = copy_event(&r);
    assert_eq!(event["format"], "csv", "{event}");
    let reason = event["reason"].as_str().unwrap();
    assert!(reason.contains("`d` in row 50001"), "{event}");
    assert!(!reason.contains("Jan 5"), "row values stay out of events: {event}");
    assert_eq!(
        texts(&format!("SELECT concat_ws('|', count(*), sum(n), count(*) FILTER (WHERE b)) FROM {s}.t")),
        ["50001|1250031501.00|25001"]
    );
    assert_eq!(texts(&format!("SELECT d::text FROM {s}.t WHERE id = 50001")), ["2024-01-05"]);
}

#[test]
fn discovery_lists_schemas_tables_with_loaded_types_keys_and_samples() {
    // A database of its own: other tests create and drop schemas in `test` meanwhile.
    let mut c = admin();
    c.batch_execute("DROP DATABASE IF EXISTS osiris_it_discovery WITH (FORCE)").unwrap();
    c.batch_execute("CREATE DATABASE osiris_it_discovery").unwrap();
    let mut db =
        postgres::Client::connect("host=127.0.0.1 port=5432 user=postgres dbname=osiris_it_discovery", postgres::NoTls)
            .unwrap();
    db.batch_execute(
        "CREATE SCHEMA shop; CREATE TABLE shop.orders (id bigint PRIMARY KEY, amount numeric(12,2), tags text[], at timestamptz);
         INSERT INTO shop.orders VALUES (1, 9.50, '{a,b}', '2024-01-02 03:04:05+00'), (2, NULL, NULL, NULL);
         CREATE VIEW public.big AS SELECT id FROM shop.orders WHERE amount > 1;",
    )
    .unwrap();
    let p = Project::new();
    p.write(
        "osiris_connections.yaml",
        "connections:\n  supabase:\n    local:\n      pg_dsn: \"postgresql://postgres:${PG_TEST_PASSWORD}@127.0.0.1:5432/osiris_it_discovery\"\n",
    );
    let env = [("PG_TEST_PASSWORD", PASSWORD)];
    let r = p.osiris_env(&["discovery", "run", "@supabase.local", "--samples", "1", "--json"], &env);
    let found = r.expect_code(0).json();
    let tables = found["tables"].as_array().unwrap();
    let names: Vec<String> =
        tables.iter().map(|t| format!("{}.{}", t["schema"].as_str().unwrap(), t["name"].as_str().unwrap())).collect();
    assert_eq!(names, ["public.big", "shop.orders"]);
    let orders = &tables[1];
    assert_eq!(orders["primary_key"], serde_json::json!(["id"]));
    let types: Vec<&str> = orders["columns"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["BIGINT", "DECIMAL(12,2)", "VARCHAR[]", "TIMESTAMPTZ"]);
    assert_eq!(orders["samples"][0][0], "1");
    assert_eq!(tables[0]["kind"], "view");
    assert!(!r.stdout.contains(PASSWORD));
    assert_in_no_file(&p.path(".osiris"), PASSWORD);
    drop(db);
    c.batch_execute("DROP DATABASE IF EXISTS osiris_it_discovery WITH (FORCE)").unwrap();
}

/// `sslmode` as libpq promises it, against the server's own self-signed certificate (CN and SAN
/// `localhost`): `require` encrypts without checking, `verify-full` refuses a certificate no
/// trusted root signed and one that does not name the host, `verify-ca` checks the chain only.
#[test]
fn sslmode_verify_modes_check_the_certificate_and_require_does_not() {
    let s = schema(
        "tls",
        &["CREATE VIEW session_tls AS SELECT ssl::text AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
    );
    let cert: String = admin().query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    assert!(std::path::Path::new(&cert).is_file(), "the server's certificate {cert} is readable");
    let p = Project::new();
    let attempt = |host: &str, tls: &str| {
        p.write(
            "osiris_connections.yaml",
            &format!("connections:\n  supabase:\n    local: {{host: {host}, port: 5432, database: test, user: postgres, password: \"${{PG_TEST_PASSWORD}}\", {tls}}}\n"),
        );
        p.write(
            "p.yaml",
            &format!("oml_version: \"0.1.0\"\nname: tls\nsteps:\n  - id: read\n    component: supabase.extractor\n    mode: read\n    config: {{connection: \"@supabase.local\", table: session_tls, schema: {s}}}\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    needs: [read]\n    config: {{path: out.csv}}\n"),
        );
        let r = p.osiris_env(&["run", "p.yaml", "--json"], &[("PG_TEST_PASSWORD", PASSWORD)]);
        match r.code {
            0 => Ok(p.read("out.csv")),
            _ => Err(r.json()["error"]["message"].as_str().unwrap_or_default().to_string()),
        }
    };
    assert_eq!(attempt("127.0.0.1", "sslmode: require").unwrap(), "tls\ntrue\n", "require encrypts");
    assert_eq!(attempt("127.0.0.1", "sslmode: disable").unwrap(), "tls\nfalse\n");
    let untrusted = attempt("127.0.0.1", "sslmode: verify-full").unwrap_err();
    assert!(untrusted.contains("certificate"), "no trusted root signed it: {untrusted}");
    let root = format!("sslrootcert: \"{cert}\"");
    assert_eq!(attempt("127.0.0.1", &format!("sslmode: verify-ca, {root}")).unwrap(), "tls\ntrue\n");
    let wrong_host = attempt("127.0.0.1", &format!("sslmode: verify-full, {root}")).unwrap_err();
    assert!(wrong_host.contains("certificate") || wrong_host.contains("mismatch"), "{wrong_host}");
    assert_eq!(attempt("localhost", &format!("sslmode: verify-full, {root}")).unwrap(), "tls\ntrue\n");
    let bogus = attempt("127.0.0.1", "sslmode: verify_full").unwrap_err();
    assert!(bogus.contains("sslmode `verify_full` is not one of"), "{bogus}");
}

/// Ctrl-C while PostgreSQL is still computing the extractor's rows: the query is cancelled on
/// the server (cancel request) and the run ends cancelled. (A run that waited would hit the
/// harness's 300-second timeout and fail.)
#[test]
fn ctrl_c_cancels_a_query_the_server_is_still_running() {
    let s = schema("cancel", &["CREATE VIEW slow AS SELECT pg_sleep(3600)::text AS s"]);
    let p = project();
    p.write(
        "p.yaml",
        &format!("oml_version: \"0.1.0\"\nname: slow\nsteps:\n  - id: read\n    component: supabase.extractor\n    mode: read\n    config: {{table: slow, schema: {s}}}\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    needs: [read]\n    config: {{path: out.csv}}\n"),
    );
    let child = crate::util::start_run_until(&p, &[("PG_TEST_PASSWORD", PASSWORD)], "read");
    let out = crate::util::interrupt(child);
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "cancelled");
    assert!(!p.exists("out.csv"));
    let active = texts("SELECT count(*)::text FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%osiris_source%' AND pid <> pg_backend_pid()");
    assert_eq!(active, ["0"], "the server no longer runs the query");
}
