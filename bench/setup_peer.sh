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
# Pinned, so that every figure in docs/performance.md compares against the same peer:
# Dagster 1.13.27 and the libraries released with it (0.29.27), plus the webserver (the
# ``ui`` workload). dagster-dbt 0.29.x imports dateutil without declaring it: install it
# beside, or ``import dagster_dbt`` (the dbt benchmark's peer) fails.
DAGSTER_VERSION=1.13.27
LIBRARY_VERSION=0.29.27
PACKAGES=(
    "dagster==$DAGSTER_VERSION"
    "dagster-webserver==$DAGSTER_VERSION"
    "dagster-dbt==$LIBRARY_VERSION"
    "dagster-dask==$LIBRARY_VERSION"
    python-dateutil
)
if "$VENV/bin/python" - "$DAGSTER_VERSION" "$LIBRARY_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m
import sys

want, lib = sys.argv[1], sys.argv[2]
assert m.version("dagster") == want and m.version("dagster-webserver") == want
assert m.version("dagster-dbt") == lib and m.version("dagster-dask") == lib
m.version("python-dateutil")
PY
then
    echo "dagster $DAGSTER_VERSION already installed in $VENV"
else
    "$VENV/bin/pip" install "${PACKAGES[@]}"
fi
echo "peer ready: $VENV/bin/python (bench/run.py uses it; or export DAGSTER_PYTHON=$VENV/bin/python)"
