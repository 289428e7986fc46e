#!/usr/bin/env bash
# Benchmark driver wrapper, called by `npm run bench` after the build.
# Installs wrk and HAProxy from Debian when missing, then runs dist/bench/run.js in its own
# process group so that every process it started is killed on exit, however it ends.
# Settings are environment variables; see bench/README.md (BENCH_QUICK=1 for a smoke run).
set -euo pipefail

cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench: missing ${missing[*]}; install them (Debian: apt-get install -y ${missing[*]}) and retry" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f dist/bench/run.js ]]; then
  echo "bench: dist/bench/run.js not found; run 'npm run build' first (npm run bench does)" >&2
  exit 1
fi

# setsid: the driver leads a new process group; killing the group on exit reaches wrk, the
# app, HAProxy and every proxy even if the driver itself dies without cleaning up.
setsid node dist/bench/run.js "$@" &
driver=$!
cleanup() {
  trap - EXIT INT TERM
  kill -TERM -- "-$driver" 2>/dev/null || true
  sleep 0.5
  kill -KILL -- "-$driver" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait "$driver"
