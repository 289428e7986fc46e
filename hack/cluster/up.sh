#!/usr/bin/env bash
# Starts a one-node Kubernetes cluster inside a network namespace of its own, from the binaries
# of hack/k8s-testbin (control plane + node) and Debian's containerd, runc and CNI plugins.
#
#   hack/cluster/up.sh WORK_DIR CONTROL_PLANE_BIN NODE_BIN IMAGE_TAR...
#
# Writes WORK_DIR/env (KUBECONFIG, NETNS, NODE_IP, ...) and returns once the node is Ready and
# DNS answers; every process it starts is recorded in WORK_DIR/pids for hack/cluster/down.sh.
# Network: netns tw-node-<id> with a veth pair holding NODE_IP (the API server's advertise address,
# the kubelet's node IP and the cluster DNS address), and a CNI bridge for pods (10.244.0.0/24).
# Nothing listens or routes outside that namespace. cgroups: everything under /tokenwarden-<id>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1 cp_bin=$2 node_bin=$3
shift 3
# shellcheck source=pki.sh
source "$here/pki.sh"
id=$(basename "$work" | tr -cd 'a-z0-9' | tail -c 8)
netns=tw-node-$id
node=tw-node
NODE_IP=172.31.254.1
POD_CIDR=10.244.0.0/24
SVC_CIDR=10.96.0.0/16
SVC_IP=10.96.0.1
cgroup_root=/tokenwarden-$id
mkdir -p "$work"/{logs,etcd,kubelet,pod-logs,cni,cni-ipam,containerd}
: >"$work/pids"
ls /run/netns 2>/dev/null | sort >"$work/netns.before"
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

cat >"$work/env" <<ENV
NETNS=$netns
NODE_IP=$NODE_IP
CGROUP_ROOT=$cgroup_root
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
for c in /sys/fs/cgroup/*/; do
  # The kubelet checks the cgroup root in every v1 hierarchy, the named systemd one included.
  case "$c" in */unified/) continue ;; esac
  mkdir -p "$c${cgroup_root#/}"
done

log "certificates"
make_pki "$work/pki" "$NODE_IP" "$node" "$SVC_IP"
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
  --service-cluster-ip-range "$SVC_CIDR" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --allow-privileged=true \
  --cert-dir "$work/apiserver-certs"
wait_for 120 kube-apiserver nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" get --raw /readyz

log "containerd"
cat >"$work/containerd/config.toml" <<TOML
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$work/containerd/containerd.sock"
[ttrpc]
  address = "$work/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "tokenwarden.local/pause:test"
  enable_selinux = false
  # This machine refuses lowering oom_score_adj below its own (no CAP_SYS_RESOURCE); the kubelet
  # asks -998 for sandboxes: clamp to containerd's own score instead of failing every pod.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
TOML
cat >"$work/cni/10-tokenwarden.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "tokenwarden-test",
  "plugins": [
    { "type": "bridge", "bridge": "tw-cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$work/cni-ipam",
                "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
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
  --service-cluster-ip-range "$SVC_CIDR" --controllers '*,-nodeipam,-cloud-node-lifecycle'
start kube-scheduler "$node_bin/kube-scheduler" --kubeconfig "$work/scheduler.kubeconfig" \
  --authentication-kubeconfig "$work/scheduler.kubeconfig" --authorization-kubeconfig "$work/scheduler.kubeconfig" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259

log "kubelet"
echo "nameserver $NODE_IP" >"$work/resolv.conf"
cat >"$work/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This kernel mounts the cgroup v1 controllers; kubelet 1.35 refuses cgroup v1 unless told.
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
containerRuntimeEndpoint: unix://$work/containerd/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $pki/ca.crt }
authorization: { mode: AlwaysAllow }
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $work/resolv.conf
podLogsDir: $work/pod-logs
# A shared build machine: never evict or garbage-collect images because of its disk.
evictionHard: { memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 40
YAML
start kubelet "$node_bin/kubelet" --config "$work/kubelet.yaml" --kubeconfig "$work/kubelet.kubeconfig" \
  --root-dir "$work/kubelet" --hostname-override "$node" --node-ip "$NODE_IP" -v 1

log "kube-proxy"
cat >"$work/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $work/kube-proxy.kubeconfig }
hostnameOverride: $node
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the kernel's global conntrack table size alone (shared machine).
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
start kube-proxy "$node_bin/kube-proxy" --config "$work/kube-proxy.yaml"

log "coredns ($NODE_IP:53)"
cat >"$work/Corefile" <<CORE
.:53 {
  bind $NODE_IP
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $work/coredns.kubeconfig tokenwarden-test
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  cache 5
}
CORE
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
wait_for 180 "node Ready" nsx "$node_bin/kubectl" --kubeconfig "$work/admin.kubeconfig" wait node/$node --for=condition=Ready --timeout=1s
dns_check() {
  nsx node -e 'const r = new (require("node:dns").promises.Resolver)(); r.setServers([process.argv[1]]);
    r.resolve4("kubernetes.default.svc.cluster.local").then((a) => process.exit(a.length ? 0 : 1), () => process.exit(1));' "$NODE_IP"
}
wait_for 60 "cluster DNS" dns_check
log "node $node Ready"
