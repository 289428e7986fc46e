import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELEASE_VERSION } from '../../../src/core/release.js';

describe('RELEASE_VERSION', () => {
  it('is the version package.json declares', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(RELEASE_VERSION).toBe(pkg.version);
  });
});
