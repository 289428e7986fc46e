#!/usr/bin/env bash
# Builds the node components of the one-node test cluster and caches them by version; prints
# the directory. Called by `hack/k8s-testbin/build.sh node`.
#
#   kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl
#       one `go build` of the five commands in the wrapper module hack/k8s-testbin/node (the same
#       k8s.io/kubernetes release and staging replaces as hack/k8s-testbin/apiserver), so they
#       share the compile with each other and, through Go's build cache, with kube-apiserver
#   coredns
#       github.com/coredns/coredns (its module root is the main package), wrapper hack/k8s-testbin/coredns
#   pause
#       build/pause/linux/pause.c of the same k8s.io/kubernetes release, gcc -static
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$here/versions.env"
cache=${TOKENWARDEN_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenwarden/k8s-testbin}
out="$cache/node-$KUBE_VERSION-coredns-$COREDNS_VERSION"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
log() { printf '[k8s-testbin] %s\n' "$*" >&2; }
kube_cmds=(kubelet kube-proxy kube-controller-manager kube-scheduler kubectl)

build_kube() {
  local missing=0 c
  for c in "${kube_cmds[@]}"; do [ -x "$out/$c" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  local dir="$here/node"
  if ! grep -q "k8s.io/kubernetes $KUBE_VERSION" "$dir/go.mod"; then
    log "hack/k8s-testbin/node/go.mod is not at $KUBE_VERSION: copy it from ../apiserver/go.mod (module line renamed) and run go mod tidy"
    exit 1
  fi
  local major minor pkgs=()
  major=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  for c in "${kube_cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "building ${kube_cmds[*]} $KUBE_VERSION (cold: 20-40 minutes on 2 cores)"
  rm -rf "$out/.tmp" && mkdir -p "$out/.tmp"
  (cd "$dir" && go build -trimpath -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
      -X k8s.io/component-base/version.gitMajor=$major \
      -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
      -o "$out/.tmp/" "${pkgs[@]}")
  for c in "${kube_cmds[@]}"; do mv "$out/.tmp/$c" "$out/$c"; done
  rmdir "$out/.tmp"
}

build_coredns() {
  [ -x "$out/coredns" ] && return 0
  local dir="$here/coredns"
  if ! grep -q "github.com/coredns/coredns $COREDNS_VERSION" "$dir/go.mod" 2>/dev/null; then
    log "generating wrapper module for coredns $COREDNS_VERSION"
    mkdir -p "$dir"
    printf 'module tokenwarden.dev/k8s-testbin/coredns\n\ngo 1.25.0\n\nrequire github.com/coredns/coredns %s\n' \
      "$COREDNS_VERSION" >"$dir/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/coredns/coredns"\n' >"$dir/tools.go"
    (cd "$dir" && go mod tidy >&2)
  fi
  log "building coredns $COREDNS_VERSION"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out/coredns.tmp" github.com/coredns/coredns)
  mv "$out/coredns.tmp" "$out/coredns"
}

build_pause() {
  [ -x "$out/pause" ] && return 0
  command -v gcc >/dev/null || { log "gcc is required for the pause binary: apt-get install gcc libc6-dev"; exit 1; }
  local src
  src=$(cd "$here/node" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  log "building pause from $src/build/pause/linux/pause.c"
  gcc -Os -static -Wall -Werror -DVERSION="$KUBE_VERSION" -o "$out/pause.tmp" "$src/build/pause/linux/pause.c"
  strip "$out/pause.tmp"
  mv "$out/pause.tmp" "$out/pause"
}

build_pause
build_kube
build_coredns
echo "$out"
