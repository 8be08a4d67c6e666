// Mesh membership: a pod is meshed when it runs Istio's proxy or ztunnel captures it.
import { ztunnelCapture, type CaptureDecision } from './ambient.js';
import {
  runsIstioProxy,
  sidecarInjection,
  type InjectionDecision,
  type NamespaceFacts,
  type PodFacts,
} from './injection.js';

export type Dataplane = 'sidecar' | 'ambient' | 'none';

export interface Membership {
  readonly meshed: boolean;
  readonly dataplane: Dataplane;
  /** The pod runs an istio-proxy container (or native sidecar). */
  readonly proxy: boolean;
  /** What Istio's injector does with the pod (for a running pod: did, or would on a restart). */
  readonly injection: InjectionDecision;
  /** Whether ztunnel captures it. */
  readonly capture: CaptureDecision;
}

/**
 * A running pod with a proxy is meshed by its sidecar; without one it is meshed only when ztunnel
 * captures it. The injection decision says why a pod without a proxy has none, or that it should.
 */
export function podMembership(ns: NamespaceFacts, pod: PodFacts & { readonly spec?: unknown }): Membership {
  const proxy = runsIstioProxy(pod.spec);
  const injection = sidecarInjection(ns, pod);
  const capture = ztunnelCapture(ns, pod);
  const dataplane: Dataplane = proxy ? 'sidecar' : capture.captured === true ? 'ambient' : 'none';
  return { meshed: dataplane !== 'none', dataplane, proxy, injection, capture };
}

/** PodFacts of a pod (or pod template) object. */
export function podFacts(pod: unknown): PodFacts & { readonly spec?: unknown } {
  const o = typeof pod === 'object' && pod !== null ? (pod as { metadata?: unknown; spec?: unknown }) : {};
  const meta =
    typeof o.metadata === 'object' && o.metadata !== null
      ? (o.metadata as { labels?: unknown; annotations?: unknown })
      : {};
  const spec = typeof o.spec === 'object' && o.spec !== null ? (o.spec as { hostNetwork?: unknown }) : undefined;
  const map = (v: unknown): Readonly<Record<string, unknown>> | undefined =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const labels = map(meta.labels);
  const annotations = map(meta.annotations);
  return {
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
    ...(spec ? { hostNetwork: spec.hostNetwork, spec } : {}),
  };
}
