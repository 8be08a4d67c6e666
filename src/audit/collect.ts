// Where the audit's objects come from: a dump on disk, or the live cluster listed page by page.
// Collection only; every decision is made afterwards on the inventory (build.ts, install.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import type { ResolvedConfig } from '../config/index.js';
import { listAll, type ResourceType } from '../kube/list.js';
import { addToInventory, emptyInventory, type Inventory } from './inventory.js';
import { readManifests, type SourceError, type SourceSkip } from '../manifests/sources.js';

export interface Collected {
  readonly inventory: Inventory;
  readonly errors: SourceError[];
  /** Resource types the cluster does not serve (Istio CRDs missing), for the report. */
  readonly missing: string[];
  readonly locations?: Map<unknown, { file: string; line: number }>;
  /** From files: how many Kubernetes objects were read, and what was skipped as not one. */
  readonly objects?: number;
  readonly skipped?: readonly SourceSkip[];
}

export function collectFromFiles(paths: readonly string[], defaultNamespace: string, stdin?: () => string): Collected {
  const set = readManifests(paths, { fast: true, ...(stdin ? { stdin } : {}) });
  const locations = new Map<unknown, { file: string; line: number }>();
  for (const o of set.objects) locations.set(o.object, { file: o.file, line: o.line });
  return {
    inventory: addToInventory(
      emptyInventory(),
      set.objects.map((o) => o.object),
      defaultNamespace,
    ),
    errors: set.errors,
    missing: [],
    locations,
    objects: set.objects.length,
    skipped: set.skipped ?? [],
  };
}

/** Istio's policies, at the newest version a cluster serves (also what `check --cluster` reads). */
export const PEER_AUTHENTICATIONS: ResourceType = {
  apiVersion: 'security.istio.io/v1',
  resource: 'peerauthentications',
  kind: 'PeerAuthentication',
  namespaced: true,
  fallbacks: ['security.istio.io/v1beta1'],
};
export const DESTINATION_RULES: ResourceType = {
  apiVersion: 'networking.istio.io/v1',
  resource: 'destinationrules',
  kind: 'DestinationRule',
  namespaced: true,
  fallbacks: ['networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
};

export const NAMESPACED: ResourceType[] = [
  { apiVersion: 'v1', resource: 'pods', kind: 'Pod', namespaced: true },
  { apiVersion: 'apps/v1', resource: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  { apiVersion: 'apps/v1', resource: 'deployments', kind: 'Deployment', namespaced: true },
  { apiVersion: 'apps/v1', resource: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  { apiVersion: 'apps/v1', resource: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  { apiVersion: 'batch/v1', resource: 'jobs', kind: 'Job', namespaced: true },
  { apiVersion: 'batch/v1', resource: 'cronjobs', kind: 'CronJob', namespaced: true },
  { apiVersion: 'v1', resource: 'replicationcontrollers', kind: 'ReplicationController', namespaced: true },
  // The Services behind webhooks and APIServices (apiserver-backend-strict).
  { apiVersion: 'v1', resource: 'services', kind: 'Service', namespaced: true },
  PEER_AUTHENTICATIONS,
  DESTINATION_RULES,
];
/** Linkerd's policy objects (docs/POLICY-LINKERD.md (d)); read with `mesh: linkerd`. */
export const LINKERD_POLICIES: ResourceType[] = [
  {
    apiVersion: 'policy.linkerd.io/v1beta3',
    resource: 'servers',
    kind: 'Server',
    namespaced: true,
    fallbacks: ['policy.linkerd.io/v1beta2', 'policy.linkerd.io/v1beta1'],
  },
  {
    apiVersion: 'policy.linkerd.io/v1beta1',
    resource: 'serverauthorizations',
    kind: 'ServerAuthorization',
    namespaced: true,
    fallbacks: ['policy.linkerd.io/v1alpha1'],
  },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1',
    resource: 'authorizationpolicies',
    kind: 'AuthorizationPolicy',
    namespaced: true,
  },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1',
    resource: 'meshtlsauthentications',
    kind: 'MeshTLSAuthentication',
    namespaced: true,
  },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1',
    resource: 'networkauthentications',
    kind: 'NetworkAuthentication',
    namespaced: true,
  },
  {
    apiVersion: 'policy.linkerd.io/v1beta3',
    resource: 'httproutes',
    kind: 'HTTPRoute',
    namespaced: true,
    fallbacks: ['policy.linkerd.io/v1beta2', 'policy.linkerd.io/v1beta1'],
  },
  { apiVersion: 'gateway.networking.k8s.io/v1', resource: 'httproutes', kind: 'HTTPRoute', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', resource: 'grpcroutes', kind: 'GRPCRoute', namespaced: true },
];
/** Linkerd's installed values (ConfigMap linkerd-config in the control-plane namespace). */
export const CONFIGMAPS: ResourceType = {
  apiVersion: 'v1',
  resource: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
};

export const NAMESPACES: ResourceType = {
  apiVersion: 'v1',
  resource: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
};
export const WEBHOOKS: ResourceType[] = [
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    resource: 'mutatingwebhookconfigurations',
    kind: 'MutatingWebhookConfiguration',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    resource: 'validatingwebhookconfigurations',
    kind: 'ValidatingWebhookConfiguration',
    namespaced: false,
  },
  // Aggregated APIs: the kube-apiserver calls their Services like a webhook's.
  { apiVersion: 'apiregistration.k8s.io/v1', resource: 'apiservices', kind: 'APIService', namespaced: false },
];
export const SECRETS: ResourceType = { apiVersion: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true };

export interface ClusterOptions {
  /** Only these namespaces (kubectl's -n); the root namespace is always read for mesh policies and istiod. */
  readonly namespaces?: readonly string[];
  readonly pageSize?: number;
  readonly progress?: (what: string, received: number) => void;
}

export async function collectFromCluster(
  kc: KubeConfig,
  config: ResolvedConfig,
  opts: ClusterOptions = {},
): Promise<Collected> {
  let inv = emptyInventory();
  const missing: string[] = [];
  const errors: SourceError[] = [];
  const scopes =
    opts.namespaces && opts.namespaces.length > 0
      ? [...new Set([...opts.namespaces, config.rootNamespace])]
      : [undefined];
  const run = async (type: ResourceType, namespace?: string, fieldSelector?: string): Promise<void> => {
    const what = `${type.resource}${namespace ? ` in ${namespace}` : ''}`;
    try {
      const items = await listAll(kc, type, {
        ...(namespace ? { namespace } : {}),
        ...(fieldSelector ? { fieldSelector } : {}),
        limit: opts.pageSize ?? 500,
        onPage: (n) => opts.progress?.(what, n),
      });
      if (items === undefined) missing.push(type.resource);
      else inv = addToInventory(inv, items);
    } catch (err) {
      const status = (err as { status?: number }).status;
      // Secrets, webhook configurations and Linkerd's ConfigMap need rights an auditor may not have; the report says so.
      if (status === 403 && (type === SECRETS || type === CONFIGMAPS || WEBHOOKS.includes(type)))
        errors.push({ file: `cluster:${what}`, line: 0, message: `forbidden: ${(err as Error).message}` });
      else throw err;
    }
  };
  await run(NAMESPACES);
  for (const type of NAMESPACED) for (const ns of scopes) await run(type, ns);
  if (config.mesh === 'linkerd') {
    for (const type of LINKERD_POLICIES) for (const ns of scopes) await run(type, ns);
    await run(CONFIGMAPS, config.linkerd.controlPlaneNamespace, 'metadata.name=linkerd-config');
  }
  for (const type of WEBHOOKS) await run(type);
  // Only TLS Secrets of meshlock's namespace: the serving certificate, nothing else.
  await run(SECRETS, config.meshlockNamespace, 'type=kubernetes.io/tls');
  if (opts.namespaces && opts.namespaces.length > 0) {
    const keep = new Set([...opts.namespaces, config.rootNamespace]);
    inv = { ...inv, namespaces: inv.namespaces.filter((n) => keep.has(n.metadata?.name ?? '')) };
  }
  return { inventory: inv, errors, missing };
}
