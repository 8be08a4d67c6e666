// POLICY.md "Enforcement modes" as kubectl shows them: warn prints meshlock's warnings and
// stores the object; dry-run stores it silently and the would-be decision is only in
// meshlock's log and metrics; a team namespace in dry-run while the rest enforces.
import t from 'tap';
import { apply, describeRun, getJson, kubectl, uniqueName } from './lib/kubectl.js';
import { install, type Installed } from './lib/meshlock.js';
import { assertAllowed, assertDenied, namespace, peerAuth, pod } from './lib/objects.js';

async function withMeshlock(config: Record<string, unknown>, body: (ml: Installed) => Promise<void>): Promise<void> {
  const ml = await install(config);
  try {
    await body(ml);
  } finally {
    await ml.uninstall();
  }
}

t.test('warn: kubectl apply succeeds and prints the warnings', async (t) => {
  await withMeshlock({ mode: 'warn' }, async () => {
    const ns = uniqueName('warn');
    t.equal((await kubectl(['create', 'namespace', ns])).code, 0, 'namespace created');
    const r = await apply(peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } }));
    assertAllowed(t, r, 'a PERMISSIVE PeerAuthentication in warn mode', ['pa-mode']);
    t.match(r.stdout, /peerauthentication.security.istio.io\/permissive created/);
    for (const line of r.stderr.split('\n').filter((l) => l.startsWith('Warning: '))) {
      t.ok(line.length - 'Warning: '.length <= 120, `warning within 120 characters: ${line}`);
    }
    const p = await apply(pod(ns, 'hostnet', { spec: { hostNetwork: true } }));
    assertAllowed(t, p, 'a hostNetwork pod in warn mode', ['pod-host-network']);
    const stored = await getJson(['pod', 'hostnet', '-n', ns]);
    const labels = (stored.metadata as { labels?: Record<string, string> }).labels ?? {};
    t.equal(labels['sidecar.istio.io/inject'], 'true', 'warn mode still mutates');
  });
});

t.test('dry-run: kubectl apply succeeds silently; the decision is in the log and metrics', async (t) => {
  await withMeshlock({ mode: 'dry-run' }, async (ml) => {
    const ns = uniqueName('dryrun');
    t.equal((await kubectl(['create', 'namespace', ns])).code, 0, 'namespace created');
    const stored = await getJson(['namespace', ns]);
    const labels = (stored.metadata as { labels?: Record<string, string> }).labels ?? {};
    t.equal(labels['istio-injection'], undefined, 'no patch applied in dry-run');

    const logBefore = ml.server.log().length;
    const r = await apply(peerAuth(ns, 'permissive-dry', { mtls: { mode: 'PERMISSIVE' } }));
    assertAllowed(t, r, 'a PERMISSIVE PeerAuthentication in dry-run mode');
    t.notMatch(r.stderr, /Warning:/, 'no warning at all');
    t.equal((await kubectl(['get', 'peerauthentication', 'permissive-dry', '-n', ns])).code, 0, 'stored');
    // meshlock writes its log in batches, at least every 250 ms: wait up to 5 s for the line.
    let log = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      log = ml.server.log().slice(logBefore);
      if (/permissive-dry/.test(log)) break;
    }
    t.match(log, /pa-mode/, "meshlock's log names the rule", { log });
    t.match(log, /permissive-dry/, "meshlock's log names the object", { log });
    const metrics = await ml.server.metrics();
    t.match(metrics, /pa-mode/, 'the metrics count the would-be decision for pa-mode', {
      metrics: metrics
        .split('\n')
        .filter((l) => l.startsWith('meshlock'))
        .join('\n'),
    });
  });
});

t.test('a team namespace in dry-run while the rest enforces', async (t) => {
  const team = uniqueName('team');
  await withMeshlock({ mode: 'enforce', namespaces: { [team]: 'dry-run' } }, async () => {
    const a = await apply(namespace(team));
    t.equal(a.code, 0, 'team namespace created', { output: describeRun(a) });
    const other = uniqueName('shop');
    t.equal((await kubectl(['create', 'namespace', other])).code, 0, 'other namespace created');

    const inTeam = await apply(peerAuth(team, 'permissive', { mtls: { mode: 'PERMISSIVE' } }));
    assertAllowed(t, inTeam, 'PERMISSIVE in the team namespace');
    const elsewhere = await apply(peerAuth(other, 'permissive', { mtls: { mode: 'PERMISSIVE' } }));
    assertDenied(t, elsewhere, 'PeerAuthentication', 'permissive', ['pa-mode'], 'PERMISSIVE elsewhere');
    const podInTeam = await apply(pod(team, 'hostnet', { spec: { hostNetwork: true } }));
    assertAllowed(t, podInTeam, 'a hostNetwork pod in the team namespace');
  });
});

t.test('the mode is not read from namespace labels', async (t) => {
  await withMeshlock({ mode: 'enforce' }, async () => {
    const ns = uniqueName('sneaky');
    const r = await apply(namespace(ns, { 'meshlock.io/mode': 'dry-run', 'meshlock/mode': 'dry-run' }));
    t.equal(r.code, 0, 'namespace created', { output: describeRun(r) });
    const pa = await apply(peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } }));
    assertDenied(t, pa, 'PeerAuthentication', 'permissive', ['pa-mode']);
  });
});
