#!/usr/bin/env python3
"""MCP server start-up: time from spawning `osiris mcp run` to the `initialize` reply and to the
`tools/list` reply, and the server's resident memory when idle after them. Raw JSON-RPC over
stdio (no SDK in the way). Median of --repeat runs.

Usage: bench/mcp_startup.py [--repeat 10] [--osiris PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path


def rss_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def once(binary, cwd):
    start = time.perf_counter()
    p = subprocess.Popen([binary, "mcp", "run"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)

    def request(msg):
        p.stdin.write(json.dumps(msg) + "\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    request({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    first = time.perf_counter() - start
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    tools = request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    listed = time.perf_counter() - start
    time.sleep(0.5)
    idle, peak = rss_kib(p.pid, "VmRSS"), rss_kib(p.pid, "VmHWM")
    p.stdin.close()
    p.wait(timeout=10)
    return first, listed, idle, peak, len(tools["result"]["tools"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/osiris-target"))
    ap.add_argument("--osiris", default=f"{target}/debug/osiris")
    a = ap.parse_args()
    cwd = Path(__file__).resolve().parent.parent / "examples"
    runs = [once(a.osiris, cwd) for _ in range(a.repeat)]
    med = lambda i: statistics.median(r[i] for r in runs)
    print(f"{runs[0][4]} tools; median of {a.repeat}: initialize reply {med(0) * 1000:.0f} ms, "
          f"tools/list reply {med(1) * 1000:.0f} ms, idle RSS {med(2) / 1024:.1f} MiB, peak RSS {med(3) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
