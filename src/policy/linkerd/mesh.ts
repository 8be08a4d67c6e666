// Whether a pod is in the mesh, and the proxy settings read from its annotations.
import {
  A,
  CONTROL_PLANE_NS,
  CREATED_BY,
  CREATED_BY_CLI,
  CREATED_BY_INJECTOR,
  INHERITED_FROM_NAMESPACE,
  PROXY_CONTAINER,
  PROXY_VERSION,
} from './names.js';
import { asMap, containersOf, field, type AnnotationsLike } from './read.js';
import { parseGoBool } from './parse.js';

/**
 * The running proxy: a container named `linkerd-proxy`, or (native sidecar) an init container of
 * that name with `restartPolicy: Always` (charts/partials/templates/_proxy.tpl puts it there when
 * proxy.nativeSidecar is on). An init container without restartPolicy Always would have to exit
 * before the app starts, so it proxies nothing.
 */
export function proxyContainer(spec: unknown): { list: 'initContainers' | 'containers'; index: number } | undefined {
  for (const { list, index, c, name } of containersOf(spec)) {
    if (name !== PROXY_CONTAINER) continue;
    if (list === 'containers' || field(c, 'restartPolicy') === 'Always') return { list, index };
  }
  return undefined;
}

/**
 * pkg/k8s/labels.go IsMeshed: the label `linkerd.io/control-plane-ns` equals the control plane's
 * namespace. That label alone is what the destination controller trusts to hand out the pod's TLS
 * identity (controller/api/destination/endpoint_translator.go toAddr), so it is a claim.
 */
export function claimsMesh(podLabels: AnnotationsLike, controlPlaneNamespace: string): boolean {
  return asMap(podLabels).get(CONTROL_PLANE_NS) === controlPlaneNamespace;
}

/** meshlock's "meshed": the claim AND a running proxy container. */
export function meshed(podLabels: AnnotationsLike, spec: unknown, controlPlaneNamespace: string): boolean {
  return claimsMesh(podLabels, controlPlaneNamespace) && proxyContainer(spec) !== undefined;
}

export type Injector = 'proxy-injector' | 'cli' | 'other' | 'none';

/** Who wrote the proxy, by `linkerd.io/created-by` (controller/proxy-injector/webhook.go Inject; pkg/k8s/labels.go CreatedByAnnotationValue). Forgeable on CREATE. */
export function injectedBy(podAnnotations: AnnotationsLike): Injector {
  const v = asMap(podAnnotations).get(CREATED_BY);
  if (v === undefined) return 'none';
  if (v === CREATED_BY_INJECTOR || v.startsWith(`${CREATED_BY_INJECTOR} `)) return 'proxy-injector';
  if (v === CREATED_BY_CLI || v.startsWith(`${CREATED_BY_CLI} `)) return 'cli';
  return 'other';
}

/** The proxy version the injector recorded (pkg/inject/inject.go injectObjectMeta). */
export function proxyVersion(podAnnotations: AnnotationsLike): string | undefined {
  return asMap(podAnnotations).get(PROXY_VERSION);
}

export interface NativeSidecarSetting {
  /** The key that decides, when one is present. */
  readonly key?: string;
  /** The raw value of that key. */
  readonly raw?: string;
  /** The parsed value; undefined when no key is set or its value does not parse (then the cluster default holds). */
  readonly value?: boolean;
}

/**
 * pkg/inject/inject.go ApplyAnnotationOverrides: `config.linkerd.io/`, else `config.beta.linkerd.io/`,
 * else `config.alpha.linkerd.io/proxy-enable-native-sidecar`, the first PRESENT key decides; its value
 * goes through strconv.ParseBool and an unparseable value leaves proxy.nativeSidecar as installed.
 */
export function nativeSidecarSetting(annotations: AnnotationsLike): NativeSidecarSetting {
  const m = asMap(annotations);
  for (const key of [A.nativeSidecar, A.nativeSidecarBeta, A.nativeSidecarAlpha]) {
    const raw = m.get(key);
    if (raw === undefined) continue;
    const value = parseGoBool(raw);
    return value === undefined ? { key, raw } : { key, raw, value };
  }
  return {};
}

/**
 * The annotations a pod is injected with: its own, plus each namespace annotation of Linkerd's
 * list that the pod lacks (pkg/inject/inject.go AppendNamespaceAnnotations, GetConfigOverride).
 * This holds at injection only; a later namespace edit never reaches a running pod.
 */
export function annotationsAtInjection(
  nsAnnotations: AnnotationsLike,
  podAnnotations: AnnotationsLike,
): ReadonlyMap<string, string> {
  const pod = asMap(podAnnotations);
  const ns = asMap(nsAnnotations);
  const out = new Map(pod);
  for (const key of INHERITED_FROM_NAMESPACE) {
    const v = ns.get(key);
    if (v !== undefined && !pod.has(key)) out.set(key, v);
  }
  return out;
}
