/**
 * The environment the injection webhook gives an injected sidecar for its policy's shared reuse
 * store: the Secrets the policy names, referenced with `secretKeyRef` (the values never pass
 * through the operator, a policy or a status). Read from the raw spec the catalog holds; absent
 * or malformed parts give nothing (the sidecar then connects without them and the store refuses
 * it: fail closed). Env is fixed at pod creation: a new Secret name or value needs a restart.
 */
import { ENV_CA, ENV_PASSWORD, ENV_USERNAME } from './credentials.js';

export interface SecretEnvVar {
  readonly name: string;
  readonly valueFrom: { readonly secretKeyRef: { name: string; key: string; optional: boolean } };
}

export const DEFAULT_CA_KEY = 'ca.crt';

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function ref(env: string, name: string, key: string, optional: boolean): SecretEnvVar {
  return { name: env, valueFrom: { secretKeyRef: { name, key, optional } } };
}

export function sharedStoreEnv(rawSpec: unknown): SecretEnvVar[] {
  const store = obj(obj(obj(rawSpec)?.reuse)?.sharedStore);
  if (store === undefined) return [];
  const out: SecretEnvVar[] = [];
  const creds = str(obj(store.credentialsSecretRef)?.name);
  if (creds !== undefined) {
    out.push(ref(ENV_USERNAME, creds, 'username', true), ref(ENV_PASSWORD, creds, 'password', false));
  }
  const ca = obj(obj(store.tls)?.caSecretRef);
  const caName = str(ca?.name);
  if (caName !== undefined) out.push(ref(ENV_CA, caName, str(ca?.key) ?? DEFAULT_CA_KEY, false));
  return out;
}
