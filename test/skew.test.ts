// Data-plane version skew: proxies against the control plane serving their revision.
import t from 'tap';
import { defaultConfig } from '../src/config/index.js';
import { inventoryOf } from '../src/audit/inventory.js';
import { controlPlaneVersions, versionSkewFindings } from '../src/audit/skew.js';
import { imageVersion, proxyRevision } from '../src/policy/istio/index.js';

const istiod = (rev: string | undefined, image: string): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: rev ? `istiod-${rev}` : 'istiod',
    namespace: 'istio-system',
    labels: { app: 'istiod', ...(rev ? { 'istio.io/rev': rev } : {}) },
  },
  spec: { template: { spec: { containers: [{ name: 'discovery', image }] } } },
});

const pod = (
  ns: string,
  name: string,
  image: string | undefined,
  status?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `${name}-7d9f8b6c5d-x1`,
    namespace: ns,
    labels: { app: name, 'pod-template-hash': '7d9f8b6c5d' },
    annotations: status ? { 'sidecar.istio.io/status': JSON.stringify(status) } : {},
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-7d9f8b6c5d`, controller: true }],
  },
  spec: { containers: [{ name: 'app', image: 'nginx' }, ...(image ? [{ name: 'istio-proxy', image }] : [])], ...extra },
  status: { phase: 'Running' },
});

t.test('image versions', async (t) => {
  t.same(imageVersion('docker.io/istio/proxyv2:1.28.0'), { major: 1, minor: 28, text: '1.28.0' });
  t.same(imageVersion('gcr.io/istio-release/proxyv2:1.26.2-distroless'), { major: 1, minor: 26, text: '1.26.2' });
  t.same(imageVersion('registry:5000/istio/proxyv2:1.27.1@sha256:abc'), { major: 1, minor: 27, text: '1.27.1' });
  t.equal(imageVersion('registry:5000/istio/proxyv2'), undefined, 'a port is not a tag');
  t.equal(imageVersion('istio/proxyv2@sha256:abc'), undefined, 'digest only');
  t.equal(imageVersion('istio/proxyv2:latest'), undefined);
  t.equal(proxyRevision({ 'sidecar.istio.io/status': JSON.stringify({ revision: 'canary' }) }, {}), 'canary');
  t.equal(proxyRevision({ 'sidecar.istio.io/status': '{"revision":""}', 'istio.io/rev': 'blue' }, {}), 'blue');
  t.equal(proxyRevision({ 'sidecar.istio.io/status': 'not json' }, { 'istio.io/rev': 'green' }), 'green');
  t.equal(proxyRevision({}, {}), 'default');
});

t.test(
  'one finding per workload: two minors behind, ahead of the control plane, or an unserved revision',
  async (t) => {
    const inv = inventoryOf([
      istiod(undefined, 'docker.io/istio/pilot:1.28.1'),
      istiod('canary', 'docker.io/istio/pilot:1.29.0'),
      pod('shop', 'current', 'docker.io/istio/proxyv2:1.28.0', { revision: 'default' }),
      pod('shop', 'one-behind', 'docker.io/istio/proxyv2:1.27.3', { revision: 'default' }),
      pod('shop', 'two-behind', 'docker.io/istio/proxyv2:1.26.0', { revision: 'default' }),
      pod('shop', 'ahead', 'docker.io/istio/proxyv2:1.29.0', { revision: 'default' }),
      pod('shop', 'canary-old', 'docker.io/istio/proxyv2:1.27.0', { revision: 'canary' }),
      pod('shop', 'orphan', 'docker.io/istio/proxyv2:1.28.0', { revision: '1-24' }),
      pod('shop', 'plain', undefined),
      pod('kube-system', 'sys', 'docker.io/istio/proxyv2:1.20.0', { revision: 'old' }),
    ]);
    const versions = controlPlaneVersions(inv, 'istio-system');
    t.same(Object.fromEntries([...versions].map(([k, v]) => [k, v.text])), { default: '1.28.1', canary: '1.29.0' });
    const f = versionSkewFindings(inv, defaultConfig());
    t.same(
      f.map((x) => `${x.rule} ${x.severity} ${x.kind}/${x.name}`),
      [
        'dataplane-version-skew warning Deployment/ahead',
        'dataplane-version-skew warning Deployment/canary-old',
        'dataplane-revision-unserved error Deployment/orphan',
        'dataplane-version-skew warning Deployment/two-behind',
      ],
    );
    t.match(
      f.find((x) => x.name === 'two-behind')?.message,
      /1 pod run proxy 1\.26\.0 .*behind control plane 1\.28\.1 of revision default/,
    );
    t.match(
      f.find((x) => x.name === 'orphan')?.message,
      /revision 1-24, which no control plane serves \(served: canary, default\)/,
    );
    t.same(f.find((x) => x.name === 'orphan')?.controls.length, 4, 'mapped to the transmission controls');
  },
);

t.test('no control plane in the input: nothing to compare with, no findings', async (t) => {
  t.same(
    versionSkewFindings(
      inventoryOf([pod('shop', 'a', 'docker.io/istio/proxyv2:1.20.0', { revision: 'x' })]),
      defaultConfig(),
    ),
    [],
  );
});
