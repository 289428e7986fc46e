/**
 * The parts every tokenwarden.dev object shares: `apiVersion`, `kind` and `metadata`. Returns the
 * `spec` mapping for the kind-specific validator, or undefined when there is none to check.
 */
import { type Errors, type Obj, child, readObject, readString, rejectUnknown } from './fields.js';
import { API_VERSION } from './types.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name: lower-case RFC 1123 labels joined by dots, at most 253 characters. */
function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every((label) => label.length <= 63 && DNS1123_LABEL.test(label));
}

/** A namespace name: one RFC 1123 label, at most 63 characters. */
function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

const SUBDOMAIN_RULE =
  'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", at most 253 characters';
const LABEL_RULE = 'must be a DNS-1123 label: lower-case letters, digits and "-", at most 63 characters';

/** An object name field (`metadata.name`, `spec.policyName`), if present and well formed. */
export function readObjectName(e: Errors, obj: Obj, key: string, path: string, required: boolean) {
  const name = readString(e, obj, key, path, { required });
  if (name !== undefined && !isDns1123Subdomain(name)) e.add(child(path, key), SUBDOMAIN_RULE);
  return name;
}

function checkMetadata(e: Errors, top: Obj): void {
  const meta = readObject(e, top.metadata, 'metadata', true);
  if (meta === undefined) return;
  // Other metadata (labels, annotations, managedFields...) belongs to Kubernetes: not checked here.
  readObjectName(e, meta, 'name', 'metadata', true);
  const namespace = readString(e, meta, 'namespace', 'metadata');
  if (namespace !== undefined && !isDns1123Label(namespace)) e.add('metadata.namespace', LABEL_RULE);
}

/**
 * Checks the object envelope for `kind`. A wrong kind or apiVersion is reported and the spec is
 * still checked, so one run shows every problem.
 */
export function checkEnvelope(e: Errors, obj: unknown, kind: string): Obj | undefined {
  const top = readObject(e, obj, '', true);
  if (top === undefined) return undefined;
  rejectUnknown(e, top, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const apiVersion = readString(e, top, 'apiVersion', '', { required: true });
  if (apiVersion !== undefined && apiVersion !== API_VERSION) {
    e.add('apiVersion', `must be ${API_VERSION}, got "${apiVersion}"`);
  }
  const actualKind = readString(e, top, 'kind', '', { required: true });
  if (actualKind !== undefined && actualKind !== kind) e.add('kind', `must be ${kind}, got "${actualKind}"`);
  checkMetadata(e, top);
  return readObject(e, top.spec, 'spec', true);
}
