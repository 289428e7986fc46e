import { describe, expect, it } from 'vitest';
import {
  AckRoute,
  OLDER_OPERATOR_RECHECK_MS,
  isOlderOperator,
} from '../../../../src/sidecar/control-plane/ack-route.js';

describe('isOlderOperator', () => {
  it.each([
    { name: 'a 404 for a route it does not have', status: 404, reason: undefined, older: true },
    { name: 'a 405', status: 405, reason: undefined, older: true },
    { name: 'a 415 for the body type', status: 415, reason: undefined, older: true },
    { name: "the contract's 404 no_policy", status: 404, reason: 'no_policy', older: false },
    { name: 'a 401 token_invalid', status: 401, reason: 'token_invalid', older: false },
    { name: 'a 503 without a reason', status: 503, reason: undefined, older: false },
  ])('$name → $older', ({ status, reason, older }) => {
    expect(isOlderOperator(status, reason)).toBe(older);
  });
});

describe('AckRoute', () => {
  it('asks on the stream, the older way once refused, and on the stream again after the recheck', () => {
    let now = 1_000;
    const route = new AckRoute(() => now);
    expect(route.onStream()).toBe(true);
    route.olderOperator();
    expect(route.onStream()).toBe(false);
    now += OLDER_OPERATOR_RECHECK_MS - 1;
    expect(route.onStream()).toBe(false);
    now += 1;
    expect(route.onStream()).toBe(true);
    expect(route.onStream()).toBe(true);
  });
});
