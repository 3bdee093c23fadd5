#!/usr/bin/env python3
"""Local API servers for the HTTP benchmarks (not used by the tests, which run their own
in-process servers). Deterministic data generated on the fly, so any row count costs no memory.

  http_servers.py posthog ROWS PORT   PostHog HogQL endpoint POST /api/projects/1/query/ serving
                                      ROWS events (one every 10 ms — 100/s, a busy product — from 2024-03-01), honouring
                                      the window, seek condition and LIMIT the extractor sends.
  http_servers.py graphql ROWS PORT   A relay connection at POST /graphql: variables `first` and
                                      `after` page over ROWS nodes with nested objects and a list.

Prints "ready" on stdout once listening.
"""
import datetime
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)


def event_ts(i):
    return BASE + datetime.timedelta(milliseconds=10 * i)


def hogql_ts(text):
    """'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) -> event index at or after it."""
    t = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    delta = t - BASE
    ms = delta.days * 86_400_000 + delta.seconds * 1000 + (delta.microseconds + 999) // 1000
    return (ms + 9) // 10


def posthog_page(rows, query):
    limit = int(re.search(r"LIMIT (\d+)", query).group(1))
    start = 0
    seek = re.search(r"timestamp > toDateTime\('([^']*)'\)", query)
    if seek:
        start = hogql_ts(seek.group(1)) + 1
    else:
        since = re.search(r"timestamp >= toDateTime\('([^']*)'\)", query)
        if since:
            start = max(0, hogql_ts(since.group(1)))
    results = []
    for i in range(start, min(rows, start + limit)):
        ts = event_ts(i).isoformat().replace("+00:00", "Z")
        uuid = f"{(i * 2654435761) % 0xffffffff:08x}-0000-4000-8000-{i:012x}"
        props = json.dumps({"$browser": "Firefox", "$current_url": f"https://example.com/p/{i % 97}", "n": i})
        results.append([uuid, ["pageview", "signup", "purchase"][i % 3], ts, f"user-{i % 5000}", None, props])
    return {
        "columns": ["uuid", "event", "timestamp", "distinct_id", "person_id", "properties"],
        "types": [["uuid", "UUID"], ["event", "String"], ["timestamp", "DateTime64(6, 'UTC')"], ["distinct_id", "String"],
                  ["person_id", "Nullable(UUID)"], ["properties", "String"]],
        "results": results,
        "hasMore": start + limit < rows,
    }


def graphql_page(rows, variables):
    first = int(variables.get("first", 1000))
    start = int(variables.get("after") or 0)
    end = min(rows, start + first)
    edges = [{"cursor": str(i), "node": {"id": i, "name": f"repo-{i}", "stars": i / 2,
                                         "owner": {"login": f"user-{i % 7}", "plan": {"seats": i % 5, "tier": "pro"}},
                                         "tags": [f"t{i % 3}", "x"]}} for i in range(start + 1, end + 1)]
    return {"data": {"repositories": {"edges": edges, "pageInfo": {"hasNextPage": end < rows, "endCursor": str(end)}}}}


def main():
    kind, rows, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if kind == "posthog":
                answer = posthog_page(rows, body["query"]["query"])
            else:
                answer = graphql_page(rows, body.get("variables") or {})
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
