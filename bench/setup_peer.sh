#!/usr/bin/env bash
# Install Dagster, the peer the benchmarks compare against, in its own virtualenv OUTSIDE
# the repository (Dagster is never a dependency of Headwater). Idempotent: re-running it
# only installs what is missing.
#
#   bash bench/setup_peer.sh                 # /opt/dagster-venv
#   DAGSTER_VENV=~/dagster-venv bash bench/setup_peer.sh
#
# bench/run.py finds /opt/dagster-venv/bin/python by itself; for another location set
# DAGSTER_PYTHON=<venv>/bin/python.
set -euo pipefail

VENV="${DAGSTER_VENV:-/opt/dagster-venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# dagster-dbt 0.29.x imports dateutil without declaring it: install it beside, or
# ``import dagster_dbt`` (the dbt benchmark's peer) fails.
if "$VENV/bin/python" -c "import importlib.metadata as m; m.version('dagster'); m.version('dagster-dbt'); m.version('python-dateutil')" 2>/dev/null; then
    echo "dagster already installed in $VENV: $("$VENV/bin/python" -c 'import dagster; print(dagster.__version__)')"
else
    "$VENV/bin/pip" install dagster dagster-dbt python-dateutil
fi
echo "peer ready: $VENV/bin/python (bench/run.py uses it; or export DAGSTER_PYTHON=$VENV/bin/python)"
