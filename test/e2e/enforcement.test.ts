// Server-side dry run and failurePolicy: Fail, through the real apiserver.
import t from 'tap';
import { apply, describeRun, getJson, kubectl, uniqueName } from './lib/kubectl.js';
import { install } from './lib/meshlock.js';
import { assertDenied, deployment, peerAuth, pod } from './lib/objects.js';

const ml = await install({ mode: 'enforce' });
t.teardown(() => ml.uninstall());

t.test('kubectl apply --dry-run=server gets the same decision and changes nothing', async (t) => {
  const ns = uniqueName('dry');
  t.equal((await kubectl(['create', 'namespace', ns])).code, 0, 'namespace created');

  const bad = await apply(peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } }), ['--dry-run=server']);
  assertDenied(t, bad, 'PeerAuthentication', 'permissive', ['pa-mode'], '--dry-run=server');

  const good = await apply(peerAuth(ns, 'strict', { mtls: { mode: 'STRICT' } }), ['--dry-run=server']);
  t.equal(good.code, 0, 'a compliant object passes the dry run', { output: describeRun(good) });
  t.match(good.stdout, /created \(server dry run\)/);
  const absent = await kubectl(['get', 'peerauthentication', 'strict', '-n', ns]);
  t.not(absent.code, 0, 'and is not stored', { output: describeRun(absent) });

  // The mutation shows in the dry run's answer but nothing is stored.
  const nsName = uniqueName('dryns');
  const dryNs = await kubectl(['create', 'namespace', nsName, '--dry-run=server', '-o', 'json']);
  t.equal(dryNs.code, 0, 'namespace dry run', { output: describeRun(dryNs) });
  const labels = (JSON.parse(dryNs.stdout) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {};
  t.equal(labels['istio-injection'], 'enabled', 'the dry-run answer carries the patch');
  t.not((await kubectl(['get', 'namespace', nsName])).code, 0, 'the namespace was not created');
});

t.test('the webhook configurations fail closed', async (t) => {
  for (const cfg of [...ml.deploy.mutating, ...ml.deploy.validating]) {
    const name = String((cfg.metadata as { name: string }).name);
    const live = await getJson([String(cfg.kind).toLowerCase(), name]);
    for (const wh of (live.webhooks as { name: string; failurePolicy?: string }[]) ?? []) {
      t.equal(wh.failurePolicy, 'Fail', `${name}: ${wh.name} failurePolicy`);
    }
  }
});

// Last: it stops the server.
t.test('failurePolicy Fail: with meshlock stopped, a PeerAuthentication cannot be created', async (t) => {
  const ns = uniqueName('down');
  t.equal((await kubectl(['create', 'namespace', ns])).code, 0, 'namespace created while meshlock runs');
  await ml.server.stop();

  const r = await apply(peerAuth(ns, 'strict', { mtls: { mode: 'STRICT' } }));
  t.not(r.code, 0, 'even a STRICT PeerAuthentication is refused while the webhook is down', { output: describeRun(r) });
  t.match(r.stderr, /failed calling webhook/, 'kubectl says the webhook could not be called', {
    output: describeRun(r),
  });
  const mesh = await apply(peerAuth('istio-system', uniqueName('mesh'), { mtls: { mode: 'PERMISSIVE' } }));
  t.not(mesh.code, 0, 'nothing slips through in the root namespace either', { output: describeRun(mesh) });
  const p = await apply(pod(ns, 'web'));
  t.not(p.code, 0, 'a pod in an application namespace is refused', { output: describeRun(p) });

  for (const sys of ['kube-system', ml.deploy.namespace]) {
    const sp = await apply(pod(sys, uniqueName('sys')));
    t.equal(sp.code, 0, `a pod in ${sys} is still created`, { output: describeRun(sp) });
    const sd = await apply(deployment(sys, uniqueName('sys')));
    t.equal(sd.code, 0, `a Deployment in ${sys} is still created`, { output: describeRun(sd) });
  }
});
