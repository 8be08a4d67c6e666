// Pods grouped the way people think of them (a Deployment, not its ReplicaSet's pods), and whether
// each pod is actually in the mesh, and why not. Pure.
import type { ResolvedConfig } from '../config/index.js';
import { isEnrolled, LABEL_DATAPLANE, LABEL_INJECTION, LABEL_POD_INJECT, LABEL_REV } from '../policy/index.js';
import { labelsOf, nameOf, namespaceOf, type KObj } from './inventory.js';

export type Dataplane = 'sidecar' | 'ambient' | 'none';

export interface MeshStatus {
  readonly meshed: boolean;
  readonly dataplane: Dataplane;
  /** Why the pod is not meshed, in words an operator can act on. */
  readonly reason?: string;
}

export interface NamespaceFacts {
  readonly labels: ReadonlyMap<string, string>;
  /** False when the dump had no Namespace object for it (labels unknown). */
  readonly known: boolean;
}

function containerNames(list: unknown): { name: string; restartPolicy?: string }[] {
  return Array.isArray(list) ? (list as { name?: unknown; restartPolicy?: unknown }[]).map((c) => ({ name: String(c?.name ?? ''), ...(typeof c?.restartPolicy === 'string' ? { restartPolicy: c.restartPolicy } : {}) })) : [];
}

/** A pod has a sidecar when it runs `istio-proxy`: as a container, or as a native sidecar (an init container that keeps running). */
export function hasSidecar(pod: KObj): boolean {
  const spec = pod.spec ?? {};
  if (containerNames(spec['containers']).some((c) => c.name === 'istio-proxy')) return true;
  return containerNames(spec['initContainers']).some((c) => c.name === 'istio-proxy' && c.restartPolicy === 'Always');
}

export function meshStatus(pod: KObj, ns: NamespaceFacts, config: ResolvedConfig, servedRevisions: ReadonlySet<string> | undefined): MeshStatus {
  if (hasSidecar(pod)) return { meshed: true, dataplane: 'sidecar' };
  const namespace = namespaceOf(pod);
  const labels = labelsOf(pod);
  const ann = pod.metadata?.annotations ?? {};
  const spec = pod.spec ?? {};
  const not = (reason: string): MeshStatus => ({ meshed: false, dataplane: 'none', reason });
  // Istio never captures host-network pods: redirecting their traffic would redirect the node's.
  if (spec['hostNetwork'] === true) return not('hostNetwork pod: Istio never captures its traffic');
  if (config.systemNamespaces.has(namespace)) return not(`system namespace ${namespace}: never injected`);
  if (labels[LABEL_DATAPLANE] === 'none') return not(`pod label ${LABEL_DATAPLANE}=none opts it out of the mesh`);
  // ztunnel marks the pods it captured; the labels below say what it would capture.
  if (ann['ambient.istio.io/redirection'] === 'enabled') return { meshed: true, dataplane: 'ambient' };
  if (labels[LABEL_DATAPLANE] === 'ambient' || ns.labels.get(LABEL_DATAPLANE) === 'ambient') {
    // A sidecar label on the namespace wins over ambient for new pods; this pod has no sidecar, so
    // it is in ambient unless the namespace also asks for sidecars (then it should have had one).
    if (ns.labels.get(LABEL_INJECTION) !== 'enabled' && !ns.labels.has(LABEL_REV)) return { meshed: true, dataplane: 'ambient' };
  }
  const inject = labels[LABEL_POD_INJECT] ?? ann[LABEL_POD_INJECT];
  if (inject !== undefined && inject !== 'true' && inject !== '') return not(`${LABEL_POD_INJECT}=${inject} on the pod disables injection`);
  if (!ns.known) return not(`no istio-proxy container (namespace ${namespace} not in the input)`);
  if (!isEnrolled(ns.labels)) return not(`namespace ${namespace} is not enrolled (no ${LABEL_INJECTION}=enabled, ${LABEL_REV} or ${LABEL_DATAPLANE}=ambient)`);
  const rev = ns.labels.get(LABEL_REV);
  if (!ns.labels.has(LABEL_INJECTION) && rev && servedRevisions && servedRevisions.size > 0 && !servedRevisions.has(rev)) {
    return not(`namespace ${namespace} names revision ${rev}, which no control plane serves`);
  }
  return not('no istio-proxy container: created before the namespace was enrolled or while the injector was down; restart it');
}

export interface WorkloadRef {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
}

export function refKey(r: WorkloadRef): string {
  return `${r.namespace}\u0000${r.kind}\u0000${r.name}`;
}

/** Controller objects indexed by namespace/kind/name, to follow ownerReferences upwards. */
export type ControllerIndex = ReadonlyMap<string, KObj>;

export function indexControllers(controllers: readonly KObj[]): ControllerIndex {
  const m = new Map<string, KObj>();
  for (const c of controllers) m.set(refKey({ namespace: namespaceOf(c), kind: String(c.kind), name: nameOf(c) }), c);
  return m;
}

function controllerOwner(o: KObj): { kind: string; name: string } | undefined {
  const refs = o.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const ref = refs.find((r) => r?.controller === true) ?? refs[0];
  return ref && typeof ref.kind === 'string' && typeof ref.name === 'string' ? { kind: ref.kind, name: ref.name } : undefined;
}

/**
 * The workload a pod belongs to: the top of its controller chain (Pod -> ReplicaSet -> Deployment,
 * Pod -> Job -> CronJob). When the ReplicaSet is not in the input, a name following the Deployment
 * controller's `<deployment>-<pod-template-hash>` pattern still resolves to the Deployment.
 */
export function workloadOf(o: KObj, controllers: ControllerIndex): WorkloadRef {
  const namespace = namespaceOf(o);
  let ref: WorkloadRef = { namespace, kind: String(o.kind ?? 'Pod'), name: nameOf(o) };
  let current: KObj | undefined = o;
  for (let depth = 0; depth < 5 && current; depth++) {
    const owner = controllerOwner(current);
    if (!owner) break;
    ref = { namespace, kind: owner.kind, name: owner.name };
    const next = controllers.get(refKey(ref));
    if (!next && owner.kind === 'ReplicaSet') {
      const hash = labelsOf(current)['pod-template-hash'];
      if (hash && owner.name.endsWith(`-${hash}`)) ref = { namespace, kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
    }
    current = next;
  }
  return ref;
}
