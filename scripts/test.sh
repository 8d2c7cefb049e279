#!/usr/bin/env bash
# Runs every test. Without TEST_DATABASE_URL it starts a throwaway PostgreSQL cluster on a free local port,
# runs the suite against it (and against SQLite, which needs nothing), and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh

# The memory crate's semantic tests run the real local embedding model.
scripts/models.sh
if [ -z "${QDRANT_URL:-}" ]; then
  echo "QDRANT_URL is not set: the memory store tests against a Qdrant server are skipped (they run on SQLite only)" >&2
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  start_postgres
  export TEST_DATABASE_URL="$PG_URL"
fi

# The official A2A client, for the A2A tests.
export A2A_PYTHON="${A2A_PYTHON:-$(scripts/a2a-sdk.sh)}"
# promtool, for the check of what /metrics serves.
export PROMTOOL="${PROMTOOL:-$(scripts/promtool.sh)}"
# The deployment tools (Helm SDK, kubernetes-validate, terraform, python-hcl2, Docker Compose), for the checks
# of the charts, the Terraform and a bundle the control plane makes.
export DEPLOY_CHECKS_PYTHON="${DEPLOY_CHECKS_PYTHON:-$(scripts/deploy-tools.sh)}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast --lib --bins --tests
fi
cargo test --workspace --locked --doc
python3 examples/finops/data/generate.py --check
scripts/deploy-checks.sh
