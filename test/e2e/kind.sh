#!/usr/bin/env bash
# End-to-end on a kind cluster (needs Docker, kind, kubectl, helm on PATH; not run in CI here,
# which has no Docker engine). `npm run test:e2e` or `bash test/e2e/kind.sh`.
#
#  1. builds the image and loads it into a fresh kind cluster
#  2. installs the chart (CRDs, RBAC, 2 operator replicas) and waits for the operator
#  3. applies a TokenPolicy with an inline JWKS and waits for Ready=True (the operator compiled it)
#  4. runs a sample app with the sidecar (standalone, policy from a ConfigMap) and checks that a
#     valid token is allowed, an expired one refused, and a revoked one refused after the
#     ConfigMap edit propagates
#  5. `tokenwarden revoke` creates a TokenRevocation that the policy's status counts
set -euo pipefail
cd "$(dirname "$0")/../.."
cluster=${KIND_CLUSTER:-tokenwarden-e2e}
image=tokenwarden:e2e
ns=tokenwarden-e2e
for tool in docker kind kubectl helm node; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required on PATH" >&2; exit 1; }
done
work=$(mktemp -d)
cleanup() {
  [ -n "${pf_pid:-}" ] && kill "$pf_pid" 2>/dev/null || true
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

echo "--- sample app with the sidecar"
kubectl -n "$ns" create configmap orders-policy --from-file=policy.yaml=<(policy)
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
          command: [node, -e, "require('http').createServer((q,s)=>s.end('ok')).listen(8080,'127.0.0.1')"]
        - name: tokenwarden
          image: $image
          imagePullPolicy: Never
          args: [sidecar, --policy, /etc/tokenwarden/policy.yaml, --upstream, http://127.0.0.1:8080]
          ports: [ { containerPort: 15080 }, { containerPort: 15090 } ]
          readinessProbe: { httpGet: { path: /readyz, port: 15090 } }
          securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false }
          volumeMounts: [ { name: policy, mountPath: /etc/tokenwarden } ]
      volumes: [ { name: policy, configMap: { name: orders-policy } } ]
YAML
kubectl -n "$ns" rollout status deployment/orders --timeout=120s
kubectl -n "$ns" port-forward deployment/orders 25080:15080 >/dev/null 2>&1 &
pf_pid=$!
sleep 3
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$work/$1")" http://127.0.0.1:25080/orders; }
expect() { local got; got=$(code "$1"); [ "$got" = "$2" ] || { echo "e2e: $1 token: expected $2, got $got" >&2; exit 1; }; echo "ok: $1 token → $got"; }
expect valid 200
expect expired 401

echo "--- revoke through the ConfigMap (kubelet syncs mounted ConfigMaps within about a minute)"
{ policy; printf -- '---\napiVersion: tokenwarden.dev/v1alpha1\nkind: TokenRevocation\nmetadata: { name: e2e }\nspec:\n  tokens: [ { jti: jti-valid } ]\n'; } >"$work/revoked.yaml"
kubectl -n "$ns" create configmap orders-policy --from-file=policy.yaml="$work/revoked.yaml" --dry-run=client -o yaml | kubectl apply -f -
for _ in $(seq 1 90); do [ "$(code valid)" = 401 ] && break; sleep 2; done
expect valid 401

echo "--- tokenwarden revoke"
node dist/cmd/tokenwarden.js revoke --namespace "$ns" --jti jti-other --policy orders --reason e2e
for _ in $(seq 1 30); do
  n=$(kubectl -n "$ns" get tokenpolicy orders -o jsonpath='{.status.revocations}')
  [ "${n:-0}" -ge 1 ] && break; sleep 1
done
[ "${n:-0}" -ge 1 ] || { echo "e2e: the policy status never counted the revocation" >&2; exit 1; }
kubectl get tokenpolicies -A
echo "e2e: passed"
