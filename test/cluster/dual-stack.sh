#!/usr/bin/env bash
# Dual-stack steps of test/cluster/suite.sh (sourced; uses its k, check, step, ok, fail, $ns, $cns).
#
# Whether the cluster is dual-stack is detected, never assumed: from the Service CIDRs the API
# server allocates from (the ServiceCIDR API) and from the app pods' addresses. A single-stack
# cluster (kind's default) skips the IPv6 steps with a line saying so; a cluster whose Service
# CIDRs include IPv6 but whose pods have no IPv6 address fails, and so does one where
# TW_EXPECT_DUAL_STACK=1 (the caller set up dual-stack) but the pods are single-stack.

# pod_ips FAMILY → the app pods' addresses of that family (ipv4|ipv6), one a line, by pod.
pod_ips() {
  local sel=$1
  k -n "$ns" get pods -l app=orders \
    -o jsonpath='{range .items[*]}{.metadata.name}{range .status.podIPs[*]} {.ip}{end}{"\n"}{end}' |
    while read -r name ips; do
      local ip found=""
      for ip in $ips; do
        case "$sel:$ip" in ipv6:*:* | ipv4:*.*) found=$ip ;; esac
      done
      echo "$name ${found:--}"
    done
}

# cluster_families → "ipv4", "ipv6" or "ipv4,ipv6" from the ServiceCIDR API; empty if the API
# server has none (before Kubernetes 1.33).
cluster_families() {
  local cidrs
  cidrs=$(k get servicecidrs -o jsonpath='{.items[*].spec.cidrs[*]}' 2>/dev/null) || return 0
  local v4="" v6=""
  [[ $cidrs == *.* ]] && v4=ipv4
  [[ $cidrs == *:* ]] && v6=ipv6
  echo "$v4${v4:+${v6:+,}}$v6"
}

# url_host IP → the IP as a URL host ([...] for IPv6).
url_host() { if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi; }

# The capture init container logged that it applied (and checked) its IPv6 rules; on a
# single-stack cluster a pod without IPv6 at all may instead log that it skipped IPv6.
capture_logged() { # capture_logged POD DUAL(0|1)
  local logs
  logs=$(k -n "$ns" logs "$1" -c tokenwarden-capture)
  # One grep each (a second grep -q in a pipe could end the first with SIGPIPE under pipefail).
  if grep -Eq '"family":"ipv6".*"capture applied"|"capture applied".*"family":"ipv6"' <<<"$logs"; then
    ok "$1: capture applied its ip6tables rules (checked with ip6tables-save)"
  elif [ "$2" = 0 ] && grep -q '"capture skipped".*no /proc/net/if_inet6\|no /proc/net/if_inet6.*"capture skipped"' <<<"$logs"; then
    ok "$1: the pod has no IPv6 at all; capture skipped IPv6"
  else
    fail "$1: the capture init container did not apply IPv6 rules: $logs"
  fi
}

# own_ip_checked POD IP: from the app container (not the sidecar's UID), the pod's own address
# on the app's port reaches the sidecar too (capture's OUTPUT rule of that family).
own_ip_checked() {
  local got
  got=$(k -n "$ns" exec "$1" -c app -- node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then((r) => console.log(r.status), (e) => console.log("error " + e.message));' \
    "http://$(url_host "$2"):8080/orders")
  [ "$got" = 401 ] || fail "$1: its app container reached its own $2:8080 without the sidecar (got $got, want 401)"
  ok "$1: the app container's own request to $2:8080 is checked by the sidecar -> 401"
}

dual_stack_steps() {
  local families dual=0 name ip4 ip6 with6=0 without6=0
  step "dual-stack: detected from the cluster, then IPv6 checked like IPv4"
  families=$(cluster_families)
  echo "Service CIDR families: ${families:-unknown (no ServiceCIDR API)}"
  while read -r name ip6 <&3; do
    if [ "$ip6" = - ]; then without6=$((without6 + 1)); else with6=$((with6 + 1)); fi
  done 3< <(pod_ips ipv6)
  [ "$with6" -gt 0 ] && [ "$without6" -gt 0 ] && fail "$with6 app pods have IPv6 and $without6 do not"
  [ "$with6" -gt 0 ] && dual=1
  if [ "$dual" = 0 ]; then
    [[ $families == *ipv6* ]] && fail "the cluster allocates IPv6 Services ($families) but the app pods have no IPv6 address"
    [ "${TW_EXPECT_DUAL_STACK:-}" = 1 ] && fail "TW_EXPECT_DUAL_STACK=1 but the app pods have no IPv6 address"
  fi
  while read -r name ip4 <&3; do
    own_ip_checked "$name" "$ip4"
  done 3< <(pod_ips ipv4)
  for name in $(k -n "$ns" get pods -l app=orders -o jsonpath='{.items[*].metadata.name}'); do
    capture_logged "$name" "$dual"
  done
  if [ "$dual" = 0 ]; then
    echo "single-stack cluster (app pods have IPv4 only): IPv6 steps skipped"
    return 0
  fi
  while read -r name ip6 <&3; do
    check "http://[$ip6]:8080/orders" none 401
    check "http://[$ip6]:8080/orders" valid 200
    own_ip_checked "$name" "$ip6"
    local m
    m=$(k -n "$cns" exec client -- node -e 'fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))' "http://[$ip6]:15090/metrics")
    [[ $m == "200 "* ]] || fail "[$ip6]:15090/metrics: ${m%%$'\n'*}"
    grep -q '^tokenwarden_requests_total{.*decision="allow"' <<<"$m" || fail "[$ip6]:15090/metrics has no allowed request counted"
    ok "$name: the sidecar's admin port answers on [$ip6]:15090"
  done 3< <(pod_ips ipv6)
  local svc6
  svc6=$(k -n "$ns" get service orders -o jsonpath='{.spec.clusterIPs[1]}')
  [[ $svc6 == *:* ]] || fail "Service orders (PreferDualStack) has no IPv6 cluster IP: '$svc6'"
  check "http://[$svc6]/orders" valid 200
  check "http://[$svc6]/orders" none 401
}
