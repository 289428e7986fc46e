/**
 * The only network I/O of verification: a bounded GET of a JSON document (a JWKS or an OIDC
 * discovery document). Bounded in every dimension an identity provider, or whoever answers in
 * its place, could abuse: scheme (https, or http to loopback only), time (AbortSignal.timeout),
 * size (streamed with a byte cap, not buffered then measured), and redirects (not followed: a
 * redirect could take an https source to plain http or to another host).
 */

export interface HttpOptions {
  readonly fetch: typeof globalThis.fetch;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export type JsonResponse =
  | {
      readonly ok: true;
      readonly notModified: false;
      readonly body: unknown;
      readonly etag: string | undefined;
    }
  | { readonly ok: true; readonly notModified: true }
  | { readonly ok: false; readonly error: string };

/**
 * Why `url` may not be a key source, or undefined when it may. The policy layer validates this
 * already; it is checked again here because a discovery document supplies URLs of its own.
 */
export function keySourceUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopback(u.hostname)) return undefined;
  return 'must be an https URL, or http to a loopback host';
}

function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  // 127.0.0.0/8, written as the WHATWG URL parser normalises an IPv4 host: four decimal parts.
  const parts = hostname.split('.');
  return (
    parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)
  );
}

const fail = (error: string): JsonResponse => ({ ok: false, error });

/**
 * GET `url` as JSON. `etag` (from the previous success) makes the request conditional, and a
 * 304 answers `notModified`. Never throws: every failure is a value with a one-line reason.
 */
export async function getJson(url: string, opts: HttpOptions, etag?: string): Promise<JsonResponse> {
  const problem = keySourceUrlProblem(url);
  if (problem !== undefined) return fail(`${url} ${problem}`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (etag !== undefined) headers['if-none-match'] = etag;
  let res: Response;
  try {
    res = await opts.fetch(url, {
      method: 'GET',
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    return fail(
      timedOut ? `GET ${url} timed out after ${opts.timeoutMs}ms` : `GET ${url} failed: ${errorText(err)}`,
    );
  }
  if (res.status === 304 && etag !== undefined) {
    await discard(res);
    return { ok: true, notModified: true };
  }
  if (res.status !== 200) {
    await discard(res);
    return fail(`GET ${url} answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > opts.maxBytes) {
    await discard(res);
    return fail(`GET ${url} answered ${declared} bytes, above the ${opts.maxBytes} byte limit`);
  }
  const bytes = await readCapped(res, opts.maxBytes);
  if (bytes === undefined) return fail(`GET ${url} answered more than ${opts.maxBytes} bytes`);
  if (bytes instanceof Error) return fail(`GET ${url} failed while reading: ${errorText(bytes)}`);
  try {
    const body: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return { ok: true, notModified: false, body, etag: res.headers.get('etag') ?? undefined };
  } catch {
    return fail(`GET ${url} did not answer JSON`);
  }
}

/** The body, or undefined once it exceeds `max` bytes (the rest is never read), or the read error. */
async function readCapped(res: Response, max: number): Promise<Uint8Array | undefined | Error> {
  if (res.body === null) return new Uint8Array(0);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
  return Buffer.concat(chunks, total);
}

/** Drop an unwanted body so the connection can be reused; a failure to do so changes nothing. */
async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // the body was already broken: nothing left to release
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici hides the useful part (ECONNREFUSED, certificate errors) in `cause`.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
