// meshlock's mutation must run before Istio's injector. The apiserver calls mutating
// webhook configurations in order of their names, and Istio's injector registers with
// reinvocationPolicy: Never, so if meshlock ran after it, a pod whose only enrolment is the
// label meshlock adds would reach the store without a sidecar.
// Against Istio's real injector when up.sh installed Istio (the default), else against a
// stand-in registered the way Istio's chart registers it (MESHLOCK_E2E_ISTIO=0).
import t from 'tap';
import { apply, describeRun, getJson, kubectl, sleep, uniqueName, type Manifest } from './lib/kubectl.js';
import { INJECTOR_CONFIG, startInjector } from './lib/injector.js';
import { certs, install, removeWebhooks, renderDeploy } from './lib/meshlock.js';
import { pod } from './lib/objects.js';
import { clusterEnv } from './lib/cluster.js';
import { auditCreates, mutatedBy, proxyOf, type PodLike } from './lib/controllers.js';

const realIstio = clusterEnv().istio;
const injector = realIstio ? undefined : await startInjector(await certs());
const removeInjector = async (): Promise<void> => {
  if (!injector) return; // Istio's own configuration stays: up.sh installed it
  await kubectl(['delete', 'mutatingwebhookconfiguration', INJECTOR_CONFIG, '--ignore-not-found']);
  await injector.close();
};

/** Which of Istio's webhooks injected the pod: the stand-in's call log, or for the real injector
 * the apiserver's audit annotations (mutation.webhook.admission.k8s.io/round_*_index_*). */
async function injectedThrough(webhook: 'namespace' | 'object', ns: string, name: string): Promise<boolean> {
  if (injector)
    return injector.calls.some(
      (c) =>
        c.webhook === `/inject/${webhook === 'namespace' ? 'ns' : 'object'}` &&
        c.namespace === ns &&
        (webhook === 'namespace' || c.name === name),
    );
  for (let i = 0; i < 30; i++) {
    const ev = auditCreates('pods', ns).find((e) => e.objectRef?.name === name && (e.responseStatus?.code ?? 0) < 300);
    if (ev) return mutatedBy(ev).includes(`${INJECTOR_CONFIG}/${webhook}.sidecar-injector.istio.io`);
    await sleep(300);
  }
  return false;
}
t.teardown(removeInjector);

const containersOf = (o: Manifest): string[] =>
  ((o.spec as { containers: { name: string }[] }).containers ?? []).map((c) => c.name);
// istio-proxy as a container (the stand-in, Istio without native sidecars) or as a native sidecar
// (an init container with restartPolicy Always, what the real injector adds on this Kubernetes).
const hasProxy = (o: Manifest): boolean => proxyOf(o as PodLike).kind !== 'none';
const allContainersOf = (o: Manifest): string[] => [
  ...((o.spec as { initContainers?: { name: string }[] }).initContainers ?? []).map((c) => `init:${c.name}`),
  ...containersOf(o),
];

// Before meshlock is installed: the injector's configuration, a namespace without any
// label (nothing adds one yet) and a labelled namespace to see the injector answer.
const plain = uniqueName('plain');
const labelled = uniqueName('labelled');
try {
  // No meshlock configuration may be left from an earlier file that died: this part runs
  // before meshlock is installed.
  await removeWebhooks(await renderDeploy());
  if (injector) {
    const r = await apply(injector.config());
    if (r.code !== 0) throw new Error(`installing the stand-in injector: ${describeRun(r)}`);
  }
  const a = await kubectl(['create', 'namespace', plain]);
  const b = await kubectl(['create', 'namespace', labelled]);
  await kubectl(['label', 'namespace', labelled, 'istio-injection=enabled']);
  if (a.code !== 0 || b.code !== 0) throw new Error(`creating namespaces: ${describeRun(a)}\n${describeRun(b)}`);
  // Wait until the apiserver calls the injector (configurations load asynchronously).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = await kubectl([
      'run',
      uniqueName('probe'),
      '-n',
      labelled,
      '--image=registry.invalid/x:1',
      '--dry-run=server',
      '-o',
      'json',
    ]);
    if (probe.code === 0 && hasProxy(JSON.parse(probe.stdout) as Manifest)) break;
    if (Date.now() > deadline) throw new Error(`the injector was never called: ${describeRun(probe)}`);
    await sleep(500);
  }
} catch (err) {
  // A configuration left behind would point every later pod creation at a closed port.
  await removeInjector();
  throw err;
}

// The control, before meshlock is installed. (tap ends a file's root test once its queue is
// idle, so every t.test below is declared after the last top-level await.)
const before = await apply(pod(plain, 'before-meshlock'));
const beforeStored = before.code === 0 ? await getJson(['pod', 'before-meshlock', '-n', plain]) : undefined;

const ml = await install({ mode: 'enforce' }).catch(async (err: unknown) => {
  await removeInjector();
  throw err;
});
t.teardown(() => ml.uninstall());

t.test('without meshlock, a pod in a namespace with no labels gets no sidecar (the control)', async (t) => {
  t.equal(before.code, 0, 'created', { output: describeRun(before) });
  t.same(beforeStored ? allContainersOf(beforeStored) : undefined, ['app'], 'no istio-proxy');
});

t.test("meshlock's mutating configuration sorts before Istio's injector", async (t) => {
  for (const cfg of ml.deploy.mutating) {
    const name = String((cfg.metadata as { name: string }).name);
    t.ok(name < INJECTOR_CONFIG, `${name} < ${INJECTOR_CONFIG}`);
  }
});

t.test('a pod created in a namespace without labels ends up with the proxy', async (t) => {
  const nsLabels = ((await getJson(['namespace', plain])).metadata as { labels?: Record<string, string> }).labels ?? {};
  t.equal(nsLabels['istio-injection'], undefined, 'the namespace still has no injection label');
  const r = await apply(pod(plain, 'after-meshlock'));
  t.equal(r.code, 0, 'created', { output: describeRun(r) });
  const stored = await getJson(['pod', 'after-meshlock', '-n', plain]);
  const labels = (stored.metadata as { labels?: Record<string, string> }).labels ?? {};
  t.equal(labels['sidecar.istio.io/inject'], 'true', "meshlock's label is stored");
  t.ok(hasProxy(stored), "Istio's object webhook saw meshlock's label: istio-proxy injected", {
    containers: allContainersOf(stored),
  });
  t.ok(
    await injectedThrough('object', plain, 'after-meshlock'),
    'the call came through object.sidecar-injector.istio.io',
  );
});

t.test('a pod in a namespace meshlock labelled gets the proxy through the namespace webhook', async (t) => {
  const ns = uniqueName('mutated');
  await kubectl(['create', 'namespace', ns]);
  const r = await apply(pod(ns, 'web'));
  t.equal(r.code, 0, 'created', { output: describeRun(r) });
  const stored = await getJson(['pod', 'web', '-n', ns]);
  t.ok(hasProxy(stored), 'istio-proxy injected', { containers: allContainersOf(stored) });
  t.ok(await injectedThrough('namespace', ns, 'web'), 'through namespace.sidecar-injector.istio.io');
});
