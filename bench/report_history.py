#!/usr/bin/env python3
"""`osiris logs html` on a big history: 1,000 runs of a 50-step pipeline.

Usage: bench/report_history.py [--runs 1000] [--steps 50] [--repeat 3] [--osiris PATH]

Runs one real 50-step pipeline (a CSV extract, a chain of DuckDB transforms, a CSV writer) once,
then copies its run directory --runs times under new run ids (status.json, events, metrics,
manifest; without the exchange database, as a history that `logs gc` keeps small would be), a
tenth of them marked failed. Measures, median of --repeat:
  cold   `logs html` into an empty report directory (every page and the index written)
  warm   `logs html` again (pages up to date; the index rewritten)
  list   `logs list --limit 1000 --json`
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "report_history"


def pipeline(steps):
    lines = ['oml_version: "0.1.0"', "name: long-chain", "steps:",
             "  - id: s0", "    component: filesystem.csv_extractor", "    mode: read", "    config: {path: in.csv}"]
    for i in range(1, steps - 1):
        lines += [f"  - id: s{i}", "    component: duckdb.processor", "    mode: transform", f"    needs: [s{i - 1}]",
                  f'    config: {{query: "SELECT a + {i} AS a FROM s{i - 1}"}}']
    lines += [f"  - id: s{steps - 1}", "    component: filesystem.csv_writer", "    mode: write",
              f"    needs: [s{steps - 2}]", "    config: {path: out.csv}"]
    return "\n".join(lines) + "\n"


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=WORK, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/osiris-target"))
    ap.add_argument("--osiris", default=f"{target}/debug/osiris")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    (WORK / "in.csv").write_text("a\n" + "\n".join(str(i) for i in range(100)) + "\n")
    (WORK / "p.yaml").write_text(pipeline(a.steps))
    subprocess.run([a.osiris, "run", "p.yaml", "--quiet", "--runs-dir", "runs"], cwd=WORK, check=True)
    runs = WORK / "runs"
    (template,) = list(runs.iterdir())
    (template / "pipeline_data.duckdb").unlink()
    base = time.time() - a.runs * 60
    for i in range(a.runs):
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(base + i * 60)) + f"-{i:06x}"
        dest = runs / run_id
        shutil.copytree(template, dest)
        status = json.loads((dest / "status.json").read_text())
        status["run_id"] = run_id
        status["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(base + i * 60))
        if i % 10 == 0:
            status["status"] = "failed"
            status["error"] = {"step": "s7", "kind": "sql", "message": "synthetic failure"}
        (dest / "status.json").write_text(json.dumps(status))
    shutil.rmtree(template)
    cold, warm, listing = [], [], []
    for _ in range(a.repeat):
        shutil.rmtree(WORK / "report", ignore_errors=True)
        cold.append(timed([a.osiris, "logs", "html", "--out", "report", "--runs-dir", "runs", "--sessions", str(a.runs)]))
        warm.append(timed([a.osiris, "logs", "html", "--out", "report", "--runs-dir", "runs", "--sessions", str(a.runs)]))
        listing.append(timed([a.osiris, "logs", "list", "--limit", str(a.runs), "--json", "--runs-dir", "runs"]))
    pages = sum(1 for _ in (WORK / "report").glob("*/index.html"))
    size = sum(p.stat().st_size for p in (WORK / "report").rglob("*.html"))
    print(f"{a.runs} runs x {a.steps} steps: {pages} pages, {size / 1e6:.1f} MB of HTML")
    print(f"logs html (cold)  median {statistics.median(cold):.2f} s  runs {', '.join(f'{t:.2f}' for t in cold)}")
    print(f"logs html (warm)  median {statistics.median(warm):.2f} s  runs {', '.join(f'{t:.2f}' for t in warm)}")
    print(f"logs list --json  median {statistics.median(listing):.2f} s  runs {', '.join(f'{t:.2f}' for t in listing)}")


if __name__ == "__main__":
    main()
