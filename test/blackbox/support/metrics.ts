/** Reading the sidecar's /metrics (Prometheus text format) from the admin listener. */
import { request } from 'undici';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export async function metricsText(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return text;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1] as string] = (l[2] as string)
        .replace(/\\n/g, '\n')
        .replace(/\\"/g, '"')
        .replace(/\\\\/g, '\\');
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include every one of `labels` (0 when none). */
export async function metric(
  adminUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sumOf(parseMetrics(await metricsText(adminUrl)), name, labels);
}

export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The metric family names present (TYPE lines). */
export function familyNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) /gm)) names.add(m[1] as string);
  return names;
}

/**
 * Runs `fn` and returns how much `tokenwarden_requests_total{policy,decision,reason}` moved for
 * `policy/decision/reason` (only the ones that moved).
 */
export async function requestsDelta(
  adminUrl: string,
  fn: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const key = (s: Sample): string => `${s.labels.policy}/${s.labels.decision}/${s.labels.reason}`;
  const count = async (): Promise<Map<string, number>> => {
    const m = new Map<string, number>();
    for (const s of parseMetrics(await metricsText(adminUrl))) {
      if (s.name === 'tokenwarden_requests_total') m.set(key(s), (m.get(key(s)) ?? 0) + s.value);
    }
    return m;
  };
  const before = await count();
  await fn();
  const after = await count();
  const moved: Record<string, number> = {};
  for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) moved[k] = v - (before.get(k) ?? 0);
  return moved;
}

/**
 * Label values of /metrics that hold one of `forbidden` (a sub, a jti, a path) or look like a
 * compact JWS: `metric: value` for each, so an assertion failure says where.
 */
export async function leakyLabels(adminUrl: string, forbidden: readonly string[]): Promise<string[]> {
  const leaks: string[] = [];
  for (const s of parseMetrics(await metricsText(adminUrl))) {
    for (const value of Object.values(s.labels)) {
      if (/^[\w-]{8,}\.[\w-]{8,}\.[\w-]*$/.test(value)) leaks.push(`${s.name}: a token-like label`);
      for (const f of forbidden) if (f.length > 1 && value.includes(f)) leaks.push(`${s.name}: ${f}`);
    }
  }
  return leaks;
}
