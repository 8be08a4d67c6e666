// In-mesh hosts: whether a DestinationRule's `spec.host` names services that run in the mesh.

export interface HostContext {
  readonly clusterDomain: string;
  /** Namespaces whose services run outside the mesh (no sidecar, no ztunnel): the system namespaces. */
  readonly systemNamespaces: ReadonlySet<string>;
}

/**
 * In-mesh host: a short name (no dot: Istio resolves it in the rule's own namespace), a name under
 * `.svc`, `.svc.<clusterDomain>` or `.<clusterDomain>`, or a wildcard covering such names (Istio's
 * pkg/config/host/name.go `Name.Matches`: `*.<suffix>` covers every name ending in `.<suffix>`).
 * Anything else (api.example.com) is egress. A host meshlock cannot read is treated as in-mesh: fail
 * closed.
 */
export function isInMeshHost(host: unknown, ctx: Pick<HostContext, 'clusterDomain'>): boolean {
  if (typeof host !== 'string' || host.trim() === '') return true;
  const h = normalise(host);
  const cd = ctx.clusterDomain.toLowerCase();
  if (h === '*') return true;
  if (!h.includes('.')) return true;
  if (h.endsWith('.svc') || h.endsWith(`.svc.${cd}`) || h.endsWith(`.${cd}`)) return true;
  if (h.startsWith('*.')) {
    // `*.local` covers `x.cluster.local`, `*.cluster.local` covers every service: a wildcard whose
    // suffix is itself a suffix of `svc.<clusterDomain>` covers in-mesh names.
    const suffix = h.slice(2);
    const meshSuffix = `svc.${cd}`;
    if (meshSuffix === suffix || meshSuffix.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

/**
 * A service (or `*`) of a system namespace: `<svc>.<system-ns>.svc[.<clusterDomain>]`, e.g.
 * `istiod.istio-system.svc`. Nothing there runs a sidecar: the injector never serves
 * kube-system and its peers (pkg/kube/inject/initializer.go IgnoredNamespaces) and the control plane
 * runs without one, so TLS towards it with other certificates (Istio's own multicluster samples
 * originate TLS to istiod this way) replaces no mesh identity.
 */
export function isSystemServiceHost(host: unknown, ctx: HostContext): boolean {
  if (typeof host !== 'string') return false;
  const h = normalise(host);
  const cd = ctx.clusterDomain.toLowerCase();
  const suffix = h.endsWith(`.svc.${cd}`) ? `.svc.${cd}` : h.endsWith('.svc') ? '.svc' : undefined;
  if (suffix === undefined) return false;
  const parts = h.slice(0, -suffix.length).split('.');
  return parts.length === 2 && parts[0] !== '' && ctx.systemNamespaces.has(parts[1] as string);
}

function normalise(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}
