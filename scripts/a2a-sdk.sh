#!/usr/bin/env bash
# Prints the path of a Python that has the official A2A SDK, installing it into target/a2a-sdk on first use.
# The A2A tests drive a deployment with it, as any A2A client would.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.3.0
VENV=target/a2a-sdk
if ! "$VENV/bin/python" -c "import a2a.client" >/dev/null 2>&1 \
  || [ "$("$VENV/bin/python" -m pip show a2a-sdk 2>/dev/null | sed -n 's/^Version: //p')" != "$VERSION" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "a2a-sdk==$VERSION" >&2
fi
echo "$PWD/$VENV/bin/python"
