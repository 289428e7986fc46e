#!/usr/bin/env bash
# Integration tests against a real kube-apiserver + etcd started by the tests themselves
# (test/integration/harness). `npm run test:integration [-- vitest args]` calls this.
#
# The first run builds kube-apiserver, etcd and helm from the Go module proxy with
# hack/k8s-testbin/build.sh (needs Go >= 1.25; it says what to install when Go is missing) and
# caches them in ~/.cache/tokenwarden/k8s-testbin/; later runs reuse them, without Go.
#
# TOKENWARDEN_USE_EXISTING_CLUSTER=1 runs the suite against the current KUBECONFIG context
# instead (a kind cluster, say) and builds nothing. TOKENWARDEN_KEEP_TESTENV=1 keeps the control
# plane's files (logs, kubeconfig, certificates) after the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v openssl >/dev/null 2>&1; then
  echo "error: openssl is required to make the test certificates: apt-get install -y openssl" >&2
  exit 1
fi

if [ "${TOKENWARDEN_USE_EXISTING_CLUSTER:-}" != 1 ] && [ -z "${TOKENWARDEN_TESTBIN_DIR:-}" ]; then
  TOKENWARDEN_TESTBIN_DIR=$(bash hack/k8s-testbin/build.sh all)
  export TOKENWARDEN_TESTBIN_DIR
fi

exec npx vitest run --project integration "$@"
