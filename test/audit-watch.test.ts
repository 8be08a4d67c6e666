// The watching audit against a stand-in apiserver (real HTTP, real streaming watches): the reflector
// lists once and then follows events, lists again on 410 Gone, resumes after a cut connection, and
// says when a type is missing or forbidden; the live audit turns changes into metrics and
// PolicyReports, and removes the report of a namespace being deleted.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import t from 'tap';
import { defaultConfig, parseConfigText, resolveConfig } from '../src/config/index.js';
import { Reflector } from '../src/kube/watch.js';
import { AuditMetrics } from '../src/audit/metrics.js';
import { stripForAudit } from '../src/audit/strip.js';
import { LiveAudit } from '../src/audit/watch.js';
import { buildPolicyReports } from '../src/report/policyreport.js';
import { startFakeApiserver, type FakeApiserver } from './lib/fake-apiserver.js';

const SERVED = [
  'v1/namespaces',
  'v1/pods',
  'v1/replicationcontrollers',
  'v1/secrets',
  'apps/v1/replicasets',
  'apps/v1/deployments',
  'apps/v1/statefulsets',
  'apps/v1/daemonsets',
  'batch/v1/jobs',
  'batch/v1/cronjobs',
  'security.istio.io/v1/peerauthentications',
  'networking.istio.io/v1/destinationrules',
  'admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  'admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
  'wgpolicyk8s.io/v1alpha2/policyreports',
  'wgpolicyk8s.io/v1alpha2/clusterpolicyreports',
];

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function kcFor(api: FakeApiserver): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return kc;
}

const ns = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});
const pa = (namespace: string, name: string, mode: string): Record<string, unknown> => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace },
  spec: { mtls: { mode } },
});
const pod = (namespace: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace,
    labels: { app: name },
    managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }],
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2000) },
  },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'nginx',
        env: [{ name: 'A', value: 'x'.repeat(500) }],
        volumeMounts: [{ name: 'v', mountPath: '/v' }],
      },
    ],
    volumes: [{ name: 'v', emptyDir: {} }],
    ...extra,
  },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'app', ready: true }],
  },
});

t.test('a reflector lists, follows events, lists again on 410 Gone and resumes after a cut connection', async (t) => {
  const api = await startFakeApiserver(SERVED);
  t.teardown(() => api.close());
  api.put('v1', 'pods', pod('a', 'one'));
  const changes: string[] = [];
  const r = new Reflector(kcFor(api), {
    type: { apiVersion: 'v1', resource: 'pods', kind: 'Pod', namespaced: true },
    transform: stripForAudit,
    backoffMs: { initial: 50, max: 200 },
    onChange: (c) => changes.push(c),
  });
  t.teardown(() => r.stop());
  r.start();
  await until('the first listing', () => r.state === 'synced');
  t.equal(r.store.size, 1);
  const kept = r.store.get('a/one') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(kept['kind'], 'Pod', 'list items get their kind back');
  t.equal(kept['metadata']['managedFields'], undefined, 'managed fields dropped');
  t.same(kept['metadata']['annotations'], {}, 'last-applied annotation dropped');
  t.same(kept['status'], { phase: 'Running' }, 'status reduced to the phase');
  t.same(kept['spec']['containers'], [{ name: 'app', image: 'nginx' }], 'containers reduced to what rules read');
  t.equal(kept['spec']['volumes'], undefined, 'volumes dropped');

  api.put('v1', 'pods', pod('a', 'two'));
  await until('ADDED through the watch', () => r.store.has('a/two'));
  api.remove('v1', 'pods', 'a', 'one');
  await until('DELETED through the watch', () => !r.store.has('a/one'));
  t.equal(r.stats.lists, 1, 'no relist while the watch is healthy');

  // The connection drops: the reflector backs off and resumes from its resourceVersion.
  api.cutConnections();
  api.put('v1', 'pods', pod('a', 'three'));
  await until('the change made while disconnected', () => r.store.has('a/three'));
  t.equal(r.stats.lists, 1, 'resumed the watch without listing again');
  t.ok(r.stats.watches >= 2, 'opened a new watch');

  // History compacted while disconnected: the resumed watch gets 410 Gone and the reflector lists again.
  api.cutConnections();
  api.remove('v1', 'pods', 'a', 'two');
  api.compact();
  await until('a relist after 410 Gone', () => r.stats.lists === 2 && !r.store.has('a/two'));
  t.same([...r.store.keys()].sort(), ['a/three']);
  t.ok(changes.includes('relisted') && changes.includes('added') && changes.includes('deleted'));
});

t.test(
  'a reflector reports a type the cluster does not serve, and one it may not read, and keeps trying',
  async (t) => {
    const api = await startFakeApiserver(SERVED.filter((s) => !s.startsWith('security.istio.io')));
    t.teardown(() => api.close());
    api.forbidden.add('secrets');
    const missing = new Reflector(kcFor(api), {
      type: {
        apiVersion: 'security.istio.io/v1',
        resource: 'peerauthentications',
        kind: 'PeerAuthentication',
        namespaced: true,
        fallbacks: ['security.istio.io/v1beta1'],
      },
      missingRetryMs: 50,
    });
    const denied = new Reflector(kcFor(api), {
      type: { apiVersion: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true },
      backoffMs: { initial: 50, max: 100 },
    });
    t.teardown(() => Promise.all([missing.stop(), denied.stop()]));
    missing.start();
    denied.start();
    await until('states', () => missing.state === 'missing' && denied.state === 'forbidden');
    t.ok(missing.settled && denied.settled, 'both count as settled: the audit can run without them');
    t.match(denied.lastError, /403/);
    // The CRD gets installed: the next look finds it.
    api.served.add('security.istio.io/v1/peerauthentications');
    api.put('security.istio.io/v1', 'peerauthentications', pa('a', 'x', 'STRICT'));
    await until('the type once served', () => missing.state === 'synced' && missing.store.size === 1);
    t.pass('picked up');
  },
);

t.test(
  'the live audit turns changes into metrics and PolicyReports, and drops the report of a namespace being deleted',
  async (t) => {
    const api = await startFakeApiserver(SERVED);
    t.teardown(() => api.close());
    api.put('v1', 'namespaces', ns('istio-system'));
    api.put('v1', 'namespaces', ns('shop', { 'istio-injection': 'enabled' }));
    api.put('v1', 'namespaces', ns('old', { 'istio-injection': 'enabled' }));
    api.put('security.istio.io/v1', 'peerauthentications', pa('istio-system', 'default', 'STRICT'));
    api.put('v1', 'pods', pod('shop', 'web'));
    // A report meshlock wrote before a restart, for a namespace that no longer exists.
    api.put('wgpolicyk8s.io/v1alpha2', 'policyreports', {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: 'meshlock-gone', namespace: 'gone', labels: { 'app.kubernetes.io/managed-by': 'meshlock' } },
      results: [],
    });
    const metrics = new AuditMetrics();
    const live = new LiveAudit({
      kc: kcFor(api),
      config: defaultConfig(),
      intervalMs: 60_000,
      debounceMs: 50,
      reports: (r) => buildPolicyReports(r, 'wgpolicyk8s'),
      metrics,
      log: pino({ level: 'silent' }),
      backoffMs: { initial: 50, max: 200 },
    });
    t.teardown(() => live.stop());
    live.start();
    const metric = async (re: RegExp): Promise<string | undefined> => re.exec(await metrics.registry.metrics())?.[1];
    await until('the first audit', () => live.ready);
    t.equal(
      await metric(/^meshlock_audit_findings\{rule="pa-mode",severity="error"\} (\d+)$/m),
      '0',
      'pa-mode at zero',
    );
    t.equal(await metric(/^meshlock_audit_workloads\{namespace="shop"\} (\d+)$/m), '1');
    t.equal(await metric(/^meshlock_audit_meshed_workloads\{namespace="shop"\} (\d+)$/m), '0', 'no proxy: not meshed');
    t.ok(Number(await metric(/^meshlock_audit_last_run_timestamp_seconds (\S+)$/m)) > 0);
    await until(
      'report of shop written',
      () => api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'shop', 'meshlock-shop') !== undefined,
    );
    await until(
      'cluster report written',
      () => api.get('wgpolicyk8s.io/v1alpha2', 'clusterpolicyreports', undefined, 'meshlock') !== undefined,
    );
    await until(
      'the adopted stale report deleted',
      () => !api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'gone', 'meshlock-gone'),
    );

    const writesBefore = api.requests.length;
    api.put('security.istio.io/v1', 'peerauthentications', pa('shop', 'loose', 'PERMISSIVE'));
    await until(
      'pa-mode counted',
      async () => (await metric(/^meshlock_audit_findings\{rule="pa-mode",severity="error"\} (\d+)$/m)) === '1',
    );
    await until('the shop report updated', () =>
      (
        (api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'shop', 'meshlock-shop')?.['results'] ?? []) as {
          rule: string;
        }[]
      ).some((r) => r.rule === 'pa-mode'),
    );
    const oldWrites = api.requests
      .slice(writesBefore)
      .filter((r) => (r.method === 'PUT' || r.method === 'POST') && r.path.includes('/namespaces/old/')).length;
    t.equal(oldWrites, 0, 'the report of a namespace that did not change is not rewritten');
    api.remove('security.istio.io/v1', 'peerauthentications', 'shop', 'loose');
    await until(
      'pa-mode cleared',
      async () => (await metric(/^meshlock_audit_findings\{rule="pa-mode",severity="error"\} (\d+)$/m)) === '0',
    );
    await until(
      'the shop report cleared',
      () =>
        !(
          (api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'shop', 'meshlock-shop')?.['results'] ?? []) as {
            rule: string;
          }[]
        ).some((r) => r.rule === 'pa-mode'),
    );

    t.ok(api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'old', 'meshlock-old'), 'report of old written');
    // No namespace controller runs here, just as in the e2e cluster: the namespace stays, terminating.
    api.put('v1', 'namespaces', {
      ...ns('old', { 'istio-injection': 'enabled' }),
      metadata: { name: 'old', deletionTimestamp: new Date().toISOString() },
    });
    await until(
      'the report of a terminating namespace deleted',
      () => !api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'old', 'meshlock-old'),
    );
    await until(
      'its gauges gone',
      async () => (await metric(/^meshlock_audit_workloads\{namespace="old"\} (\d+)$/m)) === undefined,
    );
    t.pass('gone');
  },
);

t.test(
  'a report deleted by hand comes back with the next periodic run, though its content did not change',
  async (t) => {
    const api = await startFakeApiserver(SERVED);
    t.teardown(() => api.close());
    api.put('v1', 'namespaces', ns('istio-system'));
    api.put('v1', 'namespaces', ns('shop', { 'istio-injection': 'enabled' }));
    api.put('v1', 'pods', pod('shop', 'web'));
    const live = new LiveAudit({
      kc: kcFor(api),
      config: defaultConfig(),
      intervalMs: 300,
      debounceMs: 50,
      reports: (r) => buildPolicyReports(r, 'wgpolicyk8s'),
      metrics: new AuditMetrics(),
      log: pino({ level: 'silent' }),
      backoffMs: { initial: 50, max: 200 },
    });
    t.teardown(() => live.stop());
    live.start();
    const report = () => api.get('wgpolicyk8s.io/v1alpha2', 'policyreports', 'shop', 'meshlock-shop');
    await until('report of shop written', () => report() !== undefined);
    const deletes = api.requests.filter((r) => r.method === 'DELETE').length;
    api.remove('wgpolicyk8s.io/v1alpha2', 'policyreports', 'shop', 'meshlock-shop');
    t.notOk(report(), 'deleted by hand');
    await until('written again', () => report() !== undefined);
    t.equal(api.requests.filter((r) => r.method === 'DELETE').length, deletes, 'meshlock deleted nothing');
  },
);

t.test('with mesh: linkerd the live audit also follows Linkerd policy kinds and linkerd-config, by name', async (t) => {
  // Not started: only which reflectors the live audit builds.
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: false }, { name: 'none' });
  const watched = (config: ReturnType<typeof defaultConfig>): string[] =>
    new LiveAudit({
      kc,
      config,
      intervalMs: 60_000,
      metrics: new AuditMetrics(),
      log: pino({ level: 'silent' }),
    }).reflectors.map(
      (r) => `${r.opts.type.apiVersion} ${r.name}${r.opts.fieldSelector ? ` ${r.opts.fieldSelector}` : ''}`,
    );
  const istio = watched(defaultConfig());
  const linkerd = watched(resolveConfig(parseConfigText('mesh: linkerd\nlinkerd:\n  controlPlaneNamespace: l5d\n')));
  t.notOk(
    istio.some((w) => w.startsWith('policy.linkerd.io') || w.includes('configmaps')),
    'an Istio cluster: nothing of Linkerd',
  );
  t.same(linkerd.filter((w) => !istio.includes(w)).sort(), [
    'gateway.networking.k8s.io/v1 grpcroutes',
    'gateway.networking.k8s.io/v1 httproutes',
    'policy.linkerd.io/v1alpha1 authorizationpolicies',
    'policy.linkerd.io/v1alpha1 meshtlsauthentications',
    'policy.linkerd.io/v1alpha1 networkauthentications',
    'policy.linkerd.io/v1beta1 serverauthorizations',
    'policy.linkerd.io/v1beta3 httproutes',
    'policy.linkerd.io/v1beta3 servers',
    'v1 configmaps in l5d metadata.name=linkerd-config',
  ]);
});
