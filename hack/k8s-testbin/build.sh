#!/usr/bin/env bash
# Builds kube-apiserver, etcd, helm (and promtool) from the Go module proxy and caches them by
# version.
#
#   hack/k8s-testbin/build.sh            build what is missing, print the bin directory
#   hack/k8s-testbin/build.sh promtool   build only promtool, print the bin directory
#   hack/k8s-testbin/build.sh node       build the node (kubelet, kube-proxy, kube-controller-manager,
#                                        kube-scheduler, kubectl, coredns, pause), print its directory
#
# The node components are cached in node-$KUBE_VERSION-coredns-$COREDNS_VERSION (own lock) and
# built by hack/k8s-testbin/node.sh; `npm run test:cluster` uses them with the control plane.
#
# promtool is cached in its own directory (promtool-$PROMTOOL_VERSION, own lock) and linked into
# the bin directory, so bumping it does not rebuild the control plane and building it does not
# wait for a control-plane build in progress.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod maps the staging modules with
# `replace ./staging/...`, which only applies in the main module. So we build from small
# wrapper modules (committed under hack/k8s-testbin/*/) that require the release and replace
# every staging module with its published twin v0.X.Y.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$here/versions.env"

cache=${TOKENWARDEN_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenwarden/k8s-testbin}
bin="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
promdir="$cache/promtool-$PROMTOOL_VERSION"
mkdir -p "$bin" "$promdir"
what=${1:-all}
# One build per cache directory at a time: a concurrent caller (two test runs on a cold cache)
# waits here, then finds the binaries built instead of racing on the same .tmp outputs.
if command -v flock >/dev/null 2>&1 && [ "$what" != promtool ] && [ "$what" != node ]; then
  exec 9>"$bin/.lock"
  flock 9
fi
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf '[k8s-testbin] %s\n' "$*" >&2; }

# Go is needed only to build: cached binaries work without it.
require_go() {
  local found=none
  if command -v go >/dev/null 2>&1; then
    found=$(go env GOVERSION 2>/dev/null || echo unknown)
    local major minor
    major=$(echo "$found" | sed -nE 's/^go([0-9]+)\.([0-9]+).*/\1/p')
    minor=$(echo "$found" | sed -nE 's/^go([0-9]+)\.([0-9]+).*/\2/p')
    if [ -n "$major" ] && { [ "$major" -gt 1 ] || [ "$minor" -ge 25 ]; }; then return 0; fi
  fi
  cat >&2 <<MSG
error: building kube-apiserver $KUBE_VERSION, etcd $ETCD_VERSION and helm $HELM_VERSION for the
integration tests (once; cached in $bin) needs Go >= 1.25 on PATH; found: $found.
Install Go 1.25 or newer (Debian/Ubuntu's golang packages are older) and re-run:
  curl -fsSLO https://go.dev/dl/go1.25.0.linux-amd64.tar.gz   # or any newer release from https://go.dev/dl/
  rm -rf /usr/local/go && tar -C /usr/local -xzf go1.25.0.linux-amd64.tar.gz
  export PATH=/usr/local/go/bin:\$PATH
MSG
  exit 1
}

build_apiserver() {
  [ -x "$bin/kube-apiserver" ] && return 0
  require_go
  local dir="$here/apiserver"
  local staging=${KUBE_VERSION/v1./v0.}
  if ! grep -q "k8s.io/kubernetes $KUBE_VERSION" "$dir/go.mod" 2>/dev/null; then
    log "generating wrapper module for k8s.io/kubernetes $KUBE_VERSION"
    mkdir -p "$dir"
    local modfile
    modfile=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    {
      echo "module tokenwarden.dev/k8s-testbin/apiserver"
      echo
      echo "go 1.25.0"
      echo
      grep '^godebug' "$modfile" || true
      echo
      echo "require k8s.io/kubernetes $KUBE_VERSION"
      echo
      echo "replace ("
      grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging/' "$modfile" | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } >"$dir/go.mod"
    cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    (cd "$dir" && go mod tidy >&2)
  fi
  log "building kube-apiserver $KUBE_VERSION (cold: 10-25 minutes)"
  local major minor
  major=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  (cd "$dir" && go build -trimpath -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
      -X k8s.io/component-base/version.gitMajor=$major \
      -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
      -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
}

build_etcd() {
  [ -x "$bin/etcd" ] && return 0
  require_go
  local dir="$here/etcd"
  if ! grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$dir/go.mod" 2>/dev/null; then
    log "generating wrapper module for etcd $ETCD_VERSION"
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<MOD
module tokenwarden.dev/k8s-testbin/etcd

go 1.25.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
    cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    (cd "$dir" && go mod tidy >&2)
  fi
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_helm() {
  [ -x "$bin/helm" ] && return 0
  require_go
  local dir="$here/helm"
  if ! grep -q "helm.sh/helm/v3 $HELM_VERSION" "$dir/go.mod" 2>/dev/null; then
    log "generating wrapper module for helm $HELM_VERSION"
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<MOD
module tokenwarden.dev/k8s-testbin/helm

go 1.25.0

require helm.sh/helm/v3 $HELM_VERSION
MOD
    cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
GO
    (cd "$dir" && go mod tidy >&2)
  fi
  log "building helm $HELM_VERSION"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$bin/helm.tmp" "$bin/helm"
}

# promtool (Prometheus rule checker and rule unit tests): github.com/prometheus/prometheus is
# published as v0.3XX.Y (= Prometheus 3.XX.Y); its go.mod has no local replaces, so a wrapper
# module that requires it builds cmd/promtool as is.
build_promtool() {
  (
    if command -v flock >/dev/null 2>&1; then
      exec 8>"$promdir/.lock"
      flock 8
    fi
    if [ ! -x "$promdir/promtool" ]; then
      require_go
      local dir="$here/promtool"
      if ! grep -q "github.com/prometheus/prometheus $PROMTOOL_VERSION" "$dir/go.mod" 2>/dev/null; then
        log "generating wrapper module for prometheus $PROMTOOL_VERSION"
        mkdir -p "$dir"
        cat >"$dir/go.mod" <<MOD
module tokenwarden.dev/k8s-testbin/promtool

go 1.25.0

require github.com/prometheus/prometheus $PROMTOOL_VERSION
MOD
        cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
GO
        (cd "$dir" && go mod tidy >&2)
      fi
      log "building promtool $PROMTOOL_VERSION"
      (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$promdir/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
      mv "$promdir/promtool.tmp" "$promdir/promtool"
    fi
  )
  ln -sfn "$promdir/promtool" "$bin/promtool"
}

if [ "$what" = node ]; then
  exec bash "$here/node.sh"
fi

case "$what" in
  all) build_etcd; build_apiserver; build_helm; build_promtool ;;
  etcd) build_etcd ;;
  kube-apiserver) build_apiserver ;;
  helm) build_helm ;;
  promtool) build_promtool ;;
  *) echo "usage: $0 [all|etcd|kube-apiserver|helm|promtool|node]" >&2; exit 2 ;;
esac
echo "$bin"
