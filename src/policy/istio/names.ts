// The label and annotation keys Istio reads, spelled once. Names from istio/api (label.*, annotation.*).

/** Namespace label of the default injector (`istio-injection=enabled`). */
export const LABEL_INJECTION = 'istio-injection';
/** Revision label, on a namespace or a pod (istio/api label.IoIstioRev). */
export const LABEL_REV = 'istio.io/rev';
/** Ambient enrolment label, on a namespace or a pod (istio/api label.IoIstioDataplaneMode). */
export const LABEL_DATAPLANE = 'istio.io/dataplane-mode';
/** Pod label (and legacy annotation) that turns injection on or off (label.SidecarInject, annotation.SidecarInject). */
export const LABEL_POD_INJECT = 'sidecar.istio.io/inject';
/** Written by the injector on the pods it injected (annotation.SidecarStatus). */
export const ANNOTATION_STATUS = 'sidecar.istio.io/status';
/** Lets inbound traffic of an ambient pod skip ztunnel (annotation.AmbientBypassInboundCapture). */
export const ANNOTATION_BYPASS_INBOUND = 'ambient.istio.io/bypass-inbound-capture';
/** Written by istio-cni on the pods it redirected to ztunnel (annotation.AmbientRedirection). */
export const ANNOTATION_REDIRECTION = 'ambient.istio.io/redirection';
/**
 * Pod annotation that makes the injector add the proxy as a Kubernetes native sidecar ("true") or a
 * classic one ("false"), over its global setting (annotation.SidecarNativeSidecar; read in
 * pkg/kube/inject/inject.go RunTemplate).
 */
export const ANNOTATION_NATIVE_SIDECAR = 'sidecar.istio.io/nativeSidecar';
/** The container the injector adds (pkg/kube/inject ProxyContainerName). */
export const PROXY_CONTAINER = 'istio-proxy';
/** The init container that sets up traffic redirection without istio-cni (istio-discovery chart, files/injection-template.yaml). */
export const INIT_CONTAINER = 'istio-init';

/** Labels or annotations as they arrive: a Map from the engine's readers, a plain object from a listing. */
export type Labels = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

export function get(labels: Labels | undefined, key: string): unknown {
  if (labels === undefined) return undefined;
  if (labels instanceof Map) return labels.get(key);
  return Object.hasOwn(labels, key) ? (labels as Record<string, unknown>)[key] : undefined;
}

/** Present with any value; JSON null counts as absent, as it does for Kubernetes. */
export function has(labels: Labels | undefined, key: string): boolean {
  const v = get(labels, key);
  return v !== undefined && v !== null;
}

export function entries(labels: Labels | undefined): [string, unknown][] {
  if (labels === undefined) return [];
  return labels instanceof Map ? [...labels.entries()] : Object.entries(labels);
}

/** What Istio reads of a pod (or a pod template, which becomes the pod's metadata and spec). */
export interface PodFacts {
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly hostNetwork?: unknown;
}

/** A namespace by name, with its labels when known (`undefined`: the input did not hold the Namespace). */
export interface NamespaceFacts {
  readonly name: string;
  readonly labels?: Labels;
}
