/**
 * The seal key (core/seal.ts): 32 random bytes in the Secret `tokenwarden-seal` of the
 * operator's namespace, key `seal.key`. The first replica that finds none creates it
 * (create-only: of two replicas racing, one create wins and the other reads the winner's);
 * every replica reads it once at start. Without it the operator does not start: it could
 * neither seal an injection nor tell its own from a look-alike.
 *
 * Deleting the Secret rotates the key at the next operator start: pods injected before then
 * count as `lookalike` until they are re-created.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { SEAL_KEY_BYTES } from '../../core/seal.js';
import type { Logger } from '../../log/logger.js';
import { FIELD_MANAGER, apiMessage, apiStatus } from '../runtime/k8s.js';

export const SEAL_SECRET = 'tokenwarden-seal';
const DATA_KEY = 'seal.key';

function decode(secret: V1Secret, namespace: string): Uint8Array {
  const b64 = secret.data?.[DATA_KEY];
  const key = b64 === undefined ? undefined : Buffer.from(b64, 'base64');
  if (key === undefined || key.length < SEAL_KEY_BYTES) {
    throw new Error(
      `Secret ${namespace}/${SEAL_SECRET}: data.${DATA_KEY} must hold at least ${SEAL_KEY_BYTES} bytes; ` +
        'delete the Secret to let the operator create a new key',
    );
  }
  return new Uint8Array(key);
}

export async function loadSealKey(core: CoreV1Api, namespace: string, log: Logger): Promise<Uint8Array> {
  const read = async (): Promise<V1Secret | undefined> => {
    try {
      return await core.readNamespacedSecret({ name: SEAL_SECRET, namespace });
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw new Error(`Secret ${namespace}/${SEAL_SECRET} not readable: ${apiMessage(err)}`);
    }
  };
  const found = await read();
  if (found !== undefined) return decode(found, namespace);
  const body: V1Secret = {
    metadata: { name: SEAL_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'tokenwarden' } },
    type: 'Opaque',
    data: { [DATA_KEY]: randomBytes(SEAL_KEY_BYTES).toString('base64') },
  };
  try {
    const created = await core.createNamespacedSecret({ namespace, body, fieldManager: FIELD_MANAGER });
    log.info({ namespace, name: SEAL_SECRET }, 'seal key created');
    return decode(created, namespace);
  } catch (err) {
    if (apiStatus(err) !== 409) {
      throw new Error(`Secret ${namespace}/${SEAL_SECRET} not created: ${apiMessage(err)}`);
    }
    const winner = await read();
    if (winner === undefined)
      throw new Error(`Secret ${namespace}/${SEAL_SECRET} vanished after a create race`);
    return decode(winner, namespace);
  }
}
