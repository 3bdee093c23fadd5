"""The author's loop through the official MCP Python SDK (`mcp` on PyPI), over stdio or
streamable HTTP. Driven by tests/it/mcp.rs; prints one JSON object with what it saw.

Usage: python_client.py stdio OSIRIS_BINARY PROJECT_DIR
       python_client.py http URL
"""
import asyncio
import json
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters

PIPELINE = """oml_version: "0.1.0"
name: python-client
steps:
  - id: extract-orders
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/orders.csv}
  - id: per-city
    component: duckdb.processor
    mode: transform
    needs: [extract-orders]
    config: {query: "SELECT city, count(*) AS orders FROM \\"extract-orders\\" GROUP BY city"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [per-city]
    config: {path: output/python.csv}
"""


async def author_loop(server):
    seen = {}
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    async with Client(server) as client:
        tools = await client.list_tools()
        seen["tools"] = sorted(t.name for t in tools.tools)
        valid = await client.call_tool("oml_validate", {"oml_content": PIPELINE})
        seen["valid"] = valid.structured_content["result"]["valid"]
        alias = await client.call_tool("osiris.validate_oml", {"oml_content": "steps: 1"})
        seen["alias_errors"] = alias.structured_content["result"]["summary"]["errors"]
        run = await client.call_tool("pipeline_run", {"oml_content": PIPELINE}, progress_callback=on_progress)
        seen["run_is_error"] = run.is_error
        result = run.structured_content["result"]
        seen["run_status"] = result["status"]
        seen["run_text_matches"] = json.loads(run.content[0].text) == run.structured_content
        seen["progress"] = progress
        sql = await client.call_tool(
            "sql_query", {"run_id": result["run_id"], "sql": 'SELECT sum(orders) AS n FROM "per-city"'}
        )
        seen["sql_rows"] = sql.structured_content["result"]["rows"]
    return seen


def main():
    mode = sys.argv[1]
    if mode == "stdio":
        server = StdioServerParameters(command=sys.argv[2], args=["mcp", "run", "--allow-run"], cwd=sys.argv[3])
    else:
        server = sys.argv[2]
    print(json.dumps(asyncio.run(author_loop(server))))


if __name__ == "__main__":
    main()
