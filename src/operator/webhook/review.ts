/**
 * The AdmissionReview a webhook path accepts, checked by hand at the edge: `apiVersion`
 * admission.k8s.io/v1, `kind` AdmissionReview, a request with a uid, the kind and resource it is
 * about, a known operation, and the objects that operation carries (a CREATE its object, an
 * UPDATE both). Anything else gets one generic 400 that says nothing about policies, ports or
 * which field was wrong: the caller is not the API server, and the webhook is reachable by
 * anyone who can reach the operator's Service. The reason is logged for the operator's owner.
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  readonly subResource?: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly namespace: string;
  readonly object?: V1Pod;
  readonly oldObject?: V1Pod;
  readonly dryRun?: boolean;
}

export type ParsedReview = { ok: true; request: AdmissionRequest } | { ok: false; why: string };

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
/** API server uids are UUIDs; anything much longer is not one. */
const MAX_UID = 128;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function groupVersion(v: unknown, last: 'kind' | 'resource'): boolean {
  return isObject(v) && isString(v.group) && isString(v.version) && isString(v[last]) && v[last] !== '';
}

/** A Pod-shaped object: metadata an object, spec an object with a containers list. */
function podLike(v: unknown): boolean {
  if (!isObject(v) || !isObject(v.metadata) || !isObject(v.spec)) return false;
  return Array.isArray(v.spec.containers);
}

export function parseReview(body: unknown): ParsedReview {
  const bad = (why: string): ParsedReview => ({ ok: false, why });
  if (!isObject(body)) return bad('body is not an object');
  if (body.apiVersion !== 'admission.k8s.io/v1') return bad('apiVersion');
  if (body.kind !== 'AdmissionReview') return bad('kind');
  const r = body.request;
  if (!isObject(r)) return bad('request');
  if (!isString(r.uid) || r.uid === '' || r.uid.length > MAX_UID) return bad('request.uid');
  if (!groupVersion(r.kind, 'kind')) return bad('request.kind');
  if (!groupVersion(r.resource, 'resource')) return bad('request.resource');
  if (r.subResource !== undefined && !isString(r.subResource)) return bad('request.subResource');
  const op = r.operation;
  if (!(OPERATIONS as readonly unknown[]).includes(op)) return bad('request.operation');
  if (!isString(r.namespace) || r.namespace === '') return bad('request.namespace');
  if (r.dryRun !== undefined && typeof r.dryRun !== 'boolean') return bad('request.dryRun');
  const isPod = (r.kind as { kind: string }).kind === 'Pod' && (r.kind as { group: string }).group === '';
  if (op === 'CREATE' || op === 'UPDATE') {
    if (isPod ? !podLike(r.object) : !isObject(r.object)) return bad('request.object');
  }
  if (op === 'UPDATE' && (isPod ? !podLike(r.oldObject) : !isObject(r.oldObject))) {
    return bad('request.oldObject');
  }
  return { ok: true, request: r as unknown as AdmissionRequest };
}
