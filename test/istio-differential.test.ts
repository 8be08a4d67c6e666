// Differential property: for random namespaces, pods and policies, `check`'s enrolment answer, the
// audit's meshed answer and the engine's scope answer are the one model of Istio's (policy/istio)
// answers, and never disagree with each other.
import t from 'tap';
import fc from 'fast-check';
import { buildReport } from '../src/audit/build.js';
import { checkObject } from '../src/check/check.js';
import { inventoryOf } from '../src/audit/inventory.js';
import { parseConfigText, resolveConfig } from '../src/config/index.js';
import {
  inputFromObject,
  isSystemNamespace,
  namespaceEnrolment,
  podFacts,
  podMembership,
  violationsOf,
} from '../src/policy/index.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const config = resolveConfig(parseConfigText(''), 'meshlock');
const ctx = { config, now: NOW };

const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const nsName = fc.constantFrom('shop', 'team-a', 'kube-system', 'istio-system', 'meshlock', 'local-path-storage');
const nsLabels = fc.record(
  {
    'istio-injection': opt(fc.constantFrom('enabled', 'disabled', 'Enabled', '')),
    'istio.io/rev': opt(fc.constantFrom('default', 'canary', '')),
    'istio.io/dataplane-mode': opt(fc.constantFrom('ambient', 'none', 'Ambient')),
    team: opt(fc.constantFrom('a', 'b')),
  },
  { requiredKeys: [] },
);
const podLabels = fc.record(
  {
    'sidecar.istio.io/inject': opt(fc.constantFrom('true', 'false', '', 'yes', 'False')),
    'istio.io/rev': opt(fc.constantFrom('default', 'canary', '')),
    'istio.io/dataplane-mode': opt(fc.constantFrom('ambient', 'none')),
    app: opt(fc.constantFrom('web', 'db')),
  },
  { requiredKeys: [] },
);
const podAnnotations = fc.record(
  {
    'sidecar.istio.io/inject': opt(fc.constantFrom('true', 'false', 'no')),
    'sidecar.istio.io/status': opt(fc.constant('{"containers":["istio-proxy"]}')),
    'ambient.istio.io/redirection': opt(fc.constantFrom('enabled', 'pending')),
  },
  { requiredKeys: [] },
);
const proxy = fc.constantFrom('none', 'container', 'native', 'init-only');
const mode = fc.constantFrom(undefined, 'STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET');

const clean = (o: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));

interface Sample {
  ns: string;
  nsLabels: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostNetwork: boolean;
  proxy: string;
  meshMode: string | undefined;
  nsMode: string | undefined;
}

const sample: fc.Arbitrary<Sample> = fc.record({
  ns: nsName,
  nsLabels: nsLabels.map(clean),
  labels: podLabels.map(clean),
  annotations: podAnnotations.map(clean),
  hostNetwork: fc.boolean(),
  proxy,
  meshMode: mode,
  nsMode: mode,
});

function objects(s: Sample): { ns: unknown; pod: Record<string, unknown>; all: unknown[] } {
  const containers: unknown[] = [{ name: 'app', image: 'app:1' }];
  const initContainers: unknown[] = [];
  if (s.proxy === 'container') containers.push({ name: 'istio-proxy', image: 'proxyv2' });
  if (s.proxy === 'native') initContainers.push({ name: 'istio-proxy', image: 'proxyv2', restartPolicy: 'Always' });
  if (s.proxy === 'init-only') initContainers.push({ name: 'istio-proxy', image: 'proxyv2' });
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: s.ns, labels: s.nsLabels } };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: s.ns, labels: s.labels, annotations: s.annotations },
    spec: {
      containers,
      ...(initContainers.length ? { initContainers } : {}),
      ...(s.hostNetwork ? { hostNetwork: true } : {}),
    },
    status: { phase: 'Running' },
  };
  const pa = (namespace: string, name: string, m: string | undefined): unknown => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: m === undefined ? {} : { mtls: { mode: m } },
  });
  return { ns, pod, all: [ns, pod, pa('istio-system', 'default', s.meshMode), pa(s.ns, 'ns', s.nsMode)] };
}

const NOT_ENROLLED = new Set(['ns-injection-missing', 'ns-injection-disabled']);

t.test('check, audit and engine answer enrolment, membership and scope as the Istio model does', async (t) => {
  fc.assert(
    fc.property(sample, (s) => {
      const { ns, pod, all } = objects(s);
      const inScope = !isSystemNamespace(config, s.ns);
      const enrolment = namespaceEnrolment(s.nsLabels);
      const member = podMembership({ name: s.ns, labels: s.nsLabels }, podFacts(pod));

      // check's enrolment answer (the Namespace as written, validated alone).
      const checked = checkObject({ file: 'x.yaml', index: 0, line: 1, object: ns }, ctx, {
        namespace: 'default',
        noMutate: true,
      });
      const checkSaysUnenrolled = checked.rules.some((r) => NOT_ENROLLED.has(r));
      if (checkSaysUnenrolled !== (inScope && !enrolment.enrolled)) return false;

      // The engine's scope answer: namespace-bound rules run exactly outside system namespaces.
      const podViolations = violationsOf(inputFromObject(pod, 'default'), ctx);
      if (!inScope && podViolations.length > 0) return false;

      // The audit's meshed answer.
      const report = buildReport(inventoryOf(structuredClone(all)), ctx, {
        source: { type: 'file', name: 'differential' },
      });
      const row = report.workloads.find((w) => w.namespace === s.ns);
      if (!inScope) return row === undefined;
      if (!row) return false;
      if (row.meshed !== member.meshed || row.dataplane !== member.dataplane) return false;
      if (row.istio?.injection.rule !== member.injection.rule || row.istio?.capture.rule !== member.capture.rule)
        return false;
      if (row.strict && !member.meshed) return false;
      // A pod Istio injects but that runs no proxy and is not captured: "should have a proxy, restart it".
      if (
        !member.meshed &&
        member.injection.injected === true &&
        !/^should have a proxy, restart it/.test(row.reason ?? '')
      )
        return false;
      if (row.reason !== undefined && /disables injection/.test(row.reason) && member.injection.injected !== false)
        return false;
      const nsRow = report.namespaces.find((n) => n.namespace === s.ns);
      if (nsRow?.enrolment !== enrolment.via) return false;

      // Enrolment and membership agree: an enrolled namespace serves a pod that opts out of nothing.
      const plain =
        Object.keys(s.labels).every((k) => k === 'app') && Object.keys(s.annotations).length === 0 && !s.hostNetwork;
      if (plain && enrolment.enrolled && member.injection.injected !== true && member.capture.captured !== true)
        return false;
      // ...and a namespace check calls unenrolled serves such a pod by neither injection nor capture.
      if (plain && checkSaysUnenrolled && (member.injection.injected === true || member.capture.captured === true))
        return false;
      return true;
    }),
    { numRuns: 400 },
  );
  t.pass('400 random namespaces, pods and policies: no disagreement');
});
