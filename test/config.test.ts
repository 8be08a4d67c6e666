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
  const err = t.throws(() => parseConfigText('mode: block\nrules:\n  pa-mod: warn\nexemptions:\n  - namespace: a\n', 'c.yaml')) as unknown as ConfigError;
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
  const c = resolveConfig(parseConfigText('exemptions:\n  - namespace: "mon*"\n    kind: Pod\n    name: "node-exporter-*"\n    rules: [pod-host-network]\n    reason: r\n    expires: 2027-06-30\n'));
  const target = { namespace: 'monitoring', kind: 'Pod', name: 'node-exporter-abc' };
  t.ok(activeExemption(c, 'pod-host-network', target, Date.parse('2027-06-30T23:00:00Z')));
  t.notOk(activeExemption(c, 'pod-host-network', target, Date.parse('2027-07-01T00:00:01Z')));
  t.notOk(activeExemption(c, 'pod-proxy-uid', target, Date.parse('2027-01-01T00:00:00Z')), 'other rules are not lifted');
  t.notOk(activeExemption(c, 'pod-host-network', { ...target, kind: 'DaemonSet' }, Date.parse('2027-01-01T00:00:00Z')));
});
