/**
 * The outage phase of bench:propagation (`--outage`): every connected client has lost its
 * operator, a revocation is written while none serves, the operator comes back. Measured from
 * the moment it serves streams again: how long until the last client acked the revocation, how
 * many TokenReviews it sent, and the operator's and the API server's CPU over that window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMicros } from './procfs.js';

export interface OutageResult {
  outage_p99_ms: number;
  outage_max_ms: number;
  outage_missed: number;
  outage_tokenreviews: number | null;
  outage_operator_cpu_s: number;
  /** null when the API server's process could not be found (an existing cluster). */
  outage_apiserver_cpu_s: number | null;
}

/** The pid of the kube-apiserver listening on `server`'s port, from /proc; undefined if none. */
export function apiServerPid(server: string): number | undefined {
  const port = new URL(server).port;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('kube-apiserver')) && cmd.includes(`--secure-port=${port}`))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export interface OutageDeps {
  /** SIGKILLs the operator and waits for it to exit. */
  kill(): Promise<void>;
  /** Writes the revocation named `name`. */
  revoke(name: string): Promise<void>;
  /** Starts the operator again; resolves with its pid once it serves streams, at that moment. */
  restart(): Promise<{ pid: number; servingAt: number }>;
  /** When each client acked `name` (undefined: not yet). */
  ackedAt(name: string): Promise<(number | undefined)[]>;
  tokenReviews(): Promise<number | null>;
  apiServer: number | undefined;
  sleep(ms: number): Promise<void>;
}

export async function outagePhase(d: OutageDeps, timeoutMs = 30_000): Promise<OutageResult> {
  await d.kill();
  await d.revoke('bench-outage');
  // Let every client notice and back off, as after a real outage.
  await d.sleep(3_000);
  const apiBefore = d.apiServer === undefined ? undefined : cpuMicros(d.apiServer);
  const { pid, servingAt } = await d.restart();
  const opBefore = cpuMicros(pid);
  for (;;) {
    if ((await d.ackedAt('bench-outage')).every((t) => t !== undefined)) break;
    if (Date.now() - servingAt > timeoutMs) break;
    await d.sleep(20);
  }
  const opCpu = (cpuMicros(pid) - opBefore) / 1e6;
  const apiCpu =
    d.apiServer === undefined || apiBefore === undefined ? null : (cpuMicros(d.apiServer) - apiBefore) / 1e6;
  const times = await d.ackedAt('bench-outage');
  const got = times.filter((t): t is number => t !== undefined).map((t) => Math.max(0, t - servingAt));
  got.sort((a, b) => a - b);
  const p99 =
    got.length === 0 ? NaN : (got[Math.min(got.length - 1, Math.ceil(got.length * 0.99) - 1)] as number);
  return {
    outage_p99_ms: p99,
    outage_max_ms: got.at(-1) ?? NaN,
    outage_missed: times.length - got.length,
    outage_tokenreviews: await d.tokenReviews(),
    outage_operator_cpu_s: Math.round(opCpu * 100) / 100,
    outage_apiserver_cpu_s: apiCpu === null ? null : Math.round(apiCpu * 100) / 100,
  };
}
