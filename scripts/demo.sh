#!/usr/bin/env bash
# The product on embedded defaults, as far as it exists: an agent developer checks the FinOps agents, and
# the sample billing data they run on is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release -p dp-runtime
[ -f examples/finops/data/aws-cur-2025-11.csv ] || python3 examples/finops/data/generate.py

echo "== dp-runtime validate examples/finops/*.yaml"
"${CARGO_TARGET_DIR:-target}/release/dp-runtime" validate examples/finops/*.yaml
echo
echo "== sample billing data (examples/finops/data)"
wc -l examples/finops/data/*.csv | sed 's/^/  /'
