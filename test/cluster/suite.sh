#!/usr/bin/env bash
# The end-to-end suite a platform team would run after `helm install`, against any cluster:
# the one-node cluster of test/cluster/run.sh or a kind cluster (test/e2e/kind.sh).
#
# Environment (set by the caller):
#   TW_KUBECTL, TW_HELM      commands (with their kubeconfig) to reach the cluster
#   TW_HOST_EXEC             prefix to run a host command where the API server is reachable
#                            (the node's network namespace; empty for kind)
#   TW_IMAGE_REPOSITORY, TW_IMAGE_TAG, TW_IMAGE_PULL_POLICY   the locally built image
#   TW_REVOKE_BUDGET_MS      revocation → refused on every replica (default 1000)
#   TW_PROBE_ALLOW_RULE=1    give the probe path an Allow rule (for sidecars that do not rewrite probes)
#   TW_EXPECT_DUAL_STACK=1   fail unless the app pods get IPv6 (dual-stack is detected otherwise)
set -euo pipefail
cd "$(dirname "$0")/../.."
k() { $TW_KUBECTL "$@"; }
h() { $TW_HELM "$@"; }
now_ms() { date +%s%3N; }
step() { printf '\n--- %s\n' "$*"; }
fail() { echo "suite: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
sys=tokenwarden-system ns=tokenwarden-e2e cns=tokenwarden-e2e-client
image="$TW_IMAGE_REPOSITORY:$TW_IMAGE_TAG"
budget=${TW_REVOKE_BUDGET_MS:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A timing

step "helm install"
t0=$(now_ms)
h install tokenwarden charts/tokenwarden -n "$sys" --create-namespace \
  --set image.repository="$TW_IMAGE_REPOSITORY" --set image.tag="$TW_IMAGE_TAG" \
  --set image.pullPolicy="$TW_IMAGE_PULL_POLICY" --wait --timeout 300s
k -n "$sys" rollout status deployment/tokenwarden-operator --timeout=300s
timing[install_to_operator_ready_ms]=$(($(now_ms) - t0))
ok "operator ready"

step "tokens and keys"
node test/cluster/tokens.mjs "$work"
jwk=$(cat "$work/jwk.json")
k create namespace "$ns"
k label namespace "$ns" tokenwarden.dev/injection=enabled
k create namespace "$cns"
probe_rule=""
[ "${TW_PROBE_ALLOW_RULE:-}" = 1 ] && probe_rule="rules: [ { name: probes, paths: [/healthz], methods: [GET], action: Allow } ]"
k apply -f - <<YAML
apiVersion: tokenwarden.dev/v1alpha1
kind: TokenPolicy
metadata: { name: orders, namespace: $ns }
spec:
  selector: { matchLabels: { app: orders } }
  targetPort: 8080
  issuers:
    - issuer: https://issuer.e2e/
      audiences: [orders]
      jwks: { keys: [ $jwk ] }
      algorithms: [ES256]
  $probe_rule
YAML
k -n "$ns" wait tokenpolicy/orders --for=condition=Ready --timeout=60s

step "client pod (unlabelled namespace: not injected)"
t0=$(now_ms)
k -n "$cns" run client --image="$image" --image-pull-policy="$TW_IMAGE_PULL_POLICY" --restart=Never \
  --command -- node -e 'setInterval(() => {}, 1 << 30)'
k -n "$cns" wait pod/client --for=condition=Ready --timeout=120s
timing[pod_start_without_injection_ms]=$(($(now_ms) - t0))

step "sample app: 3 replicas, a Service, HTTP probes; injected by the webhook"
t0=$(now_ms)
k -n "$ns" apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders }
spec:
  replicas: 3
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: $image
          imagePullPolicy: $TW_IMAGE_PULL_POLICY
          command: [node, -e, "require('http').createServer((q, s) => s.end(q.url === '/healthz' ? 'healthy' : 'orders ' + (q.headers.authorization ? 'with' : 'without') + ' token')).listen(8080)"]
          ports: [ { name: http, containerPort: 8080 } ]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 2 }
          livenessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 10 }
          securityContext: { runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false }
---
apiVersion: v1
kind: Service
metadata: { name: orders }
spec:
  # Both families where the cluster has them (the IPv6 cluster IP is checked by dual-stack.sh).
  ipFamilyPolicy: PreferDualStack
  selector: { app: orders }
  ports: [ { name: http, port: 80, targetPort: 8080 } ]
YAML
k -n "$ns" rollout status deployment/orders --timeout=240s || {
  k -n "$ns" get pods -o wide
  k -n "$ns" describe pods | tail -60
  fail "the app never became ready"
}
timing[rollout_3_injected_pods_ms]=$(($(now_ms) - t0))
for p in $(k -n "$ns" get pods -l app=orders -o name); do
  inits=$(k -n "$ns" get "$p" -o jsonpath='{.spec.initContainers[*].name}')
  case "$inits" in
    *tokenwarden-capture*tokenwarden-sidecar*) ;;
    *) fail "$p was not injected (init containers: '$inits')" ;;
  esac
done
ok "3 pods injected (tokenwarden-capture, tokenwarden-sidecar)"
pod_ips=$(k -n "$ns" get pods -l app=orders -o jsonpath='{.items[*].status.podIP}')

# in_client SCRIPT ARGS...: run a node script in the client pod (stdin passed through).
in_client() {
  local script=$1
  shift
  k -n "$cns" exec -i client -- node --input-type=module -e "$(cat "$script")" -- "$@"
}
svc="http://orders.$ns.svc.cluster.local/orders"

step "through the Service: valid 200, no token 401, expired 401"
out=$(k -n "$cns" exec client -- node -e 'console.log("ready")') && [ "$out" = ready ] || fail "client pod exec"
check() { # check URL TOKEN STATUS
  local got
  got=$(node -e 'process.stdout.write(require("fs").readFileSync(process.argv[1]+"/"+process.argv[2],"utf8"))' "$work" "$2" 2>/dev/null |
    k -n "$cns" exec -i client -- node -e '
      let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", async () => {
        const headers = t.trim() ? { authorization: "Bearer " + t.trim() } : {};
        const r = await fetch(process.argv[1], { headers, signal: AbortSignal.timeout(5000) }).catch((e) => ({ status: "error " + e.message }));
        console.log(r.status);
      });' "$1")
  [ "$got" = "$3" ] || fail "$1 with token $2: expected $3, got $got"
  ok "$1 token=$2 -> $got"
}
check "$svc" valid 200
check "$svc" none 401
check "$svc" expired 401

step "every pod IP on the app's port is still checked by its sidecar"
for ip in $pod_ips; do
  check "http://$ip:8080/orders" none 401
  check "http://$ip:8080/orders" valid 200
done

step "metrics from each sidecar's admin port"
for ip in $pod_ips; do
  m=$(k -n "$cns" exec client -- node -e 'fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))' "http://$ip:15090/metrics")
  [[ $m == "200 "* ]] || fail "$ip:15090/metrics: ${m%%$'\n'*}"
  grep -q '^tokenwarden_requests_total{.*decision="allow"' <<<"$m" || fail "$ip:15090/metrics has no allowed request counted"
  grep -q '^tokenwarden_requests_total{.*reason="missing"' <<<"$m" || fail "$ip:15090/metrics has no refused request counted"
  ok "$ip:15090/metrics counts allows and refusals"
done

# shellcheck source=dual-stack.sh
source test/cluster/dual-stack.sh
dual_stack_steps

# policy_columns → "MATCHED SYNCED UNPROTECTED"
policy_columns() { k -n "$ns" get tokenpolicy orders -o jsonpath='{.status.matchedPods} {.status.syncedSidecars} {.status.unprotectedPods}'; }
wait_columns() { # wait_columns WANT SECONDS
  local got i
  for ((i = 0; i < $2; i++)); do got=$(policy_columns); [ "$got" = "$1" ] && return 0; sleep 1; done
  fail "tokenpolicy orders: MATCHED SYNCED UNPROTECTED = '$got', want '$1'"
}
step "kubectl get tokenpolicies: MATCHED = SYNCED = 3, UNPROTECTED 0"
wait_columns "3 3 0" 60
k -n "$ns" get tokenpolicies -o wide

# revoke NAME JTI TOKEN → ms from `kubectl apply` returning to the last replica refusing the token.
# The poller runs in the client pod before the revocation is applied (it prints "polling" once
# every replica accepts the token), so the seconds kubectl exec takes to start are not counted.
revoke() {
  local name=$1 jti=$2 token=$3 t0 line last
  rm -f "$work/poll"
  mkfifo "$work/poll"
  node -e 'process.stdout.write(require("fs").readFileSync(process.argv[1],"utf8"))' "$work/$token" |
    in_client test/cluster/first-401.mjs $pod_ips >"$work/poll" &
  local poller=$!
  exec 7<"$work/poll"
  read -r -t 120 line <&7 || true
  [ "$line" = polling ] || fail "revocation poller did not start: '$line'"
  k -n "$ns" apply -f - >&2 <<YAML
apiVersion: tokenwarden.dev/v1alpha1
kind: TokenRevocation
metadata: { name: $name }
spec:
  tokens: [ { jti: $jti } ]
YAML
  t0=$(now_ms)
  read -r -t 60 last <&7 || true
  exec 7<&-
  wait "$poller" || true
  [ -n "$last" ] && [ "$last" != never ] || fail "revoked token $jti still accepted by a replica after 20 s"
  echo $((last - t0))
}
step "TokenRevocation: refused on every replica within ${budget} ms"
ms=$(revoke e2e-valid jti-valid valid)
timing[revocation_to_last_401_ms]=$ms
echo "revocation took effect on all 3 replicas ${ms} ms after kubectl apply returned"
[ "$ms" -le "$budget" ] || fail "revocation took ${ms} ms (budget ${budget} ms)"
check "$svc" valid 401
check "$svc" valid2 200

step "tokenwarden revoke (CLI) is counted in the policy's status"
${TW_HOST_EXEC:-} env KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}" node dist/cmd/tokenwarden.js revoke \
  --namespace "$ns" --jti jti-other --policy orders --reason e2e
for _ in $(seq 1 30); do
  n=$(k -n "$ns" get tokenpolicy orders -o jsonpath='{.status.revocations}')
  [ "${n:-0}" -ge 2 ] && break
  sleep 1
done
[ "${n:-0}" -ge 2 ] || fail "the policy status never counted the second revocation"
ok "status.revocations = $n"

step "delete an operator pod: enforcement holds, status converges"
victim=$(k -n "$sys" get pods -l app.kubernetes.io/name=tokenwarden -o jsonpath='{.items[0].metadata.name}')
k -n "$sys" delete pod "$victim" --wait=false
for _ in 1 2 3; do
  check "$svc" valid 401
  check "$svc" none 401
  check "$svc" valid2 200
done
k -n "$sys" rollout status deployment/tokenwarden-operator --timeout=180s
wait_columns "3 3 0" 90
ms=$(revoke e2e-valid2 jti-valid-2 valid2)
timing[revocation_after_operator_restart_ms]=$ms
ok "after the restart, a new revocation reached every replica in ${ms} ms"
k -n "$ns" get tokenpolicies -o wide
k -n "$ns" get tokenrevocations -o wide

step "helm uninstall leaves no webhook that blocks pod creation"
h uninstall tokenwarden -n "$sys" --wait --timeout 120s
left=$(k get mutatingwebhookconfigurations,validatingwebhookconfigurations -o name | grep -i tokenwarden || true)
[ -z "$left" ] || fail "left behind: $left"
k -n "$ns" run after-uninstall --image="$image" --image-pull-policy="$TW_IMAGE_PULL_POLICY" --restart=Never \
  --command -- node -e 'setTimeout(() => {}, 1000)' >/dev/null || fail "pod creation refused after helm uninstall"
ok "a pod is created in the labelled namespace after uninstall"

step "timings"
for key in "${!timing[@]}"; do echo "timing: $key ${timing[$key]}"; done | sort
echo "suite: passed"
