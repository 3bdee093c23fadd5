#!/usr/bin/env python3
"""The wire floor of a paged GraphQL workload: every page fetched by a plain client, its body
read and discarded, the cursor found by a regular expression (no JSON parse).

Usage: wire_floor.py URL PAGE_SIZE
"""
import json
import re
import sys
import urllib.request

QUERY = ("query($first: Int!, $after: String) { repositories(first: $first, after: $after) { edges { node { id name stars "
         "owner { login plan { seats tier } } tags } } pageInfo { hasNextPage endCursor } } }")


def main():
    url, first = sys.argv[1], int(sys.argv[2])
    after = None
    pages = 0
    while True:
        body = json.dumps({"query": QUERY, "variables": {"first": first, "after": after}}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as response:
            text = response.read()
        pages += 1
        tail = text[-300:].decode(errors="replace")
        if '"hasNextPage": true' not in tail and '"hasNextPage":true' not in tail:
            break
        after = re.search(r'"endCursor":\s*"([^"]*)"', tail).group(1)
    print(pages, file=sys.stderr)


if __name__ == "__main__":
    main()
