// Whether Linkerd's proxy-injector injects a pod, with the injector's own reasons.
import {
  ADMISSION_WEBHOOKS,
  CNI_RESOURCE,
  CONTROL_PLANE_COMPONENT,
  INIT_CONTAINER,
  INJECT,
  INJECT_DISABLED,
  INJECT_ENABLED,
  INJECT_INGRESS,
  PROXY_CONTAINER,
  WEBHOOK_SKIPPED_NAMESPACES,
} from './names.js';
import { asMap, containersOf, field, type AnnotationsLike } from './read.js';

/**
 * The injector's skip reasons, spelled as in pkg/inject/report.go (the strings it puts in its
 * `proxy_inject_admission_responses` metric and, through `Reasons`, in its InjectionSkipped event).
 */
export type SkipReason =
  | 'host_network_enabled'
  | 'sidecar_already_exists'
  | 'injection_enable_annotation_absent'
  | 'injection_disable_annotation_present'
  | 'invalid_inject_annotation_at_workload'
  | 'invalid_inject_annotation_at_ns'
  | 'disabled_automount_service_account_token_account';

/** Reasons the injector's webhook is never called, so none of its own reasons apply. */
export type NotCalledReason = 'namespace_not_selected' | 'object_not_selected';

/** Linkerd's sentences for its reasons (pkg/inject/report.go Reasons). */
export const REASON_TEXT: Readonly<Record<SkipReason | NotCalledReason, string>> = {
  host_network_enabled: 'hostNetwork is enabled',
  sidecar_already_exists: 'pod has a sidecar injected already',
  injection_enable_annotation_absent: `neither the namespace nor the pod have the annotation "${INJECT}:${INJECT_ENABLED}"`,
  injection_disable_annotation_present: `pod has the annotation "${INJECT}:${INJECT_DISABLED}"`,
  invalid_inject_annotation_at_workload: `invalid value for annotation "${INJECT}" at workload`,
  invalid_inject_annotation_at_ns: `invalid value for annotation "${INJECT}" at namespace`,
  disabled_automount_service_account_token_account:
    'automountServiceAccountToken set to "false", with Values.identity.serviceAccountTokenProjection set to "false"',
  namespace_not_selected: "the injector's webhook namespaceSelector leaves the namespace out",
  object_not_selected: "the injector's webhook objectSelector leaves the pod out",
};

/**
 * pkg/inject/report.go isInjectAnnotationValid: empty (or absent) is valid, otherwise exactly
 * `enabled`, `disabled` or `ingress`. Case matters: `Enabled` is invalid.
 */
export function injectValueValid(v: string | undefined): boolean {
  return v === undefined || v === '' || v === INJECT_ENABLED || v === INJECT_DISABLED || v === INJECT_INGRESS;
}

/** pkg/inject/report.go doesAnnotationEnableInject: `enabled` or `ingress`. */
export function injectValueEnables(v: string | undefined): boolean {
  return v === INJECT_ENABLED || v === INJECT_INGRESS;
}

/** A namespace is ENROLLED when its `linkerd.io/inject` annotation is exactly `enabled` (meshlock's definition). */
export function namespaceEnrolled(nsAnnotations: AnnotationsLike): boolean {
  return asMap(nsAnnotations).get(INJECT) === INJECT_ENABLED;
}

export interface AnnotationDecision {
  readonly disabled: boolean;
  readonly reason?: SkipReason;
  /** Where the deciding annotation sits, as the injector reports it. */
  readonly at?: 'namespace' | 'workload';
}

/**
 * pkg/inject/report.go disabledByAnnotation, webhook origin: an invalid value at the namespace, then
 * at the pod, disables injection; a namespace that enables is overridden only by a pod `disabled`;
 * otherwise the pod must enable. The pod's value is read from the pod (its template), never from
 * the Deployment's own metadata.
 */
export function disabledByAnnotation(
  nsAnnotations: AnnotationsLike,
  podAnnotations: AnnotationsLike,
): AnnotationDecision {
  const ns = asMap(nsAnnotations).get(INJECT);
  const pod = asMap(podAnnotations).get(INJECT);
  if (!injectValueValid(ns)) return { disabled: true, reason: 'invalid_inject_annotation_at_ns' };
  if (!injectValueValid(pod)) return { disabled: true, reason: 'invalid_inject_annotation_at_workload' };
  if (injectValueEnables(ns)) {
    if (pod === INJECT_DISABLED)
      return { disabled: true, reason: 'injection_disable_annotation_present', at: 'workload' };
    return { disabled: false, at: 'namespace' };
  }
  if (!injectValueEnables(pod)) return { disabled: true, reason: 'injection_enable_annotation_absent' };
  return { disabled: false, at: 'workload' };
}

const SIDECAR_IMAGES = ['cr.l5d.io/linkerd/proxy:', 'gcr.io/istio-release/proxyv2:'];
const INIT_IMAGES = ['cr.l5d.io/linkerd/proxy-init:', 'gcr.io/istio-release/proxy_init:'];
const SIDECAR_NAMES = new Set([PROXY_CONTAINER, 'istio-proxy']);
const INIT_NAMES = new Set([INIT_CONTAINER, 'istio-init']);

export interface ExistingSidecar {
  readonly list: 'initContainers' | 'containers';
  readonly index: number;
  readonly why: string;
}

/**
 * pkg/healthcheck/sidecar.go HasExistingSidecars: any container or init container named
 * `linkerd-proxy`/`istio-proxy` or with a Linkerd proxy or Istio proxyv2 image; any init container
 * named `linkerd-init`/`istio-init` or with a proxy-init image. The injector skips such a pod
 * whatever the container really runs, which is why a fake one keeps a pod out of the mesh.
 */
export function existingSidecars(spec: unknown): ExistingSidecar[] {
  const out: ExistingSidecar[] = [];
  for (const { list, index, name, image } of containersOf(spec)) {
    const img = image ?? '';
    if (name !== undefined && SIDECAR_NAMES.has(name)) out.push({ list, index, why: `named ${name}` });
    else if (SIDECAR_IMAGES.some((p) => img.startsWith(p))) out.push({ list, index, why: `image ${img}` });
    else if (list === 'initContainers' && name !== undefined && INIT_NAMES.has(name))
      out.push({ list, index, why: `named ${name}` });
    else if (list === 'initContainers' && INIT_IMAGES.some((p) => img.startsWith(p)))
      out.push({ list, index, why: `image ${img}` });
  }
  return out;
}

export interface InjectorSettings {
  /** identity.serviceAccountTokenProjection (values.yaml default true). */
  readonly serviceAccountTokenProjection?: boolean;
}

export interface InjectionVerdict {
  readonly inject: boolean;
  /** The injector's reasons, in its order (pkg/inject/report.go Injectable). Empty when it injects. */
  readonly reasons: readonly SkipReason[];
  readonly at?: 'namespace' | 'workload';
  readonly ingress: boolean;
}

/**
 * pkg/inject/report.go newReport + Injectable for a pod (or template) reaching the injector:
 * hostNetwork, an existing sidecar, the inject annotation, and automountServiceAccountToken false
 * (only when token projection is off; the webhook origin also counts a pod without the token mount).
 * UDP ports do not stop the webhook (they only fail `linkerd inject`: ThrowInjectError).
 */
export function injectionVerdict(
  nsAnnotations: AnnotationsLike,
  podAnnotations: AnnotationsLike,
  spec: unknown,
  settings: InjectorSettings = {},
): InjectionVerdict {
  const reasons: SkipReason[] = [];
  if (field(spec, 'hostNetwork') === true) reasons.push('host_network_enabled');
  if (existingSidecars(spec).length > 0) reasons.push('sidecar_already_exists');
  const ann = disabledByAnnotation(nsAnnotations, podAnnotations);
  if (ann.disabled && ann.reason) reasons.push(ann.reason);
  const projection = settings.serviceAccountTokenProjection ?? true;
  if (!projection && field(spec, 'automountServiceAccountToken') === false)
    reasons.push('disabled_automount_service_account_token_account');
  const ingress =
    !ann.disabled && (asMap(podAnnotations).get(INJECT) ?? asMap(nsAnnotations).get(INJECT)) === INJECT_INGRESS;
  return { inject: reasons.length === 0, reasons, ...(ann.at ? { at: ann.at } : {}), ingress };
}

/**
 * Whether Linkerd's injector webhook is called at all (charts/linkerd-control-plane/values.yaml
 * proxyInjector.namespaceSelector and objectSelector): not in kube-system or cert-manager, not in
 * a namespace LABELLED `config.linkerd.io/admission-webhooks: disabled`, and the pod carries
 * neither `linkerd.io/control-plane-component` nor `linkerd.io/cni-resource` (any value).
 */
export function webhookSelects(
  namespace: string,
  nsLabels: AnnotationsLike,
  podLabels: AnnotationsLike,
): NotCalledReason | undefined {
  if (WEBHOOK_SKIPPED_NAMESPACES.includes(namespace) || asMap(nsLabels).get(ADMISSION_WEBHOOKS) === 'disabled')
    return 'namespace_not_selected';
  const labels = asMap(podLabels);
  if (labels.has(CONTROL_PLANE_COMPONENT) || labels.has(CNI_RESOURCE)) return 'object_not_selected';
  return undefined;
}
