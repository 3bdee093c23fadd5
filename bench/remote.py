#!/usr/bin/env python3
"""Overhead of `osiris run --remote "osiris worker"` over a local run, same invocation.

Usage: bench/remote.py [--rows 1000000] [--repeat 5] [--osiris PATH]

Workloads:
  tiny   a 10-row CSV -> CSV pipeline (the fixed cost: start the worker, hello, prepare, cleanup)
  mysql  MariaDB `shop` table (generated from the SEQUENCE engine, as bench/run.py's shape) -> CSV
Local and remote runs alternate, so both see the same machine; the median wall of each is
printed with the remote/local ratio. The worker is a local process: the transport adds no network,
so the figure is osiris's own overhead (the protocol, the mirror, the worker's start).
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
WORK = HERE / "work-remote"
DB = "osiris_bench"


def wall(cmd, cwd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')}")
    return time.perf_counter() - start


def ensure_table(rows):
    mysql = ["mysql", "-h127.0.0.1", "-P3306", "-uroot"]
    table = f"remote_shop_{rows}"
    have = subprocess.run(mysql + ["-N", "-e", f"SELECT COUNT(*) FROM {DB}.{table}"], capture_output=True, text=True)
    if have.returncode != 0 or have.stdout.strip() != str(rows):
        print(f"generating {DB}.{table} ...", file=sys.stderr)
        subprocess.check_call(mysql + ["-e", (
            f"CREATE DATABASE IF NOT EXISTS {DB}; DROP TABLE IF EXISTS {DB}.{table}; "
            f"CREATE TABLE {DB}.{table} (id BIGINT PRIMARY KEY, customer_id INT, status VARCHAR(16), amount DECIMAL(10,2), "
            "weight DOUBLE, created_at DATETIME, note VARCHAR(255), paid BOOLEAN) CHARACTER SET utf8mb4; "
            f"INSERT INTO {DB}.{table} SELECT seq, seq * 7919 % 100000, ELT(1 + seq % 5, 'new', 'paid', 'shipped', 'delivered', 'returned'), "
            "(seq * 37 % 1000000) / 100, (seq * 13 % 10007) / 7.0, '2024-01-01' + INTERVAL (seq * 17 % 31536000) SECOND, "
            f"CONCAT('note ', seq), seq % 2 FROM {DB}.seq_1_to_{rows}")])
    return table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--osiris", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/osiris-target")), "debug", "osiris"))
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    table = ensure_table(args.rows)
    (WORK / "osiris.yaml").write_text('version: "1"\n')
    (WORK / "osiris_connections.yaml").write_text(
        f"connections:\n  mysql:\n    bench: {{host: 127.0.0.1, port: 3306, database: {DB}, user: root, password: '', default: true}}\n")
    (WORK / "in.csv").write_text("id,name\n" + "".join(f"{i},name {i}\n" for i in range(10)))
    (WORK / "tiny.yaml").write_text("""oml_version: "0.1.0"
name: tiny
steps:
  - {id: extract, component: filesystem.csv_extractor, mode: read, config: {path: in.csv}}
  - {id: write, component: filesystem.csv_writer, mode: write, needs: [extract], config: {path: tiny_out.csv}}
""")
    (WORK / "mysql.yaml").write_text(f"""oml_version: "0.1.0"
name: remote-mysql
steps:
  - {{id: extract, component: mysql.extractor, mode: read, config: {{table: {table}}}}}
  - {{id: write, component: filesystem.csv_writer, mode: write, needs: [extract], config: {{path: mysql_out.csv}}}}
""")
    worker = f"{args.osiris} worker --sessions-dir {WORK / 'sessions'}"
    print("| workload | rows | local (s) | remote (s) | remote / local |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in (("tiny", 10), ("mysql", args.rows)):
        local, remote = [], []
        for _ in range(args.repeat):
            base = [args.osiris, "run", f"{name}.yaml", "--quiet", "--runs-dir", str(WORK / "runs")]
            local.append(wall(base, WORK))
            remote.append(wall(base + ["--remote", worker], WORK))
        lo, re = statistics.median(local), statistics.median(remote)
        print(f"| {name} | {rows:,} | {lo:.3f} | {re:.3f} | {re / lo:.3f}x |", flush=True)
        print(f"  {name} local {[round(x, 3) for x in local]} remote {[round(x, 3) for x in remote]}", file=sys.stderr)


if __name__ == "__main__":
    main()
