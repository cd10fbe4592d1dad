#!/usr/bin/env bash
# deps.sh run|test — installs what Staffroom needs on a Debian 12 machine, and only what is missing.
# As root it installs with apt-get; otherwise it prints the exact sudo line and stops.
# "test" also installs the browser and the npm packages of the tests (from the committed lockfile).
# "bench" is "test" plus the peers the benchmarks compare against that make test does not need (Janus).
set -euo pipefail
mode=${1:-run}
bench=0
if [ "$mode" = bench ]; then bench=1; mode=test; fi
cd "$(dirname "$0")/.."

pkgs="build-essential pkg-config libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libhiredis-dev
      libsodium-dev libssl-dev libuv1-dev redis-server libnice-dev libglib2.0-dev libsrtp2-dev
      postgresql-15 libpq-dev liburing-dev libavformat-dev libavcodec-dev libavutil-dev
      libzip-dev"
if [ "$mode" = test ]; then
  pkgs="$pkgs libcmocka-dev libical-dev coturn chromium clang
        nodejs npm iproute2 lua-check redis-sentinel systemd ffmpeg"
fi
if [ "$bench" = 1 ]; then
  pkgs="$pkgs janus"
fi

missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node may come from outside Debian's packages (as on the project's machines); only ask for it when absent.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)

if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Staffroom needs these Debian packages. Install them, then run make again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "deps: installing $missing"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

if [ "$mode" = test ] && [ -f tests/package-lock.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
