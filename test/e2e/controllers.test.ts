// meshlock with the writes a real cluster makes: kube-controller-manager's ReplicaSet, Job,
// garbage-collector and namespace controllers create and update objects through meshlock's
// webhooks, and the real istiod injects what meshlock let through.
import t, { type Test } from 'tap';
import { clusterEnv } from './lib/cluster.js';
import { apply, describeRun, getJson, kubectl, uniqueName, type Manifest } from './lib/kubectl.js';
import { install, removeWebhooks, renderDeploy } from './lib/meshlock.js';
import { assertDenied, cronJob, deployment, namespace, peerAuth, pod } from './lib/objects.js';
import {
  listPods,
  mutatedBy,
  proxyOf,
  sidecarStatus,
  waitAuditCreate,
  waitForPods,
  waitGone,
  type PodLike,
} from './lib/controllers.js';

const env = clusterEnv();
const NO_ISTIO = env.istio ? false : 'Istio is not installed (MESHLOCK_E2E_ISTIO=0)';
// Both came with issue #10: the job-native-sidecar mutation and UPDATE ratcheting (without it
// meshlock denied the finalizer removal of a pre-existing violating object and wedged the
// garbage collector). Set to a reason to mark them todo.
const NATIVE_SIDECAR_TODO: string | false = false;
const RATCHET_TODO: string | false = false;

const FINALIZER = 'e2e.meshlock.dev/hold';
const labelsOf = (o: Manifest): Record<string, string> =>
  (o.metadata as { labels?: Record<string, string> }).labels ?? {};

function held(o: Manifest): Manifest {
  return { ...o, metadata: { ...(o.metadata as Record<string, unknown>), finalizers: [FINALIZER] } };
}

function job(ns: string, name: string): Manifest {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      backoffLimit: 0,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
    },
  };
}

// --- Before meshlock: objects that violate its rules, created while its webhooks are absent,
// each held by a finalizer as a controller or an operator would hold them.
await removeWebhooks(await renderDeploy());
const legacyNs = uniqueName('legacy-ns'); // deleted whole
const legacyObjs = uniqueName('legacy-objs'); // objects deleted one by one
const neverLabelled = uniqueName('never-labelled');
for (const ns of [legacyNs, legacyObjs]) {
  const made = [
    await apply(namespace(ns, { 'istio-injection': 'disabled' })),
    await apply(held(pod(ns, 'opted-out', { labels: { 'sidecar.istio.io/inject': 'false' } }))),
    await apply(held(peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } }))),
    await apply(deployment(ns, 'opted-out-deploy', { labels: { 'sidecar.istio.io/inject': 'false' } })),
  ];
  for (const r of made)
    if (r.code !== 0) throw new Error(`creating the pre-existing objects in ${ns}: ${describeRun(r)}`);
  // The ReplicaSet controller creates the Deployment's pod while meshlock is still absent.
  await waitForPods(ns, 'app=opted-out-deploy');
}
{
  const r = await kubectl(['create', 'namespace', neverLabelled]);
  if (r.code !== 0) throw new Error(`creating ${neverLabelled}: ${describeRun(r)}`);
}

const ml = await install({ mode: 'enforce' });
t.teardown(() => ml.uninstall());

/** The create of the pod a controller made, as the audit log recorded it. */
async function podCreate(t: Test, ns: string): Promise<{ user: string; mutated: string[] } | undefined> {
  const evs = await waitAuditCreate('pods', ns);
  t.ok(evs.length > 0, `the audit log records the pod create in ${ns}`);
  const ev = evs[evs.length - 1];
  return ev ? { user: ev.user?.username ?? '', mutated: mutatedBy(ev) } : undefined;
}

function assertInjected(t: Test, p: PodLike): void {
  const proxy = proxyOf(p);
  t.not(proxy.kind, 'none', `pod ${p.metadata.name} runs istio-proxy`, {
    containers: (p.spec.containers ?? []).map((c) => c.name),
    initContainers: (p.spec.initContainers ?? []).map(
      (c) => `${c.name}${c.restartPolicy ? `(${c.restartPolicy})` : ''}`,
    ),
  });
  t.match(
    String(proxy.container?.image ?? ''),
    /proxyv2/,
    "the proxy image is the one Istio's injection template names",
  );
  const status = sidecarStatus(p);
  t.ok(status, 'sidecar.istio.io/status is set', { annotations: p.metadata.annotations });
  t.ok(
    [...(status?.containers ?? []), ...(status?.initContainers ?? [])].includes('istio-proxy'),
    'the status lists istio-proxy',
    { status },
  );
}

t.test(
  "a Deployment in a namespace meshlock labelled: the ReplicaSet's pod gets Istio's proxy",
  { skip: NO_ISTIO },
  async (t) => {
    const ns = uniqueName('deploy-enrolled');
    const c = await kubectl(['create', 'namespace', ns]);
    t.equal(c.code, 0, 'namespace created', { output: describeRun(c) });
    t.equal(
      labelsOf(await getJson(['namespace', ns]))['istio-injection'],
      'enabled',
      'meshlock labelled the namespace',
    );
    const r = await apply(deployment(ns, 'web'));
    t.equal(r.code, 0, 'kubectl apply deployment', { output: describeRun(r) });
    const [p] = await waitForPods(ns, 'app=web');
    if (!p) return;
    t.match(
      p.metadata.generateName ?? '',
      /^web-[a-z0-9]+-$/,
      'the ReplicaSet controller created it with generateName',
    );
    t.equal(p.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet', 'owned by the ReplicaSet');
    assertInjected(t, p);
    const created = await podCreate(t, ns);
    t.equal(
      created?.user,
      'system:serviceaccount:kube-system:replicaset-controller',
      "created with the ReplicaSet controller's own credentials",
    );
    t.ok(
      created?.mutated.includes('istio-sidecar-injector/namespace.sidecar-injector.istio.io'),
      "Istio's namespace webhook injected it",
      { mutated: created?.mutated },
    );
  },
);

t.test(
  "a Deployment in a namespace never labelled: meshlock's pod label and Istio's object selector",
  { skip: NO_ISTIO },
  async (t) => {
    const ns = neverLabelled;
    t.same(
      labelsOf(await getJson(['namespace', ns]))['istio-injection'],
      undefined,
      'the namespace has no injection label',
    );
    const r = await apply(deployment(ns, 'api'));
    t.equal(r.code, 0, 'kubectl apply deployment', { output: describeRun(r) });
    const [p] = await waitForPods(ns, 'app=api');
    if (!p) return;
    t.equal(p.metadata.labels?.['sidecar.istio.io/inject'], 'true', "meshlock's label is on the pod");
    assertInjected(t, p);
    const created = await podCreate(t, ns);
    t.ok(
      created?.mutated.includes('istio-sidecar-injector/object.sidecar-injector.istio.io'),
      "Istio's object webhook injected it",
      { mutated: created?.mutated },
    );
    t.notOk(
      created?.mutated.some((m) => m.includes('/namespace.sidecar-injector')),
      'not through the namespace webhook',
      { mutated: created?.mutated },
    );
  },
);

t.test('a Deployment with an opt-out is refused before Istio sees it', async (t) => {
  const ns = uniqueName('deploy-optout');
  await kubectl(['create', 'namespace', ns]);
  const r = await apply(deployment(ns, 'sneaky', { labels: { 'sidecar.istio.io/inject': 'false' } }));
  assertDenied(t, r, 'Deployment', 'sneaky', ['pod-injection-disabled']);
  const got = await kubectl(['get', 'deployment', 'sneaky', '-n', ns]);
  t.not(got.code, 0, 'no Deployment stored', { output: describeRun(got) });
  const rs = await kubectl(['get', 'replicasets', '-n', ns, '-o', 'name']);
  t.equal(rs.stdout.trim(), '', 'no ReplicaSet created', { output: describeRun(rs) });
  t.same(await listPods(ns), [], 'no pod: the injector never had one to see');
  t.same(await waitAuditCreate('pods', ns, 2000), [], 'the audit log has no pod create in the namespace');
});

t.test("a Job's pod gets the native sidecar", { skip: NO_ISTIO, todo: NATIVE_SIDECAR_TODO }, async (t) => {
  const ns = uniqueName('job');
  await kubectl(['create', 'namespace', ns]);
  const r = await apply(job(ns, 'migrate'));
  t.equal(r.code, 0, 'kubectl apply job', { output: describeRun(r) });
  const [p] = await waitForPods(ns, 'batch.kubernetes.io/job-name=migrate');
  if (!p) return;
  t.equal(p.metadata.ownerReferences?.[0]?.kind, 'Job', 'created by the Job controller');
  t.equal(
    p.metadata.annotations?.['sidecar.istio.io/nativeSidecar'],
    'true',
    "meshlock's job-native-sidecar annotation",
  );
  t.equal(proxyOf(p).kind, 'native-sidecar', 'istio-proxy is an init container with restartPolicy Always', {
    initContainers: p.spec.initContainers,
    containers: (p.spec.containers ?? []).map((c) => c.name),
  });
});

t.test(
  "a CronJob's pod comes through meshlock: the CronJob controller makes the Job, the Job controller its pod",
  { skip: NO_ISTIO },
  async (t) => {
    const ns = uniqueName('cron');
    await kubectl(['create', 'namespace', ns]);
    const c = cronJob(ns, 'nightly');
    (c.spec as { schedule: string }).schedule = '* * * * *';
    const r = await apply(c);
    t.equal(r.code, 0, 'kubectl apply cronjob', { output: describeRun(r) });
    // The CronJob controller starts a Job at the next minute boundary; its pod follows at once.
    const [p] = await waitForPods(ns, 'batch.kubernetes.io/job-name', 150_000);
    if (!p) return;
    const owner = p.metadata.ownerReferences?.[0];
    t.equal(owner?.kind, 'Job', 'created by the Job controller');
    const jobObj = await getJson(['job', '-n', ns, String(owner?.name)]);
    const jobOwner = (jobObj.metadata as { ownerReferences?: { kind?: string; name?: string }[] }).ownerReferences?.[0];
    t.same([jobOwner?.kind, jobOwner?.name], ['CronJob', 'nightly'], 'the Job was made by the CronJob controller');
    t.equal(
      p.metadata.annotations?.['sidecar.istio.io/nativeSidecar'],
      'true',
      "meshlock's job-native-sidecar annotation",
    );
    assertInjected(t, p);
    t.equal(proxyOf(p).kind, 'native-sidecar', 'istio-proxy runs as a native sidecar');
    const created = await podCreate(t, ns);
    t.equal(
      created?.user,
      'system:serviceaccount:kube-system:job-controller',
      "created with the Job controller's credentials",
    );
    await kubectl(['delete', 'cronjob', '-n', ns, 'nightly', '--wait=false']);
  },
);

t.test(
  'pre-existing violating objects: deleting them and removing the finalizer completes',
  { todo: RATCHET_TODO },
  async (t) => {
    const ns = legacyObjs;
    for (const [kind, name] of [
      ['pod', 'opted-out'],
      ['peerauthentication', 'permissive'],
    ] as const) {
      const d = await kubectl(['delete', kind, name, '-n', ns, '--wait=false']);
      t.equal(d.code, 0, `kubectl delete ${kind} ${name}`, { output: describeRun(d) });
      const p = await kubectl([
        'patch',
        kind,
        name,
        '-n',
        ns,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      if (!t.equal(p.code, 0, `removing the finalizer of ${kind} ${name} is allowed`, { output: describeRun(p) }))
        continue;
      const gone = await waitGone([kind, name, '-n', ns], 30_000);
      t.not(gone.code, 0, `${kind} ${name} is gone`, { output: describeRun(gone) });
    }
    // Foreground deletion: the garbage collector adds and removes its finalizer on the Deployment
    // (an UPDATE of an object whose template opts out) and deletes the ReplicaSet and its pod.
    const d = await kubectl([
      'delete',
      'deployment',
      'opted-out-deploy',
      '-n',
      ns,
      '--cascade=foreground',
      '--wait=false',
    ]);
    t.equal(d.code, 0, 'kubectl delete deployment --cascade=foreground', { output: describeRun(d) });
    const gone = await waitGone(['deployment', 'opted-out-deploy', '-n', ns], 60_000);
    t.not(gone.code, 0, 'the garbage collector finished the Deployment', {
      output: describeRun(gone),
      deployment:
        gone.code === 0 ? await kubectl(['get', 'deployment', 'opted-out-deploy', '-n', ns, '-o', 'yaml']) : undefined,
    });
    t.same(
      (await listPods(ns, 'app=opted-out-deploy')).map((p) => p.metadata.name),
      [],
      "and the ReplicaSet's pod",
    );
  },
);

t.test('deleting a namespace full of pre-existing violating objects completes', { todo: RATCHET_TODO }, async (t) => {
  const ns = legacyNs;
  const d = await kubectl(['delete', 'namespace', ns, '--wait=false']);
  t.equal(d.code, 0, 'kubectl delete namespace', { output: describeRun(d) });
  // The objects' own finalizer is released as its owner would: an UPDATE through meshlock of an
  // object that still violates a rule, while the namespace is terminating.
  let released = true;
  for (const [kind, name] of [
    ['pod', 'opted-out'],
    ['peerauthentication', 'permissive'],
  ] as const) {
    const p = await kubectl([
      'patch',
      kind,
      name,
      '-n',
      ns,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    released =
      t.equal(p.code, 0, `removing the finalizer of ${kind} ${name} is allowed`, { output: describeRun(p) }) &&
      released;
  }
  // With a finalizer left in place nothing can finish: do not wait for it.
  if (!released) return;
  const gone = await waitGone(['namespace', ns], 120_000);
  const left =
    gone.code === 0 ? await kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.status.conditions}']) : undefined;
  t.not(gone.code, 0, 'the namespace controller and garbage collector removed everything', {
    output: describeRun(gone),
    conditions: left?.stdout,
  });
});
