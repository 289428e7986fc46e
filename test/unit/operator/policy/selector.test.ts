import { describe, expect, it } from 'vitest';
import type { LabelSelector } from '../../../../src/policy/types.js';
import { countMatchedPods, isLivePod, matchesSelector } from '../../../../src/operator/policy/selector.js';

const cases: {
  name: string;
  selector: LabelSelector | undefined;
  labels?: Record<string, string>;
  want: boolean;
}[] = [
  { name: 'an absent selector selects nothing', selector: undefined, labels: { app: 'a' }, want: false },
  { name: 'an empty selector selects everything', selector: {}, labels: {}, want: true },
  {
    name: 'matchLabels all equal',
    selector: { matchLabels: { app: 'a', tier: 'web' } },
    labels: { app: 'a', tier: 'web', x: 'y' },
    want: true,
  },
  {
    name: 'matchLabels one differs',
    selector: { matchLabels: { app: 'a', tier: 'web' } },
    labels: { app: 'a', tier: 'db' },
    want: false,
  },
  { name: 'matchLabels on a pod without labels', selector: { matchLabels: { app: 'a' } }, want: false },
  {
    name: 'In holds',
    selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }] },
    labels: { env: 'stage' },
    want: true,
  },
  {
    name: 'In without the label',
    selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] },
    labels: {},
    want: false,
  },
  {
    name: 'NotIn holds when the label is absent',
    selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
    labels: {},
    want: true,
  },
  {
    name: 'NotIn fails on a listed value',
    selector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
    labels: { env: 'prod' },
    want: false,
  },
  {
    name: 'Exists',
    selector: { matchExpressions: [{ key: 'canary', operator: 'Exists' }] },
    labels: { canary: '' },
    want: true,
  },
  {
    name: 'DoesNotExist',
    selector: { matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] },
    labels: { canary: '' },
    want: false,
  },
  {
    name: 'matchLabels and matchExpressions are ANDed',
    selector: {
      matchLabels: { app: 'a' },
      matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }],
    },
    labels: { app: 'a', env: 'dev' },
    want: false,
  },
  {
    name: 'an unknown operator selects nothing',
    selector: { matchExpressions: [{ key: 'env', operator: 'Gt' as 'In', values: ['1'] }] },
    labels: { env: '2' },
    want: false,
  },
];

describe('matchesSelector', () => {
  it.each(cases)('$name', ({ selector, labels, want }) => {
    expect(matchesSelector(selector, labels)).toBe(want);
  });
});

describe('countMatchedPods', () => {
  it('counts live matching pods: pending ones yes, finished or deleting ones no', () => {
    const pods = [
      { metadata: { labels: { app: 'a' } }, status: { phase: 'Pending' } },
      { metadata: { labels: { app: 'a' } }, status: { phase: 'Running' } },
      { metadata: { labels: { app: 'a' } }, status: { phase: 'Succeeded' } },
      { metadata: { labels: { app: 'a' } }, status: { phase: 'Failed' } },
      { metadata: { labels: { app: 'a' }, deletionTimestamp: '2026-01-01T00:00:00Z' } },
      { metadata: { labels: { app: 'b' } } },
      {},
    ];
    expect(countMatchedPods({ matchLabels: { app: 'a' } }, pods)).toBe(2);
    expect(isLivePod({})).toBe(true);
  });
});
