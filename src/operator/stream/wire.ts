/**
 * The parts of validated objects a sidecar gets on the stream: identity, generation and the
 * validated spec, nothing of the server's bookkeeping (status, managedFields, uid). Same object
 * in, same object out: policy-feed.ts hashes each object once, by reference.
 */
import { API_VERSION, type TokenPolicy, type TokenRevocation } from '../../policy/types.js';
import { validateRevocation } from '../../policy/validate.js';
import type { RawObject } from '../runtime/informers.js';

const wirePolicies = new WeakMap<TokenPolicy, TokenPolicy>();

export function wirePolicy(p: TokenPolicy): TokenPolicy {
  let w = wirePolicies.get(p);
  if (w === undefined) {
    w = {
      apiVersion: API_VERSION,
      kind: 'TokenPolicy',
      metadata: {
        name: p.metadata.name,
        ...(p.metadata.namespace === undefined ? {} : { namespace: p.metadata.namespace }),
        ...(p.metadata.generation === undefined ? {} : { generation: p.metadata.generation }),
      },
      spec: p.spec,
    };
    wirePolicies.set(p, w);
  }
  return w;
}

const wireRevocations = new WeakMap<TokenRevocation, TokenRevocation>();

function wireRevocation(r: TokenRevocation): TokenRevocation {
  let w = wireRevocations.get(r);
  if (w === undefined) {
    w = {
      apiVersion: API_VERSION,
      kind: 'TokenRevocation',
      metadata: {
        name: r.metadata.name,
        ...(r.metadata.namespace === undefined ? {} : { namespace: r.metadata.namespace }),
      },
      spec: r.spec,
    };
    wireRevocations.set(r, w);
  }
  return w;
}

/** Each informer object is validated once; invalid ones are never served. */
const validatedRevocations = new WeakMap<object, TokenRevocation | null>();

/** The wire form of a valid TokenRevocation informer object; undefined when it is invalid. */
export function validRevocation(obj: RawObject): TokenRevocation | undefined {
  let v = validatedRevocations.get(obj);
  if (v === undefined) {
    const r = validateRevocation(obj);
    v = r.ok ? wireRevocation(r.value) : null;
    validatedRevocations.set(obj, v);
  }
  return v ?? undefined;
}
