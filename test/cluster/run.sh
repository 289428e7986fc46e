#!/usr/bin/env bash
# `npm run test:cluster`: the chart on a real one-node cluster on this machine, end to end.
#
#  1. builds (or finds cached) the control plane, the node components, the pause image and the
#     tokenwarden image (hack/k8s-testbin/build.sh all|node, hack/image/build.sh)
#  2. checks the image: `tokenwarden --help` as UID 15080 on a read-only root (test/cluster/image.sh)
#  3. starts the cluster in its own network namespace (hack/cluster/up.sh)
#  4. runs the suite a platform team would (test/cluster/suite.sh, shared with test/e2e/kind.sh)
#  5. tears everything down, whatever happened (hack/cluster/down.sh): no process is left
#
# Needs root, Go (first run only), containerd, runc, containernetworking-plugins, umoci,
# debootstrap, iptables (hack/cluster/deps.sh installs them on Debian). TOKENWARDEN_KEEP_CLUSTER=1
# leaves the cluster running (and prints how to reach it and how to tear it down);
# TOKENWARDEN_CLUSTER_IP_FAMILY=ipv4 starts it IPv4-only (dual-stack otherwise).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# Our own process group (and session), so the teardown can end every process this run started.
# npm forwards SIGINT/SIGTERM to this process; the trap below then tears down.
if [ "$(ps -o pgid= $$ | tr -d ' ')" != "$$" ]; then
  exec setsid bash "$0" "$@"
fi
[ "$(id -u)" = 0 ] || { echo "test:cluster needs root (containerd, network namespaces, cgroups)" >&2; exit 1; }
t_start=$(date +%s)
bash hack/cluster/deps.sh

echo "--- binaries (cached by version under ~/.cache/tokenwarden/k8s-testbin)"
cp_bin=$(bash hack/k8s-testbin/build.sh all)
node_bin=$(bash hack/k8s-testbin/build.sh node)
t_bins=$(date +%s)

echo "--- images"
img_dir=$(bash hack/image/build.sh "$root/.image")
bash hack/image/pause.sh "$node_bin/pause" tokenwarden.local/pause:test "$img_dir/pause.tar"
bash test/cluster/image.sh "$img_dir/oci" dev
t_image=$(date +%s)

work=$(mktemp -d /tmp/tokenwarden-cluster.XXXXXX)
# leaks WORK: prints and fails on anything of the run left behind.
leaks() {
  local w=$1 id left
  id=$(basename "$w" | tr -cd 'a-z0-9' | tail -c 8)
  left=$(
    pgrep -af -- "$w" | grep -v "^$$ " || true
    awk -v w="$w" 'index($2, w) == 1 { print "mount " $2 }' /proc/self/mounts
    ls -d /sys/fs/cgroup/*/"tokenwarden-$id" 2>/dev/null | sed 's/^/cgroup /'
    ip netns list | grep -E "^tw-node-$id( |$)" | sed 's/^/netns /'
  )
  [ -z "$left" ] && { echo "teardown: no process, mount, cgroup or network namespace left" >&2; return 0; }
  echo "teardown: LEFT BEHIND:" >&2
  echo "$left" >&2
  return 1
}
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  # Every step runs whatever the one before returned: under set -e, a kill of a process that had
  # already exited (the pgrep subshell below) ended the trap, so the run exited 1 after a passing
  # suite, without the second pass, the leak check or removing the work directory.
  set +e
  if [ "${TOKENWARDEN_KEEP_CLUSTER:-}" = 1 ]; then
    echo "cluster kept: source $work/env; tear down with: bash hack/cluster/down.sh $work" >&2
    exit "$rc"
  fi
  [ "$rc" = 0 ] || { echo "--- logs of the failed run: $work/logs" >&2; tail -n 30 "$work"/logs/kubelet.log >&2 2>/dev/null || true; }
  bash hack/cluster/down.sh "$work"
  # Anything else this run started (helpers in our process group), except ourselves.
  local p
  for p in $(pgrep -g "$$"); do [ "$p" = "$$" ] || kill -9 "$p" 2>/dev/null; done
  # A second pass once nothing of ours runs (containerd could no longer start a shim), then check.
  bash hack/cluster/down.sh "$work" 2>/dev/null
  leaks "$work" || rc=1
  [ "$rc" = 0 ] && rm -rf "$work"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "--- cluster"
# In the background and waited for, so a signal runs the teardown at once (bash defers traps
# until a foreground child returns).
bash hack/cluster/up.sh "$work" "$cp_bin" "$node_bin" "$img_dir/pause.tar" "$img_dir/tokenwarden.tar" &
wait $!
t_cluster=$(date +%s)
# shellcheck disable=SC1091
source "$work/env"
nsx="nsenter --net=/run/netns/$NETNS --"
export TW_KUBECTL="$nsx $node_bin/kubectl --kubeconfig $KUBECONFIG"
export TW_HELM="$nsx $cp_bin/helm --kubeconfig $KUBECONFIG"
# `tokenwarden revoke` runs on the host, in the node's network namespace, with the admin kubeconfig.
export TW_HOST_EXEC="$nsx" KUBECONFIG
export TW_IMAGE_REPOSITORY=tokenwarden.local/tokenwarden TW_IMAGE_TAG=dev TW_IMAGE_PULL_POLICY=Never
# up.sh made the node dual-stack unless IPv6 was refused (and said why): the suite must see IPv6.
export TW_EXPECT_DUAL_STACK=$DUAL_STACK
[ "$DUAL_STACK" = 1 ] || echo "cluster: IPv4 only ($DUAL_STACK_REASON)"

echo "--- suite"
bash test/cluster/suite.sh &
wait $!
t_end=$(date +%s)
printf 'timing: binaries %ss, images %ss, cluster up %ss, suite %ss, total %ss\n' \
  $((t_bins - t_start)) $((t_image - t_bins)) $((t_cluster - t_image)) $((t_end - t_cluster)) $((t_end - t_start))
