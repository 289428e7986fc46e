/**
 * What the chart renders for monitoring: nothing by default; with the switches on, a
 * PrometheusRule whose spec IS files/alerts.yaml (the file promtool tests), a ServiceMonitor for
 * the operator, a PodMonitor for the sidecars' admin port, and the dashboard ConfigMap.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helmOrSkipReason, helmTemplate, type K8sObject } from './helm.js';
import { readRepoFile } from './metric-names.js';

const helm = helmOrSkipReason();
const MONITORING = ['serviceMonitor', 'prometheusRule', 'dashboard'].map(
  (k) => `monitoring.${k}.enabled=true`,
);
const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);

describe.skipIf(!helm)('chart monitoring objects', () => {
  it('renders none of them by default', async () => {
    const objs = await helmTemplate(helm!);
    expect(objs.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    expect(objs.filter((o) => o.metadata.labels?.grafana_dashboard)).toEqual([]);
  });

  it('the PrometheusRule spec is files/alerts.yaml, unchanged', async () => {
    const objs = await helmTemplate(helm!, MONITORING);
    const [rule] = byKind(objs, 'PrometheusRule');
    expect(rule?.metadata.namespace).toBe('tokenwarden-system');
    expect(rule?.spec).toEqual(parse(readRepoFile('charts/tokenwarden/files/alerts.yaml')));
  });

  it('scrapes the operator through its metrics Service and the sidecars by the tw-admin port', async () => {
    const objs = await helmTemplate(helm!, MONITORING);
    const [sm] = byKind(objs, 'ServiceMonitor') as (K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    })[];
    const services = byKind(objs, 'Service') as (K8sObject & {
      spec: { ports: { name: string; port: number }[] };
    })[];
    const metrics = services.find((s) =>
      Object.entries(sm!.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
    );
    expect(metrics?.spec.ports.find((p) => p.name === sm!.spec.endpoints[0]!.port)?.port).toBe(15091);
    const [pm] = byKind(objs, 'PodMonitor') as (K8sObject & {
      spec: { namespaceSelector: unknown; podMetricsEndpoints: { port: string; path: string }[] };
    })[];
    expect(pm?.spec.namespaceSelector).toEqual({ any: true });
    expect(pm?.spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: 'tw-admin', path: '/metrics' }),
    ]);
  });

  it('the dashboard ConfigMap carries files/dashboard.json with the grafana_dashboard label', async () => {
    const objs = await helmTemplate(helm!, MONITORING);
    const cm = byKind(objs, 'ConfigMap').find((o) => o.metadata.labels?.grafana_dashboard === '1') as
      (K8sObject & { data: Record<string, string> }) | undefined;
    expect(cm).toBeDefined();
    expect(JSON.parse(cm!.data['tokenwarden.json']!)).toEqual(
      JSON.parse(readRepoFile('charts/tokenwarden/files/dashboard.json')),
    );
  });
});
