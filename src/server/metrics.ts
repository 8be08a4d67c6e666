// Prometheus metrics, on their own registry (not prom-client's global one, so two servers in one
// process, as in tests, do not collide). Label values are bounded: webhook, decision, rule id, mode.
// A namespace label is opt-in because namespaces are unbounded and blow up Prometheus series.
import { createServer, type Server } from 'node:http';
import { Counter, Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import type { DecisionRecord } from '../admission/index.js';

export interface MetricsOptions {
  /** Adds a `namespace` label to meshlock_violations_total. Off by default. */
  readonly namespaceLabel?: boolean;
  /** Process and Node.js runtime metrics (process_*, nodejs_*). Default true. */
  readonly defaultMetrics?: boolean;
}

export const METRIC_NAMES = Object.freeze({
  requests: 'meshlock_admission_requests_total',
  duration: 'meshlock_admission_request_duration_seconds',
  violations: 'meshlock_violations_total',
  preExisting: 'meshlock_preexisting_violations_total',
  mutations: 'meshlock_mutations_total',
  configReloads: 'meshlock_config_reloads_total',
  certReloads: 'meshlock_cert_reloads_total',
  connectionsDropped: 'meshlock_connections_dropped_total',
});

/**
 * Upper bounds of the latency histogram, in seconds. meshlock answers in well under 5 ms; the upper
 * buckets reach the webhooks' timeoutSeconds (5 s in deploy/), so an alert can see p99 near it.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5,
]);

type Labels = Readonly<Record<string, string>>;

/** The key of a label set: its values in label-name order, joined by NUL (never in a label value here). */
const SEP = '\u0000';

/**
 * Counts by label set, kept in a plain map on the request path. prom-client validates and hashes the
 * labels on every inc() (even through a bound child), which the admission benchmark showed as one of
 * the larger per-request costs; here a request adds to a number under a string key, and the labels
 * are rebuilt from the key only when Prometheus scrapes.
 */
class Tally {
  private readonly counts = new Map<string, { value: number }>();

  constructor(private readonly labelNames: readonly string[]) {}

  /** The count for a key (label values joined by SEP, in labelNames order). */
  entry(key: string): { value: number } {
    let e = this.counts.get(key);
    if (e === undefined) {
      e = { value: 0 };
      this.counts.set(key, e);
    }
    return e;
  }

  add(key: string): void {
    this.entry(key).value += 1;
  }

  /** A prom-client collect() hook: the counter is refilled from the tally at each scrape. */
  collectInto(counter: Counter<string>): void {
    counter.reset();
    for (const [key, e] of this.counts) {
      const values = key.split(SEP);
      counter.inc(Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? ''])), e.value);
    }
  }
}

interface HistogramSeries {
  readonly labels: Labels;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The latency histogram, with buckets in typed arrays, served to prom-client's registry through the
 * interface the registry reads (name, help, type, get()), in the same shape as prom-client's own
 * histograms: cumulative `_bucket` series with `le` first, then `_sum` and `_count`.
 */
class DurationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The series for a label set, created on first use; callers keep it and observe into it. */
  seriesFor(key: string, labels: Labels): HistogramSeries {
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  observe(s: HistogramSeries, seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    (s.buckets[i] as number) += 1;
    s.sum += seconds;
    s.count += 1;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { value: number; labels: Labels; metricName: string }[];
  }> {
    const values: { value: number; labels: Labels; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i] as number;
        values.push({ value: cumulative, labels: { le: String(le), ...s.labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

interface DecisionSeries {
  readonly requests: { value: number };
  readonly duration: HistogramSeries;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly duration: DurationHistogram;
  private readonly requests = new Tally(['webhook', 'decision']);
  private readonly violations: Tally;
  private readonly preExisting: Tally;
  private readonly mutations = new Tally(['mutation', 'mode', 'applied']);
  private readonly configReloads: Counter<'result'>;
  private readonly certReloads: Counter<'result'>;
  private readonly connectionsDropped: Counter;
  private readonly namespaceLabel: boolean;
  /** Per webhook, then decision (small closed sets): the request count and latency series. */
  private readonly perDecision = new Map<string, Map<string, DecisionSeries>>();

  constructor(opts: MetricsOptions = {}) {
    this.namespaceLabel = opts.namespaceLabel === true;
    const violationLabels = this.namespaceLabel ? ['rule', 'mode', 'namespace'] : ['rule', 'mode'];
    this.violations = new Tally(violationLabels);
    this.preExisting = new Tally(violationLabels);
    const registers = [this.registry];
    const requests = this.requests;
    new Counter({
      name: METRIC_NAMES.requests,
      help: 'Admission requests answered, by webhook (validate, mutate) and decision (allowed, warned, denied, patched, error, invalid, busy)',
      labelNames: ['webhook', 'decision'],
      registers,
      collect() {
        requests.collectInto(this);
      },
    });
    this.duration = new DurationHistogram(
      METRIC_NAMES.duration,
      'Time from request received to response written, by webhook and decision',
      DURATION_BUCKETS,
    );
    // The registry reads a metric through name, help, type and get(); prom-client's types only name its own classes.
    this.registry.registerMetric(this.duration as unknown as Histogram<string>);
    const violations = this.violations;
    new Counter({
      name: METRIC_NAMES.violations,
      help: 'Rule violations found, by rule id and enforcement mode (dry-run violations are counted too)',
      labelNames: violationLabels,
      registers,
      collect() {
        violations.collectInto(this);
      },
    });
    const preExisting = this.preExisting;
    new Counter({
      name: METRIC_NAMES.preExisting,
      help: 'Violations an UPDATE kept from oldObject (ratcheting): allowed with a warning, counted apart from meshlock_violations_total',
      labelNames: violationLabels,
      registers,
      collect() {
        preExisting.collectInto(this);
      },
    });
    const mutations = this.mutations;
    new Counter({
      name: METRIC_NAMES.mutations,
      help: 'Mutations wanted, by mutation id, mode, and whether the patch was returned (false in dry-run)',
      labelNames: ['mutation', 'mode', 'applied'],
      registers,
      collect() {
        mutations.collectInto(this);
      },
    });
    this.configReloads = new Counter({
      name: METRIC_NAMES.configReloads,
      help: 'Config file reloads, by result (success, failure: the previous config stays)',
      labelNames: ['result'],
      registers,
    });
    this.certReloads = new Counter({
      name: METRIC_NAMES.certReloads,
      help: 'Serving certificate reloads, by result (success, failure: the previous certificate stays)',
      labelNames: ['result'],
      registers,
    });
    this.connectionsDropped = new Counter({
      name: METRIC_NAMES.connectionsDropped,
      help: 'TLS connections closed on arrival because the server held its maximum number of connections',
      registers,
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  decision(record: DecisionRecord, seconds: number): void {
    // Looked up by the two strings themselves (constants whose hashes V8 keeps), not a joined key.
    let byDecision = this.perDecision.get(record.webhook);
    if (byDecision === undefined) {
      byDecision = new Map();
      this.perDecision.set(record.webhook, byDecision);
    }
    let d = byDecision.get(record.decision);
    if (d === undefined) {
      const key = record.webhook + SEP + record.decision;
      d = {
        requests: this.requests.entry(key),
        duration: this.duration.seriesFor(key, { webhook: record.webhook, decision: record.decision }),
      };
      byDecision.set(record.decision, d);
    }
    d.requests.value += 1;
    this.duration.observe(d.duration, seconds);
    for (const f of record.findings) {
      (f.preExisting === true ? this.preExisting : this.violations).add(
        this.namespaceLabel ? f.rule + SEP + f.mode + SEP + record.namespace : f.rule + SEP + f.mode,
      );
    }
    for (const m of record.mutations) this.mutations.add(m.id + SEP + m.mode + SEP + (m.applied ? 'true' : 'false'));
  }

  /** A request refused before any decision: `invalid` (400, 408, 413) or `busy` (503, the body budget in use). Counted, not timed. */
  rejected(webhook: string, decision: 'invalid' | 'busy' = 'invalid'): void {
    this.requests.add(webhook + SEP + decision);
  }

  connectionDropped(): void {
    this.connectionsDropped.inc();
  }

  configReload(ok: boolean): void {
    this.configReloads.inc({ result: ok ? 'success' : 'failure' });
  }

  certReload(ok: boolean): void {
    this.certReloads.inc({ result: ok ? 'success' : 'failure' });
  }
}

/** Plain HTTP on its own port: Prometheus scrapes it inside the cluster; no admission traffic goes there. */
export function startMetricsServer(metrics: Metrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen(server);
    });
  });
}
