// Realistic cluster dumps for audit tests. Namespaces and Deployments come from the real
// `kubectl create ... --dry-run=client -o yaml`; the ReplicaSets and Pods are then derived the way
// the Deployment controller and Istio's injector would make them (owner references,
// pod-template-hash, an istio-proxy container), since no controller runs here.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { locate } from './needs.js';

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function kubectl(args: string[]): Obj {
  const out = execFileSync(locate('kubectl') ?? 'kubectl', [...args, '--dry-run=client', '-o', 'yaml'], {
    encoding: 'utf8',
  });
  return parse(out) as Obj;
}

export function namespace(name: string, labels: Record<string, string> = {}): Obj {
  const ns = kubectl(['create', 'namespace', name]);
  if (Object.keys(labels).length) ns['metadata']['labels'] = { ...labels };
  return ns;
}

export interface WorkloadSpec {
  namespace: string;
  name: string;
  replicas?: number;
  port?: number;
  /** Add the istio-proxy container, as the injector would. */
  injected?: boolean | 'native';
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
  hostNetwork?: boolean;
}

/** A Deployment, its ReplicaSet and its Pods. */
export function deployment(w: WorkloadSpec): Obj[] {
  const args = ['create', 'deployment', w.name, '--image=nginx', '-n', w.namespace, `--replicas=${w.replicas ?? 1}`];
  if (w.port) args.push(`--port=${w.port}`);
  const dep = kubectl(args);
  const tpl = dep['spec']['template'];
  tpl['metadata']['labels'] = { ...tpl['metadata']['labels'], ...(w.podLabels ?? {}) };
  if (w.podAnnotations) tpl['metadata']['annotations'] = { ...w.podAnnotations };
  if (w.hostNetwork) tpl['spec']['hostNetwork'] = true;
  dep['metadata']['uid'] = uid(`deploy/${w.namespace}/${w.name}`);
  const hash = createHash('sha256').update(`${w.namespace}/${w.name}`).digest('hex').slice(0, 10);
  const rsName = `${w.name}-${hash}`;
  const rs: Obj = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: rsName,
      namespace: w.namespace,
      uid: uid(`rs/${w.namespace}/${rsName}`),
      labels: { ...tpl['metadata']['labels'], 'pod-template-hash': hash },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: w.name,
          uid: dep['metadata']['uid'],
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { replicas: w.replicas ?? 1, selector: dep['spec']['selector'], template: structuredClone(tpl) },
  };
  const pods: Obj[] = [];
  for (let i = 0; i < (w.replicas ?? 1); i++) {
    const podName = `${rsName}-${String(i).padStart(5, 'x')}`;
    const spec = structuredClone(tpl['spec']);
    if (w.injected === true)
      spec['containers'].push({
        name: 'istio-proxy',
        image: 'docker.io/istio/proxyv2:1.28.0',
        args: ['proxy', 'sidecar'],
      });
    if (w.injected === 'native')
      spec['initContainers'] = [
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0', restartPolicy: 'Always' },
      ];
    pods.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace: w.namespace,
        uid: uid(`pod/${w.namespace}/${podName}`),
        labels: {
          ...tpl['metadata']['labels'],
          'pod-template-hash': hash,
          ...(w.injected ? { 'security.istio.io/tlsMode': 'istio' } : {}),
        },
        annotations: {
          ...(w.podAnnotations ?? {}),
          ...(w.injected ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : {}),
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rsName,
            uid: rs['metadata']['uid'],
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec,
      status: { phase: 'Running' },
    });
  }
  return [dep, rs, ...pods];
}

/** A CronJob, one Job it made, and that Job's pod. */
export function cronJob(ns: string, name: string, injected: boolean): Obj[] {
  const cj = kubectl(['create', 'cronjob', name, '--image=busybox', '--schedule=*/5 * * * *', '-n', ns]);
  const jobName = `${name}-29000000`;
  const job: Obj = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName,
      namespace: ns,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name, controller: true }],
    },
    spec: structuredClone(cj['spec']['jobTemplate']['spec']),
  };
  const spec = structuredClone(cj['spec']['jobTemplate']['spec']['template']['spec']);
  if (injected) spec['containers'].push({ name: 'istio-proxy', image: 'proxyv2' });
  const pod: Obj = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${jobName}-abcde`,
      namespace: ns,
      labels: { 'batch.kubernetes.io/job-name': jobName },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, controller: true }],
    },
    spec,
    status: { phase: 'Running' },
  };
  return [cj, job, pod];
}

export interface PaSpec {
  namespace: string;
  name: string;
  mode?: string;
  selector?: Record<string, string>;
  ports?: Record<string, string | undefined>;
  created?: string;
}

export function peerAuthentication(p: PaSpec): Obj {
  const spec: Obj = {};
  if (p.selector) spec['selector'] = { matchLabels: p.selector };
  if (p.mode !== undefined) spec['mtls'] = { mode: p.mode };
  if (p.ports)
    spec['portLevelMtls'] = Object.fromEntries(
      Object.entries(p.ports).map(([k, v]) => [k, v === undefined ? {} : { mode: v }]),
    );
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: p.name, namespace: p.namespace, creationTimestamp: p.created ?? '2025-01-01T00:00:00Z' },
    spec,
  };
}

export function destinationRule(ns: string, name: string, host: string, mode: string): Obj {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: ns },
    spec: { host, trafficPolicy: { tls: { mode } } },
  };
}

function uid(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** What `kubectl get ... -A -o yaml` prints: one List. */
export function asList(items: Obj[]): string {
  return stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } });
}
