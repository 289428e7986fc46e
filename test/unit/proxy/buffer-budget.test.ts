import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferBudget } from '../../../src/proxy/buffer-budget.js';

describe('BufferBudget', () => {
  it('grants claims while they fit and refuses the one that does not', () => {
    const b = new BufferBudget(100);
    expect(b.take(60)).toBe(true);
    expect(b.take(50)).toBe(false);
    expect(b.free).toBe(40);
    b.give(60);
    expect(b.take(100)).toBe(true);
    expect(b.free).toBe(0);
  });

  it('never grants more than its total, whatever the order of claims and returns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 200 }),
        (ops) => {
          const b = new BufferBudget(128);
          const held: number[] = [];
          for (const [take, n] of ops) {
            if (take) {
              if (b.take(n)) held.push(n);
            } else if (held.length > 0) {
              b.give(held.pop()!);
            }
            const out = held.reduce((a, x) => a + x, 0);
            expect(out).toBeLessThanOrEqual(128);
            expect(b.free).toBe(128 - out);
          }
        },
      ),
    );
  });
});
