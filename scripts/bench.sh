#!/usr/bin/env bash
# The benchmarks behind each issue's speed targets, printed with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench --locked -p manifest --bench manifest
python3 scripts/bench_report.py
