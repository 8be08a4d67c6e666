// The effective inbound policy of one pod port, as Linkerd's policy controller computes it
// (policy-controller/k8s/index/src/inbound/index.rs).
import { A, POLICY_GROUP } from './names.js';
import { asMap, containersOf, field, strings, text, type AnnotationsLike } from './read.js';
import { parsePortSet } from './parse.js';
import { selectorMatches } from './selectors.js';
import {
  authorizationPolicyAuthorization,
  defaultAuthorizations,
  parseAuthorizationPolicy,
  parseDefaultPolicy,
  parseServerAuthorization,
  targetsKind,
  type AuthenticationLookup,
  type Authorization,
  type DefaultPolicy,
} from './authorizations.js';

/** Each valid TCP container port of a pod (containers and init containers), with its name if any. */
function* tcpContainerPorts(spec: unknown): Generator<{ readonly n: number; readonly name: unknown }> {
  for (const { c } of containersOf(spec)) {
    const ports = field(c, 'ports');
    for (const p of Array.isArray(ports) ? ports : []) {
      const proto = field(p, 'protocol');
      if (typeof proto === 'string' && proto.toUpperCase() !== 'TCP') continue;
      const n = field(p, 'containerPort');
      if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) yield { n, name: field(p, 'name') };
    }
  }
}

/** Named TCP ports of a pod (inbound/workload.rs pod_tcp_ports_by_name: containers and init containers). */
export function namedTcpPorts(spec: unknown): ReadonlyMap<string, readonly number[]> {
  const out = new Map<string, number[]>();
  for (const { n, name } of tcpContainerPorts(spec)) {
    if (typeof name === 'string') out.set(name, [...(out.get(name) ?? []), n]);
  }
  return out;
}

/** Every declared TCP container port of a pod, sorted. */
export function tcpPorts(spec: unknown): number[] {
  const out = new Set<number>();
  for (const { n } of tcpContainerPorts(spec)) out.add(n);
  return [...out].sort((a, b) => a - b);
}

/**
 * HTTP probe paths per port (inbound/workload.rs pod_http_probes): liveness, readiness and startup
 * `httpGet` probes of containers and init containers; a named port is looked up among the SAME
 * container's TCP ports, case-insensitively; no path means `/`; the query is dropped. TCP, gRPC
 * and exec probes are not listed: they get no probe authorization.
 */
export function httpProbePaths(spec: unknown): ReadonlyMap<number, readonly string[]> {
  const out = new Map<number, Set<string>>();
  for (const { c } of containersOf(spec)) {
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const get = field(field(c, kind), 'httpGet');
      if (get === undefined) continue;
      const port = probePort(field(get, 'port'), c);
      if (port === undefined) continue;
      const rawPath = field(get, 'path');
      const path = typeof rawPath === 'string' ? rawPath.split('?')[0] || '/' : '/';
      out.set(port, (out.get(port) ?? new Set()).add(path));
    }
  }
  return new Map([...out].map(([p, s]) => [p, [...s].sort()]));
}

function probePort(port: unknown, container: unknown): number | undefined {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
  if (typeof port !== 'string') return undefined;
  for (const p of (field(container, 'ports') as unknown[] | undefined) ?? []) {
    const proto = field(p, 'protocol');
    if (typeof proto === 'string' && proto.toUpperCase() !== 'TCP') continue;
    const name = field(p, 'name');
    const n = field(p, 'containerPort');
    if (typeof name === 'string' && name.toLowerCase() === port.toLowerCase() && typeof n === 'number') return n;
  }
  return undefined;
}

/** The policy objects of the cluster (or of the manifests), as the apiserver returns them. */
export interface PolicyObjects {
  readonly servers: readonly unknown[];
  readonly serverAuthorizations: readonly unknown[];
  readonly authorizationPolicies: readonly unknown[];
  readonly meshTLSAuthentications: readonly unknown[];
  readonly networkAuthentications: readonly unknown[];
  /** HTTPRoutes (policy.linkerd.io or gateway.networking.k8s.io) and GRPCRoutes. */
  readonly routes: readonly unknown[];
}

export const NO_POLICY_OBJECTS: PolicyObjects = {
  servers: [],
  serverAuthorizations: [],
  authorizationPolicies: [],
  meshTLSAuthentications: [],
  networkAuthentications: [],
  routes: [],
};

export interface ClusterPolicy {
  /** proxy.defaultInboundPolicy as installed (ConfigMap linkerd-config); the policy controller's --default-policy. */
  readonly defaultPolicy: DefaultPolicy;
  /** policyController.probeNetworks (default 0.0.0.0/0 and ::/0); empty means no probe authorization. */
  readonly probeNetworks: readonly string[];
}

export interface PodView {
  readonly namespace: string;
  readonly labels: AnnotationsLike;
  /** The pod's annotations as they are on the pod (the controller never reads the namespace's). */
  readonly annotations: AnnotationsLike;
  readonly spec: unknown;
}

export interface InboundPolicy {
  readonly port: number;
  /** What decided: a Server, the pod's default-inbound-policy annotation, or the cluster default. */
  readonly source: 'server' | 'annotation' | 'cluster-default';
  /** The Server, when one selects the port. */
  readonly server?: string;
  /** Other Servers that also select the port and lost (older one wins, then name). */
  readonly shadowed: readonly string[];
  /** The default policy (for a default server), or the Server's accessPolicy when it parses. */
  readonly policy?: DefaultPolicy;
  /** A pod annotation value the controller could not parse (it then used the cluster default). */
  readonly invalidAnnotation?: string;
  /** The port is in proxy-require-identity-inbound-ports and the default allows: forced to authenticated. */
  readonly requireIdentity: boolean;
  /** Server-level authorizations (default, accessPolicy, ServerAuthorizations, AuthorizationPolicies). */
  readonly authorizations: readonly Authorization[];
  /** Authorizations of the routes attached to the Server (AuthorizationPolicies targeting them). */
  readonly routeAuthorizations: readonly Authorization[];
  /** Probe paths open without authentication from probeNetworks (default server, or a Server with no routes). */
  readonly probePaths: readonly string[];
  /** Objects Linkerd ignores as illegal, with the reason (they authorize nothing). */
  readonly ignored: readonly { readonly kind: string; readonly name: string; readonly error: string }[];
  /** Every authorization requires a mesh identity (probe paths aside): mutual TLS is strict on this port. */
  readonly strict: boolean;
}

function nameOf(o: unknown): string {
  return text(field(field(o, 'metadata'), 'name') ?? '');
}

function nsOf(o: unknown): string | undefined {
  const ns = field(field(o, 'metadata'), 'namespace');
  return typeof ns === 'string' ? ns : undefined;
}

function inNamespace(objs: readonly unknown[], ns: string): unknown[] {
  return objs.filter((o) => nsOf(o) === ns);
}

/** The Servers that select a pod port, in Linkerd's precedence: oldest creationTimestamp first (absent first), then name (index.rs reindex_servers). */
export function serversSelecting(pod: PodView, port: number, servers: readonly unknown[]): string[] {
  const named = namedTcpPorts(pod.spec);
  const labels = asMap(pod.labels);
  const hits = inNamespace(servers, pod.namespace).filter((s) => {
    const spec = field(s, 'spec');
    const sel = field(spec, 'podSelector');
    if (sel === undefined) return false;
    if (!selectorMatches(sel, labels)) return false;
    const p = field(spec, 'port');
    if (typeof p === 'number') return p === port;
    if (typeof p === 'string') return (named.get(p) ?? []).includes(port);
    return false;
  });
  const ts = (s: unknown): string => text(field(field(s, 'metadata'), 'creationTimestamp') ?? '');
  hits.sort((a, b) =>
    ts(a) < ts(b) ? -1 : ts(a) > ts(b) ? 1 : nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0,
  );
  return hits.map(nameOf);
}

function routeSelectsServer(route: unknown, server: string): boolean {
  const refs = field(field(route, 'spec'), 'parentRefs');
  return Array.isArray(refs) && refs.some((r) => targetsKind(r, POLICY_GROUP, 'Server') && field(r, 'name') === server);
}

/**
 * The effective inbound policy of `port` on a pod (index.rs reindex_servers, default_inbound_server,
 * inbound_server, client_authzs). A Server selecting the pod and port wins; otherwise the pod's own
 * `config.linkerd.io/default-inbound-policy` (an unparseable value falls back to the cluster default:
 * inbound/workload.rs Settings::from_metadata), otherwise the cluster default; a port listed in
 * `proxy-require-identity-inbound-ports` turns an allowing default into its authenticated form.
 */
export function inboundPolicy(
  pod: PodView,
  port: number,
  objects: PolicyObjects,
  cluster: ClusterPolicy,
): InboundPolicy {
  const ann = asMap(pod.annotations);
  const ignored: { kind: string; name: string; error: string }[] = [];
  const probes = httpProbePaths(pod.spec).get(port) ?? [];
  const probePaths = cluster.probeNetworks.length > 0 ? probes : [];
  const [server, ...shadowed] = serversSelecting(pod, port, objects.servers);
  if (server === undefined) {
    const raw = ann.get(A.defaultInboundPolicy);
    const parsed = raw === undefined ? undefined : parseDefaultPolicy(raw);
    let policy: DefaultPolicy = parsed ?? cluster.defaultPolicy;
    const requireText = ann.get(A.requireIdentityPorts);
    const require = requireText !== undefined && (parsePortSet(requireText)?.has(port) ?? false);
    const requireIdentity = require && policy !== 'deny' && policy !== 'audit';
    if (requireIdentity && policy === 'all-unauthenticated') policy = 'all-authenticated';
    if (requireIdentity && policy === 'cluster-unauthenticated') policy = 'cluster-authenticated';
    const authorizations = defaultAuthorizations(policy, { kind: 'default', name: policy });
    return {
      port,
      source: parsed !== undefined ? 'annotation' : 'cluster-default',
      shadowed: [],
      policy,
      ...(raw !== undefined && parsed === undefined ? { invalidAnnotation: raw } : {}),
      requireIdentity,
      authorizations,
      routeAuthorizations: [],
      probePaths,
      ignored,
      strict: authorizations.every((a) => a.authentication === 'tls-authenticated'),
    };
  }
  const srv = inNamespace(objects.servers, pod.namespace).find((s) => nameOf(s) === server);
  const srvLabels = strings(field(srv, 'metadata'), 'labels');
  const authorizations: Authorization[] = [];
  for (const o of inNamespace(objects.serverAuthorizations, pod.namespace)) {
    const saz = parseServerAuthorization(o);
    if (!saz.ok) {
      ignored.push({ kind: 'ServerAuthorization', name: saz.name, error: saz.error });
      continue;
    }
    const selects = 'name' in saz.server ? saz.server.name === server : selectorMatches(saz.server.selector, srvLabels);
    if (selects) authorizations.push(saz.authorization);
  }
  const lookup: AuthenticationLookup = (kind, ns, name) => {
    const list = kind === 'MeshTLSAuthentication' ? objects.meshTLSAuthentications : objects.networkAuthentications;
    return list.find((o) => nsOf(o) === ns && nameOf(o) === name);
  };
  const routes = inNamespace(objects.routes, pod.namespace).filter((r) => routeSelectsServer(r, server));
  const routeNames = new Set(routes.map(nameOf));
  const routeAuthorizations: Authorization[] = [];
  for (const o of inNamespace(objects.authorizationPolicies, pod.namespace)) {
    const ap = parseAuthorizationPolicy(o);
    if (!ap.ok) {
      ignored.push({ kind: 'AuthorizationPolicy', name: ap.name, error: ap.error });
      continue;
    }
    const t = ap.target;
    const onServer = (t.kind === 'Server' && t.name === server) || t.kind === 'Namespace';
    const onRoute = (t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute') && routeNames.has(t.name);
    if (!onServer && !onRoute) continue;
    const authz = authorizationPolicyAuthorization(ap, pod.namespace, lookup);
    if (!authz.ok) {
      ignored.push({ kind: 'AuthorizationPolicy', name: ap.name, error: authz.error });
      continue;
    }
    (onServer ? authorizations : routeAuthorizations).push(authz.authorization);
  }
  // inbound/server.rs: an accessPolicy that does not parse is dropped (nothing added); the CRD defaults it to deny.
  const rawAccess = field(field(srv, 'spec'), 'accessPolicy');
  const access = parseDefaultPolicy(rawAccess ?? 'deny');
  if (access) authorizations.push(...defaultAuthorizations(access, { kind: 'Server', name: server }));
  const all = [...authorizations, ...routeAuthorizations];
  return {
    port,
    source: 'server',
    server,
    shadowed,
    ...(access ? { policy: access } : {}),
    requireIdentity: false,
    authorizations,
    routeAuthorizations,
    // index.rs http_routes: a Server with routes gets no default probe route.
    probePaths: routes.length > 0 ? [] : probePaths,
    ignored,
    strict: all.every((a) => a.authentication === 'tls-authenticated'),
  };
}

/** The authorizations that admit plaintext (no client identity required), probe routes aside. */
export function plaintextAuthorizations(p: InboundPolicy): Authorization[] {
  return [...p.authorizations, ...p.routeAuthorizations].filter((a) => a.authentication === 'unauthenticated');
}
