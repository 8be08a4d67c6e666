// The audit's view of a cluster: objects sorted by kind, from a dump or from a live listing. Pure.
// Objects enter only through addToInventory, which keeps an object only when its metadata has the
// shape KObj states (a dump can hold anything); the others are listed as unreadable.
import { groupOf } from '../policy/index.js';

/**
 * An object as the audit reads it: the API's shape, of which addToInventory has checked the
 * metadata (strings where the API has strings). The rest (spec, status) is read field by field as
 * unknown data. Not client-node's V1ObjectMeta: that types creationTimestamp as a Date, while the
 * audit holds the JSON as listed or read.
 */
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
  /** Objects of a kind the audit reads whose metadata it cannot read: reported, never skipped silently. */
  readonly unreadable: UnreadableObject[];
}

export interface UnreadableObject {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly problem: string;
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
    unreadable: [],
  };
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What in an object's metadata is not what the API would give (strings, string maps, owner references), if anything. */
export function metadataProblem(o: Record<string, unknown>): string | undefined {
  if (o['apiVersion'] !== undefined && !isStr(o['apiVersion'])) return 'apiVersion is not a string';
  const m = o['metadata'];
  if (m === undefined) return undefined;
  if (!isRec(m)) return 'metadata is not an object';
  for (const k of ['name', 'generateName', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp']) {
    if (m[k] !== undefined && m[k] !== null && !isStr(m[k])) return `metadata.${k} is not a string`;
  }
  for (const k of ['labels', 'annotations']) {
    const map = m[k];
    if (map === undefined || map === null) continue;
    if (!isRec(map)) return `metadata.${k} is not a map`;
    const bad = Object.entries(map).find(([, v]) => !isStr(v));
    if (bad) return `metadata.${k}["${bad[0]}"] is not a string`;
  }
  const refs = m['ownerReferences'];
  if (refs !== undefined && refs !== null) {
    if (!Array.isArray(refs)) return 'metadata.ownerReferences is not a list';
    for (const r of refs as unknown[]) {
      if (!isRec(r)) return 'an ownerReference is not an object';
      for (const k of ['kind', 'name', 'uid', 'apiVersion'])
        if (r[k] !== undefined && !isStr(r[k])) return `ownerReference.${k} is not a string`;
      if (r['controller'] !== undefined && typeof r['controller'] !== 'boolean')
        return 'ownerReference.controller is not a boolean';
    }
  }
  return undefined;
}

const text = (v: unknown): string => (isStr(v) ? v : '?');

/** Sorts objects into an inventory; unknown kinds are counted, not kept. */
export function addToInventory(inv: Inventory, objects: Iterable<unknown>, defaultNamespace = 'default'): Inventory {
  let other = inv.other;
  for (const raw of objects) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      other++;
      continue;
    }
    const rec = raw as Record<string, unknown>;
    if (!isStr(rec['kind'])) {
      other++;
      continue;
    }
    const problem = metadataProblem(rec);
    if (problem !== undefined) {
      const meta = isRec(rec['metadata']) ? rec['metadata'] : {};
      inv.unreadable.push({
        kind: rec['kind'],
        namespace: text(meta['namespace']),
        name: text(meta['name'] ?? meta['generateName']),
        problem,
      });
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
