/**
 * The Grafana dashboard (charts/tokenwarden/files/dashboard.json) and the alerts
 * (files/alerts.yaml) only read metrics the code registers or the contract lists, and the
 * dashboard has the panels the chart promises.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { knownMetrics, readRepoFile, seriesIn } from './metric-names.js';

interface Panel {
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string; refId: string }[];
}

const dashboard = JSON.parse(readRepoFile('charts/tokenwarden/files/dashboard.json')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query?: unknown }[] };
};
const alerts = parse(readRepoFile('charts/tokenwarden/files/alerts.yaml')) as {
  groups: { name: string; rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[];
};

describe('Grafana dashboard', () => {
  it('has the promised panels, each with at least one query', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const want of [
      /requests by decision and reason/i,
      /auth latency/i,
      /remaining token lifetime/i,
      /revocations/i,
      /propagation/i,
      /connected sidecars/i,
    ]) {
      expect(
        titles.some((t) => want.test(t)),
        `${want} in ${titles.join(', ')}`,
      ).toBe(true);
    }
    for (const p of dashboard.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
  });

  it('has unique panel ids and refIds', () => {
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(new Set(p.targets.map((t) => t.refId)).size, p.title).toBe(p.targets.length);
    }
  });

  it('queries only metrics the code registers or the contract lists', async () => {
    const known = await knownMetrics();
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => JSON.stringify(v.query ?? '')),
    ];
    const used = exprs.flatMap(seriesIn);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((s) => !known.has(s))).toEqual([]);
  });

  it('reads requests by the labels the counter has', () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    expect(exprs).toContain('sum by (decision, reason) (rate(tokenwarden_requests_total');
  });
});

describe('alert rules', () => {
  const rules = alerts.groups.flatMap((g) => g.rules);

  it('has the promised alerts, each with a summary and a runbook line', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'TokenwardenDenialSpike',
        'TokenwardenKeyRefreshFailing',
        'TokenwardenRevocationPropagationSlow',
        'TokenwardenSidecarDisconnected',
        'TokenwardenSidecarKeyRefreshFailing',
        'TokenwardenSidecarsOutOfSync',
        'TokenwardenWebhookFailing',
      ].sort(),
    );
    for (const r of rules) {
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.runbook, r.alert).toBeTruthy();
      expect(r.annotations.runbook, r.alert).not.toContain('\n');
    }
  });

  it('read only metrics the code registers or the contract lists', async () => {
    const known = await knownMetrics();
    const used = rules.flatMap((r) => seriesIn(r.expr));
    expect(used.filter((s) => !known.has(s))).toEqual([]);
  });

  it('the name check refuses a metric nobody registers', async () => {
    const known = await knownMetrics();
    expect(known.has('tokenwarden_requests_total')).toBe(true);
    expect(known.has('tokenwarden_auth_duration_seconds_bucket')).toBe(true);
    expect(known.has('tokenwarden_propagation_seconds_bucket')).toBe(true);
    expect(known.has('tokenwarden_request_total')).toBe(false);
    expect(known.has('tokenwarden_requests_total_bucket')).toBe(false);
  });
});
