import t from 'tap';
import { ConfigError, modeFor, parseConfigText, resolveConfig, activeExemption } from '../src/config/index.js';

t.test('an empty file means every default', async (t) => {
  const c = resolveConfig(parseConfigText(''));
  t.equal(c.mode, 'enforce');
  t.equal(c.dataplane, 'sidecar');
  t.equal(c.rootNamespace, 'istio-system');
  t.ok(c.systemNamespaces.has('kube-system'));
  t.ok(c.systemNamespaces.has('istio-system'), 'the root namespace is always a system namespace');
  t.ok(c.systemNamespaces.has('meshlock'), "meshlock's own namespace is always a system namespace");
});

t.test('an invalid file is refused with the path of every error', async (t) => {
  const err = t.throws(() =>
    parseConfigText('mode: block\nrules:\n  pa-mod: warn\nexemptions:\n  - namespace: a\n', 'c.yaml'),
  ) as unknown as ConfigError;
  t.type(err, ConfigError);
  const paths = err.issues.map((i) => i.path).sort();
  t.ok(paths.includes('/mode'), 'bad mode reported');
  t.ok(paths.includes('/rules'), 'unknown rule id reported');
  t.ok(paths.includes('/exemptions/0'), 'exemption without reason reported');
});

t.test('mode resolution: namespace > rule > global', async (t) => {
  const c = resolveConfig(parseConfigText('mode: warn\nrules:\n  pa-mode: enforce\nnamespaces:\n  team-a: dry-run\n'));
  t.equal(modeFor(c, 'pa-mode', 'team-a'), 'dry-run');
  t.equal(modeFor(c, 'pa-mode', 'shop'), 'enforce');
  t.equal(modeFor(c, 'dr-tls-disable', 'shop'), 'warn');
});

t.test('exemptions match globs and stop applying after their expiry day', async (t) => {
  const c = resolveConfig(
    parseConfigText(
      'exemptions:\n  - namespace: "mon*"\n    kind: Pod\n    name: "node-exporter-*"\n    rules: [pod-host-network]\n    reason: r\n    expires: 2027-06-30\n',
    ),
  );
  const target = { namespace: 'monitoring', kind: 'Pod', name: 'node-exporter-abc' };
  t.ok(activeExemption(c, 'pod-host-network', target, Date.parse('2027-06-30T23:00:00Z')));
  t.notOk(activeExemption(c, 'pod-host-network', target, Date.parse('2027-07-01T00:00:01Z')));
  t.notOk(
    activeExemption(c, 'pod-proxy-uid', target, Date.parse('2027-01-01T00:00:00Z')),
    'other rules are not lifted',
  );
  t.notOk(activeExemption(c, 'pod-host-network', { ...target, kind: 'DaemonSet' }, Date.parse('2027-01-01T00:00:00Z')));
});

t.test('a workload exemption covers the pods it makes, through the controller owner reference', async (t) => {
  const now = Date.parse('2027-01-01T00:00:00Z');
  const c = resolveConfig(
    parseConfigText(
      'exemptions:\n  - {namespace: monitoring, kind: DaemonSet, name: node-exporter, reason: r}\n  - {namespace: shop, kind: Deployment, name: "web*", reason: r}\n  - {namespace: batch, kind: CronJob, name: report, reason: r}\n',
    ),
  );
  const pod = (namespace: string, owner?: { kind: string; name: string }) => ({
    namespace,
    kind: 'Pod',
    name: 'x-',
    ...(owner ? { owner } : {}),
  });
  t.ok(
    activeExemption(c, 'pod-host-network', pod('monitoring', { kind: 'DaemonSet', name: 'node-exporter' }), now),
    'DaemonSet by name',
  );
  t.notOk(
    activeExemption(c, 'pod-host-network', pod('monitoring', { kind: 'DaemonSet', name: 'node-exporter-2' }), now),
    'another DaemonSet',
  );
  t.notOk(activeExemption(c, 'pod-host-network', pod('monitoring'), now), 'a bare pod');
  t.ok(
    activeExemption(c, 'pod-host-network', pod('shop', { kind: 'ReplicaSet', name: 'web-api-5d8f7c9b4' }), now),
    "a Deployment's ReplicaSet <name>-<hash>, through the glob",
  );
  t.ok(
    activeExemption(
      c,
      'pod-host-network',
      {
        namespace: 'shop',
        kind: 'ReplicaSet',
        name: 'web-api-5d8f7c9b4',
        owner: { kind: 'Deployment', name: 'web-api' },
      },
      now,
    ),
    "the Deployment's ReplicaSet itself",
  );
  t.ok(
    activeExemption(c, 'pod-host-network', pod('batch', { kind: 'Job', name: 'report-29412000' }), now),
    "a CronJob's Job <name>-<n>",
  );
  t.notOk(
    activeExemption(c, 'pod-host-network', pod('batch', { kind: 'Job', name: 'report-final' }), now),
    'a Job whose suffix is not a scheduled minute',
  );
  t.notOk(
    activeExemption(c, 'pod-host-network', pod('shop', { kind: 'DaemonSet', name: 'node-exporter' }), now),
    'never across namespaces',
  );
});

t.test('ratchet and nativeSidecarForJobs default to true and are booleans', async (t) => {
  const d = resolveConfig(parseConfigText(''));
  t.equal(d.ratchet, true);
  t.equal(d.nativeSidecarForJobs, true);
  const off = resolveConfig(parseConfigText('ratchet: false\nnativeSidecarForJobs: false\n'));
  t.equal(off.ratchet, false);
  t.equal(off.nativeSidecarForJobs, false);
  const err = t.throws(() => parseConfigText('ratchet: "no"\nnativeSidecarForJobs: 1\n')) as unknown as ConfigError;
  t.same(err.issues.map((i) => i.path).sort(), ['/nativeSidecarForJobs', '/ratchet']);
});

t.test('edges are validated: namespace, a non-empty selector, ports 1..65535, a reason', async (t) => {
  const good =
    'edges:\n  - namespace: ingress-nginx\n    selector: {matchLabels: {app.kubernetes.io/component: controller}}\n    ports: [8443]\n    reason: apiserver\n    expires: 2027-01-31\n';
  const c = resolveConfig(parseConfigText(good));
  t.equal(c.edges.length, 1);
  t.ok(c.edges[0]?.ports.has(8443));
  t.equal(c.edges[0]?.expiresAt, Date.parse('2027-01-31T23:59:59.999Z'));
  const bad =
    'edges:\n  - namespace: Ingress\n    selector: {matchLabels: {}}\n    ports: [0, 70000, "80"]\n  - namespace: a\n    selector: {}\n    ports: []\n    reason: r\n    extra: 1\n';
  const err = t.throws(() => parseConfigText(bad)) as unknown as ConfigError;
  const paths = err.issues.map((i) => i.path);
  for (const p of [
    '/edges/0',
    '/edges/0/namespace',
    '/edges/0/selector/matchLabels',
    '/edges/0/ports/0',
    '/edges/0/ports/1',
    '/edges/0/ports/2',
    '/edges/1/selector',
    '/edges/1/ports',
    '/edges/1',
  ]) {
    t.ok(paths.includes(p), `${p} reported`);
  }
});
