// Safe on a live cluster, through the real apiserver and kubectl: a pod that violated the rules
// before meshlock was installed can still finish terminating (ratcheting), a Job template is stored
// with the native-sidecar annotation, an ambient namespace's pods get no injection label, and an edge
// lets a PeerAuthentication through with exactly its port PERMISSIVE.
import t from 'tap';
import { apply, describeRun, getJson, kubectl, sleep, uniqueName, type Manifest } from './lib/kubectl.js';
import { install } from './lib/meshlock.js';
import { assertDenied, namespace, peerAuth, pod } from './lib/objects.js';

const labelsOf = (o: Manifest): Record<string, string> =>
  (o.metadata as { labels?: Record<string, string> }).labels ?? {};
const annotationsOf = (o: Manifest): Record<string, string> =>
  (o.metadata as { annotations?: Record<string, string> }).annotations ?? {};

// Before meshlock: a pod that opts out of injection and holds a finalizer, as a cluster that
// predates meshlock has them (an operator's cleanup finalizer, a legacy opt-out).
const legacyNs = uniqueName('legacy');
const legacy = pod(legacyNs, 'legacy-agent', { labels: { 'sidecar.istio.io/inject': 'false' } });
(legacy.metadata as Record<string, unknown>)['finalizers'] = ['example.com/cleanup'];
{
  const ns = await kubectl(['create', 'namespace', legacyNs]);
  const p = await apply(legacy);
  if (ns.code !== 0 || p.code !== 0)
    throw new Error(`creating the pre-existing pod before meshlock: ${describeRun(ns)} ${describeRun(p)}`);
}

const edgeNs = uniqueName('ingress');
const ml = await install({
  mode: 'enforce',
  edges: [
    {
      namespace: edgeNs,
      selector: { matchLabels: { 'app.kubernetes.io/component': 'controller' } },
      ports: [8443],
      reason: 'the apiserver calls the admission webhook',
    },
  ],
});
t.teardown(() => ml.uninstall());

t.test(
  'a pre-existing non-compliant pod with a finalizer is deleted and its finalizer removed after install, and it goes away',
  async (t) => {
    const del = await kubectl(['delete', 'pod', 'legacy-agent', '-n', legacyNs, '--wait=false']);
    t.equal(del.code, 0, 'kubectl delete', { output: describeRun(del) });
    const terminating = await getJson(['pod', 'legacy-agent', '-n', legacyNs]);
    t.ok(
      (terminating.metadata as Record<string, unknown>)['deletionTimestamp'],
      'the pod is terminating, held by its finalizer',
    );
    // The controller's UPDATE: it removes its finalizer. meshlock sees the opt-out label, which the
    // pod already had: allowed, with a pre-existing warning.
    const patch = await kubectl([
      'patch',
      'pod',
      'legacy-agent',
      '-n',
      legacyNs,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    t.equal(patch.code, 0, 'the finalizer removal is allowed', { output: describeRun(patch) });
    t.match(
      patch.stderr,
      /Warning: pod-injection-disabled \(pre-existing\): /,
      'kubectl prints the pre-existing warning',
    );
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      const r = await kubectl(['get', 'pod', 'legacy-agent', '-n', legacyNs]);
      gone = r.code !== 0 && /NotFound/.test(r.stderr);
      if (!gone) await sleep(250);
    }
    t.ok(gone, 'the pod is gone');
  },
);

t.test('an UPDATE that adds an opt-out label to a running pod is still denied', async (t) => {
  const ns = uniqueName('ratchet');
  await kubectl(['create', 'namespace', ns]);
  const created = await apply(pod(ns, 'web'));
  t.equal(created.code, 0, 'pod created', { output: describeRun(created) });
  const r = await kubectl(['label', 'pod', 'web', '-n', ns, 'sidecar.istio.io/inject=false', '--overwrite']);
  assertDenied(t, r, 'Pod', 'web', ['pod-injection-disabled'], 'kubectl label --overwrite');
});

t.test('a Job template is stored with sidecar.istio.io/nativeSidecar: "true"', async (t) => {
  const ns = uniqueName('jobs');
  await kubectl(['create', 'namespace', ns]);
  const job: Manifest = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'migrate', namespace: ns },
    spec: {
      template: {
        metadata: { labels: { app: 'migrate' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'registry.invalid/migrate:1' }] },
      },
    },
  };
  const r = await apply(job);
  t.equal(r.code, 0, 'kubectl apply job', { output: describeRun(r) });
  const stored = await getJson(['job', 'migrate', '-n', ns]);
  const template = (stored.spec as { template: Manifest }).template;
  t.equal(annotationsOf(template)['sidecar.istio.io/nativeSidecar'], 'true', 'annotation added by job-native-sidecar');
  t.equal(labelsOf(template)['sidecar.istio.io/inject'], 'true', 'and the injection label');
});

t.test('a pod in a namespace labelled ambient is stored without an injection label', async (t) => {
  const ns = uniqueName('ambient');
  const n = await apply(namespace(ns, { 'istio.io/dataplane-mode': 'ambient' }));
  t.equal(n.code, 0, 'ambient namespace created', { output: describeRun(n) });
  const r = await apply(pod(ns, 'web'));
  t.equal(r.code, 0, 'pod created', { output: describeRun(r) });
  const stored = await getJson(['pod', 'web', '-n', ns]);
  t.equal(labelsOf(stored)['sidecar.istio.io/inject'], undefined, 'no sidecar.istio.io/inject label');
  // The control: the same pod in a sidecar namespace is labelled.
  const other = uniqueName('sidecar');
  await kubectl(['create', 'namespace', other]);
  await apply(pod(other, 'web'));
  t.equal(
    labelsOf(await getJson(['pod', 'web', '-n', other]))['sidecar.istio.io/inject'],
    'true',
    'a pod in a sidecar namespace is labelled',
  );
});

t.test('an edge lets a PeerAuthentication with its webhook port PERMISSIVE through, and no other port', async (t) => {
  await kubectl(['create', 'namespace', edgeNs]);
  const selector = { matchLabels: { 'app.kubernetes.io/component': 'controller' } };
  const ok = await apply(
    peerAuth(edgeNs, 'controller-webhook', {
      selector,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8443: { mode: 'PERMISSIVE' } },
    }),
  );
  t.equal(ok.code, 0, 'PERMISSIVE on the edge port is allowed', { output: describeRun(ok) });
  const other = await apply(
    peerAuth(edgeNs, 'controller-metrics', {
      selector,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 10254: { mode: 'PERMISSIVE' } },
    }),
  );
  assertDenied(t, other, 'PeerAuthentication', 'controller-metrics', ['pa-port-mode'], 'another port');
  const disable = await apply(
    peerAuth(edgeNs, 'controller-disable', {
      selector,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8443: { mode: 'DISABLE' } },
    }),
  );
  assertDenied(t, disable, 'PeerAuthentication', 'controller-disable', ['pa-port-mode'], 'DISABLE on the edge port');
});
