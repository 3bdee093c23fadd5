#!/usr/bin/env python3
"""Side-by-side benchmark: osiris vs the DuckDB CLI on the same CSV workloads, same invocation.

Usage: bench/run.py [--rows 1000000,5000000] [--repeat 3] [--osiris PATH] [--duckdb PATH]

Workloads (on bench/data/orders_<rows>.csv from gen_orders.py):
  groupby  CSV -> GROUP BY -> CSV
  filter   CSV -> filter keeping ~90 % of rows -> CSV
  mysql    (with --mysql) MariaDB tables -> CSV, against `mysql --batch --quick`, on three shapes:
           `orders` (the CSV's columns), `shop` (BIGINT id, INT, short VARCHARs, DECIMAL(10,2),
           DOUBLE, two DATETIMEs of which one nullable, a 255-char note, BOOLEAN) and `wide`
           (every MariaDB type osiris maps), so no figure depends on one column mix
  mysql-load (with --mysql) CSV -> MariaDB via mysql.writer, against LOAD DATA LOCAL INFILE
  parquet  CSV -> Parquet (snappy), against the DuckDB CLI's COPY ... (FORMAT parquet); then
           checks that CSV -> Parquet -> CSV gives the same file as CSV -> CSV
  pg-load  (with --postgres) CSV -> PostgreSQL via supabase.writer, against psql \copy
  posthog / graphql (with --http ROWS,...) pages from a local server (http_servers.py); rows/s
Prints wall time and peak RSS (median of --repeat runs) for each tool, and the osiris/DuckDB ratio.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
WORK = HERE / "work"

QUERIES = {
    "groupby": "SELECT status, city, count(*) AS orders, sum(quantity) AS items, round(sum(quantity * unit_price * (1 - discount)), 2) AS revenue FROM {src} GROUP BY ALL ORDER BY ALL",
    "filter": "SELECT * FROM {src} WHERE discount < 0.27",
}


def pinned(cpus):
    """A preexec_fn that keeps the child on `cpus` (None: wherever the kernel puts it)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def measure(cmd, cwd, cpus=None):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=pinned(cpus))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"command failed ({code}): {' '.join(map(str, cmd))}\n{err}")
    return wall, usage.ru_maxrss / 1024.0


def compare(args, rows, workload, tools, cpus=None):
    """Run every tool `args.repeat` times, the tools taking turns (so a machine that drifts
    slows both alike); one (rows, workload, tool, median wall, median RSS) each."""
    samples = {tool: [] for tool in tools}
    for _ in range(args.repeat):
        for tool, cmd in tools.items():
            samples[tool].append(measure(cmd, WORK, cpus))
    out = []
    for tool, runs in samples.items():
        wall = statistics.median(s[0] for s in runs)
        rss = statistics.median(s[1] for s in runs)
        out.append((rows, workload, tool, wall, rss))
        walls = " ".join(f"{s[0]:.2f}" for s in runs)
        print(f"{rows:>9} {workload:<10} {tool:<15} {wall:7.2f} s {rss:8.1f} MiB  ({walls})", file=sys.stderr)
    return out


def osiris_pipeline(workload, csv, out):
    query = QUERIES[workload].format(src='"extract"').replace('"', '\\"')
    return f"""oml_version: "0.1.0"
name: bench-{workload}
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {{path: "{csv}"}}
  - id: transform
    component: duckdb.processor
    mode: transform
    config:
      query: "{query}"
  - id: write
    component: filesystem.csv_writer
    mode: write
    config: {{path: "{out}"}}
"""


PARSE_DATES = ", parse_dates: [order_date, created_at]"


def parquet_workload(args, rows, csv, duck):
    """CSV -> Parquet by osiris and by the DuckDB CLI, then the round trip checked by osiris."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    # The same Parquet file as the CLI writes: its read_csv types the date and timestamp columns,
    # which osiris keeps as text unless `parse_dates` names them (the original's default).
    (WORK / "to.yaml").write_text(load_pipeline("bench-parquet", csv, "filesystem.parquet_writer",
                                                f"path: \"{WORK / 'osiris.parquet'}\"", PARSE_DATES))
    sql = f"COPY (SELECT * FROM read_csv('{csv}')) TO '{WORK / 'duckdb.parquet'}' (FORMAT parquet)"
    tools = {
        "duckdb-cli": [duck, ":memory:", "-c", sql],
        "osiris": [args.osiris, "run", str(WORK / "to.yaml"), "--quiet", "--runs-dir", str(WORK / "runs")],
    }
    out = compare(args, rows, "parquet", tools)
    copy = lambda name, extractor, src, dst, extra="": (WORK / name).write_text(
        f"oml_version: \"0.1.0\"\nname: {name[:-5]}\nsteps:\n  - id: extract\n    component: {extractor}\n    mode: read\n"
        f"    config: {{path: \"{src}\"{extra}}}\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n"
        f"    config: {{path: \"{dst}\"}}\n")
    copy("back.yaml", "filesystem.parquet_extractor", WORK / "osiris.parquet", WORK / "back.csv")
    copy("direct.yaml", "filesystem.csv_extractor", csv, WORK / "direct.csv", PARSE_DATES)
    for name in ("back.yaml", "direct.yaml"):
        subprocess.check_call([args.osiris, "run", str(WORK / name), "--quiet", "--runs-dir", str(WORK / "runs")])
    same = subprocess.run(["cmp", "-s", str(WORK / "back.csv"), str(WORK / "direct.csv")]).returncode == 0
    print(f"{rows:>9} parquet    round trip CSV -> Parquet -> CSV == CSV -> CSV: {same}", file=sys.stderr)
    if not same:
        sys.exit("the Parquet round trip differs")
    return out


def load_pipeline(name, csv, writer, writer_config, extract_config=""):
    """OML: the CSV (csv_extractor, `extract_config` added to its config) into `writer` with
    `writer_config` (a YAML flow-map body)."""
    return f"""oml_version: "0.1.0"
name: {name}
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {{path: "{csv}"{extract_config}}}
  - id: load
    component: {writer}
    mode: write
    config: {{{writer_config}}}
"""


def mysql_workload(args, rows, csv):
    """Load the CSV into MariaDB once, then extract it in full to CSV with each tool."""
    db = "osiris_bench"
    table = f"orders_{rows}"
    mysql = ["mysql", "-h127.0.0.1", "-P3306", "-uroot", "--local-infile=1"]
    exists = subprocess.run(mysql + ["-N", "-e", f"SELECT COUNT(*) FROM {db}.{table}"], capture_output=True, text=True)
    if exists.returncode != 0 or exists.stdout.strip() != str(rows):
        print(f"loading {table} into MariaDB ...", file=sys.stderr)
        ddl = (f"CREATE DATABASE IF NOT EXISTS {db}; DROP TABLE IF EXISTS {db}.{table}; CREATE TABLE {db}.{table} ("
               "order_id BIGINT PRIMARY KEY, customer_id BIGINT, product VARCHAR(64), quantity INT, unit_price DECIMAL(10,2), "
               "discount DECIMAL(4,2), status VARCHAR(16), is_gift BOOLEAN, city VARCHAR(64), order_date DATE, created_at DATETIME(6), note TEXT) "
               "CHARACTER SET utf8mb4; SET GLOBAL local_infile = 1; "
               f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE {db}.{table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' "
               "OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\n' IGNORE 1 LINES "
               "(order_id, customer_id, product, quantity, unit_price, discount, status, @gift, city, order_date, created_at, note) "
               "SET is_gift = (@gift = 'true')")
        subprocess.check_call(mysql + ["-e", ddl])
    out = mysql_extract(args, rows, db, table, "mysql")
    for shape, (columns, values) in MYSQL_SHAPES.items():
        shaped = f"{shape}_{rows}"
        exists = subprocess.run(mysql + ["-N", "-e", f"SELECT COUNT(*) FROM {db}.{shaped}"], capture_output=True, text=True)
        if exists.returncode != 0 or exists.stdout.strip() != str(rows):
            print(f"generating {shaped} in MariaDB ...", file=sys.stderr)
            subprocess.check_call(mysql + ["-e", f"DROP TABLE IF EXISTS {db}.{shaped}; CREATE TABLE {db}.{shaped} ({columns}) "
                                           f"CHARACTER SET utf8mb4; INSERT INTO {db}.{shaped} SELECT {values} FROM {db}.seq_1_to_{rows}"])
        out.extend(mysql_extract(args, rows, db, shaped, f"mysql-{shape}"))
    out.extend(mysql_load(args, rows, csv, db, table))
    return out


# Generated inside MariaDB from its SEQUENCE engine (`seq_1_to_N`, column `seq`): deterministic.
MYSQL_SHAPES = {
    "shop": (
        "id BIGINT PRIMARY KEY, customer_id INT, status VARCHAR(16), country CHAR(2), currency VARCHAR(3), "
        "amount DECIMAL(10,2), weight DOUBLE, created_at DATETIME, shipped_at DATETIME NULL, note VARCHAR(255), paid BOOLEAN",
        "seq, seq * 7919 % 100000, ELT(1 + seq % 5, 'new', 'paid', 'shipped', 'delivered', 'returned'), "
        "ELT(1 + seq % 4, 'CZ', 'DE', 'US', 'JP'), 'EUR', (seq * 37 % 1000000) / 100, (seq * 13 % 10007) / 7.0, "
        "'2024-01-01' + INTERVAL (seq * 17 % 31536000) SECOND, "
        "IF(seq % 3 = 0, NULL, '2024-02-01' + INTERVAL (seq * 19 % 31536000) SECOND), "
        "LEFT(REPEAT(CONCAT('note ', seq, ' about the order; '), 12), 255), seq % 2"),
    "wide": (
        "id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, iu INT UNSIGNED, bu BIGINT UNSIGNED, "
        "d38 DECIMAL(38,10), f FLOAT, dbl DOUBLE, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), y YEAR, "
        "c CHAR(8), v VARCHAR(64), tx TEXT, e ENUM('a','b','c'), st SET('x','y','z'), j JSON, vb VARBINARY(16), bl BLOB, "
        "bt BIT(10), b BOOLEAN",
        "seq, CAST(seq % 256 AS SIGNED) - 128, CAST(seq % 65536 AS SIGNED) - 32768, seq % 8388607, seq * 2654435761 % 4294967296, "
        "seq * 3000000000007, seq * 1234567.0123456789, seq / 3.0, SQRT(seq) * 1.5, "
        "'2000-01-01' + INTERVAL (seq % 9000) DAY, '2020-01-01' + INTERVAL (seq * 1000003) MICROSECOND, "
        "IF(seq % 5 = 0, NULL, '2021-01-01' + INTERVAL (seq * 7) SECOND), SEC_TO_TIME(seq % 86400 + 0.5), 1901 + seq % 250, "
        "LPAD(seq, 8, '0'), CONCAT('value ', seq), REPEAT('text, with \"quotes\" ', 1 + seq % 4), ELT(1 + seq % 3, 'a', 'b', 'c'), "
        "ELT(1 + seq % 3, 'x', 'x,y', 'x,y,z'), JSON_OBJECT('k', seq, 'tags', JSON_ARRAY('a', seq % 7)), "
        "UNHEX(LPAD(HEX(seq), 16, '0')), UNHEX(REPEAT(HEX(seq % 256), 32)), seq % 1024, seq % 2 = 0"),
}


def mysql_extract(args, rows, db, table, workload):
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    (WORK / "osiris_connections.yaml").write_text(
        f"connections:\n  mysql:\n    bench: {{host: 127.0.0.1, port: 3306, database: {db}, user: root, password: '', default: true}}\n")
    (WORK / "p.yaml").write_text(f"""oml_version: "0.1.0"
name: bench-mysql
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {{table: {table}}}
  - id: write
    component: filesystem.csv_writer
    mode: write
    config: {{path: "{WORK / 'osiris_out.csv'}"}}
""")
    shell = f"mysql -h127.0.0.1 -P3306 -uroot --batch --quick -e 'SELECT * FROM {db}.{table}' > {WORK / 'mysql_out.tsv'}"
    tools = {
        "mysql --quick": ["bash", "-c", shell],
        "osiris": [args.osiris, "run", str(WORK / "p.yaml"), "--quiet", "--runs-dir", str(WORK / "runs")],
    }
    return compare(args, rows, workload, tools)


def mysql_load(args, rows, csv, db, table):
    """CSV -> MariaDB: osiris (csv_extractor -> mysql.writer, mode replace) vs LOAD DATA LOCAL INFILE."""
    target = f"{table}_load"
    mysql = ["mysql", "-h127.0.0.1", "-P3306", "-uroot", "--local-infile=1"]
    subprocess.check_call(mysql + ["-e", f"DROP TABLE IF EXISTS {db}.{target}; CREATE TABLE {db}.{target} LIKE {db}.{table}"])
    (WORK / "load.yaml").write_text(load_pipeline("bench-mysql-load", csv, "mysql.writer",
                                                  f"table: {target}, mode: replace, batch_size: 5000"))
    load_sql = (f"TRUNCATE {db}.{target}; LOAD DATA LOCAL INFILE '{csv}' INTO TABLE {db}.{target} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\n' IGNORE 1 LINES "
                "(order_id, customer_id, product, quantity, unit_price, discount, status, @gift, city, order_date, created_at, note) "
                "SET is_gift = (@gift = 'true')")
    tools = {
        "LOAD DATA LOCAL": mysql + ["-e", load_sql],
        "osiris": [args.osiris, "run", str(WORK / "load.yaml"), "--quiet", "--runs-dir", str(WORK / "runs")],
    }
    return compare(args, rows, "mysql-load", tools)


PG = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-q"]


def pg_load(args, rows, csv):
    """CSV -> PostgreSQL: osiris (csv_extractor -> supabase.writer, replace) vs psql \\copy."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    table = f"osiris_bench.orders_{rows}"
    ddl = ("CREATE SCHEMA IF NOT EXISTS osiris_bench; "
           f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (order_id bigint PRIMARY KEY, customer_id bigint, product text, "
           "quantity int, unit_price numeric(10,2), discount numeric(4,2), status text, is_gift boolean, city text, "
           "order_date date, created_at timestamp, note text)")
    subprocess.check_call(PG + ["-c", ddl])
    (WORK / "osiris_connections.yaml").write_text(
        "connections:\n  supabase:\n    bench: {pg_dsn: 'postgresql://postgres@127.0.0.1:5432/test', default: true}\n")
    (WORK / "p.yaml").write_text(load_pipeline("bench-pg-load", csv, "supabase.writer",
                                               f"table: orders_{rows}, schema: osiris_bench, write_mode: replace, create_if_missing: false"))
    tools = {
        "psql \\copy": PG + ["-c", f"TRUNCATE {table}", "-c", f"\\copy {table} FROM '{csv}' WITH (FORMAT csv, HEADER true)"],
        "osiris": [args.osiris, "run", str(WORK / "p.yaml"), "--quiet", "--runs-dir", str(WORK / "runs")],
    }
    return compare(args, rows, "pg-load", tools)


def http_workload(args, kind, rows):
    """Page `rows` records from a local server; rows/s and peak RSS of osiris alone."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    port = 18_000 + (rows % 1000)
    # --http-pinned: the server on a core of its own, standing in for an API on another machine,
    # and the client (osiris or the wire floor's plain fetch) on the others. Sharing the cores,
    # osiris's parse and load can take the server's core; pinned, osiris has one core fewer.
    # BENCHMARKS.md has both.
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 and args.http_pinned else (None, None)
    server = subprocess.Popen([sys.executable, str(HERE / "http_servers.py"), kind, str(rows), str(port)],
                              stdout=subprocess.PIPE, preexec_fn=pinned(server_cpus))
    try:
        server.stdout.readline()
        if kind == "posthog":
            conns = f"connections:\n  posthog:\n    bench: {{api_key: phx_bench_key, project_id: '1', region: self_hosted, custom_base_url: 'http://127.0.0.1:{port}', default: true}}\n"
            config = "{data_type: events, page_size: 10000, initial_since: '2024-03-01T00:00:00Z'}"
            component = "posthog.extractor"
        else:
            conns = ""
            query = ("query($first: Int!, $after: String) { repositories(first: $first, after: $after) { edges { node { id name stars "
                     "owner { login plan { seats tier } } tags } } pageInfo { hasNextPage endCursor } } }")
            config = (f"{{endpoint: 'http://127.0.0.1:{port}/graphql', query: '{query}', variables: {{first: 10000}}, pagination_enabled: true, "
                      "pagination_path: data.repositories.pageInfo, data_path: 'data.repositories.edges[*].node'}")
            component = "graphql.extractor"
        if conns:
            (WORK / "osiris_connections.yaml").write_text(conns)
        writer = f"""  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [extract]
    config: {{path: "{WORK / 'out.csv'}"}}
"""

        def pipeline(name, step_config, with_writer):
            """A pipeline file: the extractor alone (its table stays in the exchange) or feeding a
            CSV writer (the extractor's relation is then a view over its staged pages)."""
            text = f"""oml_version: "0.1.0"
name: bench-{kind}
steps:
  - id: extract
    component: {component}
    mode: read
    config: {step_config}
""" + (writer if with_writer else "")
            (WORK / name).write_text(text)
            return [args.osiris, "run", str(WORK / name), "--quiet", "--full-refresh", "--runs-dir", str(WORK / "runs")]

        path = "/graphql" if kind == "graphql" else "/api/projects/1/query/"
        tools = {
            "wire floor": [sys.executable, str(HERE / "wire_floor.py"), kind, f"http://127.0.0.1:{port}{path}", "10000"],
            "osiris": pipeline("p.yaml", config, False),
            "osiris + csv": pipeline("pw.yaml", config, True),
        }
        if kind == "graphql":
            # The nested form (`…edges`: cursor + node flattened) beside the `[*].node` form.
            nested = config.replace("data.repositories.edges[*].node", "data.repositories.edges")
            tools["osiris edges"] = pipeline("nested.yaml", nested, False)
            tools["osiris edges + csv"] = pipeline("nestedw.yaml", nested, True)
        return compare(args, rows, kind, tools, client_cpus)
    finally:
        server.kill()


def ensure_duckdb_cli():
    venv = HERE / ".venv"
    exe = venv / "bin" / "duckdb"
    if not exe.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call([str(venv / "bin" / "pip"), "install", "-q", "duckdb-cli==1.5.6"])
    return str(exe)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1000000,5000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--osiris", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/osiris-target")), "debug", "osiris"))
    ap.add_argument("--duckdb", default=None)
    ap.add_argument("--mysql", action="store_true", help="also run the MariaDB extract workload (127.0.0.1:3306, root)")
    ap.add_argument("--skip-csv", action="store_true", help="skip the CSV workloads")
    ap.add_argument("--only-parquet", action="store_true", help="of the CSV workloads, run only CSV -> Parquet")
    ap.add_argument("--postgres", action="store_true", help="also run CSV -> PostgreSQL (127.0.0.1:5432, postgres, db test)")
    ap.add_argument("--http-kinds", default="posthog,graphql", help="which HTTP workloads --http runs")
    ap.add_argument("--http-pinned", action="store_true",
                    help="run the HTTP workloads' local server on the first core and the client on the others (default: shared)")
    ap.add_argument("--http", default="", help="row counts for the PostHog and GraphQL paging workloads, e.g. 100000,1000000")
    args = ap.parse_args()
    duck = args.duckdb or ensure_duckdb_cli()
    DATA.mkdir(exist_ok=True)
    results = []
    for rows in [int(r) for r in args.rows.split(",")]:
        csv = DATA / f"orders_{rows}.csv"
        if not csv.exists():
            print(f"generating {csv} ...", file=sys.stderr)
            subprocess.check_call([sys.executable, str(HERE / "gen_orders.py"), str(rows), str(csv)])
        if args.mysql:
            results.extend(mysql_workload(args, rows, csv))
        if args.postgres:
            results.extend(pg_load(args, rows, csv))
        if not args.skip_csv:
            results.extend(parquet_workload(args, rows, csv, duck))
        for workload in ([] if args.skip_csv or args.only_parquet else QUERIES):
            shutil.rmtree(WORK, ignore_errors=True)
            WORK.mkdir(parents=True)
            pipeline = WORK / "p.yaml"
            pipeline.write_text(osiris_pipeline(workload, csv, WORK / "osiris_out.csv"))
            select = QUERIES[workload].format(src=f"read_csv('{csv}')")
            sql = f"COPY ({select}) TO '{WORK / 'duckdb_out.csv'}' (HEADER)"
            tools = {
                "duckdb-cli": [duck, ":memory:", "-c", sql],
                "osiris": [args.osiris, "run", str(pipeline), "--quiet", "--runs-dir", str(WORK / "runs")],
            }
            results.extend(compare(args, rows, workload, tools))
    for rows in [int(r) for r in args.http.split(",") if r]:
        for kind in [k for k in ("posthog", "graphql") if k in args.http_kinds.split(",")]:
            results.extend(http_workload(args, kind, rows))
    print("| rows | workload | tool | wall (s) | peak RSS (MiB) | osiris / baseline wall |")
    print("|---:|---|---|---:|---:|---:|")
    for rows, workload, tool, wall, rss in results:
        ratio = ""
        base = next((r for r in results if r[0] == rows and r[1] == workload and not r[2].startswith("osiris")), None)
        if tool.startswith("osiris") and base:
            ratio = f"{wall / base[3]:.2f}x"
        elif tool.startswith("osiris"):
            ratio = f"{rows / wall:,.0f} rows/s"
        print(f"| {rows:,} | {workload} | {tool} | {wall:.2f} | {rss:.0f} | {ratio} |")
    for workload in list(QUERIES) + ["parquet", "mysql"] + [f"mysql-{s}" for s in MYSQL_SHAPES] + ["mysql-load", "pg-load", "posthog", "graphql"]:
        for tool in dict.fromkeys(r[2] for r in results if r[1] == workload and r[2].startswith("osiris")):
            osi = {r[0]: r[4] for r in results if r[1] == workload and r[2] == tool}
            if len(osi) >= 2:
                lo, hi = min(osi), max(osi)
                print(f"\n{tool} {workload}: peak RSS at {hi:,} rows / at {lo:,} rows = {osi[hi] / osi[lo]:.2f}x")


if __name__ == "__main__":
    main()
