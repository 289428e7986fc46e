import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createOperatorMetrics } from '../../../../src/metrics/operator.js';
import { startHealthServer, type HealthServer } from '../../../../src/operator/runtime/health-server.js';

describe('operator health server', () => {
  let server: HealthServer | undefined;
  afterEach(() => server?.close());

  it('serves metrics, liveness, and readiness once the informers synced', async () => {
    const metrics = createOperatorMetrics(new Registry());
    let ready = false;
    server = await startHealthServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      notReady: () => (ready ? undefined : 'informers have not synced yet'),
    });
    const base = `http://127.0.0.1:${server.address.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('not synced');
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'tokenwarden_operator_reconcile_total',
      'tokenwarden_operator_reconcile_duration_seconds',
      'tokenwarden_operator_queue_depth 0',
      'tokenwarden_operator_policies',
      'tokenwarden_operator_jwks_fetch_total',
      'tokenwarden_operator_leader 0',
      '# TYPE tokenwarden_operator_connected_sidecars gauge',
      '# TYPE tokenwarden_operator_synced_sidecars gauge',
      '# TYPE tokenwarden_operator_stream_errors_total counter',
      'tokenwarden_propagation_seconds',
    ]) {
      expect(text).toContain(name);
    }
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
