# Agent Marketplace — everything a developer or CI runs.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list

# The whole product end to end on embedded defaults: cp-api on SQLite, two dp-runtimes, the FinOps pair with an approval
demo:
    python3 scripts/demo.py

# Every test: a throwaway PostgreSQL (unless TEST_DATABASE_URL is set) and SQLite
test:
    scripts/test.sh

# What CI checks besides the tests
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# The Helm charts, Terraform and compose file, checked with Helm, kubernetes-validate, terraform and compose
deploy-checks:
    scripts/deploy-checks.sh

# Fetch the local models (all-MiniLM-L6-v2 embeddings, the SmolLM2-135M-Instruct chat model) into ./data/models/; nothing downloads at run time
models:
    scripts/models.sh

# Format the code
fmt:
    cargo fmt --all

# Benchmarks, printed with the machine they ran on
bench:
    scripts/bench.sh

# Regenerate the FinOps sample billing data
sample-data:
    python3 examples/finops/data/generate.py
