/**
 * `tokenwarden revoke`: one TokenRevocation created through the current kubeconfig context.
 * A token given on the command line is reduced to the SHA-256 of its signed part before
 * anything else happens to it: the object, the logs and the output never hold the token.
 * Building the object and explaining a failure are pure; only `createRevocation` does I/O.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, type RevocationEntry } from '../policy/types.js';
import { parseRfc3339 } from '../policy/time.js';
import { signedPartSha256 } from '../token/hash.js';
import { REVOCATIONS, apiMessage, apiStatus, networkErrorCode } from '../operator/runtime/k8s.js';

export type RevokeMatch =
  | { readonly jti: string }
  | { readonly token: string }
  | { readonly subject: string; readonly issuer?: string; readonly issuedBefore?: string };

export interface RevokeRequest {
  readonly namespace: string;
  readonly match: RevokeMatch;
  readonly policyName?: string;
  readonly reason?: string;
  readonly expiresAt?: string;
}

/** A request the API server would refuse anyway, caught first with the flag named. */
export function revokeRequestProblem(r: RevokeRequest): string | undefined {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(r.namespace))
    return `--namespace "${r.namespace}" is not a namespace name`;
  if (
    'issuedBefore' in r.match &&
    r.match.issuedBefore !== undefined &&
    parseRfc3339(r.match.issuedBefore) === undefined
  ) {
    return `--issued-before "${r.match.issuedBefore}" is not an RFC 3339 time (for example 2026-11-29T10:00:00Z)`;
  }
  if (r.expiresAt !== undefined && parseRfc3339(r.expiresAt) === undefined) {
    return `--expires-at "${r.expiresAt}" is not an RFC 3339 time (for example 2026-12-01T00:00:00Z)`;
  }
  if ('token' in r.match && r.match.token.trim() === '') return '--token is empty';
  return undefined;
}

function entry(m: RevokeMatch): RevocationEntry {
  if ('jti' in m) return { jti: m.jti };
  // The only place the token is read: from here on there is only its hash.
  if ('token' in m) return { tokenSha256: signedPartSha256(m.token.trim()) };
  const e: RevocationEntry = { subject: m.subject };
  if (m.issuer !== undefined) e.issuer = m.issuer;
  if (m.issuedBefore !== undefined) e.issuedBefore = m.issuedBefore;
  return e;
}

/** The object to create: `generateName: revoke-`, so two revocations never collide on a name. */
export function buildRevocation(r: RevokeRequest): Record<string, unknown> {
  const spec: Record<string, unknown> = { tokens: [entry(r.match)] };
  if (r.policyName !== undefined) spec.policyName = r.policyName;
  if (r.reason !== undefined) spec.reason = r.reason;
  if (r.expiresAt !== undefined) spec.expiresAt = r.expiresAt;
  return {
    apiVersion: API_VERSION,
    kind: 'TokenRevocation',
    metadata: { generateName: 'revoke-', namespace: r.namespace },
    spec,
  };
}

/** Creates the revocation; resolves to the name the API server gave it. */
export async function createRevocation(kc: KubeConfig, r: RevokeRequest): Promise<string> {
  const created = (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...REVOCATIONS,
    namespace: r.namespace,
    body: buildRevocation(r),
  })) as { metadata?: { name?: string } };
  return created.metadata?.name ?? '';
}

/** One line that says what went wrong and what to do about it. */
export function describeRevokeError(err: unknown, namespace: string, server: string): string {
  const status = apiStatus(err);
  const message = apiMessage(err);
  if (status === 404) {
    if (/namespaces? "[^"]*" not found/.test(message)) {
      return `namespace ${namespace} does not exist: check --namespace (kubectl get namespaces)`;
    }
    return `the API server at ${server} does not serve tokenrevocations.tokenwarden.dev: install the Tokenwarden CRDs (kubectl apply -f crds/)`;
  }
  if (status === 403) {
    return `you may not create tokenrevocations in namespace ${namespace}: ask for RBAC \`create\` on tokenrevocations.tokenwarden.dev`;
  }
  if (status === 401)
    return `the cluster at ${server} did not accept your credentials: log in again or check the kubeconfig user`;
  if (status === 422 || status === 400) return `the API server refused the revocation: ${message}`;
  if (status !== undefined) return `the API server at ${server} answered HTTP ${status}: ${message}`;
  const code = networkErrorCode(err);
  return `cannot reach the cluster at ${server}: ${code ?? message}; check the kubeconfig context and that the cluster is up`;
}
