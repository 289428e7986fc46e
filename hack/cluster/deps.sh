#!/usr/bin/env bash
# Debian packages the one-node test cluster and the registry-free image build need; installs
# the missing ones (root, apt-get).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
need=()
for pair in containerd:containerd runc:runc umoci:umoci debootstrap:debootstrap \
  iptables:iptables nsenter:util-linux conntrack:conntrack gcc:gcc openssl:openssl curl:curl; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -f /usr/include/stdio.h ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "--- apt-get install ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
