import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StatusWriter } from '../../../../src/operator/status/status-writer.js';

// An API client that must never be reached: any call fails the test.
const unreachable = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('no API call expected');
    },
  },
);

function writer(leader: boolean): StatusWriter {
  return new StatusWriter({
    custom: unreachable as CustomObjectsApi,
    core: unreachable as CoreV1Api,
    log: pino({ level: 'silent' }),
    isLeader: () => leader,
    identity: 'test',
  });
}

const obj = {
  apiVersion: 'tokenwarden.dev/v1alpha1',
  kind: 'TokenPolicy',
  metadata: { name: 'p', namespace: 'n' },
};

describe('StatusWriter', () => {
  it('writes nothing when the status did not change', async () => {
    expect(await writer(true).writeStatus('TokenPolicy', obj, {}, false)).toBe('unchanged');
  });

  it('writes nothing when this replica is not the leader', async () => {
    expect(await writer(false).writeStatus('TokenPolicy', obj, {}, true)).toBe('not-leader');
    await writer(false).event('TokenPolicy', obj, { type: 'Normal', reason: 'Compiled', message: 'm' });
  });
});
