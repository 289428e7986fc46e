#!/usr/bin/env bash
# End-to-end on a kind cluster, for users with Docker (needs docker, kind, kubectl, helm on PATH).
# Not run by .ci/run (no container engine there): `npm run test:e2e`. Registry-free, on this
# machine's own one-node cluster, the same suite runs with `npm run test:cluster`.
#
#  1. builds the image with the Dockerfile and loads it into a fresh kind cluster
#  2. runs test/cluster/suite.sh, the suite shared with test:cluster: helm install, a labelled
#     namespace, a 3-replica app with HTTP probes, a TokenPolicy, tokens through the Service,
#     revocation on every replica, metrics, status columns, an operator pod deleted, helm uninstall
#     and, where the cluster is dual-stack (detected), the same checks over IPv6
#  3. deletes the cluster (KEEP_CLUSTER=1 keeps it)
#
# E2E_IP_FAMILY=dual creates the kind cluster dual-stack (networking.ipFamily) and makes the suite
# fail unless the pods get IPv6; the default is kind's own (IPv4), where the IPv6 steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
cluster=${KIND_CLUSTER:-tokenwarden-e2e}
for tool in docker kind kubectl helm node npm; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required on PATH" >&2; exit 1; }
done
cleanup() { [ "${KEEP_CLUSTER:-}" = 1 ] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "--- build"
npm run build >/dev/null
docker build -t tokenwarden:e2e .
family=${E2E_IP_FAMILY:-ipv4}
case "$family" in ipv4 | dual) ;; *) echo "e2e: E2E_IP_FAMILY must be ipv4 or dual, got '$family'" >&2; exit 1 ;; esac
kind create cluster --name "$cluster" --wait 120s --config - <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: { ipFamily: $family }
YAML
kind load docker-image tokenwarden:e2e --name "$cluster"

echo "--- suite"
export TW_KUBECTL=kubectl TW_HELM=helm TW_HOST_EXEC=""
export TW_IMAGE_REPOSITORY=tokenwarden TW_IMAGE_TAG=e2e TW_IMAGE_PULL_POLICY=Never
export TW_REVOKE_BUDGET_MS=${E2E_REVOKE_BUDGET_MS:-1000}
export TW_EXPECT_DUAL_STACK=$([ "$family" = dual ] && echo 1 || echo 0)
bash test/cluster/suite.sh
