// The watching audit's memory, at unit scale: 10,000 pods as the apiserver returns them (managed
// fields, status, volumes, env), each parsed fresh as from the wire, kept stripped as the reflector
// keeps them. The heap they hold is measured after a full GC; the whole-cluster figure is
// bench/audit-watch-memory.mjs (50,000 pods through real watches, under 512 MiB).
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import { stripForAudit } from '../src/audit/strip.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function wirePod(i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `app-${i}-7d9f8b6c5d-${i.toString(36)}`,
      namespace: `team-${i % 1000}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
      labels: { app: `app-${i % 10}`, 'pod-template-hash': '7d9f8b6c5d', 'security.istio.io/tlsMode': 'istio' },
      annotations: {
        'sidecar.istio.io/status':
          '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy"],"revision":"default"}',
        'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(600),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `app-${i}-7d9f8b6c5d`,
          uid: 'u',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-01-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': {
              'f:containers': {
                'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:ports': {}, 'f:resources': {} },
              },
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-01-01T00:00:05Z',
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:phase': {}, 'f:podIP': {} } },
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.0',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'A', value: 'b' },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m' } },
          volumeMounts: [{ name: 'token', mountPath: '/var/run/secrets' }],
          readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
          terminationMessagePath: '/dev/termination-log',
        },
        {
          name: 'istio-proxy',
          image: 'docker.io/istio/proxyv2:1.28.0',
          args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local'],
          env: Array.from({ length: 20 }, (_, k) => ({ name: `ISTIO_META_${k}`, value: 'v'.repeat(20) })),
          securityContext: { runAsUser: 1337, runAsGroup: 1337 },
          volumeMounts: Array.from({ length: 8 }, (_, k) => ({ name: `v${k}`, mountPath: `/etc/istio/${k}` })),
        },
      ],
      initContainers: [
        {
          name: 'istio-init',
          image: 'docker.io/istio/proxyv2:1.28.0',
          args: ['istio-iptables', '-p', '15001'],
          securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        },
      ],
      volumes: Array.from({ length: 8 }, (_, k) => ({ name: `v${k}`, emptyDir: { medium: 'Memory' } })),
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      nodeName: `node-${i % 100}`,
    },
    status: {
      phase: 'Running',
      podIP: '10.0.0.1',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastTransitionTime: '2026-01-01T00:00:03Z',
      })),
      containerStatuses: ['app', 'istio-proxy'].map((name) => ({
        name,
        ready: true,
        restartCount: 0,
        image: 'x',
        imageID: `x@sha256:${'0'.repeat(64)}`,
        containerID: `containerd://${'a'.repeat(64)}`,
        state: { running: { startedAt: '2026-01-01T00:00:02Z' } },
      })),
    },
  });
}

function heldBy(
  n: number,
  keep: (o: Record<string, unknown>) => Record<string, unknown>,
): { bytes: number; store: Map<string, unknown> } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const store = new Map<string, unknown>();
  for (let i = 0; i < n; i++) store.set(String(i), keep(JSON.parse(wirePod(i)) as Record<string, unknown>));
  gc();
  return { bytes: process.memoryUsage().heapUsed - before, store };
}

t.test('stripped pods hold a fraction of the heap full ones do', async (t) => {
  const N = 10_000;
  const raw = heldBy(N, (o) => o);
  const rawPerPod = raw.bytes / N;
  raw.store.clear();
  const stripped = heldBy(N, stripForAudit);
  const perPod = stripped.bytes / N;
  const sample = stripped.store.get('1') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.comment(
    `per pod: ${Math.round(rawPerPod)} bytes full, ${Math.round(perPod)} bytes stripped; 50,000 pods stripped: ${((perPod * 50_000) / (1 << 20)).toFixed(0)} MiB`,
  );
  t.ok(perPod < rawPerPod / 2, 'stripping keeps less than half');
  t.ok((perPod * 50_000) / (1 << 20) < 200, "50,000 stripped pods fit in well under the audit's 512 MiB");
  // What the rules read is still there.
  t.equal(sample['spec']['containers'][1]['image'], 'docker.io/istio/proxyv2:1.28.0');
  t.same(sample['spec']['containers'][1]['securityContext'], { runAsUser: 1337, runAsGroup: 1337 });
  t.same(sample['spec']['initContainers'][0]['securityContext'], { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
  t.match(sample['metadata']['annotations']['sidecar.istio.io/status'], /revision/);
  t.same(sample['status'], { phase: 'Running' });
  t.equal(sample['metadata']['managedFields'], undefined);
  t.equal(sample['spec']['volumes'], undefined);
});

t.test('a Secret keeps its certificates and never its key', async (t) => {
  const s = stripForAudit({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'meshlock-tls', namespace: 'meshlock' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5', 'ca.crt': 'Y2E=', 'ca.key': 'a2V5' },
  });
  t.same(s['data'], { 'tls.crt': 'Y2VydA==', 'ca.crt': 'Y2E=' });
});

t.test('templates of controllers are stripped like pods; everything else keeps its spec', async (t) => {
  const d = stripForAudit({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'a', namespace: 'n', managedFields: [{}] },
    spec: {
      replicas: 2,
      template: {
        metadata: { labels: { app: 'a' } },
        spec: {
          hostNetwork: true,
          containers: [{ name: 'c', image: 'i', env: [{ name: 'X' }] }],
          volumes: [{ name: 'v' }],
        },
      },
    },
    status: { replicas: 2 },
  }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(d['spec'], {
    replicas: 2,
    template: {
      metadata: { labels: { app: 'a' } },
      spec: { hostNetwork: true, containers: [{ name: 'c', image: 'i' }] },
    },
  });
  t.equal(d['status'], undefined);
  const cj = stripForAudit({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'c', namespace: 'n' },
    spec: {
      schedule: '* * * * *',
      jobTemplate: {
        spec: {
          template: {
            metadata: { annotations: { 'sidecar.istio.io/inject': 'false' } },
            spec: { containers: [{ name: 'c', env: [] }], volumes: [] },
          },
        },
      },
    },
  }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(cj['spec']['jobTemplate']['spec']['template'], {
    metadata: { annotations: { 'sidecar.istio.io/inject': 'false' } },
    spec: { containers: [{ name: 'c' }] },
  });
  const pa = {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'p', namespace: 'n' },
    spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { 80: { mode: 'DISABLE' } } },
  };
  t.same(stripForAudit(pa)['spec'], pa.spec);
});
