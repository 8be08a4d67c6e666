// Ambient capture: does ztunnel capture this pod's traffic (istio-cni's enablement), and which rule decides.
import {
  ANNOTATION_BYPASS_INBOUND,
  ANNOTATION_REDIRECTION,
  ANNOTATION_STATUS,
  get,
  has,
  LABEL_DATAPLANE,
  type Labels,
  type NamespaceFacts,
  type PodFacts,
} from './names.js';

/**
 * - `hostNetwork`: a host-network pod is never enrolled;
 * - `sidecar-status`: a pod carrying `sidecar.istio.io/status` claims a sidecar and is opted out;
 * - `pod-label` / `namespace-label`: `istio.io/dataplane-mode` on the pod or its namespace;
 * - `redirection-annotation`: namespace labels unknown, but istio-cni marked the pod as redirected;
 * - `namespace-unknown`: the namespace's labels are not known, so neither is the answer.
 */
export type CaptureRule =
  'hostNetwork' | 'sidecar-status' | 'pod-label' | 'namespace-label' | 'redirection-annotation' | 'namespace-unknown';

export interface CaptureDecision {
  readonly captured: boolean | undefined;
  readonly rule: CaptureRule;
  readonly because: string;
}

/**
 * cni/pkg/util/enablement_selector.go `CompiledEnablementSelectors.Matches` with the istio-cni chart's
 * default `ambient.enablementSelectors` (values.yaml): pod label `istio.io/dataplane-mode=ambient` in
 * any namespace; or namespace label `istio.io/dataplane-mode=ambient` with the pod's label NotIn [none].
 * Before any selector, Matches opts out a pod with `sidecar.istio.io/status` ("Ztunnel and sidecar for a
 * single pod is currently not supported") and, on Istio's main branch, a hostNetwork pod; in 1.27 to
 * 1.29 a hostNetwork pod shares the node's network namespace, where istio-cni sets up no redirection
 * either (the kubelet runs no CNI plugin for it).
 */
export function ztunnelCapture(ns: NamespaceFacts, pod: PodFacts): CaptureDecision {
  if (pod.hostNetwork === true)
    return { captured: false, rule: 'hostNetwork', because: 'hostNetwork pod: ztunnel never captures it' };
  if (has(pod.annotations, ANNOTATION_STATUS))
    return {
      captured: false,
      rule: 'sidecar-status',
      because: `annotation ${ANNOTATION_STATUS} claims a sidecar, so ztunnel never captures the pod`,
    };
  if (labelledAmbient(pod.labels))
    return { captured: true, rule: 'pod-label', because: `pod label ${LABEL_DATAPLANE}=ambient` };
  if (optsOutOfAmbient(pod.labels))
    return { captured: false, rule: 'pod-label', because: `pod label ${LABEL_DATAPLANE}=none opts it out of ambient` };
  if (ns.labels === undefined) {
    // cni/pkg/util/podutil.go PodFullyEnrolled: istio-cni annotates the pods it redirected.
    if (get(pod.annotations, ANNOTATION_REDIRECTION) === 'enabled')
      return {
        captured: true,
        rule: 'redirection-annotation',
        because: `annotation ${ANNOTATION_REDIRECTION}=enabled: istio-cni redirected it`,
      };
    return {
      captured: undefined,
      rule: 'namespace-unknown',
      because: `the labels of namespace ${ns.name} are not known`,
    };
  }
  if (labelledAmbient(ns.labels))
    return { captured: true, rule: 'namespace-label', because: `namespace label ${LABEL_DATAPLANE}=ambient` };
  return {
    captured: false,
    rule: 'namespace-label',
    because: `neither the pod nor namespace ${ns.name} has ${LABEL_DATAPLANE}=ambient`,
  };
}

/**
 * The label `istio.io/dataplane-mode=ambient` (on a pod: the first default enablement selector, in
 * any namespace; on a namespace: the second), values compared exactly.
 */
export function labelledAmbient(labels: Labels | undefined): boolean {
  return get(labels, LABEL_DATAPLANE) === 'ambient';
}

/**
 * The pod label `istio.io/dataplane-mode=none`: the default namespace-wide enablement selector
 * requires the pod's label NotIn [none] (istio-cni chart values.yaml `ambient.enablementSelectors`).
 */
export function optsOutOfAmbient(podLabels: Labels | undefined): boolean {
  return get(podLabels, LABEL_DATAPLANE) === 'none';
}

/** Go's strconv.ParseBool: the spellings it reads as true. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/**
 * `ambient.istio.io/bypass-inbound-capture` turns on "ingress mode": inbound traffic skips ztunnel.
 * cni/pkg/nodeagent/net.go `getPodLevelTrafficOverrides` reads it with cni/pkg/util/podutil.go
 * `CheckBooleanAnnotation`, i.e. strconv.ParseBool, so `1`, `t`, `True` count as well as `true`.
 */
export function bypassesInboundCapture(annotations: Labels | undefined): boolean {
  const v = get(annotations, ANNOTATION_BYPASS_INBOUND);
  return typeof v === 'string' && GO_TRUE.has(v);
}
