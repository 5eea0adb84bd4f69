#!/usr/bin/env bash
# Makes a fresh clone runnable: pnpm, the workspace's dependencies and redis-server.
# Sourced by scripts/test.sh, scripts/demo.sh and scripts/bench.sh; it defines `pnpm` for them.
# Needs only Node 20 + npm; installing redis-server needs apt (as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="$(node -p "require('$ROOT/package.json').packageManager.split('@')[1]")"
TOOLS="$ROOT/.tools"

say() { printf '\033[1m[switchyard]\033[0m %s\n' "$*" >&2; }

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  say "Node $(node --version) is too old: Switchyard needs Node 20.19 or newer."
  exit 1
fi

# pnpm: the one on PATH when it is the pinned major, else a copy installed by npm into .tools/.
# corepack is not used: its signature check fails against some registries.
resolve_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" = "${PNPM_VERSION%%.*}" ]; then
    PNPM_BIN="$(command -v pnpm)"; return
  fi
  if [ ! -x "$TOOLS/node_modules/.bin/pnpm" ] || [ "$("$TOOLS/node_modules/.bin/pnpm" --version)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION into .tools/ (npm)"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
  fi
  PNPM_BIN="$TOOLS/node_modules/.bin/pnpm"
}
resolve_pnpm
pnpm() { "$PNPM_BIN" "$@"; }
export PNPM_BIN

# Dependencies: frozen to the lockfile, so CI installs exactly what was tested.
say "installing dependencies (pnpm install)"
(cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent) || {
  say "pnpm install failed: check that the npm registry is reachable"; exit 1; }

# Debian packages, for scripts that may install what they need: only as root with apt-get.
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
# Installs from the package lists already on the machine, and refreshes them (~10 s) only when that fails.
# Arguments go to apt-get install (packages, and options such as --no-install-recommends).
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null)
}

# redis-server: the tests and the demo start their own, on a free loopback port.
if ! command -v redis-server >/dev/null 2>&1; then
  if can_apt; then
    say "installing redis-server (apt-get)"
    apt_install redis-server || {
      say "could not install redis-server with apt-get; install it (Debian/Ubuntu: apt-get install redis-server) and run again"
      exit 1; }
  else
    say "redis-server is missing and cannot be installed here (needs root and apt-get)."
    say "Install it yourself (e.g. 'sudo apt-get install redis-server' or 'brew install redis') and run again."
    exit 1
  fi
fi

# Debian's chromium, for the status page's browser test (scripts/test.sh asks for it). No tool downloads its own.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  if can_apt; then
    say "installing chromium (apt-get) for the browser test"
    apt_install chromium || {
      say "could not install chromium with apt-get; install Debian's chromium (/usr/bin/chromium) and run again"
      exit 1; }
  else
    say "chromium is missing (/usr/bin/chromium) and cannot be installed here (needs root and apt-get)."
    exit 1
  fi
}

export PATH="$ROOT/node_modules/.bin:$PATH"
