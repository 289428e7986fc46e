/**
 * Where an issuer's JWK set comes from: a `jwksUri`, OIDC discovery, or inline keys. A loader
 * returns the raw JWKS document (or not_modified, or a failure); it knows nothing of keys.
 * Discovery (OpenID Connect Discovery 1.0 §4): GET {issuer}/.well-known/openid-configuration,
 * whose `issuer` must equal ours exactly (§4.3: otherwise a document for one issuer could
 * name keys for another) and whose `jwks_uri` obeys the same https rule as a configured one.
 */
import type { KeySourceSpec } from '../policy/types.js';
import { getJson, keySourceUrlProblem, type HttpOptions } from './http.js';

export type LoadResult =
  | { readonly kind: 'jwks'; readonly doc: unknown }
  | { readonly kind: 'not_modified' }
  | { readonly kind: 'failure'; readonly error: string };

export interface SourceLoader {
  /** false for inline keys: nothing to refresh, no timer, no refetch on an unknown kid. */
  readonly remote: boolean;
  load(): Promise<LoadResult>;
  /** Make the next load unconditional (the last document could not be used). */
  reset?(): void;
}

function discoveryUrl(issuer: string): string {
  return `${issuer.endsWith('/') ? issuer.slice(0, -1) : issuer}/.well-known/openid-configuration`;
}

export function makeLoader(source: KeySourceSpec, http: HttpOptions): SourceLoader {
  switch (source.kind) {
    case 'inline': {
      const doc = { keys: source.keys };
      return { remote: false, load: () => Promise.resolve({ kind: 'jwks', doc }) };
    }
    case 'jwksUri':
      return new JwksUriLoader(() => Promise.resolve({ ok: true, uri: source.uri }), http);
    case 'discovery':
      return new JwksUriLoader(() => discover(source.issuer, http), http);
  }
}

type UriLookup = { ok: true; uri: string } | { ok: false; error: string };

class JwksUriLoader implements SourceLoader {
  readonly remote = true;
  private uri: string | undefined;
  private etag: string | undefined;

  constructor(
    private readonly lookup: () => Promise<UriLookup>,
    private readonly http: HttpOptions,
  ) {}

  async load(): Promise<LoadResult> {
    if (this.uri === undefined) {
      const found = await this.lookup();
      if (!found.ok) return { kind: 'failure', error: found.error };
      this.uri = found.uri;
    }
    const res = await getJson(this.uri, this.http, this.etag);
    if (!res.ok) {
      // Look the jwks_uri up again next time: the provider may have moved it. (A configured
      // jwksUri just comes back unchanged.)
      this.uri = undefined;
      this.etag = undefined;
      return { kind: 'failure', error: res.error };
    }
    if (res.notModified) return { kind: 'not_modified' };
    this.etag = res.etag;
    return { kind: 'jwks', doc: res.body };
  }

  reset(): void {
    this.etag = undefined;
  }
}

async function discover(issuer: string, http: HttpOptions): Promise<UriLookup> {
  const url = discoveryUrl(issuer);
  const issuerProblem = keySourceUrlProblem(issuer);
  if (issuerProblem !== undefined) return { ok: false, error: `discovery: issuer ${issuerProblem}` };
  const res = await getJson(url, http);
  if (!res.ok) return { ok: false, error: `discovery: ${res.error}` };
  if (res.notModified) return { ok: false, error: `discovery: ${url} answered 304 to an unconditional GET` };
  const doc = res.body as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof doc !== 'object' || doc === null)
    return { ok: false, error: `discovery: ${url} is not a JSON object` };
  if (doc.issuer !== issuer) {
    return { ok: false, error: `discovery: ${url} is for another issuer (its "issuer" is not ${issuer})` };
  }
  if (typeof doc.jwks_uri !== 'string') return { ok: false, error: `discovery: ${url} has no jwks_uri` };
  const problem = keySourceUrlProblem(doc.jwks_uri);
  if (problem !== undefined) return { ok: false, error: `discovery: jwks_uri ${doc.jwks_uri} ${problem}` };
  return { ok: true, uri: doc.jwks_uri };
}
