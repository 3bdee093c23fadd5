#!/usr/bin/env python3
"""The wire floor of a paged HTTP workload: every page fetched by a plain client, its body read
and discarded, the next request built from the page's tail by a regular expression (no JSON
parse). What osiris does beyond this is osiris's own cost.

Usage: wire_floor.py graphql URL PAGE_SIZE    relay pages, `after` = the last endCursor
       wire_floor.py posthog URL PAGE_SIZE    HogQL pages, seek after the last row's timestamp
"""
import datetime
import json
import re
import sys
import urllib.request

QUERY = ("query($first: Int!, $after: String) { repositories(first: $first, after: $after) { edges { node { id name stars "
         "owner { login plan { seats tier } } tags } } pageInfo { hasNextPage endCursor } } }")
EVENTS = "SELECT uuid, event, timestamp, distinct_id, person_id, properties FROM events"


def post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as response:
        return response.read()


def graphql(url, first):
    after, pages = None, 0
    while True:
        tail = post(url, {"query": QUERY, "variables": {"first": first, "after": after}})[-300:].decode(errors="replace")
        pages += 1
        if '"hasNextPage": true' not in tail and '"hasNextPage":true' not in tail:
            return pages
        after = re.search(r'"endCursor":\s*"([^"]*)"', tail).group(1)


def hogql_time(iso):
    """'2024-03-01T00:00:01.230000Z' -> '2024-03-01 00:00:01.230000' (what the extractor sends)."""
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def posthog(url, limit):
    condition = "timestamp >= toDateTime('2024-03-01 00:00:00.000000')"
    pages = 0
    while True:
        query = f"{EVENTS} WHERE {condition} ORDER BY timestamp ASC, uuid ASC LIMIT {limit}"
        tail = post(url, {"query": {"kind": "HogQLQuery", "query": query}})[-2000:].decode(errors="replace")
        pages += 1
        if '"hasMore": true' not in tail and '"hasMore":true' not in tail:
            return pages
        last = re.findall(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"', tail)[-1]
        condition = f"timestamp > toDateTime('{hogql_time(last)}')"


def main():
    kind, url, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pages = graphql(url, size) if kind == "graphql" else posthog(url, size)
    print(pages, file=sys.stderr)


if __name__ == "__main__":
    main()
