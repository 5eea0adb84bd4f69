#!/usr/bin/env bash
# The demo: Redis + 3 backend replicas + a gateway with @switchyard/balancer, on 127.0.0.1. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec node --import tsx --conditions=@switchyard/source examples/demo/run.ts "$@"
