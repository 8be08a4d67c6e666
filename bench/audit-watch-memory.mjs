// Memory of `meshlock audit --watch` over the generated 50,000-pod cluster (bench/cluster-gen.mjs),
// served by a stand-in apiserver (test/lib/fake-apiserver.ts: paged lists, streaming watches) with
// pods as the apiserver returns them: managed fields, status conditions and container statuses,
// the service-account token volume, env, tolerations. The audit runs in its own process; this
// script reads its resident memory from its own /metrics after the first complete audit and again
// after churn (pods relabelled, deleted and re-created through the watch), and its peak RSS at exit.
// Target: under 512 MiB (the limit deploy/audit/ sets). Run: npm run build && node bench/audit-watch-memory.mjs
// Options (env): BENCH_NAMESPACES (5000), BENCH_PODS (50000), BENCH_CHURN (5000 pod events),
// BENCH_MALLOC_ARENA_MAX (2, as deployed).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { generateCluster } from './cluster-gen.mjs';
import { startFakeApiserver } from '../test/lib/fake-apiserver.ts';

const root = resolve(import.meta.dirname, '..');
const NS = Number(process.env.BENCH_NAMESPACES ?? 5000);
const PODS = Number(process.env.BENCH_PODS ?? 50000);
const CHURN = Number(process.env.BENCH_CHURN ?? 5000);
const LIMIT_MIB = 512;

const RESOURCES = {
  Namespace: ['v1', 'namespaces'],
  Pod: ['v1', 'pods'],
  Deployment: ['apps/v1', 'deployments'],
  ReplicaSet: ['apps/v1', 'replicasets'],
  PeerAuthentication: ['security.istio.io/v1', 'peerauthentications'],
  DestinationRule: ['networking.istio.io/v1', 'destinationrules'],
};
const SERVED = [
  ...Object.values(RESOURCES).map(([a, r]) => `${a}/${r}`),
  'apps/v1/statefulsets',
  'apps/v1/daemonsets',
  'batch/v1/jobs',
  'batch/v1/cronjobs',
  'v1/replicationcontrollers',
  'v1/secrets',
  'admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  'admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
];

/** A pod as the apiserver returns it, not as a manifest: what the audit has to strip. */
function realistic(pod, i) {
  const m = pod.metadata;
  m.uid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  m.resourceVersion = String(1000 + i);
  m.creationTimestamp = '2026-01-01T00:00:00Z';
  m.managedFields = [
    {
      manager: 'kube-controller-manager',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2026-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': {
          'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} },
          'f:ownerReferences': { '.': {}, [`k:{"uid":"${m.uid}"}`]: {} },
        },
        'f:spec': {
          'f:containers': {
            'k:{"name":"app"}': {
              '.': {},
              'f:image': {},
              'f:imagePullPolicy': {},
              'f:name': {},
              'f:ports': {},
              'f:resources': {},
              'f:terminationMessagePath': {},
            },
          },
          'f:dnsPolicy': {},
          'f:restartPolicy': {},
          'f:schedulerName': {},
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
      fieldsV1: {
        'f:status': {
          'f:conditions': {
            'k:{"type":"Ready"}': {
              '.': {},
              'f:lastProbeTime': {},
              'f:lastTransitionTime': {},
              'f:status': {},
              'f:type': {},
            },
          },
          'f:containerStatuses': {},
          'f:hostIP': {},
          'f:phase': {},
          'f:podIP': {},
          'f:startTime': {},
        },
      },
    },
  ];
  for (const c of pod.spec.containers) {
    c.env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'LOG_LEVEL', value: 'info' },
    ];
    c.resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };
    c.volumeMounts = [
      { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ];
    c.terminationMessagePath = '/dev/termination-log';
    c.terminationMessagePolicy = 'File';
    c.imagePullPolicy = 'IfNotPresent';
    c.readinessProbe = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10 };
  }
  Object.assign(pod.spec, {
    volumes: [
      {
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: {
                items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
              },
            },
          ],
        },
      },
    ],
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    nodeName: `node-${i % 200}`,
    dnsPolicy: 'ClusterFirst',
    restartPolicy: 'Always',
    schedulerName: 'default-scheduler',
    serviceAccountName: 'default',
    terminationGracePeriodSeconds: 30,
  });
  pod.status = {
    phase: 'Running',
    hostIP: '10.0.0.1',
    podIP: `10.1.${(i >> 8) & 255}.${i & 255}`,
    startTime: '2026-01-01T00:00:01Z',
    qosClass: 'Burstable',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
      (type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:03Z' }),
    ),
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      ready: true,
      restartCount: 0,
      image: c.image,
      imageID: `${c.image}@sha256:${'0'.repeat(64)}`,
      containerID: `containerd://${'a'.repeat(64)}`,
      started: true,
      state: { running: { startedAt: '2026-01-01T00:00:02Z' } },
    })),
  };
  return pod;
}

function get(port, path) {
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode, body }));
    });
    req.on('error', () => ok({ status: 0, body: '' }));
    req.end();
  });
}
const metric = (body, name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = performance.now();
const items = generateCluster(NS, PODS);
items.push({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } },
  spec: { template: { spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.28.0' }] } } },
});
items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
const api = await startFakeApiserver(SERVED);
let podIndex = 0;
for (const o of items) {
  const [apiVersion, resource] = RESOURCES[o.kind];
  api.put(apiVersion, resource, o.kind === 'Pod' ? realistic(o, podIndex++) : o);
}
api.compact(); // the watch history starts now; the audit lists everything
const rawMiB = JSON.stringify(api.list('v1', 'pods')).length / (1 << 20);
console.log(
  `cluster: ${NS} namespaces, ${podIndex} pods (${rawMiB.toFixed(0)} MiB of pod JSON), ${items.length} objects, set up in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${cpus().length} CPUs`,
);

const dir = mkdtempSync(join(tmpdir(), 'meshlock-bench-watch-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, api.kubeconfig());
const port = 19000 + Math.floor(Math.random() * 1000);
const node = resolve(root, 'node_modules/.bin/node');
// The heap limit and malloc arenas deploy/audit/ sets (NODE_OPTIONS and MALLOC_ARENA_MAX there).
const child = spawn(
  node,
  [
    '--max-old-space-size=320',
    '--import',
    resolve(root, 'bench/audit-rss.mjs'),
    resolve(root, 'dist/cli/main.js'),
    'audit',
    '--watch',
    '--interval',
    '10m',
    '--metrics-port',
    String(port),
    '--metrics-host',
    '127.0.0.1',
    '--kubeconfig',
    kubeconfig,
  ],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.BENCH_MALLOC_ARENA_MAX ?? '2' },
  },
);
let stderr = '';
child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
try {
  const start = performance.now();
  while ((await get(port, '/readyz')).status !== 200) {
    if (child.exitCode !== null) throw new Error(`the audit exited ${child.exitCode}: ${stderr.slice(-2000)}`);
    await sleep(250);
  }
  let m = (await get(port, '/metrics')).body;
  const firstS = (performance.now() - start) / 1000;
  const rss1 = metric(m, 'meshlock_audit_process_resident_memory_bytes') / (1 << 20);
  const heap1 = metric(m, 'meshlock_audit_nodejs_heap_size_used_bytes') / (1 << 20);
  console.log(
    `first audit: ready after ${firstS.toFixed(1)} s (audit ${metric(m, 'meshlock_audit_run_duration_seconds').toFixed(2)} s), ${metric(m, 'meshlock_audit_workloads{namespace="team-1"}')} workloads in team-1; RSS ${rss1.toFixed(0)} MiB, heap used ${heap1.toFixed(0)} MiB`,
  );

  // Churn: relabel pods, delete some and create them again; every event goes through the watch.
  const runsBefore = metric(m, 'meshlock_audit_runs_total{outcome="ok"}');
  const pods = api.list('v1', 'pods');
  for (let i = 0; i < CHURN; i++) {
    const p = pods[(i * 7919) % pods.length];
    if (i % 3 === 2) {
      api.remove('v1', 'pods', p.metadata.namespace, p.metadata.name);
      api.put('v1', 'pods', p);
    } else {
      api.put('v1', 'pods', { ...p, metadata: { ...p.metadata, labels: { ...p.metadata.labels, churn: String(i) } } });
    }
    if (i % 500 === 499) await sleep(50);
  }
  // Wait until an audit has run after the last event.
  await sleep(3000);
  const settledAt = metric((await get(port, '/metrics')).body, 'meshlock_audit_runs_total{outcome="ok"}');
  for (let i = 0; i < 240; i++) {
    m = (await get(port, '/metrics')).body;
    if (metric(m, 'meshlock_audit_runs_total{outcome="ok"}') > settledAt) break;
    await sleep(250);
  }
  const rss2 = metric(m, 'meshlock_audit_process_resident_memory_bytes') / (1 << 20);
  const heap2 = metric(m, 'meshlock_audit_nodejs_heap_size_used_bytes') / (1 << 20);
  const total2 = metric(m, 'meshlock_audit_nodejs_heap_size_total_bytes') / (1 << 20);
  const ext2 = metric(m, 'meshlock_audit_nodejs_external_memory_bytes') / (1 << 20);
  console.log(
    `after ${CHURN} pod events: ${metric(m, 'meshlock_audit_runs_total{outcome="ok"}') - runsBefore} more audits; RSS ${rss2.toFixed(0)} MiB, heap used ${heap2.toFixed(0)} of ${total2.toFixed(0)} MiB, external ${ext2.toFixed(0)} MiB`,
  );
  child.kill('SIGTERM');
  await new Promise((ok) => child.on('exit', ok));
  const peak = Number(/MESHLOCK_BENCH_MAXRSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024;
  console.log(
    `peak RSS ${peak.toFixed(0)} MiB (target < ${LIMIT_MIB} MiB): ${peak < LIMIT_MIB ? 'within target' : 'OVER target'}`,
  );
  process.exitCode = peak < LIMIT_MIB ? 0 : 1;
} finally {
  child.kill('SIGKILL');
  await api.close();
  rmSync(dir, { recursive: true, force: true });
}
