import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loggablePath, loggableText } from '../../../src/proxy/log-safe.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const secret = fc
  .array(fc.constantFrom(...B64URL), { minLength: 16, maxLength: 64 })
  .map((cs) => `Ab1${cs.join('')}`);

describe('loggablePath', () => {
  it.each([
    ['/x;access_token=SECRETsecret123456789', '/x;*'],
    ['/orders/42?access_token=abc', '/orders/42?*'],
    ['/a#frag', '/a#*'],
    ['/x/token=abc', '/x/*'],
    ['/x/%3Baccess_token=abc', '/x/*'],
    ['/users/profile-settings/edit', '/users/profile-settings/edit'],
  ])('%s → %s', (input, out) => {
    expect(loggablePath(input)).toBe(out);
  });

  it('never keeps a planted opaque value, whatever carrier', () => {
    fc.assert(
      fc.property(
        secret,
        fc.constantFrom('/x;k=', '/x?access.token=', '/x?q=', '/x#', '/x/', '/x/%2561'),
        (s, carrier) => {
          expect(loggablePath(`${carrier}${s}/y`)).not.toContain(s.slice(0, 16));
          expect(loggableText(`rule r denies GET ${carrier}${s}`)).not.toContain(s.slice(0, 16));
        },
      ),
    );
  });
});
