// meshlock next to the real Istio that up.sh installs (istiod on the host, the chart's webhook
// configurations): both validating webhooks judge the same PeerAuthentication, and on a mix of
// namespaces and pods Istio's own tools (`istioctl x check-inject`, `istioctl analyze`) and
// `meshlock audit` must agree, pod by pod, on which pods get a sidecar proxy.
import t, { type Test } from 'tap';
import { clusterEnv } from './lib/cluster.js';
import { apply, describeRun, kubectl, uniqueName, type Run } from './lib/kubectl.js';
import { install, meshlockCli, removeWebhooks, renderDeploy } from './lib/meshlock.js';
import { assertDenied, namespace, peerAuth, pod } from './lib/objects.js';
import { istioctl, listPods, proxyOf } from './lib/controllers.js';

const env = clusterEnv();
if (!env.istio) {
  t.plan(0, 'Istio is not installed (MESHLOCK_E2E_ISTIO=0): nothing here can run without it');
  process.exit(0);
}

// --- The mix, created while meshlock's webhooks are absent and Istio's injector runs ------------
await removeWebhooks(await renderDeploy());
const id = uniqueName('x');
const ns = {
  enabled: `${id}-enabled`, // istio-injection=enabled
  revDefault: `${id}-rev-default`, // istio.io/rev=default (served)
  revCanary: `${id}-rev-canary`, // istio.io/rev=canary (no control plane serves it)
  ambient: `${id}-ambient`, // istio.io/dataplane-mode=ambient
  plain: `${id}-plain`, // no label: only pods selected by Istio's object webhooks
  disabled: `${id}-disabled`, // istio-injection=disabled
  stale: `${id}-stale`, // pods created before the namespace was enrolled
  later: `${id}-later`, // never labelled; its pod is created after meshlock is installed
};
const nsLabels: Record<string, Record<string, string>> = {
  [ns.enabled]: { 'istio-injection': 'enabled' },
  [ns.revDefault]: { 'istio.io/rev': 'default' },
  [ns.revCanary]: { 'istio.io/rev': 'canary' },
  [ns.ambient]: { 'istio.io/dataplane-mode': 'ambient' },
  [ns.plain]: {},
  [ns.disabled]: { 'istio-injection': 'disabled' },
  [ns.stale]: {},
  [ns.later]: {},
};
const fixtures: [string, string, Record<string, string>][] = [
  [ns.enabled, 'plain', {}],
  [ns.enabled, 'opted-out', { 'sidecar.istio.io/inject': 'false' }],
  [ns.revDefault, 'plain', {}],
  [ns.revCanary, 'plain', {}],
  [ns.ambient, 'plain', {}],
  [ns.plain, 'plain', {}],
  [ns.plain, 'object-selected', { 'sidecar.istio.io/inject': 'true' }],
  [ns.plain, 'rev-object', { 'istio.io/rev': 'default' }],
  [ns.disabled, 'asks', { 'sidecar.istio.io/inject': 'true' }],
  [ns.stale, 'before-enrolment', {}],
];
for (const [name, labels] of Object.entries(nsLabels)) {
  const r = await apply(namespace(name, labels));
  if (r.code !== 0) throw new Error(`creating namespace ${name}: ${describeRun(r)}`);
}
for (const [n, name, labels] of fixtures) {
  const r = await apply(pod(n, name, { labels }));
  if (r.code !== 0) throw new Error(`creating pod ${n}/${name}: ${describeRun(r)}`);
}
// Enrolled after its pod was created: the pod has no proxy until it is restarted.
await kubectl(['label', 'namespace', ns.stale, 'istio-injection=enabled']);

const ml = await install({ mode: 'enforce' });
t.teardown(() => ml.uninstall());
{
  const r = await apply(pod(ns.later, 'after-meshlock'));
  if (r.code !== 0) throw new Error(`creating pod ${ns.later}/after-meshlock: ${describeRun(r)}`);
}
const mixNamespaces = Object.values(ns);

// --- PeerAuthentication: Istio's validation webhook and meshlock's ------------------------------
const paNs = uniqueName('pa-both');
await kubectl(['create', 'namespace', paNs]);

t.test("Istio's validation and meshlock both judge a PeerAuthentication: both verdicts are printed", async (t) => {
  // selector {} : Istio warns "workload selector specified without labels" (pkg/config/validation
  // validateWorkloadSelector); PERMISSIVE: meshlock denies pa-mode.
  const r = await apply(peerAuth(paNs, 'empty-selector', { selector: {}, mtls: { mode: 'PERMISSIVE' } }));
  assertDenied(t, r, 'PeerAuthentication', 'empty-selector', ['pa-mode']);
  t.match(r.stderr, /Warning: .*workload selector specified without labels/, "Istio's warning is printed too", {
    output: describeRun(r),
  });
});

t.test("a PeerAuthentication both allow is stored, with Istio's warning and none from meshlock", async (t) => {
  const r = await apply(peerAuth(paNs, 'strict-empty-selector', { selector: {}, mtls: { mode: 'STRICT' } }));
  t.equal(r.code, 0, 'created', { output: describeRun(r) });
  t.match(r.stderr, /Warning: .*workload selector specified without labels/, "Istio's warning", {
    output: describeRun(r),
  });
  t.notMatch(r.stderr, /Warning: pa-/, 'no meshlock warning', { output: describeRun(r) });
});

// --- Cross-check ---------------------------------------------------------------------------------

interface Verdict {
  injected: boolean;
  why: string;
}

/** `istioctl x check-inject -n NS POD`: the table WEBHOOK REVISION INJECTED REASON; injected when any row says ✔. */
function parseCheckInject(r: Run): Verdict | string {
  if (r.code !== 0) return `istioctl x check-inject failed: ${describeRun(r)}`;
  // istioctl colours the ✔/✘ cell (fatih/color) even into a pipe.
  const rows = r.stdout
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('ERROR'))
    .map((l) => l.split(/\s{2,}/));
  if (rows.length === 0) return `istioctl x check-inject printed no webhook: ${describeRun(r)}`;
  const hit = rows.find((cells) => cells[2] === '✔');
  return { injected: Boolean(hit), why: (hit ?? rows[0] ?? []).join(' | ') };
}

interface AuditWorkload {
  namespace: string;
  kind: string;
  name: string;
  meshed: boolean;
  dataplane: string;
  reason?: string;
}

t.test(
  'istioctl x check-inject, istioctl analyze and meshlock audit agree, pod by pod, on who gets a proxy',
  async (t) => {
    const audit = await meshlockCli(
      ['audit', '--kubeconfig', env.kubeconfig, '--format', 'json', '-n', mixNamespaces.join(',')],
      { timeoutMs: 120_000 },
    );
    t.ok(audit.code === 0 || audit.code === 1, 'meshlock audit ran', { output: describeRun(audit) });
    const report = JSON.parse(audit.stdout) as {
      workloads: AuditWorkload[];
      namespaces: { namespace: string; enrolment: string }[];
    };
    const auditOf = (n: string, name: string): Verdict | undefined => {
      const w = report.workloads.find((x) => x.namespace === n && x.kind === 'Pod' && x.name === name);
      return w
        ? {
            injected: w.meshed && w.dataplane === 'sidecar',
            why: w.meshed ? `meshed (${w.dataplane})` : (w.reason ?? 'not meshed'),
          }
        : undefined;
    };

    const pods = (await Promise.all(mixNamespaces.map((n) => listPods(n)))).flat();
    t.equal(pods.length, fixtures.length + 1, 'every pod of the mix exists');
    let injected = 0;
    let notInjected = 0;
    for (const p of pods) {
      const where = `${p.metadata.namespace}/${p.metadata.name}`;
      const actual = proxyOf(p).kind !== 'none';
      if (actual) injected++;
      else notInjected++;
      const a = auditOf(p.metadata.namespace, p.metadata.name);
      if (!a) {
        t.fail(`${where}: meshlock audit has no row for the pod`, {
          workloads: report.workloads.filter((w) => w.namespace === p.metadata.namespace),
        });
        continue;
      }
      t.equal(
        a.injected,
        actual,
        `${where}: meshlock audit matches the stored pod (${actual ? 'has' : 'no'} istio-proxy)`,
        { audit: a },
      );
      // A pod created before its namespace was enrolled: check-inject answers for the next pod
      // (the webhooks select it now), the audit and the stored pod for this one. Compared with
      // `istioctl analyze` below instead.
      if (p.metadata.namespace === ns.stale) continue;
      const ci = parseCheckInject(await istioctl(['x', 'check-inject', '-n', p.metadata.namespace, p.metadata.name]));
      if (typeof ci === 'string') {
        t.fail(`${where}: ${ci}`);
        continue;
      }
      if (ci.injected !== a.injected) {
        t.fail(`${where}: istioctl x check-inject and meshlock audit disagree`, {
          'istioctl x check-inject': `${ci.injected ? 'injected' : 'not injected'}: ${ci.why}`,
          'meshlock audit': `${a.injected ? 'injected' : 'not injected'}: ${a.why}`,
          stored: actual ? 'istio-proxy present' : 'no istio-proxy',
        });
      } else {
        t.pass(
          `${where}: both say ${ci.injected ? 'injected' : 'not injected'} (check-inject: ${ci.why}; audit: ${a.why})`,
        );
      }
    }
    t.ok(injected >= 4 && notInjected >= 4, `the mix has both outcomes (${injected} injected, ${notInjected} not)`);

    // istioctl analyze: IST0102 NamespaceNotInjected and IST0103 PodMissingProxy
    // (pkg/config/analysis/analyzers/injection/injection.go) are the facts it shares with the audit.
    const an = await istioctl(['analyze', '-A', '-o', 'json'], 180_000);
    // analyze exits non-zero when it finds errors or warnings (IST0103 is one).
    const msgs = parseAnalyze(t, an);
    const mine = msgs.filter((m) => mixNamespaces.some((n) => m.resource.includes(n)));
    const missingProxy = mine
      .filter((m) => m.code === 'IST0103')
      .map((m) => m.resource)
      .sort();
    const notInjectedNs = mine
      .filter((m) => m.code === 'IST0102')
      .map((m) => m.resource)
      .sort();
    for (const p of pods) {
      const where = `${p.metadata.namespace}/${p.metadata.name}`;
      const a = auditOf(p.metadata.namespace, p.metadata.name);
      const flagged = missingProxy.some(
        (r) => r.includes(`Pod ${where}`) || r.includes(`${p.metadata.name}.${p.metadata.namespace}`),
      );
      // IST0103 is raised only in istio-injection=enabled namespaces, for pods that do not opt out.
      const auditSaysMissing =
        nsLabels[p.metadata.namespace]?.['istio-injection'] === 'enabled' || p.metadata.namespace === ns.stale
          ? !a?.injected && p.metadata.labels?.['sidecar.istio.io/inject'] !== 'false'
          : false;
      if (flagged !== auditSaysMissing) {
        t.fail(`${where}: istioctl analyze and meshlock audit disagree on a missing proxy`, {
          'istioctl analyze': flagged ? 'IST0103 PodMissingProxy' : 'no IST0103',
          'meshlock audit': a ? `${a.injected ? 'injected' : 'not injected'}: ${a.why}` : 'no row',
          analyze: mine,
        });
      } else {
        t.pass(`${where}: analyze ${flagged ? 'reports IST0103' : 'reports no missing proxy'}, as the audit says`);
      }
    }
    for (const n of mixNamespaces) {
      const row = report.namespaces.find((x) => x.namespace === n);
      const analyzeNot = notInjectedNs.some((r) => r.includes(`Namespace ${n}`) || r.endsWith(` ${n}`) || r === n);
      // The analyzer ignores an explicit istio-injection value other than enabled ("deliberately
      // not injecting") and ambient namespaces; the audit reports those as not enrolled / ambient.
      const auditNot = row?.enrolment === 'not enrolled' && nsLabels[n]?.['istio-injection'] === undefined;
      if (analyzeNot !== auditNot) {
        t.fail(`namespace ${n}: istioctl analyze and meshlock audit disagree on enrolment`, {
          'istioctl analyze': analyzeNot ? 'IST0102 NamespaceNotInjected' : 'no IST0102',
          'meshlock audit': row?.enrolment ?? 'no row',
          labels: nsLabels[n],
        });
      } else {
        t.pass(`namespace ${n}: analyze and audit agree (${row?.enrolment ?? 'no row'})`);
      }
    }
  },
);

interface AnalyzeMessage {
  code: string;
  resource: string;
  message: string;
}

function parseAnalyze(t: Test, r: Run): AnalyzeMessage[] {
  try {
    const raw = JSON.parse(r.stdout) as { code?: string; origin?: string; message?: string }[];
    return raw.map((m) => ({
      code: String(m.code ?? ''),
      resource: String(m.origin ?? ''),
      message: String(m.message ?? ''),
    }));
  } catch (err) {
    t.fail('istioctl analyze -o json printed JSON', { error: String(err), output: describeRun(r) });
    return [];
  }
}
