/**
 * Hot-path metrics. prom-client validates and hashes labels on every call (≈0.4 µs per counter
 * increment or histogram observation, measured); the sidecar makes four such calls per request.
 * These keep plain numbers on the request path and hand them to prom-client only when
 * /metrics is scraped, through the same Registry, names and exposition format.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** What prom-client's registry reads from a histogram for the text exposition. */
interface Exported {
  name: string;
  help: string;
  type: 'histogram';
  values: {
    labels: Record<string, string | number>;
    sharedLabels: Record<string, string>;
    exemplar?: null;
    value: number;
    metricName: string;
  }[];
  aggregator: 'sum';
}

/** A label-less histogram whose observations cost an array increment. */
export class LeanHistogram extends Histogram {
  readonly #bounds: Float64Array;
  readonly #counts: Float64Array;
  readonly #name: string;
  readonly #help: string;
  #sum = 0;
  #count = 0;

  constructor(opts: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    super(opts);
    this.#name = opts.name;
    this.#help = opts.help;
    // prom-client's constructor assigns `observe` as an own property; route it here so that an
    // ordinary observe() call is counted too (label-less by construction).
    Object.defineProperty(this, 'observe', {
      value: (value: unknown, extra?: unknown): void => {
        if (typeof value !== 'number' || extra !== undefined)
          throw new TypeError('LeanHistogram takes no labels');
        this.record(value);
      },
    });
    this.#bounds = Float64Array.from(opts.buckets);
    this.#counts = new Float64Array(opts.buckets.length);
  }

  /** The request-path entry point. */
  record(value: number): void {
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.#counts[i] = (this.#counts[i] as number) + 1;
        break;
      }
    }
    this.#sum += value;
    this.#count++;
  }

  /**
   * prom-client builds both the text exposition and `get()` from this method (it is not in its
   * type declarations): it is where our counts replace the base class's label hash map. The
   * shape is prom-client 15's; test/unit/metrics/hot-path.test.ts compares the output with a real
   * prom-client Histogram fed the same values, so a prom-client upgrade that changes it fails.
   */
  getForPromString(): Promise<Exported> {
    const name = `${this.#name}_bucket`;
    let acc = 0;
    const values: Exported['values'] = [];
    this.#bounds.forEach((le, i) => {
      acc += this.#counts[i] as number;
      values.push({ labels: { le }, sharedLabels: {}, exemplar: null, value: acc, metricName: name });
    });
    values.push({
      labels: { le: '+Inf' },
      sharedLabels: {},
      exemplar: null,
      value: this.#count,
      metricName: name,
    });
    values.push({ labels: {}, sharedLabels: {}, value: this.#sum, metricName: `${this.#name}_sum` });
    values.push({ labels: {}, sharedLabels: {}, value: this.#count, metricName: `${this.#name}_count` });
    return Promise.resolve({
      name: this.#name,
      help: this.#help,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }
}

/**
 * `tokenwarden_requests_total{policy, decision, reason}` kept as one Float64Array per policy,
 * indexed by (decision, reason); exposed as an ordinary prom-client Counter, refreshed from the
 * arrays at each scrape. Counts only grow, so the exposed counter stays monotonic.
 */
export class RequestCounter {
  readonly #byPolicy = new Map<string, Float64Array>();
  readonly #decisions: readonly string[];
  readonly #reasons: readonly string[];
  readonly #decisionIndex: Record<string, number>;
  readonly #reasonIndex: Record<string, number>;

  constructor(opts: {
    name: string;
    help: string;
    decisions: readonly string[];
    reasons: readonly string[];
    registers: Registry[];
  }) {
    this.#decisions = opts.decisions;
    this.#reasons = opts.reasons;
    this.#decisionIndex = Object.fromEntries(opts.decisions.map((d, i) => [d, i]));
    this.#reasonIndex = Object.fromEntries(opts.reasons.map((r, i) => [r, i]));
    const byPolicy = this.#byPolicy;
    const decisions = this.#decisions;
    const reasons = this.#reasons;
    new Counter({
      name: opts.name,
      help: opts.help,
      labelNames: ['policy', 'decision', 'reason'] as const,
      registers: opts.registers,
      collect() {
        this.reset();
        for (const [policy, counts] of byPolicy) {
          counts.forEach((value, i) => {
            if (value === 0) return;
            const decision = decisions[Math.floor(i / reasons.length)] as string;
            const reason = reasons[i % reasons.length] as string;
            this.inc({ policy, decision, reason }, value);
          });
        }
      },
    });
  }

  inc(policy: string, decision: string, reason: string): void {
    let counts = this.#byPolicy.get(policy);
    if (counts === undefined) {
      counts = new Float64Array(this.#decisions.length * this.#reasons.length);
      this.#byPolicy.set(policy, counts);
    }
    const d = this.#decisionIndex[decision];
    const r = this.#reasonIndex[reason];
    if (d === undefined || r === undefined) throw new Error(`unknown decision/reason ${decision}/${reason}`);
    const i = d * this.#reasons.length + r;
    counts[i] = (counts[i] as number) + 1;
  }
}
