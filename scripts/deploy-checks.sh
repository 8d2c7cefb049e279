#!/usr/bin/env bash
# The deployment files, checked with the real tools: both Helm charts lint and render with Helm's engine,
# their manifests pass strict Kubernetes schema validation, nonsense values fail with a message, the
# Terraform is fmt-clean and parses, and Docker Compose accepts docker-compose.yml.
# A bundle made by the control plane gets the same chart checks in cp-api's tests (bundle.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${DEPLOY_CHECKS_PYTHON:-$(scripts/deploy-tools.sh)}
# Helm logs each template `fail` it meets while linting; the checks report what matters.
"$python" scripts/deploy-checks.py repo 2> >(grep -v 'funcMap fail' >&2)

# The docker client's compose plugin where there is one, else the same Compose v2 from the tools' venv.
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=("$(dirname "$python")/docker-compose")
fi
"${compose[@]}" -f docker-compose.yml config -q
echo "ok    docker compose $("${compose[@]}" version --short 2>/dev/null || true): docker-compose.yml is valid"
