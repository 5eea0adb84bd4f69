#!/usr/bin/env bash
# The whole test suite: build, type-check, lint, then every test (unit, integration, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
say "building packages (tshy)"
pnpm -r --filter './packages/*' run build >/dev/null
say "type-checking (tsc)"
bash scripts/typecheck.sh
say "linting (eslint)"
eslint .
say "running tests (tap)"
tap "$@"
