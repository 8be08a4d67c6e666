// The audit's view of a cluster: objects sorted by kind, from a dump or from a live listing. Pure.
import { groupOf } from '../policy/index.js';

export type KObj = {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean; apiVersion?: string }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
  type?: string;
  webhooks?: unknown[];
  [key: string]: unknown;
};

export interface Inventory {
  readonly namespaces: KObj[];
  readonly pods: KObj[];
  /** Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers. */
  readonly controllers: KObj[];
  readonly peerAuthentications: KObj[];
  readonly destinationRules: KObj[];
  readonly mutatingWebhooks: KObj[];
  readonly validatingWebhooks: KObj[];
  readonly secrets: KObj[];
  /** Services and APIServices: what the kube-apiserver calls (apiserver-backend-strict). */
  readonly services: KObj[];
  readonly apiServices: KObj[];
  /** ConfigMaps (the audit keeps Linkerd's linkerd-config only). */
  readonly configMaps: KObj[];
  /** Linkerd's policy objects (docs/POLICY-LINKERD.md (d)). */
  readonly linkerd: LinkerdObjects;
  /** Everything else, kept only to be counted. */
  readonly other: number;
}

export interface LinkerdObjects {
  readonly servers: KObj[];
  readonly serverAuthorizations: KObj[];
  readonly authorizationPolicies: KObj[];
  readonly meshTLSAuthentications: KObj[];
  readonly networkAuthentications: KObj[];
  readonly routes: KObj[];
}

const LINKERD_LISTS: Readonly<Record<string, keyof LinkerdObjects>> = {
  'policy.linkerd.io/Server': 'servers',
  'policy.linkerd.io/ServerAuthorization': 'serverAuthorizations',
  'policy.linkerd.io/AuthorizationPolicy': 'authorizationPolicies',
  'policy.linkerd.io/MeshTLSAuthentication': 'meshTLSAuthentications',
  'policy.linkerd.io/NetworkAuthentication': 'networkAuthentications',
  'policy.linkerd.io/HTTPRoute': 'routes',
  'gateway.networking.k8s.io/HTTPRoute': 'routes',
  'gateway.networking.k8s.io/GRPCRoute': 'routes',
};

const CONTROLLER_KINDS = new Set([
  'apps/Deployment',
  'apps/ReplicaSet',
  'apps/StatefulSet',
  'apps/DaemonSet',
  'batch/Job',
  'batch/CronJob',
  '/ReplicationController',
]);

const CLUSTER_SCOPED = new Set([
  '/Namespace',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
]);

export function emptyInventory(): Inventory {
  return {
    namespaces: [],
    pods: [],
    controllers: [],
    peerAuthentications: [],
    destinationRules: [],
    mutatingWebhooks: [],
    validatingWebhooks: [],
    secrets: [],
    services: [],
    apiServices: [],
    configMaps: [],
    linkerd: {
      servers: [],
      serverAuthorizations: [],
      authorizationPolicies: [],
      meshTLSAuthentications: [],
      networkAuthentications: [],
      routes: [],
    },
    other: 0,
  };
}

/** Sorts objects into an inventory; unknown kinds are counted, not kept. */
export function addToInventory(inv: Inventory, objects: Iterable<unknown>, defaultNamespace = 'default'): Inventory {
  let other = inv.other;
  for (const raw of objects) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      other++;
      continue;
    }
    const o = raw as KObj;
    const key = `${groupOf(o.apiVersion)}/${String(o.kind)}`;
    // A manifest without a namespace lands in kubectl's current namespace; the caller names it.
    if (!CLUSTER_SCOPED.has(key) && o.metadata && !o.metadata.namespace) o.metadata.namespace = defaultNamespace;
    if (key === '/Namespace') inv.namespaces.push(o);
    else if (key === '/Pod') inv.pods.push(o);
    else if (CONTROLLER_KINDS.has(key)) inv.controllers.push(o);
    else if (key === 'security.istio.io/PeerAuthentication') inv.peerAuthentications.push(o);
    else if (key === 'networking.istio.io/DestinationRule') inv.destinationRules.push(o);
    else if (key === 'admissionregistration.k8s.io/MutatingWebhookConfiguration') inv.mutatingWebhooks.push(o);
    else if (key === 'admissionregistration.k8s.io/ValidatingWebhookConfiguration') inv.validatingWebhooks.push(o);
    else if (key === '/Secret') inv.secrets.push(o);
    else if (key === '/Service') inv.services.push(o);
    else if (key === 'apiregistration.k8s.io/APIService') inv.apiServices.push(o);
    else if (key === '/ConfigMap' && o.metadata?.name === 'linkerd-config') inv.configMaps.push(o);
    else if (Object.hasOwn(LINKERD_LISTS, key)) inv.linkerd[LINKERD_LISTS[key] as keyof LinkerdObjects].push(o);
    else other++;
  }
  return { ...inv, other };
}

export function inventoryOf(objects: Iterable<unknown>, defaultNamespace = 'default'): Inventory {
  return addToInventory(emptyInventory(), objects, defaultNamespace);
}

export function nameOf(o: KObj): string {
  return o.metadata?.name ?? o.metadata?.generateName ?? '';
}

export function namespaceOf(o: KObj): string {
  return o.metadata?.namespace ?? '';
}

export function labelsOf(o: { metadata?: { labels?: Record<string, string> } } | undefined): Record<string, string> {
  const l = o?.metadata?.labels;
  return typeof l === 'object' && l !== null ? l : {};
}
