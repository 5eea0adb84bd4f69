#!/usr/bin/env bash
# Benchmarks: `npm run bench` for all, `npm run bench -- failover pickers` for some. Ratios are against peers
# measured in the same run. SWITCHYARD_BENCH_SECONDS shortens each measured run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# The slow-backend benchmark measures nginx and HAProxy in the gateway's seat: Debian's packages, when missing.
# Without them it skips those rows and says so.
if [ "$#" -eq 0 ] || printf '%s\n' "$@" | grep -qx 'slow-backend'; then
  if ! command -v nginx >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then
    if can_apt; then
      say "installing nginx-light and haproxy (apt-get), the slow-backend benchmark's peers"
      apt_install --no-install-recommends nginx-light haproxy ||
        say "could not install nginx-light and haproxy with apt-get: the slow-backend benchmark will skip those peers"
    else
      say "nginx or haproxy is missing (needs root and apt-get to install): the slow-backend benchmark will skip them"
    fi
  fi
fi
# The session-store benchmark runs the built package, as users do: build it first (a few seconds).
build_log="$(mktemp)"
pnpm -r --filter './packages/*' run build >"$build_log" 2>&1 || { cat "$build_log"; rm -f "$build_log"; exit 1; }
rm -f "$build_log"
exec node --import tsx --conditions=@switchyard/source bench/run.ts "$@"
