"""Materialise an `osiris export dagster` module with real Dagster and print what happened as JSON.

Usage: materialize.py DEFS.py [file|stderr]
  file    the exported asset as written (PipesTempFileMessageReader)
  stderr  the same specs, osiris writing its Pipes messages to stderr, parsed line by line with
          Dagster's own pod-log parser (extract_message_or_forward_to_stdout); a failure is judged
          as the pod and container forms judge it: from what osiris reported, without the exit code
"""
import importlib.util
import json
import os
import subprocess
import sys
from contextlib import contextmanager

from dagster import (
    AssetExecutionContext,
    DagsterEventType,
    PipesEnvContextInjector,
    RetryPolicy,
    materialize,
    multi_asset,
    open_pipes_session,
)
from dagster._core.pipes.client import PipesMessageReader
from dagster._core.pipes.utils import extract_message_or_forward_to_stdout

spec = importlib.util.spec_from_file_location("defs", sys.argv[1])
defs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(defs)
mode = sys.argv[2] if len(sys.argv) > 2 else "file"


class StderrReader(PipesMessageReader):
    """Tells osiris to write messages to stderr; the asset feeds each line to Dagster's parser."""

    @contextmanager
    def read_messages(self, handler):
        self.handler = handler
        yield {"stdio": "stderr"}

    def no_messages_debug_text(self):
        return "osiris wrote its messages to stderr"


@multi_asset(
    name=defs.osiris_pipeline.node_def.name,
    specs=defs.SPECS,
    can_subset=False,
    retry_policy=RetryPolicy(max_retries=2),
)
def over_stderr(context: AssetExecutionContext):
    reader = StderrReader()
    with open_pipes_session(context=context, context_injector=PipesEnvContextInjector(), message_reader=reader) as session:
        process = subprocess.run(
            [defs.OSIRIS, "run", defs.PIPELINE, "--json", "--quiet"],
            cwd=defs.PROJECT,
            env={**os.environ, **session.get_bootstrap_env_vars()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in process.stderr.splitlines():
            extract_message_or_forward_to_stdout(reader.handler, line)
    yield from session.get_results(implicit_materializations=False)
    if process.returncode != 0:
        # All a pod or container launcher learns is "non-zero": the verdict comes from the report.
        defs._fail(defs._report(session.get_custom_messages()), None, process.stderr[-2000:])


def chain(error):
    """The messages of an error and of its causes."""
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause or error.context
    return " <- ".join(messages)


asset = defs.osiris_pipeline if mode == "file" else over_stderr
result = materialize([asset], raise_on_error=False)
out = {"success": result.success, "materializations": [], "failures": [], "retries": 0}
for ev in result.all_events:
    if ev.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        mat = ev.event_specific_data.materialization
        out["materializations"].append(
            {"key": mat.asset_key.to_user_string(), "metadata": {k: v.value for k, v in mat.metadata.items()}}
        )
    elif ev.event_type == DagsterEventType.STEP_FAILURE:
        out["failures"].append(chain(ev.event_specific_data.error))
    elif ev.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
        out["retries"] += 1
        out["failures"].append(chain(ev.event_specific_data.error))
print(json.dumps(out, default=str))
