#!/usr/bin/env bash
# Integration tests against a real kube-apiserver + etcd started by the tests themselves
# (test/integration/harness). `npm run test:integration [-- vitest args]` calls this.
#
# Needs Go >= 1.25 and openssl the first time: kube-apiserver, etcd and helm are built from the Go
# module proxy by hack/k8s-testbin/build.sh and cached in ~/.cache/tokenwarden/k8s-testbin/.
# TOKENWARDEN_USE_EXISTING_CLUSTER=1 runs the suite against the current KUBECONFIG context
# instead (a kind cluster, say), building nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v openssl >/dev/null 2>&1; then
  echo "error: openssl is required to make the test certificates: apt-get install -y openssl" >&2
  exit 1
fi

if [ "${TOKENWARDEN_USE_EXISTING_CLUSTER:-}" != 1 ] && [ -z "${TOKENWARDEN_TESTBIN_DIR:-}" ]; then
  # shellcheck disable=SC1091
  source hack/k8s-testbin/versions.env
  cache=${TOKENWARDEN_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenwarden/k8s-testbin}
  cached="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
  if [ -x "$cached/kube-apiserver" ] && [ -x "$cached/etcd" ] && [ -x "$cached/helm" ]; then
    export TOKENWARDEN_TESTBIN_DIR=$cached
  else
    go_ok=0
    if command -v go >/dev/null 2>&1; then
      gov=$(go env GOVERSION 2>/dev/null | sed -E 's/^go([0-9]+)\.([0-9]+).*/\1 \2/')
      read -r gomajor gominor <<<"${gov:-0 0}"
      if [ "$gomajor" -gt 1 ] || { [ "$gomajor" -eq 1 ] && [ "$gominor" -ge 25 ]; }; then go_ok=1; fi
    fi
    if [ "$go_ok" != 1 ]; then
      cat >&2 <<MSG
error: the integration tests build kube-apiserver $KUBE_VERSION, etcd $ETCD_VERSION and helm $HELM_VERSION
from source once (cached in $cache), which needs Go >= 1.25 on PATH (found: $(command -v go >/dev/null 2>&1 && go env GOVERSION || echo none)).
Install Go 1.25 or newer (Debian/Ubuntu's golang packages are older), then re-run 'npm run test:integration':
  curl -fsSLO https://go.dev/dl/go1.25.0.linux-amd64.tar.gz   # any go1.25+ from https://go.dev/dl/
  rm -rf /usr/local/go && tar -C /usr/local -xzf go1.25.0.linux-amd64.tar.gz
  export PATH=/usr/local/go/bin:\$PATH
Or run against an existing cluster: TOKENWARDEN_USE_EXISTING_CLUSTER=1 npm run test:integration
MSG
      exit 1
    fi
    TOKENWARDEN_TESTBIN_DIR=$(bash hack/k8s-testbin/build.sh all)
    export TOKENWARDEN_TESTBIN_DIR
  fi
fi

exec npx vitest run --project integration "$@"
