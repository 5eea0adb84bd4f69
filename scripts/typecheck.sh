#!/usr/bin/env bash
# Type-checks every workspace member, sources and tests alike.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for cfg in packages/*/tsconfig.json examples/*/tsconfig.json bench/tsconfig.json test/tsconfig.json; do
  [ -f "$cfg" ] || continue
  node_modules/.bin/tsc -p "$cfg" || status=1
done
exit $status
