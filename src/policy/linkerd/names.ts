// Linkerd's names and defaults, each as Linkerd's own source spells it (linkerd/linkerd2 at
// edge-26.8.3; `pkg/k8s/labels.go` unless said otherwise). The only place meshlock writes them down.

/** `linkerd.io/inject` is an ANNOTATION (pkg/k8s/labels.go ProxyInjectAnnotation), never a label. */
export const INJECT = 'linkerd.io/inject';
/** Values the injector accepts (pkg/inject/report.go ValidInjectAnnotationValues). */
export const INJECT_ENABLED = 'enabled';
export const INJECT_DISABLED = 'disabled';
export const INJECT_INGRESS = 'ingress';

/** Label the injector adds to a meshed pod; its value must equal the control plane's namespace. */
export const CONTROL_PLANE_NS = 'linkerd.io/control-plane-ns';
/** Labels that keep a pod away from the injector's webhook (values.yaml proxyInjector.objectSelector). */
export const CONTROL_PLANE_COMPONENT = 'linkerd.io/control-plane-component';
export const CNI_RESOURCE = 'linkerd.io/cni-resource';
/** Namespace LABEL that keeps the namespace away from every Linkerd webhook (values.yaml namespaceSelector). */
export const ADMISSION_WEBHOOKS = 'config.linkerd.io/admission-webhooks';
/** Namespaces the injector's webhook never sees (values.yaml proxyInjector.namespaceSelector). */
export const WEBHOOK_SKIPPED_NAMESPACES: readonly string[] = ['kube-system', 'cert-manager'];

/** Annotations the injector writes (controller/proxy-injector/webhook.go Inject, pkg/inject/inject.go injectObjectMeta). */
export const CREATED_BY = 'linkerd.io/created-by';
export const PROXY_VERSION = 'linkerd.io/proxy-version';
/** The value the proxy-injector writes into CREATED_BY, before its version. */
export const CREATED_BY_INJECTOR = 'linkerd/proxy-injector';
/** What `linkerd inject --manual` writes (pkg/k8s/labels.go CreatedByAnnotationValue). */
export const CREATED_BY_CLI = 'linkerd/cli';

export const PROXY_CONTAINER = 'linkerd-proxy';
export const INIT_CONTAINER = 'linkerd-init';

/** Configuration annotations (pkg/k8s/labels.go). */
export const A = {
  skipInboundPorts: 'config.linkerd.io/skip-inbound-ports',
  skipOutboundPorts: 'config.linkerd.io/skip-outbound-ports',
  skipSubnets: 'config.linkerd.io/skip-subnets',
  adminPort: 'config.linkerd.io/admin-port',
  controlPort: 'config.linkerd.io/control-port',
  inboundPort: 'config.linkerd.io/inbound-port',
  proxyUid: 'config.linkerd.io/proxy-uid',
  proxyGid: 'config.linkerd.io/proxy-gid',
  defaultInboundPolicy: 'config.linkerd.io/default-inbound-policy',
  requireIdentityPorts: 'config.linkerd.io/proxy-require-identity-inbound-ports',
  opaquePorts: 'config.linkerd.io/opaque-ports',
  proxyVersionOverride: 'config.linkerd.io/proxy-version',
  nativeSidecar: 'config.linkerd.io/proxy-enable-native-sidecar',
  nativeSidecarBeta: 'config.beta.linkerd.io/proxy-enable-native-sidecar',
  nativeSidecarAlpha: 'config.alpha.linkerd.io/proxy-enable-native-sidecar',
} as const;

/**
 * The annotations the injector copies from the namespace onto a pod that lacks them, at injection
 * only (pkg/inject/inject.go AppendNamespaceAnnotations over ProxyAnnotations, ProxyAlphaConfigAnnotations
 * and the inject annotation). Those named here are the ones meshlock reads; the beta native-sidecar
 * key is NOT in Linkerd's lists, so a namespace's beta key never reaches a pod.
 */
export const INHERITED_FROM_NAMESPACE: readonly string[] = [
  A.adminPort,
  A.controlPort,
  A.inboundPort,
  A.proxyUid,
  A.proxyGid,
  A.proxyVersionOverride,
  A.requireIdentityPorts,
  A.skipInboundPorts,
  A.opaquePorts,
  A.skipOutboundPorts,
  A.defaultInboundPolicy,
  A.skipSubnets,
  A.nativeSidecar,
  A.nativeSidecarAlpha,
  INJECT,
];

/** Chart defaults (charts/linkerd-control-plane/values.yaml). */
export const DEFAULTS = {
  controlPlaneNamespace: 'linkerd',
  /** proxy.defaultInboundPolicy */
  defaultInboundPolicy: 'all-unauthenticated',
  /** proxy.uid / proxy.gid (a gid below 0 is not passed to proxy-init: partials/_proxy-init.tpl) */
  proxyUid: 2102,
  proxyGid: -1,
  /** proxy.ports.admin / proxy.ports.control / proxy.ports.inbound */
  adminPort: 4191,
  controlPort: 4190,
  inboundPort: 4143,
  /** proxyInit.ignoreInboundPorts / ignoreOutboundPorts (Galera) */
  ignoreInboundPorts: '4567,4568',
  ignoreOutboundPorts: '4567,4568',
  /** policyController.probeNetworks */
  probeNetworks: ['0.0.0.0/0', '::/0'] as readonly string[],
  /** clusterNetworks */
  clusterNetworks: ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'] as readonly string[],
  /** webhookFailurePolicy */
  webhookFailurePolicy: 'Ignore',
  /** proxy.nativeSidecar: true since edge-26.5.2 (#15267), false before */
  nativeSidecar: true,
} as const;

/** The policy.linkerd.io kinds meshlock reads. */
export const POLICY_GROUP = 'policy.linkerd.io';
