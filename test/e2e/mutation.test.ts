// POLICY.md "Mutations" through the real apiserver: what is stored, not what the webhook
// answered. The apiserver applies our JSON Patch, then its own defaulting and validation.
import t from 'tap';
import { apply, describeRun, getJson, kubectl, sleep, uniqueName, type Manifest } from './lib/kubectl.js';
import { install } from './lib/meshlock.js';
import { assertDenied, deployment, namespace, pod } from './lib/objects.js';

const ml = await install({ mode: 'enforce' });
t.teardown(() => ml.uninstall());

const labelsOf = (o: Manifest): Record<string, string> =>
  (o.metadata as { labels?: Record<string, string> }).labels ?? {};

t.test('a new namespace is stored with istio-injection=enabled', async (t) => {
  const ns = uniqueName('fresh');
  const r = await kubectl(['create', 'namespace', ns]);
  t.equal(r.code, 0, 'kubectl create namespace', { output: describeRun(r) });
  const stored = await getJson(['namespace', ns]);
  t.equal(labelsOf(stored)['istio-injection'], 'enabled', 'label added by ns-injection-label');
});

t.test('a namespace that already names a revision or ambient is not given istio-injection', async (t) => {
  const enrolments: Record<string, string>[] = [{ 'istio.io/rev': 'canary' }, { 'istio.io/dataplane-mode': 'ambient' }];
  for (const labels of enrolments) {
    const ns = uniqueName('enrolled');
    const r = await apply(namespace(ns, labels));
    t.equal(r.code, 0, `namespace with ${JSON.stringify(labels)} created`, { output: describeRun(r) });
    const stored = labelsOf(await getJson(['namespace', ns]));
    t.equal(stored['istio-injection'], undefined, 'no istio-injection label added');
  }
});

t.test('a pod is stored with sidecar.istio.io/inject=true', async (t) => {
  const ns = uniqueName('pods');
  await kubectl(['create', 'namespace', ns]);
  const r = await apply(pod(ns, 'web'));
  t.equal(r.code, 0, 'kubectl apply pod', { output: describeRun(r) });
  const stored = await getJson(['pod', 'web', '-n', ns]);
  t.equal(labelsOf(stored)['sidecar.istio.io/inject'], 'true', 'label added by pod-injection-label');
});

t.test("a Deployment's pod template is stored with sidecar.istio.io/inject=true", async (t) => {
  const ns = uniqueName('deploy');
  await kubectl(['create', 'namespace', ns]);
  const r = await apply(deployment(ns, 'api'));
  t.equal(r.code, 0, 'kubectl apply deployment', { output: describeRun(r) });
  const stored = await getJson(['deployment', 'api', '-n', ns]);
  const template = (stored.spec as { template: Manifest }).template;
  t.equal(labelsOf(template)['sidecar.istio.io/inject'], 'true', 'template label added');
  // `kubectl apply` again is a no-op: the mutation is idempotent and kubectl sees no drift
  // that would fight it.
  const again = await apply(deployment(ns, 'api'));
  t.equal(again.code, 0, 'second apply succeeds', { output: describeRun(again) });
});

t.test('kubectl label ns X istio-injection- does not leave the namespace unlabelled', async (t) => {
  const ns = uniqueName('unlabel');
  await kubectl(['create', 'namespace', ns]);
  const r = await kubectl(['label', 'namespace', ns, 'istio-injection-']);
  t.equal(r.code, 0, 'kubectl label succeeds', { output: describeRun(r) });
  const stored = labelsOf(await getJson(['namespace', ns]));
  t.equal(stored['istio-injection'], 'enabled', 'the label is put back on UPDATE');
});

t.test('an explicit istio-injection=disabled is refused', async (t) => {
  const ns = uniqueName('disable');
  await kubectl(['create', 'namespace', ns]);
  const r = await kubectl(['label', 'namespace', ns, 'istio-injection=disabled', '--overwrite']);
  assertDenied(t, r, 'Namespace', ns, ['ns-injection-disabled'], 'kubectl label --overwrite');
  const stored = labelsOf(await getJson(['namespace', ns]));
  t.equal(stored['istio-injection'], 'enabled', 'the stored label is unchanged');
});

// Last: it takes the mutating webhook away and puts it back.
t.test(
  'ns-injection-missing: without the mutating webhook a namespace with no injection label is refused',
  async (t) => {
    for (const cfg of ml.deploy.mutating) {
      const name = String((cfg.metadata as { name: string }).name);
      const r = await kubectl(['delete', 'mutatingwebhookconfiguration', name]);
      t.equal(r.code, 0, `deleted ${name}`, { output: describeRun(r) });
    }
    // The apiserver drops the configuration asynchronously: dry-run until the mutation is gone.
    const deadline = Date.now() + 30_000;
    let last = await kubectl(['create', 'namespace', uniqueName('probe'), '--dry-run=server']);
    while (!/ns-injection-missing/.test(last.stderr) && Date.now() < deadline) {
      await sleep(500);
      last = await kubectl(['create', 'namespace', uniqueName('probe'), '--dry-run=server']);
    }
    const ns = uniqueName('unmutated');
    assertDenied(t, await kubectl(['create', 'namespace', ns]), 'Namespace', ns, ['ns-injection-missing']);
    await ml.applyConfigs(['MutatingWebhookConfiguration']);
  },
);
