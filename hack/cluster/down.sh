#!/usr/bin/env bash
# Tears down what hack/cluster/up.sh started in WORK_DIR: containers (through containerd), the
# daemons it recorded, containerd's shims for this socket, mounts under WORK_DIR, the cgroups
# under CGROUP_ROOT, the pods' and the node's network namespaces. Safe to run twice.
#   hack/cluster/down.sh WORK_DIR
set -uo pipefail
work=$1
[ -f "$work/env" ] || exit 0
# shellcheck disable=SC1091
source "$work/env"
log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
sock=$CONTAINERD_SOCK
pid_of() { awk -v n="$1" '$2 == n { print $1 }' "$work/pids" 2>/dev/null; }
stop() { # stop NAME...: SIGTERM, up to 10 s, then SIGKILL
  local n p i
  for n in "$@"; do p=$(pid_of "$n"); [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for n in "$@"; do
    p=$(pid_of "$n")
    [ -n "$p" ] || continue
    for ((i = 0; i < 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$p" 2>/dev/null
  done
  return 0
}

log "tearing down"
# The kubelet first, so it does not restart what we kill.
stop kubelet kube-proxy coredns kube-scheduler kube-controller-manager
if [ -S "$sock" ]; then
  ctr_() { timeout 20 ctr --address "$sock" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd kube-apiserver etcd
# Shims of this containerd (they detach from our process group): matched by our socket path.
for p in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
  [[ $cmd == *"-address $sock "* ]] && kill -9 "${p#/proc/}" 2>/dev/null
done
# Container processes left in our cgroups (a shim killed before its task).
for c in /sys/fs/cgroup/*/"${CGROUP_ROOT#/}"; do
  [ -d "$c" ] || continue
  find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
done
sleep 0.5
# Mounts under the work directory (kubelet volumes, overlay snapshots, sandbox shm), deepest first.
awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null
done
for c in /sys/fs/cgroup/*/"${CGROUP_ROOT#/}"; do
  [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
done
# Pod network namespaces made by containerd for this node (named in its state), then the node's.
if [ -f "$work/netns.before" ]; then
  comm -13 "$work/netns.before" <(ls /run/netns 2>/dev/null | sort) | grep '^cni-' | while read -r n; do
    ip netns del "$n" 2>/dev/null
  done
fi
ip netns del "$NETNS" 2>/dev/null
left=$(awk '{ print $1 }' "$work/pids" | while read -r p; do kill -0 "$p" 2>/dev/null && echo "$p"; done)
[ -z "$left" ] || log "still running: $left"
log "down"
