import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeanHistogram, RequestCounter } from '../../../src/metrics/hot-path.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const SAMPLES = [0.0005, 0.001, 0.002, 0.05, 0.5, 0.5, 3, 10];

describe('LeanHistogram', () => {
  it('exposes exactly what a prom-client Histogram fed the same values exposes', async () => {
    const lean = new Registry();
    const reference = new Registry();
    const h = new LeanHistogram({ name: 'x_seconds', help: 'x', buckets: BUCKETS, registers: [lean] });
    const r = new Histogram({ name: 'x_seconds', help: 'x', buckets: BUCKETS, registers: [reference] });
    for (const v of SAMPLES) {
      h.record(v);
      r.observe(v);
    }
    expect(await lean.metrics()).toBe(await reference.metrics());
    expect(await lean.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());
  });

  it('accepts observe(value) and refuses labels', () => {
    const h = new LeanHistogram({
      name: 'y_seconds',
      help: 'y',
      buckets: BUCKETS,
      registers: [new Registry()],
    });
    h.observe(0.5);
    expect(() => h.observe({ a: '1' }, 0.5)).toThrow(/takes no labels/);
  });
});

describe('RequestCounter', () => {
  it('exposes the same series as a labelled prom-client Counter, and stays monotonic across scrapes', async () => {
    const lean = new Registry();
    const reference = new Registry();
    const c = new RequestCounter({
      name: 'req_total',
      help: 'r',
      decisions: ['allow', 'deny'],
      reasons: ['ok', 'expired'],
      registers: [lean],
    });
    const r = new Counter({
      name: 'req_total',
      help: 'r',
      labelNames: ['policy', 'decision', 'reason'],
      registers: [reference],
    });
    const calls: [string, string, string][] = [
      ['a', 'allow', 'ok'],
      ['a', 'allow', 'ok'],
      ['a', 'deny', 'expired'],
      ['b', 'allow', 'ok'],
    ];
    for (const [p, d, why] of calls) {
      c.inc(p, d, why);
      r.inc({ policy: p, decision: d, reason: why });
    }
    expect(await lean.metrics()).toBe(await reference.metrics());
    c.inc('a', 'allow', 'ok');
    expect(await lean.metrics()).toContain('req_total{policy="a",decision="allow",reason="ok"} 3');
  });

  it('refuses a decision or reason outside its closed set', () => {
    const c = new RequestCounter({
      name: 'z_total',
      help: 'z',
      decisions: ['allow'],
      reasons: ['ok'],
      registers: [new Registry()],
    });
    expect(() => c.inc('a', 'allow', 'nope')).toThrow(/unknown/);
  });
});
