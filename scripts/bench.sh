#!/usr/bin/env bash
# The benchmarks behind each issue's speed targets, printed with the machine they ran on. The HTTP figures
# need PostgreSQL (a throwaway cluster unless BENCH_DATABASE_URL is set) and wrk as the load generator.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (the HTTP load generator)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  start_postgres
  export BENCH_DATABASE_URL="$PG_URL"
fi

cargo bench --locked -p manifest --bench manifest
# The memory benchmark times the local embedding model too.
scripts/models.sh
cargo bench --locked -p memory --bench memory
cargo bench --locked -p cp-api --bench http
# 1,000 concurrent long-polls need as many sockets on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo bench --locked -p cp-api --bench queue
cargo bench --locked -p dp-runtime --bench scheduler
# A 40-node workflow through both planes, on SQLite and on the throwaway PostgreSQL.
TEST_DATABASE_URL="$BENCH_DATABASE_URL" cargo bench --locked -p dp-runtime --bench full_path
# The local LLM (the model `just models` fetched), one candle thread: on a shared 2-core machine more only spin.
CANDLE_NUM_THREADS=1 cargo bench --locked -p dp-runtime --bench local_llm
python3 scripts/bench_report.py
