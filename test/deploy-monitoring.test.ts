// deploy/monitoring (the webhook's PodMonitor and alerts) and the Deployment's shutdown and logging
// settings, rendered by the real `kubectl kustomize`: every metric an alert reads is one meshlock
// exports, the latency alerts sit below the webhooks' timeout on a bucket of the histogram, the
// PodMonitor scrapes the webhook pods' metrics port, and the grace period covers the shutdown.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { DURATION_BUCKETS, METRIC_NAMES } from '../src/server/metrics.js';
import { locate, repoRoot, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'kubectl');

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;
const render = (dir: string): Any[] =>
  parseAllDocuments(execFileSync(locate('kubectl') as string, ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' }))
    .map((d) => d.toJS() as Any)
    .filter(Boolean);
const monitoring = render('deploy/monitoring');
const base = render('deploy');
const one = (objs: Any[], kind: string, name?: string): Any => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0];
};
const deployment = one(base, 'Deployment', 'meshlock');
const container = deployment.spec.template.spec.containers[0];
const arg = (flag: string): string | undefined =>
  (container.args as string[]).find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

t.test(
  'the PrometheusRule alerts on latency near the webhook timeout, errors, refusals and no ready replica',
  async (t) => {
    const rule = one(monitoring, 'PrometheusRule', 'meshlock-webhook');
    const alerts = new Map<string, Any>(rule.spec.groups.flatMap((g: Any) => g.rules).map((r: Any) => [r.alert, r]));
    for (const name of [
      'MeshlockAdmissionLatencyHigh',
      'MeshlockAdmissionLatencyNearTimeout',
      'MeshlockAdmissionErrors',
      'MeshlockAdmissionRequestsRefused',
      'MeshlockNoReadyReplica',
    ]) {
      t.ok(alerts.has(name), `${name} is defined`);
    }
    const timeouts = base
      .filter((o) => /WebhookConfiguration$/.test(o.kind))
      .flatMap((c) => c.webhooks.map((w: Any) => w.timeoutSeconds as number));
    const timeout = Math.min(...timeouts);
    for (const name of ['MeshlockAdmissionLatencyHigh', 'MeshlockAdmissionLatencyNearTimeout']) {
      const expr = String(alerts.get(name).expr);
      t.match(expr, /histogram_quantile\(0\.99,/, `${name} is on p99`);
      const threshold = Number(/>\s*([0-9.]+)\s*$/.exec(expr.trim())?.[1]);
      t.ok(threshold < timeout, `${name}: ${threshold} s is below the webhooks' ${timeout} s timeout`);
      t.ok(
        DURATION_BUCKETS.includes(threshold) || DURATION_BUCKETS.some((b) => b > threshold),
        `${name}: the histogram has buckets up to ${threshold} s`,
      );
    }
    t.ok(DURATION_BUCKETS.at(-1)! >= timeout, 'the histogram reaches the webhook timeout');
    const exported = new Set<string>(Object.values(METRIC_NAMES));
    for (const [name, r] of alerts) {
      for (const m of String(r.expr).match(/meshlock_[a-z_]+/g) ?? []) {
        const family = m.replace(/_(bucket|sum|count)$/, '');
        t.ok(exported.has(family), `${name} reads ${m}, which meshlock exports`);
      }
    }
    t.match(
      String(alerts.get('MeshlockNoReadyReplica').expr),
      /kube_deployment_status_replicas_available\{namespace="meshlock", deployment="meshlock"\}/,
    );
  },
);

t.test('the PodMonitor scrapes the webhook pods on their metrics port', async (t) => {
  const pm = one(monitoring, 'PodMonitor', 'meshlock');
  for (const [k, v] of Object.entries(pm.spec.selector.matchLabels))
    t.equal(deployment.spec.template.metadata.labels[k], v, `selects ${k}=${String(v)}`);
  const port = pm.spec.podMetricsEndpoints[0].port;
  t.equal(container.ports.find((p: Any) => p.name === port)?.containerPort, 9090, 'the named port is the metrics port');
});

t.test('the Deployment: findings logged, and a shutdown delay and drain that fit the grace period', async (t) => {
  t.equal(arg('--log-decisions'), 'findings');
  const delay = Number(arg('--shutdown-delay'));
  const drain = Number(arg('--drain-timeout'));
  t.ok(delay >= 3, `a shutdown delay of ${delay} s covers the endpoints update`);
  t.ok(
    delay + drain + 5 <= deployment.spec.template.spec.terminationGracePeriodSeconds,
    `delay ${delay} s + drain ${drain} s end well inside terminationGracePeriodSeconds`,
  );
});
