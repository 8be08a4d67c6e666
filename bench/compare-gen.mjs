// Generates a manifest set for the Kyverno side-by-side benchmark: namespaces with their pods,
// Deployments, CronJobs, PeerAuthentications and DestinationRules, mostly compliant, with the mistakes
// teams really make mixed in at fixed rates. Deterministic for a given seed, so two runs compare.
//
// Every object gets a `variant` (kept beside the files, never written into the objects, so neither
// tool can read it) naming what kind of case it is; the comparison groups disagreements by it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

// mulberry32: a tiny seeded PRNG; Math.random cannot be seeded.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rand, table) {
  let r = rand() * table.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of table) {
    r -= w;
    if (r < 0) return v;
  }
  return table[table.length - 1][0];
}

// Weights per kind. Most objects are fine; each mistake has a realistic share.
const NAMESPACE_VARIANTS = [
  ['ns-injection-enabled', 78],
  ['ns-unlabelled', 8],
  ['ns-revision', 4],
  ['ns-ambient', 4],
  ['ns-injection-disabled', 4],
  ['ns-enabled-and-revision', 2],
];
const PA_VARIANTS = [
  ['pa-strict', 74],
  ['pa-unset', 6],
  ['pa-permissive', 8],
  ['pa-disable', 2],
  ['pa-workload-strict', 5],
  ['pa-port-level-permissive', 5],
];
const DR_VARIANTS = [
  ['dr-istio-mutual', 55],
  ['dr-no-tls', 17],
  ['dr-disable-in-mesh', 4],
  ['dr-simple-in-mesh', 4],
  ['dr-mutual-in-mesh', 2],
  ['dr-subset-disable-in-mesh', 3],
  ['dr-port-disable-in-mesh', 2],
  ['dr-simple-egress', 9],
  ['dr-disable-egress', 4],
];
const POD_VARIANTS = [
  ['pod-plain', 70],
  ['pod-inject-true', 10],
  ['pod-inject-false-annotation', 4],
  ['pod-inject-false-label', 3],
  ['pod-inject-no', 2],
  ['pod-host-network', 2],
  ['pod-exclude-inbound-ports', 3],
  ['pod-proxy-uid', 2],
  ['pod-net-admin', 2],
  ['pod-exclude-outbound-ports', 2],
];
const WORKLOAD_VARIANTS = [
  ['plain', 82],
  ['inject-false-annotation', 6],
  ['inject-false-label', 4],
  ['host-network', 2],
  ['exclude-inbound-ports', 3],
  ['proxy-uid', 3],
];

const IMAGES = [
  'ghcr.io/acme/api:1.4.2',
  'ghcr.io/acme/web:2.0.1',
  'ghcr.io/acme/worker:0.9.7',
  'redis:7.2',
  'nginx:1.27',
];

function podSpec(rand, variant, labels) {
  const meta = { labels: { ...labels }, annotations: {} };
  const container = {
    name: 'app',
    image: IMAGES[Math.floor(rand() * IMAGES.length)],
    ports: [{ containerPort: 8080, name: 'http' }],
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
  };
  const spec = { containers: [container] };
  switch (variant) {
    case 'inject-true':
      meta.labels['sidecar.istio.io/inject'] = 'true';
      break;
    case 'inject-false-annotation':
      meta.annotations['sidecar.istio.io/inject'] = 'false';
      break;
    case 'inject-false-label':
      meta.labels['sidecar.istio.io/inject'] = 'false';
      break;
    case 'inject-no':
      meta.annotations['sidecar.istio.io/inject'] = 'no';
      break;
    case 'host-network':
      spec.hostNetwork = true;
      break;
    case 'exclude-inbound-ports':
      meta.annotations['traffic.sidecar.istio.io/excludeInboundPorts'] = '8080';
      break;
    case 'exclude-outbound-ports':
      meta.annotations['traffic.sidecar.istio.io/excludeOutboundPorts'] = '5432';
      break;
    case 'proxy-uid':
      container.securityContext = { runAsUser: 1337 };
      break;
    case 'net-admin':
      container.securityContext = { capabilities: { add: ['NET_ADMIN'] } };
      break;
    default:
      break;
  }
  if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  return { metadata: meta, spec };
}

function namespaceObject(name, variant) {
  const labels = { 'kubernetes.io/metadata.name': name, team: `team-${name.slice(-2)}` };
  switch (variant) {
    case 'ns-injection-enabled':
      labels['istio-injection'] = 'enabled';
      break;
    case 'ns-revision':
      labels['istio.io/rev'] = 'canary';
      break;
    case 'ns-ambient':
      labels['istio.io/dataplane-mode'] = 'ambient';
      break;
    case 'ns-injection-disabled':
      labels['istio-injection'] = 'disabled';
      break;
    case 'ns-enabled-and-revision':
      labels['istio-injection'] = 'enabled';
      labels['istio.io/rev'] = 'canary';
      break;
    default:
      break;
  }
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

function peerAuthentication(ns, variant) {
  const pa = {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: ns },
    spec: {},
  };
  switch (variant) {
    case 'pa-strict':
      pa.spec.mtls = { mode: 'STRICT' };
      break;
    case 'pa-unset':
      pa.spec.mtls = { mode: 'UNSET' };
      break;
    case 'pa-permissive':
      pa.spec.mtls = { mode: 'PERMISSIVE' };
      break;
    case 'pa-disable':
      pa.spec.mtls = { mode: 'DISABLE' };
      break;
    case 'pa-workload-strict':
      pa.metadata.name = 'api-strict';
      pa.spec = { selector: { matchLabels: { app: 'api' } }, mtls: { mode: 'STRICT' } };
      break;
    case 'pa-port-level-permissive':
      pa.metadata.name = 'api-metrics-port';
      pa.spec = {
        selector: { matchLabels: { app: 'api' } },
        mtls: { mode: 'STRICT' },
        portLevelMtls: { 9090: { mode: 'PERMISSIVE' } },
      };
      break;
    default:
      break;
  }
  return pa;
}

function destinationRule(ns, name, variant) {
  const host = variant.endsWith('-egress') ? 'payments.example.com' : `${name}.${ns}.svc.cluster.local`;
  const dr = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: ns },
    spec: { host, trafficPolicy: { connectionPool: { tcp: { maxConnections: 100 } } } },
  };
  const tp = dr.spec.trafficPolicy;
  switch (variant) {
    case 'dr-istio-mutual':
      tp.tls = { mode: 'ISTIO_MUTUAL' };
      break;
    case 'dr-disable-in-mesh':
    case 'dr-disable-egress':
      tp.tls = { mode: 'DISABLE' };
      break;
    case 'dr-simple-in-mesh':
    case 'dr-simple-egress':
      tp.tls = { mode: 'SIMPLE' };
      break;
    case 'dr-mutual-in-mesh':
      tp.tls = {
        mode: 'MUTUAL',
        clientCertificate: '/etc/certs/client.pem',
        privateKey: '/etc/certs/key.pem',
        caCertificates: '/etc/certs/ca.pem',
      };
      break;
    case 'dr-subset-disable-in-mesh':
      tp.tls = { mode: 'ISTIO_MUTUAL' };
      dr.spec.subsets = [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'legacy', labels: { version: 'v0' }, trafficPolicy: { tls: { mode: 'DISABLE' } } },
      ];
      break;
    case 'dr-port-disable-in-mesh':
      tp.tls = { mode: 'ISTIO_MUTUAL' };
      tp.portLevelSettings = [{ port: { number: 9090 }, tls: { mode: 'DISABLE' } }];
      break;
    default:
      break;
  }
  return dr;
}

function deployment(rand, ns, name, variant) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: { replicas: 2, selector: { matchLabels: labels }, template: podSpec(rand, variant, labels) },
  };
}

function cronJob(rand, ns, name, variant) {
  const labels = { app: name };
  const template = podSpec(rand, variant, labels);
  template.spec.restartPolicy = 'OnFailure';
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: ns, labels },
    spec: { schedule: '*/15 * * * *', jobTemplate: { spec: { template } } },
  };
}

function pod(rand, ns, name, variant) {
  const t = podSpec(rand, variant.replace(/^pod-/, ''), { app: name });
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, ...t.metadata }, spec: t.spec };
}

// The control plane and kube-system as they appear in real manifest sets: istiod's own template
// opts out of injection, kube-proxy runs on the host network, and the mesh-wide policy lives here.
function systemObjects(rand) {
  const istiod = deployment(rand, 'istio-system', 'istiod', 'inject-false-annotation');
  const kubeProxy = deployment(rand, 'kube-system', 'kube-proxy', 'host-network');
  kubeProxy.kind = 'DaemonSet';
  delete kubeProxy.spec.replicas;
  return [
    ['system-namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } }],
    ['system-namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } }],
    [
      'pa-mesh-strict',
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'default', namespace: 'istio-system' },
        spec: { mtls: { mode: 'STRICT' } },
      },
    ],
    [
      'pa-mesh-unset',
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'mesh-unset', namespace: 'istio-system' },
        spec: { mtls: { mode: 'UNSET' } },
      },
    ],
    ['system-inject-false', istiod],
    ['system-host-network', kubeProxy],
  ];
}

/**
 * Builds the set in memory.
 * @param {{namespaces: number, seed?: number}} opts
 * @returns {{files: {name: string, objects: object[]}[], variants: Map<string, string>, count: number}}
 *   variants is keyed by `Kind/namespace/name` (namespace empty for cluster-scoped objects).
 */
export function generate({ namespaces, seed = 20260401 }) {
  const rand = rng(seed);
  const variants = new Map();
  const files = [];
  let count = 0;
  const add = (list, variant, obj) => {
    list.push(obj);
    variants.set(objectKey(obj), variant);
    count++;
  };
  const system = [];
  for (const [v, o] of systemObjects(rand)) add(system, v, o);
  files.push({ name: 'system.yaml', objects: system });
  for (let i = 0; i < namespaces; i++) {
    const ns = `app-${String(i).padStart(5, '0')}`;
    const list = [];
    const nsVariant = pick(rand, NAMESPACE_VARIANTS);
    add(list, nsVariant, namespaceObject(ns, nsVariant));
    const paVariant = pick(rand, PA_VARIANTS);
    add(list, paVariant, peerAuthentication(ns, paVariant));
    for (const svc of ['api', 'web']) {
      const v = pick(rand, DR_VARIANTS);
      add(list, v, destinationRule(ns, svc, v));
    }
    for (const svc of ['api', 'web', 'worker']) {
      const v = pick(rand, WORKLOAD_VARIANTS);
      add(list, `deploy-${v}`, deployment(rand, ns, svc, v));
    }
    const cv = pick(rand, WORKLOAD_VARIANTS);
    add(list, `cronjob-${cv}`, cronJob(rand, ns, 'report', cv));
    for (let p = 0; p < 4; p++) {
      const v = pick(rand, POD_VARIANTS);
      add(list, v, pod(rand, ns, `debug-${p}`, v));
    }
    files.push({ name: `${ns}.yaml`, objects: list });
  }
  return { files, variants, count };
}

export function objectKey(obj) {
  return `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/**
 * Writes the set as multi-document YAML files (one per namespace) under dir. YAML 1.1, as kubectl and
 * Kyverno read it: strings such as `no` or `on` are quoted, or they would be read back as booleans.
 */
export function writeSet(dir, set) {
  mkdirSync(dir, { recursive: true });
  const paths = [];
  for (const f of set.files) {
    const p = path.join(dir, f.name);
    writeFileSync(
      p,
      f.objects.map((o) => stringify(o, { aliasDuplicateObjects: false, version: '1.1' })).join('---\n'),
    );
    paths.push(p);
  }
  return paths;
}
