#!/usr/bin/env bash
# Offline validation of the Helm chart (helm/haven) and the compose file (deploy/compose.yaml); no
# cluster, Docker or helm binary needed. Tools come from PyPI at pinned versions into a venv outside the
# repository. Set HAVEN_BIN to a built `haven` binary to read its serve roles from `serve --help`;
# otherwise they are read from crates/cli/src/main.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_PYTHON_SDK_VERSION=0.2.2
KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.3
PINS="helm-python-sdk==$HELM_PYTHON_SDK_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION pyyaml==$PYYAML_VERSION"

VENV="${HAVEN_CACHE:-$HOME/.cache/haven}/deploy-venv"
STAMP="$VENV/.haven-pins"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  echo "check-chart: preparing $VENV ($PINS)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  # shellcheck disable=SC2086 # PINS is a list of requirement specifiers
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PINS
  printf '%s' "$PINS" >"$STAMP"
fi

exec "$VENV/bin/python" deploy/check_chart.py "$@"
