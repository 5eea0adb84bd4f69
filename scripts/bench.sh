#!/usr/bin/env bash
# Benchmarks: `npm run bench` for all, `npm run bench -- failover pickers` for some. Ratios are against peers
# measured in the same run. SWITCHYARD_BENCH_SECONDS shortens each measured run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# The session-store benchmark runs the built package, as users do: build it first (a few seconds).
build_log="$(mktemp)"
pnpm -r --filter './packages/*' run build >"$build_log" 2>&1 || { cat "$build_log"; rm -f "$build_log"; exit 1; }
rm -f "$build_log"
exec node --import tsx --conditions=@switchyard/source bench/run.ts "$@"
