/**
 * The few Kubernetes API facts the operator shares: resource coordinates, the merge-patch
 * request option, and reading an `ApiException` (client-node 1.x) without guessing its shape.
 */
import { ApiException, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_GROUP } from '../../policy/types.js';

export const VERSION = 'v1alpha1';
export const POLICIES = { group: API_GROUP, version: VERSION, plural: 'tokenpolicies' } as const;
export const REVOCATIONS = { group: API_GROUP, version: VERSION, plural: 'tokenrevocations' } as const;

/** Field manager recorded in managedFields for every write the operator makes. */
export const FIELD_MANAGER = 'tokenwarden-operator';

/**
 * client-node picks `application/json-patch+json` for custom-object patches; a merge patch of
 * `{ status }` needs the Content-Type overridden by a middleware (appended, so auth stays).
 */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** HTTP status of a failed API call, or undefined for a transport error (refused, reset, TLS…). */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code =
    (err as { code?: unknown; statusCode?: unknown } | null)?.statusCode ??
    (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message (`Status.message`) when there is one, else the error's. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    const parsed: unknown = typeof body === 'string' ? safeJson(body) : body;
    const message = (parsed as { message?: unknown } | null)?.message;
    if (typeof message === 'string' && message !== '') return message;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A transport-level error code (ECONNREFUSED, ENOTFOUND, ETIMEDOUT…), looking through causes. */
export function networkErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** The inverse of `objectKey`: [namespace, name]. */
export function splitKey(key: string): [namespace: string, name: string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
