#!/usr/bin/env bash
# Benchmarks: `npm run bench` for all, `npm run bench -- failover pickers` for some. Ratios are against peers
# measured in the same run. SWITCHYARD_BENCH_SECONDS shortens each measured run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec node --import tsx --conditions=@switchyard/source bench/run.ts "$@"
