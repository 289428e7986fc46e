/**
 * `spec.issuers`: who may issue tokens, for which audiences, with which keys and algorithms.
 */
import {
  type Errors,
  type Obj,
  checkString,
  child,
  isAbsent,
  item,
  readBoolean,
  readList,
  readObject,
  readString,
  rejectUnknown,
} from './fields.js';
import { ALGORITHMS, RECEIVER_EVENTS } from './types.js';

const ISSUER_FIELDS = [
  'issuer',
  'audiences',
  'jwksUri',
  'discovery',
  'jwks',
  'algorithms',
  'expectedTypes',
  'receiver',
];

/** A media type as `typ` carries it (RFC 7515 §4.1.9): `at+jwt`, `application/at+jwt`, `JWT`. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)?$/;
/** Private (or symmetric) JWK members: a policy only ever holds public keys. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_KEY_TYPES = ['RSA', 'EC', 'OKP'];
const FETCH_URL_RULE = 'must be an https URL, or http to a loopback host';

function isLoopbackHost(hostname: string): boolean {
  // WHATWG URL has already canonicalised the host: `127.1` and `0x7f.1` arrive as 127.0.0.1.
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Where keys are fetched from: https, or plain http only when it never leaves the machine. */
function checkFetchUrl(e: Errors, value: string, field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    e.add(field, FETCH_URL_RULE);
    return;
  }
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  if (!ok) e.add(field, FETCH_URL_RULE);
  else if (url.username !== '' || url.password !== '') e.add(field, 'must not contain credentials');
}

function checkInlineJwks(e: Errors, jwks: Obj, path: string): void {
  const keys = readList(e, jwks, 'keys', path, {
    required: true,
    min: 1,
    none: 'must hold at least one key',
  });
  keys?.forEach((k, i) => {
    const keyPath = item(child(path, 'keys'), i);
    const key = readObject(e, k, keyPath, true);
    if (key === undefined) return;
    const kty = readString(e, key, 'kty', keyPath, { required: true });
    if (kty === 'oct') e.add(child(keyPath, 'kty'), 'symmetric keys (oct) are not allowed');
    else if (kty !== undefined && !PUBLIC_KEY_TYPES.includes(kty)) {
      e.add(child(keyPath, 'kty'), `must be one of ${PUBLIC_KEY_TYPES.join(', ')}, got "${kty}"`);
    }
    for (const member of PRIVATE_MEMBERS) {
      if (member in key) e.add(child(keyPath, member), 'private key member: only public keys belong here');
    }
  });
}

function checkAlgorithms(e: Errors, issuer: Obj, path: string): void {
  const none = 'must list at least one algorithm, or be left out for the default RS256, ES256';
  const list = readList(e, issuer, 'algorithms', path, { min: 1, none });
  list?.forEach((v, i) => {
    const field = item(child(path, 'algorithms'), i);
    const alg = checkString(e, v, field, { required: true });
    if (alg === undefined || (ALGORITHMS as readonly string[]).includes(alg)) return;
    const never = alg.toLowerCase() === 'none' || /^HS/i.test(alg);
    const why = never ? 'is never accepted: only asymmetric algorithms are' : 'is not a supported algorithm';
    e.add(field, `"${alg}" ${why} (${ALGORITHMS.join(', ')})`);
  });
}

function checkExpectedTypes(e: Errors, issuer: Obj, path: string): void {
  const none = 'must list at least one type (e.g. at+jwt), or be left out to accept any typ';
  const list = readList(e, issuer, 'expectedTypes', path, { min: 1, none });
  list?.forEach((v, i) => {
    const field = item(child(path, 'expectedTypes'), i);
    const typ = checkString(e, v, field, { required: true });
    if (typ !== undefined && (typ.length > 128 || !MEDIA_TYPE.test(typ))) {
      e.add(field, 'must be a media type such as at+jwt or application/at+jwt');
    }
  });
}

/** Exactly one of jwksUri / discovery: true / jwks, each checked for its own rules. */
function checkKeySource(e: Errors, issuer: Obj, path: string, issuerUrl: string | undefined): void {
  const sources: string[] = [];
  const jwksUri = readString(e, issuer, 'jwksUri', path);
  if (!isAbsent(issuer.jwksUri)) sources.push('jwksUri');
  if (jwksUri !== undefined) checkFetchUrl(e, jwksUri, child(path, 'jwksUri'));
  if (readBoolean(e, issuer, 'discovery', path) === true) {
    sources.push('discovery: true');
    // Discovery fetches {issuer}/.well-known/openid-configuration: the same rule as jwksUri.
    if (issuerUrl !== undefined) checkFetchUrl(e, issuerUrl, child(path, 'issuer'));
  }
  const jwks = readObject(e, issuer.jwks, child(path, 'jwks'), false);
  if (!isAbsent(issuer.jwks)) sources.push('jwks');
  if (jwks !== undefined) checkInlineJwks(e, jwks, child(path, 'jwks'));
  if (sources.length === 0) e.add(path, 'needs a key source: one of jwksUri, discovery: true or jwks');
  if (sources.length > 1) e.add(path, `needs exactly one key source, found ${sources.join(' and ')}`);
}

/**
 * `receiver`: the audience and events of the identity provider's pushed revocations. A revocation
 * made from an event must outlive every token it targets, so the policy must bound how long a
 * token lives (`spec.expiry.maxLifetimeSeconds` or `maxTokenAgeSeconds`): that bound is its expiry.
 */
function checkReceiver(e: Errors, issuer: Obj, path: string, spec: Obj): void {
  const receiver = readObject(e, issuer.receiver, child(path, 'receiver'), false);
  if (receiver === undefined) return;
  const at = child(path, 'receiver');
  rejectUnknown(e, receiver, at, ['audience', 'events']);
  const audience = readString(e, receiver, 'audience', at, { required: true });
  if (audience !== undefined && audience.length > 512)
    e.add(child(at, 'audience'), 'must be at most 512 characters');
  const none = `must list at least one of ${RECEIVER_EVENTS.join(', ')}`;
  const events = readList(e, receiver, 'events', at, { required: true, min: 1, none });
  events?.forEach((v, i) => {
    const field = item(child(at, 'events'), i);
    const name = checkString(e, v, field, { required: true });
    if (name !== undefined && !(RECEIVER_EVENTS as readonly string[]).includes(name)) {
      e.add(field, `must be one of ${RECEIVER_EVENTS.join(', ')}, got "${name}"`);
    }
  });
  const expiry = spec.expiry as Obj | undefined;
  const bounded =
    typeof expiry === 'object' &&
    expiry !== null &&
    (typeof expiry.maxLifetimeSeconds === 'number' || typeof expiry.maxTokenAgeSeconds === 'number');
  if (!bounded) {
    e.add(
      at,
      'needs spec.expiry.maxLifetimeSeconds or maxTokenAgeSeconds: a revocation made from an event expires after that long',
    );
  }
}

function checkIssuer(e: Errors, issuer: Obj, path: string, spec: Obj): string | undefined {
  rejectUnknown(e, issuer, path, ISSUER_FIELDS);
  let iss = readString(e, issuer, 'issuer', path, { required: true });
  if (iss !== undefined && !URL.canParse(iss)) {
    e.add(child(path, 'issuer'), 'must be a URL, exactly as the tokens carry it in `iss`');
    iss = undefined;
  }
  const none = 'must list at least one audience';
  const audiences = readList(e, issuer, 'audiences', path, { required: true, min: 1, none });
  audiences?.forEach((v, i) => checkString(e, v, item(child(path, 'audiences'), i), { required: true }));
  checkKeySource(e, issuer, path, iss);
  checkAlgorithms(e, issuer, path);
  checkExpectedTypes(e, issuer, path);
  checkReceiver(e, issuer, path, spec);
  return iss;
}

export function checkIssuers(e: Errors, spec: Obj): void {
  const none = 'must list at least one issuer';
  const list = readList(e, spec, 'issuers', 'spec', { required: true, min: 1, none });
  const seen = new Map<string, string>();
  list?.forEach((v, i) => {
    const path = item('spec.issuers', i);
    const issuer = readObject(e, v, path, true);
    if (issuer === undefined) return;
    const iss = checkIssuer(e, issuer, path, spec);
    if (iss === undefined) return;
    const first = seen.get(iss);
    // Tokens are routed to an issuer by exact `iss`: two entries would make that ambiguous.
    if (first !== undefined) e.add(child(path, 'issuer'), `duplicate issuer (also ${first})`);
    else seen.set(iss, child(path, 'issuer'));
  });
}
