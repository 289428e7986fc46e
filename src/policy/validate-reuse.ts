/**
 * `spec.reuse`: `maxUses`, and `sharedStore`, the Valkey/Redis deployment every sidecar of the
 * policy counts uses in (ADR 0010). Credentials are never part of a policy: it names the Secret
 * that holds them (`credentialsSecretRef`), which the injection webhook hands to the sidecar.
 */
import {
  type Errors,
  type Obj,
  checkString,
  child,
  item,
  readEnum,
  readInteger,
  readList,
  readObject,
  readString,
  rejectUnknown,
} from './fields.js';
import { SHARED_STORE_MODES, type StoreAddress, WHEN_UNAVAILABLE } from './types.js';

export const MAX_STORE_ADDRESSES = 16;
export const DEFAULT_STORE_TIMEOUT_MS = 50;
export const MAX_STORE_TIMEOUT_MS = 5_000;
/** A DNS name or an IPv4 literal; IPv6 literals come in brackets. */
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
/** A Secret name: a DNS subdomain. A key: what a Secret's data key may be. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SECRET_KEY = /^[-._A-Za-z0-9]{1,253}$/;

/** `host:port` or `[v6]:port` → the address, or undefined when it is neither. */
export function parseStoreAddress(text: string): StoreAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const v6 = m[1];
  if (v6 !== undefined) return IPV6.test(v6) && v6.includes(':') ? { host: v6, port } : undefined;
  const host = m[2] as string;
  return HOST.test(host) ? { host, port } : undefined;
}

function checkSecretName(e: Errors, obj: Obj, path: string): void {
  const name = readString(e, obj, 'name', path, { required: true });
  if (name !== undefined && !SECRET_NAME.test(name)) {
    e.add(child(path, 'name'), 'must be a Secret name (lower-case letters, digits, "-" and ".")');
  }
}

function checkTls(e: Errors, store: Obj, path: string): void {
  const tls = readObject(e, store.tls, child(path, 'tls'), false);
  if (tls === undefined) return;
  const at = child(path, 'tls');
  rejectUnknown(e, tls, at, ['caSecretRef', 'serverName']);
  const host = readString(e, tls, 'serverName', at);
  if (host !== undefined && !HOST.test(host)) e.add(child(at, 'serverName'), 'must be a DNS name');
  const ref = readObject(e, tls.caSecretRef, child(at, 'caSecretRef'), false);
  if (ref === undefined) return;
  const refAt = child(at, 'caSecretRef');
  rejectUnknown(e, ref, refAt, ['name', 'key']);
  checkSecretName(e, ref, refAt);
  const key = readString(e, ref, 'key', refAt);
  if (key !== undefined && !SECRET_KEY.test(key)) e.add(child(refAt, 'key'), 'must be a Secret data key');
}

function checkAddresses(e: Errors, store: Obj, path: string): void {
  const none = 'must list at least one host:port';
  const list = readList(e, store, 'addresses', path, { required: true, min: 1, none });
  if (list !== undefined && list.length > MAX_STORE_ADDRESSES) {
    e.add(child(path, 'addresses'), `must list at most ${MAX_STORE_ADDRESSES} addresses`);
  }
  list?.forEach((v, i) => {
    const field = item(child(path, 'addresses'), i);
    const text = checkString(e, v, field, { required: true });
    if (text !== undefined && parseStoreAddress(text) === undefined) {
      e.add(field, `must be host:port (an IPv6 literal in brackets: [::1]:6379), got "${text}"`);
    }
  });
}

function checkSharedStore(e: Errors, reuse: Obj): void {
  const path = 'spec.reuse.sharedStore';
  const store = readObject(e, reuse.sharedStore, path, false);
  if (store === undefined) return;
  rejectUnknown(e, store, path, [
    'mode',
    'addresses',
    'sentinelMasterName',
    'tls',
    'credentialsSecretRef',
    'timeoutMilliseconds',
    'whenUnavailable',
  ]);
  const mode = readEnum(e, store, 'mode', path, SHARED_STORE_MODES);
  if (store.mode === undefined || store.mode === null) e.add(child(path, 'mode'), 'is required');
  checkAddresses(e, store, path);
  const master = readString(e, store, 'sentinelMasterName', path);
  if (mode === 'Sentinel' && master === undefined && store.sentinelMasterName == null) {
    e.add(child(path, 'sentinelMasterName'), 'is required with mode Sentinel');
  }
  if (mode !== undefined && mode !== 'Sentinel' && master !== undefined) {
    e.add(child(path, 'sentinelMasterName'), `is only allowed with mode Sentinel, not ${mode}`);
  }
  checkTls(e, store, path);
  const creds = readObject(e, store.credentialsSecretRef, child(path, 'credentialsSecretRef'), false);
  if (creds !== undefined) {
    rejectUnknown(e, creds, child(path, 'credentialsSecretRef'), ['name']);
    checkSecretName(e, creds, child(path, 'credentialsSecretRef'));
  }
  readInteger(e, store, 'timeoutMilliseconds', path, {
    min: 1,
    max: MAX_STORE_TIMEOUT_MS,
    what: `an integer from 1 to ${MAX_STORE_TIMEOUT_MS}`,
  });
  readEnum(e, store, 'whenUnavailable', path, WHEN_UNAVAILABLE);
}

export function checkReuse(e: Errors, spec: Obj): void {
  const reuse = readObject(e, spec.reuse, 'spec.reuse', false);
  if (reuse === undefined) return;
  rejectUnknown(e, reuse, 'spec.reuse', ['maxUses', 'sharedStore']);
  readInteger(e, reuse, 'maxUses', 'spec.reuse', { min: 0, what: 'an integer ≥ 0 (0: unlimited)' });
  checkSharedStore(e, reuse);
}
