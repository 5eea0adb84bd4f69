#!/usr/bin/env bash
# The whole test suite: build, type-check, lint, then every test (unit, integration, end-to-end, demo).
# Extra arguments go to tap, e.g. `npm test -- packages/balancer/test/failover.test.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
ensure_chromium
say "building packages (tshy)"
build_log="$(mktemp)"
pnpm -r --filter './packages/*' run build >"$build_log" 2>&1 || { cat "$build_log"; rm -f "$build_log"; exit 1; }
rm -f "$build_log"
say "type-checking (tsc)"
bash scripts/typecheck.sh
say "linting (eslint)"
eslint .
say "running tests (tap)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
tap --reporter=base "$@" 2>&1 | tee "$log" || status=$?
# tap's summary line is `# { total: N, pass: P, fail: F, ... }`; repeat it in the plain form CI reads.
summary="$(grep -E '^# \{ total:' "$log" | tail -n 1 || true)"
pass="$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")"
fail="$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")"
skip="$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")"
echo "tests: ${pass:-0} passed, ${fail:-0} failed${skip:+, $skip skipped}"
exit "$status"
