// Pods grouped the way people think of them (a Deployment, not its ReplicaSet's pods), and whether
// each pod is actually in the mesh, and why not. Pure.
import {
  podFacts,
  podMembership,
  PROXY_CONTAINER,
  type CaptureDecision,
  type Dataplane,
  type InjectionDecision,
} from '../policy/index.js';
import { labelsOf, nameOf, namespaceOf, type KObj } from './inventory.js';

export type { Dataplane };

/** Which rule of Istio decided, for the report: the injector's or ztunnel's, in Istio's terms. */
export interface IstioDecision {
  readonly injection: {
    readonly rule: InjectionDecision['rule'];
    readonly injected: boolean | null;
    readonly because: string;
  };
  readonly capture: {
    readonly rule: CaptureDecision['rule'];
    readonly captured: boolean | null;
    readonly because: string;
  };
}

export interface MeshStatus {
  readonly meshed: boolean;
  readonly dataplane: Dataplane;
  /** Why the pod is not meshed, in words an operator can act on. */
  readonly reason?: string;
  readonly istio: IstioDecision;
}

export interface NamespaceFacts {
  readonly labels: ReadonlyMap<string, string>;
  /** False when the dump had no Namespace object for it (labels unknown). */
  readonly known: boolean;
}

/**
 * Whether a running pod is in the mesh, and why not, from the one model of Istio (policy/istio):
 * a pod without a proxy that Istio's injector selects was created before the namespace was enrolled
 * or while the injector was down, and gets its proxy on a restart.
 */
export function meshStatus(
  pod: KObj,
  ns: NamespaceFacts,
  servedRevisions: ReadonlySet<string> | undefined,
): MeshStatus {
  const namespace = namespaceOf(pod);
  const m = podMembership({ name: namespace, ...(ns.known ? { labels: ns.labels } : {}) }, podFacts(pod));
  const istio: IstioDecision = {
    injection: { rule: m.injection.rule, injected: m.injection.injected ?? null, because: m.injection.because },
    capture: { rule: m.capture.rule, captured: m.capture.captured ?? null, because: m.capture.because },
  };
  if (m.meshed) return { meshed: true, dataplane: m.dataplane, istio };
  const not = (reason: string): MeshStatus => ({ meshed: false, dataplane: 'none', reason, istio });
  const inj = m.injection;
  if (inj.injected === undefined)
    return not(`no ${PROXY_CONTAINER} container (namespace ${namespace} not in the input)`);
  if (inj.injected) {
    const rev = inj.revision;
    if (
      rev !== undefined &&
      rev !== 'default' &&
      servedRevisions &&
      servedRevisions.size > 0 &&
      !servedRevisions.has(rev)
    ) {
      return not(`${inj.because}, but no control plane serves revision ${rev}`);
    }
    return not(
      `should have a proxy, restart it: ${inj.because}, but the pod has no ${PROXY_CONTAINER} container (it was created before that, or while the injector was down)`,
    );
  }
  // Not injected. When the pod or its namespace asks for ambient, ztunnel's decision is the one that
  // kept it out; otherwise the injector's.
  const c = m.capture.rule;
  if (c === 'pod-label' || c === 'sidecar-status' || (c === 'hostNetwork' && inj.rule !== 'hostNetwork'))
    return not(m.capture.because);
  return not(inj.because);
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
  return ref && typeof ref.kind === 'string' && typeof ref.name === 'string'
    ? { kind: ref.kind, name: ref.name }
    : undefined;
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
      if (hash && owner.name.endsWith(`-${hash}`))
        ref = { namespace, kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
    }
    current = next;
  }
  return ref;
}
