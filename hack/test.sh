#!/usr/bin/env bash
# `npm test`: builds, then builds (or finds cached) every tool the suites need BEFORE running
# them, runs unit, blackbox and capture, then integration, and ends with one line saying what
# was skipped and why.
#
# Tools: kube-apiserver, etcd, helm and promtool from hack/k8s-testbin/build.sh all (cached by
# version under ~/.cache/tokenwarden/k8s-testbin; the first build needs Go). The capture suite
# needs root, ip, iptables and setpriv (it checks for itself and prints its reason). Arguments
# are passed to every vitest run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tools_note=""

npm run build || exit 1

echo "--- tools (kube-apiserver, etcd, helm, promtool; cached by version)"
if testbin=$(bash hack/k8s-testbin/build.sh all); then
  export TOKENWARDEN_TESTBIN_DIR=$testbin
else
  tools_note="hack/k8s-testbin/build.sh all failed (Go >= 1.25 needed for the first build)"
  [ "${CI:-}" = true ] && { echo "test: $tools_note" >&2; exit 1; }
fi

rc=0
npx vitest run --project unit --project blackbox --project capture "$@" 2>&1 | tee -a "$out"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
if [ -n "${TOKENWARDEN_TESTBIN_DIR:-}" ] || [ "${TOKENWARDEN_USE_EXISTING_CLUSTER:-}" = 1 ]; then
  bash hack/test-integration.sh "$@" 2>&1 | tee -a "$out"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
else
  tools_note="$tools_note; integration not run (no kube-apiserver/etcd)"
fi

# The suites that skip print "*** <what> tests skipped: <why> ***" (once per worker): collect them.
reasons=$(grep -o '[a-z ]* tests skipped: [^*]*' "$out" | sed 's/^ *//; s/ *$//' | sort -u | paste -sd ';' -)
summary=${tools_note:+$tools_note; }$reasons
echo
if [ -z "${summary#; }" ]; then
  echo "npm test: nothing skipped"
else
  echo "npm test: skipped: ${summary#; }"
fi
exit "$rc"
