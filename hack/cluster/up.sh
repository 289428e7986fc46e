#!/usr/bin/env bash
# Starts a one-node Kubernetes cluster inside a network namespace of its own, from the binaries
# of hack/k8s-testbin (control plane + node) and Debian's containerd, runc and CNI plugins.
#
#   hack/cluster/up.sh WORK_DIR CONTROL_PLANE_BIN NODE_BIN IMAGE_TAR...
#
# Writes WORK_DIR/env (KUBECONFIG, NETNS, NODE_IP, ...) and returns once the node is Ready and
# DNS answers; every process it starts is recorded in WORK_DIR/pids for hack/cluster/down.sh.
# Network: netns tw-node-<id> with a veth pair holding NODE_IP (the API server's advertise address,
# the kubelet's node IP and the cluster DNS address) and NODE_IP6, and a CNI bridge for pods.
# Dual-stack by default: pods get an address from 10.244.0.0/24 and one from fd00:10:244::/64,
# Services from 10.96.0.0/16 and fd00:10:96::/112 (IPv4 first: the primary family). When the
# namespace refuses IPv6 (no IPv6 in the kernel, no ip6tables nat table), the node comes up
# IPv4-only and env says why (DUAL_STACK=0, DUAL_STACK_REASON); TOKENWARDEN_CLUSTER_IP_FAMILY=ipv4
# asks for IPv4-only. Nothing listens or routes outside that namespace. cgroups: everything under
# /tokenwarden-<id>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1 cp_bin=$2 node_bin=$3
shift 3
# shellcheck source=pki.sh
source "$here/pki.sh"
# shellcheck source=config.sh
source "$here/config.sh"
id=$(basename "$work" | tr -cd 'a-z0-9' | tail -c 8)
netns=tw-node-$id
NODE_NAME=tw-node
NODE_IP=172.31.254.1
NODE_IP6=fd00:172:31:254::1
POD_CIDRS=10.244.0.0/24
SVC_CIDRS=10.96.0.0/16
SVC_IP=10.96.0.1
CGROUP_ROOT=/tokenwarden-$id
mkdir -p "$work"/{logs,etcd,kubelet,pod-logs,cni,cni-ipam,containerd}
: >"$work/pids"
# The network namespaces that exist before (none, and no /run/netns, on a fresh machine).
{ ls /run/netns 2>/dev/null || true; } | sort >"$work/netns.before"
log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
nsx() { nsenter --net="/run/netns/$netns" -- "$@"; }
# start NAME CMD...: in the node's network namespace, in this process group, logged.
start() {
  local name=$1
  shift
  # exec: the recorded pid is the daemon itself (nsenter execs it), not a subshell around it.
  (exec nsenter --net="/run/netns/$netns" -- "$@") >"$work/logs/$name.log" 2>&1 &
  echo "$! $name" >>"$work/pids"
}
wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t=$1 what=$2 i
  shift 2
  for ((i = 0; i < t * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "timed out after ${t}s waiting for $what"
  return 1
}

# First, so hack/cluster/down.sh can tear down whatever the steps below leave.
cat >"$work/env" <<ENV
NETNS=$netns
NODE_IP=$NODE_IP
CGROUP_ROOT=$CGROUP_ROOT
CONTAINERD_SOCK=$work/containerd/containerd.sock
KUBECONFIG=$work/admin.kubeconfig
ENV

log "network namespace $netns ($NODE_IP)"
ip netns add "$netns"
nsx sh -ec "
  ip link set lo up
  ip link add tw0 type veth peer name tw1
  ip addr add $NODE_IP/24 dev tw0
  ip link set tw1 up; ip link set tw0 up
  ip route add default dev tw0
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1"
# dual_stack: IPv6 in the node's namespace, as the kubelet, kube-proxy and the bridge CNI need it;
# on failure, prints the command's own error and returns 1.
dual_stack() {
  nsx sh -ec "
    [ -e /proc/net/if_inet6 ] || { echo 'no /proc/net/if_inet6: the kernel has no IPv6'; exit 1; }
    command -v ip6tables >/dev/null || { echo 'ip6tables is not installed'; exit 1; }
    sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.all.forwarding=1
    ip -6 addr add $NODE_IP6/64 dev tw0 nodad
    ip -6 route add default dev tw0
    ip6tables -w 5 -t nat -S >/dev/null
    ip6tables -w 5 -t filter -S >/dev/null" 2>&1
}
family=dual reason=""
if [ "${TOKENWARDEN_CLUSTER_IP_FAMILY:-dual}" = ipv4 ]; then
  family=ipv4 reason="TOKENWARDEN_CLUSTER_IP_FAMILY=ipv4"
elif ! reason=$(dual_stack); then
  family=ipv4 reason="IPv6 refused in the node's network namespace: ${reason//$'\n'/; }"
  log "NOT dual-stack: $reason"
fi
node_ips=$NODE_IP
if [ "$family" = dual ]; then
  POD_CIDRS+=,fd00:10:244::/64 SVC_CIDRS+=,fd00:10:96::/112 node_ips+=,$NODE_IP6
  log "dual-stack: pods $POD_CIDRS, Services $SVC_CIDRS"
fi
{
  echo "DUAL_STACK=$([ "$family" = dual ] && echo 1 || echo 0)"
  printf 'DUAL_STACK_REASON=%q\n' "$reason"
} >>"$work/env"
for c in /sys/fs/cgroup/*/; do
  # The kubelet checks the cgroup root in every v1 hierarchy, the named systemd one included.
  case "$c" in */unified/) continue ;; esac
  mkdir -p "$c${CGROUP_ROOT#/}"
done

log "certificates"
make_pki "$work/pki" "$NODE_IP" "$NODE_NAME" "$SVC_IP"
pki=$work/pki
server=https://$NODE_IP:6443
for n in admin kubelet controller-manager scheduler kube-proxy coredns; do
  kubeconfig "$work/$n.kubeconfig" "$server" "$n" "$pki"
done

log "etcd"
start etcd "$cp_bin/etcd" --data-dir "$work/etcd" --unsafe-no-fsync=true \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster default=http://127.0.0.1:2380 --log-level warn
wait_for 60 etcd nsx curl -sf http://127.0.0.1:2379/health

log "kube-apiserver"
start kube-apiserver "$cp_bin/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
  --bind-address 0.0.0.0 --advertise-address "$NODE_IP" --secure-port 6443 \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SVC_CIDRS" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --allow-privileged=true \
  --cert-dir "$work/apiserver-certs"
wait_for 120 kube-apiserver nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" get --raw /readyz

log "containerd"
containerd_config
cni_config
start containerd containerd --config "$work/containerd/config.toml"
wait_for 60 containerd ctr --address "$work/containerd/containerd.sock" version
for tar in "$@"; do
  ctr --address "$work/containerd/containerd.sock" -n k8s.io images import --no-unpack=false "$tar" >&2
done

log "kube-controller-manager, kube-scheduler"
start kube-controller-manager "$node_bin/kube-controller-manager" \
  --kubeconfig "$work/controller-manager.kubeconfig" --authentication-kubeconfig "$work/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$work/controller-manager.kubeconfig" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port 10257 --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --service-cluster-ip-range "$SVC_CIDRS" --controllers '*,-nodeipam,-cloud-node-lifecycle'
start kube-scheduler "$node_bin/kube-scheduler" --kubeconfig "$work/scheduler.kubeconfig" \
  --authentication-kubeconfig "$work/scheduler.kubeconfig" --authorization-kubeconfig "$work/scheduler.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259

log "kubelet"
echo "nameserver $NODE_IP" >"$work/resolv.conf"
kubelet_config "$pki"
start kubelet "$node_bin/kubelet" --config "$work/kubelet.yaml" --kubeconfig "$work/kubelet.kubeconfig" \
  --root-dir "$work/kubelet" --hostname-override "$NODE_NAME" --node-ip "$node_ips" -v 1

log "kube-proxy"
kube_proxy_config
start kube-proxy "$node_bin/kube-proxy" --config "$work/kube-proxy.yaml"

log "coredns ($NODE_IP:53)"
corefile
# CoreDNS reads Services and EndpointSlices cluster-wide.
nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" create clusterrolebinding tokenwarden-test-coredns \
  --clusterrole system:public-info-viewer --user coredns >/dev/null
nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: tokenwarden-test-coredns }
rules:
  - { apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch] }
  - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: tokenwarden-test-coredns-read }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tokenwarden-test-coredns }
subjects: [ { apiGroup: rbac.authorization.k8s.io, kind: User, name: coredns } ]
YAML
start coredns "$node_bin/coredns" -conf "$work/Corefile"

log "waiting for the node to be Ready"
wait_for 180 "node Ready" nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" wait node/$NODE_NAME --for=condition=Ready --timeout=1s
dns_check() {
  nsx node -e 'const r = new (require("node:dns").promises.Resolver)(); r.setServers([process.argv[1]]);
    r.resolve4("kubernetes.default.svc.cluster.local").then((a) => process.exit(a.length ? 0 : 1), () => process.exit(1));' "$NODE_IP"
}
wait_for 60 "cluster DNS" dns_check
log "node $NODE_NAME Ready ($family)"
