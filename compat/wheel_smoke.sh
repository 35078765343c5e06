#!/usr/bin/env bash
# The built wheel on every Airflow release we claim (`make wheel-smoke`, `make compat`, CI).
#
# Usage: compat/wheel_smoke.sh WHEEL [AIRFLOW_VERSION ...]   (default versions: $AIRFLOW_VERSIONS or 3.3.0 3.3.2)
# For each version: a clean venv in a temporary directory, `uv pip install apache-airflow==X WHEEL` (not editable;
# uv's cache is reused), then compat/smoke.py run from that directory so that the checkout is not importable.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WHEEL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
VERSIONS=("$@")
if [ ${#VERSIONS[@]} -eq 0 ]; then read -r -a VERSIONS <<< "${AIRFLOW_VERSIONS:-3.3.0 3.3.2}"; fi
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d -t sf360_wheel_smoke_XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH

job_start=$(date +%s)
echo "wheel: $(basename "$WHEEL") ($(stat -c %s "$WHEEL") bytes); Airflow releases: ${VERSIONS[*]}"
for version in "${VERSIONS[@]}"; do
  start=$(date +%s)
  venv="$WORK/venv-$version"
  echo "== Airflow $version: clean venv $venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet uv
  "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" "apache-airflow==$version" "$WHEEL"
  echo "installed in $(( $(date +%s) - start )) s"
  (cd "$WORK" && "$venv/bin/python" "$REPO/compat/smoke.py")
  echo "== Airflow $version: green in $(( $(date +%s) - start )) s"
  rm -rf "$venv"
done
echo "wheel job: green on Airflow ${VERSIONS[*]} in $(( $(date +%s) - job_start )) s"
