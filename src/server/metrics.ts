// Prometheus metrics, on their own registry (not prom-client's global one, so two servers in one
// process, as in tests, do not collide). Label values are bounded: webhook, decision, rule id, mode.
// A namespace label is opt-in because namespaces are unbounded and blow up Prometheus series.
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
  mutations: 'meshlock_mutations_total',
  configReloads: 'meshlock_config_reloads_total',
  certReloads: 'meshlock_cert_reloads_total',
});

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'webhook' | 'decision'>;
  private readonly duration: Histogram<'webhook' | 'decision'>;
  private readonly violations: Counter<string>;
  private readonly mutations: Counter<'mutation' | 'mode' | 'applied'>;
  private readonly configReloads: Counter<'result'>;
  private readonly certReloads: Counter<'result'>;
  private readonly namespaceLabel: boolean;

  constructor(opts: MetricsOptions = {}) {
    this.namespaceLabel = opts.namespaceLabel === true;
    const registers = [this.registry];
    this.requests = new Counter({
      name: METRIC_NAMES.requests,
      help: 'Admission requests answered, by webhook (validate, mutate) and decision (allowed, warned, denied, patched, error, invalid)',
      labelNames: ['webhook', 'decision'],
      registers,
    });
    this.duration = new Histogram({
      name: METRIC_NAMES.duration,
      help: 'Time from request received to response written, by webhook and decision',
      labelNames: ['webhook', 'decision'],
      // The apiserver's budget per webhook is at most 30 s; meshlock answers in well under 5 ms.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.violations = new Counter({
      name: METRIC_NAMES.violations,
      help: 'Rule violations found, by rule id and enforcement mode (dry-run violations are counted too)',
      labelNames: this.namespaceLabel ? ['rule', 'mode', 'namespace'] : ['rule', 'mode'],
      registers,
    });
    this.mutations = new Counter({
      name: METRIC_NAMES.mutations,
      help: 'Mutations wanted, by mutation id, mode, and whether the patch was returned (false in dry-run)',
      labelNames: ['mutation', 'mode', 'applied'],
      registers,
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
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  // Label children resolved once per label set: prom-client hashes a label object on every call,
  // which showed up on the per-request profile. The label values come from small closed sets.
  private readonly perDecision = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();

  decision(record: DecisionRecord, seconds: number): void {
    const key = `${record.webhook}\u0000${record.decision}`;
    let bound = this.perDecision.get(key);
    if (bound === undefined) {
      const labels = { webhook: record.webhook, decision: record.decision };
      bound = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.perDecision.set(key, bound);
    }
    bound.requests.inc();
    bound.duration.observe(seconds);
    for (const f of record.findings) {
      if (this.namespaceLabel) this.violations.inc({ rule: f.rule, mode: f.mode, namespace: record.namespace });
      else this.violations.inc({ rule: f.rule, mode: f.mode });
    }
    for (const m of record.mutations) this.mutations.inc({ mutation: m.id, mode: m.mode, applied: m.applied ? 'true' : 'false' });
  }

  /** A request refused before any decision (400, 413): counted, not timed. */
  rejected(webhook: string): void {
    this.requests.inc({ webhook, decision: 'invalid' });
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
