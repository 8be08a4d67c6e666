// The audit computes what Istio would actually do: effective mTLS per workload and port under every
// precedence rule of POLICY.md, mesh membership and why not, grouping, findings and exemptions.
import t from 'tap';
import { buildReport } from '../src/audit/build.js';
import { inventoryOf } from '../src/audit/inventory.js';
import type { AuditReport, WorkloadRow } from '../src/audit/model.js';
import { parseConfigText, resolveConfig } from '../src/config/index.js';
import { cronJob, deployment, destinationRule, namespace, peerAuthentication as pa, type Obj } from './lib/dump.js';
import { skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'kubectl');

const NOW = new Date('2026-06-01T12:00:00Z');
const ENABLED = { 'istio-injection': 'enabled' };

function audit(objects: Obj[], configText = ''): AuditReport {
  const config = resolveConfig(parseConfigText(configText));
  return buildReport(
    inventoryOf(structuredClone(objects)),
    { config, now: NOW },
    { source: { type: 'file', name: 'test' } },
  );
}

function workload(r: AuditReport, ns: string, name: string): WorkloadRow {
  const w = r.workloads.find((x) => x.namespace === ns && x.name === name);
  if (!w)
    throw new Error(`no workload ${ns}/${name}; have ${r.workloads.map((x) => `${x.namespace}/${x.name}`).join(', ')}`);
  return w;
}

/** One namespace enrolled for injection with one injected Deployment. */
function scenario(
  ns: string,
  app: string,
  extra: Partial<Parameters<typeof deployment>[0]> = {},
  nsLabels: Record<string, string> = ENABLED,
): Obj[] {
  return [namespace(ns, nsLabels), ...deployment({ namespace: ns, name: app, injected: true, port: 8080, ...extra })];
}

const MESH_STRICT = pa({ namespace: 'istio-system', name: 'default', mode: 'STRICT' });
const dump: Obj[] = [
  namespace('istio-system'),
  MESH_STRICT,
  ...scenario('mesh-only', 'a', { replicas: 3 }),
  ...scenario('ns-permissive', 'a'),
  pa({ namespace: 'ns-permissive', name: 'ns', mode: 'PERMISSIVE' }),
  ...scenario('ns-unset', 'a'),
  pa({ namespace: 'ns-unset', name: 'ns' }),
  ...scenario('wl-disable', 'b'),
  ...deployment({ namespace: 'wl-disable', name: 'c', injected: true }),
  pa({ namespace: 'wl-disable', name: 'ns', mode: 'STRICT' }),
  pa({ namespace: 'wl-disable', name: 'b-off', mode: 'DISABLE', selector: { app: 'b' } }),
  ...scenario('wl-unset', 'a'),
  pa({ namespace: 'wl-unset', name: 'ns', mode: 'PERMISSIVE' }),
  pa({ namespace: 'wl-unset', name: 'a', selector: { app: 'a' } }),
  ...scenario('oldest', 'a'),
  pa({ namespace: 'oldest', name: 'newer', mode: 'PERMISSIVE', created: '2025-06-01T00:00:00Z' }),
  pa({ namespace: 'oldest', name: 'older', mode: 'STRICT', created: '2024-06-01T00:00:00Z' }),
  ...scenario('oldest2', 'a'),
  pa({ namespace: 'oldest2', name: 'newer', mode: 'STRICT', created: '2025-06-01T00:00:00Z' }),
  pa({ namespace: 'oldest2', name: 'older', mode: 'PERMISSIVE', created: '2024-06-01T00:00:00Z' }),
  ...scenario('oldest-wl', 'd'),
  pa({
    namespace: 'oldest-wl',
    name: 'newer',
    mode: 'STRICT',
    selector: { app: 'd' },
    created: '2025-06-01T00:00:00Z',
  }),
  pa({
    namespace: 'oldest-wl',
    name: 'older',
    mode: 'DISABLE',
    selector: { app: 'd' },
    created: '2024-06-01T00:00:00Z',
  }),
  ...scenario('ports', 'p'),
  pa({
    namespace: 'ports',
    name: 'p',
    mode: 'STRICT',
    selector: { app: 'p' },
    ports: { '8080': 'PERMISSIVE', '9090': undefined, '9443': 'STRICT' },
  }),
  ...scenario('ports-unset', 'p'),
  pa({ namespace: 'ports-unset', name: 'p', selector: { app: 'p' }, ports: { '8080': 'DISABLE' } }),
  ...scenario('ports-global', 'p'),
  pa({ namespace: 'ports-global', name: 'ns', mode: 'STRICT', ports: { '8080': 'PERMISSIVE' } }),
  ...scenario('root-sel', 'e'),
  pa({ namespace: 'istio-system', name: 'e-off', mode: 'DISABLE', selector: { app: 'e' } }),
  ...scenario('nomatch', 'f'),
  pa({ namespace: 'nomatch', name: 'other', mode: 'DISABLE', selector: { app: 'zzz' } }),
  namespace('notmeshed'),
  ...deployment({ namespace: 'notmeshed', name: 'g' }),
  namespace('ambient', { 'istio.io/dataplane-mode': 'ambient' }),
  ...deployment({ namespace: 'ambient', name: 'h' }),
  ...deployment({ namespace: 'ambient', name: 'i', podLabels: { 'istio.io/dataplane-mode': 'none' } }),
  ...scenario('native', 'j', { injected: 'native' }),
  namespace('jobs', ENABLED),
  ...cronJob('jobs', 'k', true),
  ...scenario('host', 'n', { injected: false, hostNetwork: true }),
  ...scenario('optout', 'o', { injected: false, podLabels: { 'sidecar.istio.io/inject': 'false' } }),
  destinationRule('mesh-only', 'plain', 'reviews.mesh-only.svc.cluster.local', 'DISABLE'),
  destinationRule('mesh-only', 'egress', 'api.example.com', 'SIMPLE'),
];

const report = audit(dump);

t.test('with nothing set at all a meshed workload is PERMISSIVE', async (t) => {
  const r = audit([namespace('shop', ENABLED), ...deployment({ namespace: 'shop', name: 'web', injected: true })]);
  t.equal(workload(r, 'shop', 'web').effectiveMtls, 'PERMISSIVE');
  t.same(workload(r, 'shop', 'web').policies, []);
});

t.test('a mesh-wide policy with UNSET means PERMISSIVE', async (t) => {
  const r = audit([
    namespace('shop', ENABLED),
    pa({ namespace: 'istio-system', name: 'default' }),
    ...deployment({ namespace: 'shop', name: 'web', injected: true }),
  ]);
  t.equal(workload(r, 'shop', 'web').effectiveMtls, 'PERMISSIVE');
});

t.test('a mesh-wide STRICT policy makes every meshed workload STRICT', async (t) => {
  const w = workload(report, 'mesh-only', 'a');
  t.equal(w.effectiveMtls, 'STRICT');
  t.ok(w.strict);
  t.same(w.policies, ['istio-system/default']);
});

t.test('a namespace policy overrides the mesh policy', async (t) => {
  t.equal(workload(report, 'ns-permissive', 'a').effectiveMtls, 'PERMISSIVE');
  const r = audit([
    namespace('shop', ENABLED),
    pa({ namespace: 'istio-system', name: 'default', mode: 'PERMISSIVE' }),
    pa({ namespace: 'shop', name: 'ns', mode: 'STRICT' }),
    ...deployment({ namespace: 'shop', name: 'web', injected: true }),
  ]);
  t.equal(workload(r, 'shop', 'web').effectiveMtls, 'STRICT');
});

t.test('UNSET inherits from the level above', async (t) => {
  t.equal(workload(report, 'ns-unset', 'a').effectiveMtls, 'STRICT', 'namespace UNSET inherits the mesh STRICT');
  t.equal(
    workload(report, 'wl-unset', 'a').effectiveMtls,
    'PERMISSIVE',
    'workload UNSET inherits the namespace PERMISSIVE',
  );
});

t.test('a workload policy overrides the namespace policy, only for the workloads it selects', async (t) => {
  t.equal(workload(report, 'wl-disable', 'b').effectiveMtls, 'DISABLE');
  t.equal(workload(report, 'wl-disable', 'c').effectiveMtls, 'STRICT');
  t.equal(workload(report, 'nomatch', 'f').effectiveMtls, 'STRICT', 'a selector that matches nothing changes nothing');
});

t.test('among policies of the same level the oldest wins', async (t) => {
  t.equal(workload(report, 'oldest', 'a').effectiveMtls, 'STRICT');
  t.same(workload(report, 'oldest', 'a').policies, ['istio-system/default', 'oldest/older']);
  t.equal(workload(report, 'oldest2', 'a').effectiveMtls, 'PERMISSIVE');
  t.equal(workload(report, 'oldest-wl', 'd').effectiveMtls, 'DISABLE');
});

t.test('portLevelMtls overrides the workload mode per container port; an UNSET port inherits it', async (t) => {
  const w = workload(report, 'ports', 'p');
  t.same(w.ports, { '8080': 'PERMISSIVE' }, 'only ports that differ are listed');
  t.equal(w.effectiveMtls, 'PERMISSIVE', 'the weakest over every port');
  t.equal(w.strict, false);
  const u = workload(report, 'ports-unset', 'p');
  t.same(u.ports, { '8080': 'DISABLE' }, 'a workload policy with UNSET mode still applies its ports');
  t.equal(u.effectiveMtls, 'DISABLE');
});

t.test('portLevelMtls on a policy without a selector has no effect', async (t) => {
  const w = workload(report, 'ports-global', 'p');
  t.same(w.ports, {});
  t.equal(w.effectiveMtls, 'STRICT');
});

t.test('a selector policy in the root namespace is ignored', async (t) => {
  t.equal(workload(report, 'root-sel', 'e').effectiveMtls, 'STRICT');
  t.ok(
    report.findings.some((f) => f.rule === 'pa-root-selector' && f.name === 'e-off'),
    'and reported by pa-root-selector',
  );
});

t.test('pods of a ReplicaSet of a Deployment are reported as the Deployment, with a pod count', async (t) => {
  const w = workload(report, 'mesh-only', 'a');
  t.equal(w.kind, 'Deployment');
  t.equal(w.pods, 3);
  t.equal(report.workloads.filter((x) => x.namespace === 'mesh-only').length, 1);
  const job = workload(report, 'jobs', 'k');
  t.equal(job.kind, 'CronJob', 'a Job of a CronJob is reported as the CronJob');
  t.equal(job.pods, 1);
});

t.test(
  'a pod is meshed with an istio-proxy container, a native sidecar, or ambient mode, and otherwise says why not',
  async (t) => {
    t.equal(workload(report, 'native', 'j').meshed, true, 'istio-proxy as an init container with restartPolicy Always');
    t.equal(workload(report, 'native', 'j').dataplane, 'sidecar');
    const h = workload(report, 'ambient', 'h');
    t.equal(h.meshed, true);
    t.equal(h.dataplane, 'ambient');
    t.equal(h.effectiveMtls, 'STRICT');
    const i = workload(report, 'ambient', 'i');
    t.equal(i.meshed, false, 'istio.io/dataplane-mode=none opts a pod out');
    t.match(i.reason, /dataplane-mode=none/);
    const g = workload(report, 'notmeshed', 'g');
    t.equal(g.meshed, false);
    t.match(g.reason, /not enrolled/);
    t.equal(g.effectiveMtls, 'DISABLE', 'without a proxy plaintext is accepted');
    t.equal(g.policyMtls, 'STRICT', 'even though the policies say STRICT');
    t.match(workload(report, 'host', 'n').reason, /hostNetwork/);
    t.match(workload(report, 'optout', 'o').reason, /sidecar.istio.io\/inject=false/);
    // One finding per root cause: g is out of the mesh because its namespace is not enrolled.
    t.ok(
      report.findings.some(
        (f) =>
          f.rule === 'ns-injection-missing' &&
          f.name === 'notmeshed' &&
          f.effects?.some((e) => e.rule === 'workload-not-meshed' && e.name === 'g'),
      ),
      'not meshed, listed under the namespace finding',
    );
    t.notOk(
      report.findings.some((f) => f.rule === 'workload-not-meshed' && f.name === 'g'),
      'and not counted again',
    );
  },
);

t.test('the summary counts workloads, meshed, strict and coverage, with a row per namespace', async (t) => {
  const s = report.summary;
  t.equal(s.workloads, report.workloads.length);
  t.equal(s.meshed, report.workloads.filter((w) => w.meshed).length);
  t.equal(s.strict, report.workloads.filter((w) => w.meshed && w.effectiveMtls === 'STRICT').length);
  t.equal(s.coveragePercent, Math.round((s.strict / s.workloads) * 1000) / 10);
  t.equal(s.findings.total, report.findings.length);
  t.equal(s.findings.error + s.findings.warning, s.findings.total);
  const row = report.namespaces.find((n) => n.namespace === 'wl-disable');
  t.same(row && [row.workloads, row.meshed, row.strict, row.coveragePercent, row.enrolment], [
    2,
    2,
    1,
    50,
    'istio-injection=enabled',
  ]);
  t.notOk(
    report.namespaces.some((n) => n.namespace === 'istio-system'),
    'system namespaces are not rows',
  );
});

t.test('DestinationRules sending plaintext to in-mesh hosts are listed; egress origination is not', async (t) => {
  t.same(
    report.destinationRules.map((d) => [d.name, d.rule]),
    [['plain', 'dr-tls-disable']],
  );
  t.ok(report.findings.some((f) => f.rule === 'dr-tls-disable' && f.name === 'plain'));
});

t.test('findings come from every engine rule, each mapped to its controls', async (t) => {
  const rules = new Set(report.findings.flatMap((f) => [f.rule, ...(f.effects ?? []).map((e) => e.rule)]));
  for (const r of [
    'pa-mode',
    'pa-root-selector',
    'pa-port-mode',
    'dr-tls-disable',
    'pod-host-network',
    'pod-injection-disabled',
    'ns-injection-missing',
    'workload-not-strict',
    'workload-not-meshed',
  ])
    t.ok(rules.has(r), r);
  const host = report.findings.find((f) => f.rule === 'pod-host-network');
  t.same(
    host?.effects?.map((e) => [e.rule, e.name]),
    [['workload-not-meshed', 'n']],
    'hostNetwork is the root cause; not meshed is its effect',
  );
  t.notOk(
    report.findings.some((f) => f.rule === 'workload-not-meshed' && f.name === 'n'),
    'one finding per root cause',
  );
  for (const f of report.findings) t.ok(f.controls.length > 0, `${f.rule} maps to a control`);
  const pod = report.findings.find((f) => f.rule === 'pod-host-network');
  t.same(pod && [pod.kind, pod.name], ['Deployment', 'n'], "a pod's finding is reported once, on its Deployment");
  t.equal(report.findings.filter((f) => f.rule === 'pod-host-network').length, 1);
});

t.test('exemptions are reported as active, expiring within 30 days, or expired', async (t) => {
  const r = audit(
    dump,
    `exemptions:
  - {namespace: host, name: "n*", rules: [pod-host-network], reason: node agent, expires: 2030-01-01, owner: platform}
  - {namespace: optout, rules: [pod-injection-disabled], reason: migration, expires: 2026-06-20}
  - {namespace: "ns-*", reason: old, expires: 2026-01-01}
`,
  );
  t.same(
    r.exemptions.map((e) => e.status),
    ['active', 'expiring', 'expired'],
  );
  // The Deployment, its ReplicaSet and its pod are each admitted separately, so each needs lifting.
  t.equal(r.exemptions[0]?.used, 3, 'the active exemption lifted the violation on the Deployment, ReplicaSet and pod');
  t.notOk(
    r.findings.some((f) => f.rule === 'pod-host-network'),
    'an active exemption lifts the rule',
  );
  t.ok(r.findings.some((f) => f.rule === 'exemption-expiring'));
  t.ok(r.findings.some((f) => f.rule === 'exemption-expired'));
});

t.test('a namespace naming a revision no control plane serves is reported', async (t) => {
  const istiod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'istiod-canary-1',
      namespace: 'istio-system',
      labels: { app: 'istiod', 'istio.io/rev': 'canary' },
    },
    spec: { containers: [{ name: 'discovery' }] },
  };
  const r = audit([
    namespace('a', { 'istio.io/rev': 'canary' }),
    namespace('b', { 'istio.io/rev': 'pidgeon' }),
    istiod,
  ]);
  t.same(r.revisions.served, ['canary']);
  t.same(r.revisions.unserved, [{ namespace: 'b', revision: 'pidgeon' }]);
  t.ok(r.findings.some((f) => f.rule === 'install-revision-unserved' && f.name === 'b'));
});

t.test(
  'a pod the object-selector webhooks inject but that has no proxy should have one: restart it, not "namespace not enrolled"',
  async (t) => {
    const r = audit([
      namespace('plain'),
      MESH_STRICT,
      ...deployment({ namespace: 'plain', name: 'labelled', podLabels: { 'sidecar.istio.io/inject': 'true' } }),
      ...deployment({ namespace: 'plain', name: 'revved', podLabels: { 'istio.io/rev': 'default' } }),
      ...deployment({ namespace: 'plain', name: 'annotated', podAnnotations: { 'sidecar.istio.io/inject': 'true' } }),
    ]);
    for (const name of ['labelled', 'revved']) {
      const w = workload(r, 'plain', name);
      t.equal(w.meshed, false, name);
      t.match(w.reason, /^should have a proxy, restart it/, name);
      t.notMatch(w.reason, /not enrolled/, name);
      t.same(
        [w.istio?.injection.rule, w.istio?.injection.injected],
        ['object-selector', true],
        `${name}: decided by the object selector`,
      );
    }
    const a = workload(r, 'plain', 'annotated');
    t.match(
      a.reason,
      /label sidecar.istio.io\/inject=true, not the annotation/,
      'the object webhook reads labels only',
    );
    t.equal(a.istio?.injection.injected, false);
  },
);

t.test(
  'an invalid sidecar.istio.io/inject value falls back to the namespace default: never reported as disabling injection',
  async (t) => {
    const r = audit([
      namespace('shop', ENABLED),
      ...deployment({ namespace: 'shop', name: 'yes', podLabels: { 'sidecar.istio.io/inject': 'yes' } }),
      ...deployment({ namespace: 'shop', name: 'no', podAnnotations: { 'sidecar.istio.io/inject': 'no' } }),
    ]);
    for (const name of ['yes', 'no']) {
      const w = workload(r, 'shop', name);
      t.equal(w.meshed, false, `${name}: no proxy`);
      t.notMatch(w.reason, /disables/, name);
      t.match(w.reason, /^should have a proxy, restart it: .*falls back to the default/, name);
      t.equal(w.istio?.injection.rule, 'invalid-value', name);
    }
    t.ok(
      r.findings.some((f) => f.rule === 'pod-injection-disabled' && f.name === 'yes'),
      'the admission rule still refuses the value',
    );
  },
);

t.test(
  'ztunnel never captures a pod with sidecar.istio.io/status or hostNetwork: not meshed, not STRICT',
  async (t) => {
    const r = audit([
      namespace('amb', { 'istio.io/dataplane-mode': 'ambient' }),
      MESH_STRICT,
      ...deployment({
        namespace: 'amb',
        name: 'forged',
        podAnnotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' },
      }),
      ...deployment({ namespace: 'amb', name: 'host', hostNetwork: true }),
      ...deployment({
        namespace: 'amb',
        name: 'labelled-host',
        hostNetwork: true,
        podLabels: { 'istio.io/dataplane-mode': 'ambient' },
      }),
      ...deployment({ namespace: 'amb', name: 'fine' }),
    ]);
    for (const [name, rule] of [
      ['forged', 'sidecar-status'],
      ['host', 'hostNetwork'],
      ['labelled-host', 'hostNetwork'],
    ] as const) {
      const w = workload(r, 'amb', name);
      t.same(
        [w.meshed, w.strict, w.effectiveMtls, w.istio?.capture.rule, w.istio?.capture.captured],
        [false, false, 'DISABLE', rule, false],
        name,
      );
    }
    t.match(workload(r, 'amb', 'forged').reason, /sidecar.istio.io\/status/);
    const fine = workload(r, 'amb', 'fine');
    t.same(
      [fine.meshed, fine.dataplane, fine.strict, fine.istio?.capture.rule],
      [true, 'ambient', true, 'namespace-label'],
    );
    t.equal(r.summary.strict, 1, 'only the captured workload counts as STRICT');
  },
);

t.test('each workload row names the Istio rule that decided injection and capture', async (t) => {
  t.same(workload(report, 'mesh-only', 'a').istio?.injection.rule, 'namespace-label');
  t.same(workload(report, 'host', 'n').istio?.injection.rule, 'hostNetwork');
  t.same(workload(report, 'optout', 'o').istio?.injection.rule, 'pod-label');
  t.same(workload(report, 'ambient', 'h').istio?.capture.rule, 'namespace-label');
  t.same(workload(report, 'ambient', 'i').istio?.capture.rule, 'pod-label');
  t.match(workload(report, 'ambient', 'i').reason, /dataplane-mode=none/);
});

t.test('the example dump examples/audit/istio-decisions.yaml reads as its comments say', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const list = parse(readFileSync(new URL('../examples/audit/istio-decisions.yaml', import.meta.url), 'utf8')) as {
    items: Obj[];
  };
  const r = audit(list.items);
  const web = workload(r, 'plain', 'web');
  t.match(web.reason, /^should have a proxy, restart it/);
  t.ok(
    r.findings.some((f) => f.rule === 'workload-not-meshed' && f.name === 'web' && /rollout restart/.test(f.fix ?? '')),
    'the fix says to restart it',
  );
  t.same(
    [workload(r, 'shop', 'cart').meshed, workload(r, 'shop', 'cart').istio?.injection.rule],
    [true, 'invalid-value'],
  );
  t.same(
    [
      workload(r, 'amb', 'api').dataplane,
      workload(r, 'amb', 'agent').meshed,
      workload(r, 'amb', 'agent').istio?.capture.rule,
    ],
    ['ambient', false, 'hostNetwork'],
  );
});
