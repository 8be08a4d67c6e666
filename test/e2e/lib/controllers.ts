// Helpers for the tests that run against kube-controller-manager and the real istiod that
// up.sh starts: waiting for what a controller creates, reading Istio's injection from the stored
// pod, and reading from the apiserver's audit log which mutating webhooks changed a request.
import { readFileSync } from 'node:fs';
import { clusterEnv } from './cluster.js';
import { describeRun, kubectl, run, sleep, type Manifest, type Run } from './kubectl.js';

export interface Container {
  name: string;
  image?: string;
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface PodLike extends Manifest {
  metadata: {
    name: string;
    generateName?: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: { containers?: Container[]; initContainers?: Container[]; [k: string]: unknown };
}

/** The pods of a namespace (optionally matching a label selector), as stored. */
export async function listPods(ns: string, selector?: string): Promise<PodLike[]> {
  const r = await kubectl(['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl get pods -n ${ns} failed: ${describeRun(r)}`);
  return (JSON.parse(r.stdout) as { items: PodLike[] }).items;
}

/**
 * Waits until a controller has created at least one pod matching the selector. On timeout the
 * error names what the controllers did instead (events of the namespace: a FailedCreate from the
 * ReplicaSet or Job controller carries the webhook's denial).
 */
export async function waitForPods(ns: string, selector: string, timeoutMs = 90_000): Promise<PodLike[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await listPods(ns, selector);
    if (pods.length > 0) return pods;
    if (Date.now() > deadline) {
      const ev = await kubectl([
        'get',
        'events',
        '-n',
        ns,
        '-o',
        'custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message',
      ]);
      throw new Error(
        `no pod matching ${selector} in ${ns} after ${timeoutMs / 1000} s; events:\n${ev.stdout}${ev.stderr}`,
      );
    }
    await sleep(500);
  }
}

/** Waits until `kubectl get <what>` reports NotFound (the object is really gone). */
export async function waitGone(args: string[], timeoutMs = 90_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await kubectl(['get', ...args, '-o', 'name']);
    if (r.code !== 0 && /NotFound|not found/.test(r.stderr)) return r;
    if (Date.now() > deadline) return r;
    await sleep(500);
  }
}

export interface Proxy {
  /** where istio-proxy sits: a container, a native sidecar (init container with restartPolicy Always) */
  kind: 'container' | 'native-sidecar' | 'none';
  container?: Container;
}

export function proxyOf(pod: PodLike): Proxy {
  const c = (pod.spec.containers ?? []).find((x) => x.name === 'istio-proxy');
  if (c) return { kind: 'container', container: c };
  const i = (pod.spec.initContainers ?? []).find((x) => x.name === 'istio-proxy' && x.restartPolicy === 'Always');
  if (i) return { kind: 'native-sidecar', container: i };
  return { kind: 'none' };
}

/** Istio's `sidecar.istio.io/status` annotation, parsed (the injector writes JSON). */
export function sidecarStatus(
  pod: PodLike,
): { containers?: string[]; initContainers?: string[]; revision?: string } | undefined {
  const raw = pod.metadata.annotations?.['sidecar.istio.io/status'];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as { containers?: string[]; initContainers?: string[]; revision?: string };
  } catch {
    return { containers: [`<unparsable: ${raw}>`] };
  }
}

interface AuditEvent {
  verb?: string;
  stage?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  user?: { username?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}

/** The audit log's ResponseComplete events for creates of a resource in a namespace. */
export function auditCreates(resource: string, ns: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of readFileSync(clusterEnv().auditLog, 'utf8').split('\n')) {
    if (!line.includes(`"namespace":"${ns}"`)) continue;
    let ev: AuditEvent;
    try {
      ev = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    if (
      ev.stage === 'ResponseComplete' &&
      ev.verb === 'create' &&
      ev.objectRef?.resource === resource &&
      ev.objectRef.namespace === ns &&
      !ev.objectRef.subresource
    ) {
      out.push(ev);
    }
  }
  return out;
}

/**
 * Which webhooks mutated the request: the apiserver records every mutating webhook call at
 * Metadata level as `mutation.webhook.admission.k8s.io/round_<r>_index_<i>` =
 * {"configuration":...,"webhook":...,"mutated":true|false}.
 */
export function mutatedBy(ev: AuditEvent): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(ev.annotations ?? {})) {
    if (!k.startsWith('mutation.webhook.admission.k8s.io/')) continue;
    try {
      const a = JSON.parse(v) as { configuration?: string; webhook?: string; mutated?: boolean };
      if (a.mutated) out.push(`${a.configuration}/${a.webhook}`);
    } catch {
      /* not ours to judge */
    }
  }
  return out.sort();
}

/** The audit log is written as requests complete; poll until an event for a create shows up. */
export async function waitAuditCreate(resource: string, ns: string, timeoutMs = 15_000): Promise<AuditEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const evs = auditCreates(resource, ns).filter((e) => (e.responseStatus?.code ?? 0) < 300);
    if (evs.length > 0 || Date.now() > deadline) return evs;
    await sleep(300);
  }
}

/** istioctl of the installed Istio, against the e2e cluster. */
export function istioctl(args: string[], timeoutMs = 120_000): Promise<Run> {
  const env = clusterEnv();
  if (!env.istio) throw new Error('Istio is not installed in this cluster (MESHLOCK_E2E_ISTIO=0)');
  return run(env.istioctl, ['--kubeconfig', env.kubeconfig, ...args], { timeoutMs });
}
