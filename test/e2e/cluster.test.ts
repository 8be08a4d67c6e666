// The control plane itself: a real kube-apiserver with Istio's CRDs, driven by kubectl.
// Runs before meshlock is involved, so a failure here is the cluster's, not the product's.
import t from 'tap';
import { clusterEnv } from './lib/cluster.js';
import { apply, describeRun, getJson, kubectl, uniqueName } from './lib/kubectl.js';

const env = clusterEnv();

t.test('the apiserver and kubectl are the pinned release', async (t) => {
  const r = await kubectl(['version', '-o', 'json']);
  t.equal(r.code, 0, 'kubectl version', { output: describeRun(r) });
  const v = JSON.parse(r.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
  t.equal(v.serverVersion.gitVersion, env.k8sVersion, 'server version');
  t.equal(v.clientVersion.gitVersion, env.k8sVersion, 'kubectl version (within the supported skew)');
});

t.test('kubectl get ns lists the system namespaces', async (t) => {
  const r = await kubectl(['get', 'ns', '-o', 'name']);
  t.equal(r.code, 0, 'kubectl get ns', { output: describeRun(r) });
  t.match(r.stdout, /namespace\/default/);
  t.match(r.stdout, /namespace\/kube-system/);
});

t.test('Istio and PolicyReport CRDs are established', async (t) => {
  for (const crd of [
    'peerauthentications.security.istio.io',
    'destinationrules.networking.istio.io',
    'policyreports.wgpolicyk8s.io',
    'clusterpolicyreports.wgpolicyk8s.io',
  ]) {
    const obj = await getJson(['crd', crd]);
    const conditions = (obj.status as { conditions?: { type: string; status: string }[] }).conditions ?? [];
    t.ok(
      conditions.some((c) => c.type === 'Established' && c.status === 'True'),
      `${crd} Established`,
    );
  }
});

t.test('a PeerAuthentication is stored through the real apiserver (no webhook yet)', async (t) => {
  const ns = uniqueName('smoke');
  const mk = await kubectl(['create', 'namespace', ns]);
  t.equal(mk.code, 0, `kubectl create namespace ${ns}`, { output: describeRun(mk) });
  for (const version of ['v1beta1', 'v1']) {
    const name = `strict-${version}`;
    const r = await apply({
      apiVersion: `security.istio.io/${version}`,
      kind: 'PeerAuthentication',
      metadata: { name, namespace: ns },
      spec: { mtls: { mode: 'STRICT' } },
    });
    t.equal(r.code, 0, `kubectl apply of a STRICT ${version} PeerAuthentication`, { output: describeRun(r) });
    t.match(r.stdout, new RegExp(`peerauthentication.security.istio.io/${name} created`));
    const stored = await getJson(['peerauthentication', name, '-n', ns]);
    t.same((stored.spec as { mtls: unknown }).mtls, { mode: 'STRICT' }, `${version} stored`);
  }
  // Istio's own CRD validation (CEL/OpenAPI) runs in this apiserver too.
  const bad = await apply({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'bad-mode', namespace: ns },
    spec: { mtls: { mode: 'NOT-A-MODE' } },
  });
  t.not(bad.code, 0, 'the CRD schema refuses an unknown enum value', { output: describeRun(bad) });
  t.match(bad.stderr, /Unsupported value|NOT-A-MODE/);
});
