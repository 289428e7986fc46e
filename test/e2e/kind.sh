#!/usr/bin/env bash
# End-to-end on a kind cluster (needs Docker, kind, kubectl, helm on PATH). Not part of the
# default test command and not run by .ci/run (no container engine there): `npm run test:e2e`.
#
#  1. builds the image and loads it into a fresh kind cluster
#  2. installs the chart (CRDs, RBAC, operator, injection webhook) and waits for the operator
#  3. labels a namespace for injection, applies a TokenPolicy with an inline JWKS, waits Ready
#  4. deploys a sample app (no sidecar in its manifest) and a Service; the webhook injects the
#     capture init container and the sidecar
#  5. through the Service, from a client pod in another namespace: a valid token is allowed,
#     no token and an expired token are refused (401), and a TokenRevocation refuses the valid
#     token within a second (E2E_REVOKE_BUDGET_MS, default 1000)
#  6. `tokenwarden revoke` creates a TokenRevocation that the policy's status counts
#  7. deletes the cluster (KEEP_CLUSTER=1 keeps it)
set -euo pipefail
cd "$(dirname "$0")/../.."
cluster=${KIND_CLUSTER:-tokenwarden-e2e}
image=tokenwarden:e2e
ns=tokenwarden-e2e
for tool in docker kind kubectl helm node npm; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required on PATH" >&2; exit 1; }
done
work=$(mktemp -d)
cleanup() {
  [ "${KEEP_CLUSTER:-}" = 1 ] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "--- build"
npm run build >/dev/null
docker build -t "$image" .
kind create cluster --name "$cluster" --wait 120s
kind load docker-image "$image" --name "$cluster"

echo "--- install the chart"
helm install tokenwarden charts/tokenwarden -n tokenwarden-system --create-namespace \
  --set image.repository=tokenwarden --set image.tag=e2e --set image.pullPolicy=Never --wait --timeout 180s
kubectl create namespace "$ns"

echo "--- tokens and keys"
node --input-type=module - "$work" <<'JS'
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { writeFileSync } from 'node:fs';
const dir = process.argv[2];
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'e2e', alg: 'ES256', use: 'sig' };
const now = Math.floor(Date.now() / 1000);
const sign = (sub, iat, exp, jti) => new SignJWT({ sub }).setProtectedHeader({ alg: 'ES256', kid: 'e2e' })
  .setIssuer('https://issuer.e2e/').setAudience('orders').setIssuedAt(iat).setExpirationTime(exp).setJti(jti).sign(privateKey);
writeFileSync(`${dir}/jwk.json`, JSON.stringify(jwk));
writeFileSync(`${dir}/valid`, await sign('alice', now, now + 3600, 'jti-valid'));
writeFileSync(`${dir}/expired`, await sign('bob', now - 7200, now - 3600, 'jti-expired'));
JS
jwk=$(cat "$work/jwk.json")
policy() {
  cat <<YAML
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
YAML
}
policy | kubectl apply -f -
kubectl -n "$ns" wait tokenpolicy/orders --for=condition=Ready --timeout=60s

echo "--- sample app, injected by the webhook"
kubectl label namespace "$ns" tokenwarden.dev/injection=enabled --overwrite
kubectl -n "$ns" apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: $image
          imagePullPolicy: Never
          command: [node, -e, "require('http').createServer((q,s)=>s.end('ok')).listen(8080)"]
          ports: [ { name: http, containerPort: 8080 } ]
---
apiVersion: v1
kind: Service
metadata: { name: orders }
spec:
  selector: { app: orders }
  ports: [ { name: http, port: 80, targetPort: 8080 } ]
YAML
kubectl -n "$ns" rollout status deployment/orders --timeout=180s
inits=$(kubectl -n "$ns" get pods -l app=orders -o jsonpath='{.items[0].spec.initContainers[*].name}')
case "$inits" in
  *tokenwarden-capture*tokenwarden-sidecar*) echo "ok: injected init containers: $inits" ;;
  *) echo "e2e: the pod was not injected (init containers: '${inits}')" >&2; exit 1 ;;
esac

echo "--- client pod in an unlabelled namespace (not injected)"
kubectl create namespace "$ns-client"
kubectl -n "$ns-client" run client --image="$image" --image-pull-policy=Never --restart=Never \
  --command -- sleep 3600
kubectl -n "$ns-client" wait pod/client --for=condition=Ready --timeout=120s
url="http://orders.$ns.svc.cluster.local/orders"
# One request through the Service; prints the status code. The token goes in through stdin.
status() {
  { cat "$work/$1" 2>/dev/null || true; } | kubectl -n "$ns-client" exec -i client -- node -e '
    let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", async () => {
      const headers = t.trim() ? { authorization: "Bearer " + t.trim() } : {};
      const r = await fetch(process.argv[1], { headers }).catch((e) => ({ status: "error " + e.message }));
      console.log(r.status);
    });' "$url"
}
expect() { local got; got=$(status "$1"); [ "$got" = "$2" ] || { echo "e2e: $1 token: expected $2, got $got" >&2; exit 1; }; echo "ok: $1 token -> $got"; }
expect valid 200
expect none 401
expect expired 401

echo "--- revoke: the valid token is refused within ${E2E_REVOKE_BUDGET_MS:-1000} ms"
kubectl -n "$ns" apply -f - <<YAML
apiVersion: tokenwarden.dev/v1alpha1
kind: TokenRevocation
metadata: { name: e2e-valid }
spec:
  tokens: [ { jti: jti-valid } ]
YAML
t0=$(date +%s%3N)
# Polls every 50 ms for up to 10 s from inside the cluster; prints the epoch ms of the first 401.
first401=$(kubectl -n "$ns-client" exec -i client -- node -e '
  let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", async () => {
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      const r = await fetch(process.argv[1], { headers: { authorization: "Bearer " + t.trim() } }).catch(() => null);
      if (r && r.status === 401) { console.log(Date.now()); return; }
      await new Promise((ok) => setTimeout(ok, 50));
    }
    console.log("never");
  });' "$url" <"$work/valid")
[ "$first401" != never ] || { echo "e2e: the revoked token was still accepted after 10 s" >&2; exit 1; }
elapsed=$((first401 - t0))
echo "revocation took effect ${elapsed} ms after kubectl apply returned"
[ "$elapsed" -le "${E2E_REVOKE_BUDGET_MS:-1000}" ] || { echo "e2e: revocation took ${elapsed} ms" >&2; exit 1; }

echo "--- tokenwarden revoke"
node dist/cmd/tokenwarden.js revoke --namespace "$ns" --jti jti-other --policy orders --reason e2e
for _ in $(seq 1 30); do
  n=$(kubectl -n "$ns" get tokenpolicy orders -o jsonpath='{.status.revocations}')
  [ "${n:-0}" -ge 2 ] && break; sleep 1
done
[ "${n:-0}" -ge 2 ] || { echo "e2e: the policy status never counted the revocation" >&2; exit 1; }
kubectl get tokenpolicies -A
echo "e2e: passed"
