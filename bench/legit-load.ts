/**
 * The legitimate side of bench/slow-clients.ts: an open-loop client with a valid token (a
 * request every 1/rate s whatever the previous ones do, each bounded to 10 s, so a stall shows
 * in the latency instead of slowing the client down), and the table of phases with the ratios
 * of p50/p99 to the baseline (the first phase).
 */
import { request, type Agent } from 'undici';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Phase {
  phase: string;
  sent: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  attackConnections: number;
}

export const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Open loop: one request every 1/rate s for `seconds`, each with a 10 s bound. */
export async function legitimate(url: string, token: string, rate: number, seconds: number, agent: Agent) {
  const times: number[] = [];
  let ok = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const total = rate * seconds;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();
    pending.push(
      request(`${url}/api/orders?i=${i}`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}` },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })
        .then(async (r) => {
          await r.body.dump();
          times.push(performance.now() - t0);
          if (r.statusCode === 200) ok++;
          else failed++;
        })
        .catch(() => {
          times.push(performance.now() - t0);
          failed++;
        }),
    );
  }
  await Promise.all(pending);
  times.sort((a, b) => a - b);
  return { sent: total, ok, failed, times };
}

export function printTable(phases: Phase[]): void {
  const base = phases[0]!;
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const rows = [
    ['phase', 'sent', 'ok', 'failed', 'p50 ms', 'p99 ms', 'max ms', 'p50 ×', 'p99 ×', 'attack conns'],
  ];
  for (const p of phases)
    rows.push([
      p.phase,
      String(p.sent),
      String(p.ok),
      String(p.failed),
      f(p.p50Ms),
      f(p.p99Ms),
      f(p.maxMs),
      f(p.p50Ms / base.p50Ms),
      f(p.p99Ms / base.p99Ms),
      String(p.attackConnections),
    ]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
}
