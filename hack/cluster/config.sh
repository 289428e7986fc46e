#!/usr/bin/env bash
# Configuration files of the one-node test cluster (sourced by hack/cluster/up.sh). Each function
# writes one file under $work from the variables up.sh set: NODE_IP, CGROUP_ROOT, POD_CIDRS and
# SVC_CIDRS (comma-separated, the IPv4 range first, then the IPv6 one on a dual-stack node).

# The host-local ranges of the bridge CNI: one range set and one default route per family.
cni_config() {
  local ranges="" routes="" cidr
  local IFS=,
  for cidr in $POD_CIDRS; do
    ranges+="${ranges:+, }[{ \"subnet\": \"$cidr\" }]"
    case "$cidr" in
      *:*) routes+="${routes:+, }{ \"dst\": \"::/0\" }" ;;
      *) routes+="${routes:+, }{ \"dst\": \"0.0.0.0/0\" }" ;;
    esac
  done
  cat >"$work/cni/10-tokenwarden.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "tokenwarden-test",
  "plugins": [
    { "type": "bridge", "bridge": "tw-cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$work/cni-ipam",
                "ranges": [$ranges], "routes": [$routes] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
}

containerd_config() {
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
}

# kubelet_config PKI_DIR
kubelet_config() {
  local pki=$1
  cat >"$work/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This kernel mounts the cgroup v1 controllers; kubelet 1.35 refuses cgroup v1 unless told.
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
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
}

# kube-proxy runs both families when the node has an address of each; clusterCIDR lists both so
# traffic from pods of either family is told apart from traffic from outside.
kube_proxy_config() {
  cat >"$work/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $work/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDRS
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the kernel's global conntrack table size alone (shared machine).
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
}

corefile() {
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
}
