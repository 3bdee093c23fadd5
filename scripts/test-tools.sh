#!/usr/bin/env bash
# Tools the integration tests drive as the real thing, installed when missing:
#   - Debian's chromium, which renders the HTML report headless (tests/it/report_browser.rs);
#   - the official MCP Python SDK in a venv under ~/.cache/osiris-test (tests/it/mcp.rs);
#   - Dagster (pinned, with dagster-pipes, the dagster-k8s and dagster-docker Pipes clients and
#     kubernetes-validate) in its own venv under ~/.cache/osiris-test/dagster:
#     tests/it/orchestrators.rs materialises exported definitions;
#   - Apache Airflow (pinned) in its own venv under ~/.cache/osiris-test/airflow: `airflow dags test`
#     runs exported DAGs on a SQLite metadata database;
#   - OpenSSH's server and client, the network transport of `run --remote` (tests/it/remote.rs
#     starts its own sshd on a loopback port with keys it generates).
# A test whose tool is missing fails (it is never skipped), so this script runs before the suite.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "test-tools: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test-tools: install ${need[*]} (Debian/Ubuntu: apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# ensure_venv DIR WHAT CHECK PACKAGE...: a venv at DIR whose python passes CHECK (imports and
# pinned versions), else created and given PACKAGES. Reused across runs.
ensure_venv() {
  local dir="$1" what="$2" check="$3"
  shift 3
  if ! "$dir/bin/python" -c "$check" 2>/dev/null; then
    echo "test-tools: installing $what into $dir" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$@"
  fi
}

# The MCP Python SDK, pinned.
mcp_version="2.3.0"
ensure_venv "$HOME/.cache/osiris-test/venv" "the MCP Python SDK $mcp_version" \
  "import mcp, importlib.metadata as m; assert m.version('mcp') == '$mcp_version'" \
  "mcp==$mcp_version"

# Dagster, pinned, in its own venv (its dependencies do not mix with the MCP SDK's).
# dagster-k8s/dagster-docker 0.29.27 require dagster 1.13.27 exactly: the three move together.
dagster_version="1.13.27"
dagster_libs_version="0.29.27"
ensure_venv "$HOME/.cache/osiris-test/dagster" "Dagster $dagster_version" \
  "import dagster, dagster_pipes, dagster_k8s, dagster_docker, importlib.metadata as m; assert m.version('dagster') == '$dagster_version'" \
  "dagster==$dagster_version" "dagster-pipes==$dagster_version" \
  "dagster-k8s==$dagster_libs_version" "dagster-docker==$dagster_libs_version" "kubernetes-validate==1.37.0"

# Apache Airflow, pinned, in its own venv.
airflow_version="3.3.2"
cncf_version="10.25.0"
ensure_venv "$HOME/.cache/osiris-test/airflow" "Apache Airflow $airflow_version (with the Kubernetes provider)" \
  "import importlib.metadata as m; assert m.version('apache-airflow') == '$airflow_version' and m.version('apache-airflow-providers-cncf-kubernetes') == '$cncf_version'" \
  "apache-airflow==$airflow_version" "apache-airflow-providers-cncf-kubernetes==$cncf_version"
