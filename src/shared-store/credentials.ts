/**
 * The shared store's secrets, from the sidecar's environment only (never from a policy, never
 * logged, never in `/status`). In a pod the injection webhook sets them from the Secret the
 * policy names (`credentialsSecretRef`, `tls.caSecretRef`) with `secretKeyRef`; a standalone
 * sidecar gets them from its own environment or files:
 *   TOKENWARDEN_REUSE_STORE_USERNAME                      ACL user (optional)
 *   TOKENWARDEN_REUSE_STORE_PASSWORD | _PASSWORD_FILE     password (the file wins; one trailing newline dropped)
 *   TOKENWARDEN_REUSE_STORE_CA | _CA_FILE                 PEM of the CA that signed the server's certificate
 */
import { readFileSync } from 'node:fs';

export const ENV_USERNAME = 'TOKENWARDEN_REUSE_STORE_USERNAME';
export const ENV_PASSWORD = 'TOKENWARDEN_REUSE_STORE_PASSWORD';
export const ENV_CA = 'TOKENWARDEN_REUSE_STORE_CA';

export interface StoreSecrets {
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly ca: string | undefined;
}

function fromEnvOrFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== '') return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Throws (naming the variable, never its value) when a file cannot be read. */
export function readStoreSecrets(env: NodeJS.ProcessEnv): StoreSecrets {
  const read = (name: string): string | undefined => {
    try {
      return fromEnvOrFile(env, name);
    } catch (err) {
      throw new Error(`${name}_FILE could not be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return Object.freeze({
    username: read(ENV_USERNAME),
    password: read(ENV_PASSWORD),
    ca: read(ENV_CA),
  });
}
