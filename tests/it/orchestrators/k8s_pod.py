"""Build, offline, the pod that an `osiris export dagster --launcher k8s` module asks
PipesK8sClient for (dagster-k8s's own build_pod_body, as PipesK8sClient.run calls it) and print
it as a Kubernetes manifest in JSON.

Usage: k8s_pod.py DEFS.py
"""
import importlib.util
import json
import sys

import kubernetes
from dagster_k8s.pipes import build_pod_body
from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, DAGSTER_PIPES_MESSAGES_ENV_VAR, encode_env_var

spec = importlib.util.spec_from_file_location("defs", sys.argv[1])
defs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(defs)

pod = build_pod_body(
    pod_name="osiris-dagster-pod",
    image=defs.IMAGE,
    command=defs.COMMAND,
    env_vars={
        DAGSTER_PIPES_CONTEXT_ENV_VAR: encode_env_var({"data": {"asset_keys": []}}),
        DAGSTER_PIPES_MESSAGES_ENV_VAR: encode_env_var({"stdio": "stderr"}),
    },
    base_pod_meta=defs.POD_META,
    base_pod_spec=defs.POD_SPEC,
)
body = kubernetes.client.ApiClient().sanitize_for_serialization(pod)
print(json.dumps({"apiVersion": "v1", "kind": "Pod", **body}))
