// Linkerd's inbound authorizations: default policies, ServerAuthorization and AuthorizationPolicy,
// reduced to who may connect and whether they must present a mesh identity.
import { DEFAULTS, POLICY_GROUP } from './names.js';
import { field, isObj, text } from './read.js';

/** policy-controller/k8s/index/src/defaults.rs DefaultPolicy, by the names it parses. */
export const DEFAULT_POLICIES = [
  'all-unauthenticated',
  'all-authenticated',
  'cluster-unauthenticated',
  'cluster-authenticated',
  'deny',
  'audit',
] as const;
export type DefaultPolicy = (typeof DEFAULT_POLICIES)[number];

/** defaults.rs DefaultPolicy::from_str: exact, case-sensitive names; anything else is an error. */
export function parseDefaultPolicy(v: unknown): DefaultPolicy | undefined {
  return typeof v === 'string' && (DEFAULT_POLICIES as readonly string[]).includes(v)
    ? (v as DefaultPolicy)
    : undefined;
}

/**
 * What a client must present: nothing (`unauthenticated`, plaintext admitted), TLS without an
 * identity (`tls-unauthenticated`), or a mesh identity (`tls-authenticated`).
 */
export type Authentication = 'unauthenticated' | 'tls-unauthenticated' | 'tls-authenticated';

export interface AuthorizationRef {
  readonly kind: 'default' | 'Server' | 'ServerAuthorization' | 'AuthorizationPolicy';
  /** The default policy's name for `default`, the Server's for its accessPolicy, else the object's. */
  readonly name: string;
}

export interface Authorization {
  readonly ref: AuthorizationRef;
  readonly authentication: Authentication;
  /** Source networks; `cluster` = the cluster's clusterNetworks. */
  readonly networks: readonly string[] | 'cluster';
}

const ALL_NETWORKS: readonly string[] = ['0.0.0.0/0', '::/0'];

/**
 * defaults.rs default_authzs: `*-authenticated` requires an identity, `*-unauthenticated` does not,
 * `cluster-*` is limited to clusterNetworks; `deny` authorizes nothing; `audit` authorizes
 * everything from anywhere WITHOUT authentication (plaintext admitted).
 */
export function defaultAuthorizations(policy: DefaultPolicy, ref: AuthorizationRef): Authorization[] {
  switch (policy) {
    case 'deny':
      return [];
    case 'audit':
    case 'all-unauthenticated':
      return [{ ref, authentication: 'unauthenticated', networks: ALL_NETWORKS }];
    case 'cluster-unauthenticated':
      return [{ ref, authentication: 'unauthenticated', networks: 'cluster' }];
    case 'all-authenticated':
      return [{ ref, authentication: 'tls-authenticated', networks: ALL_NETWORKS }];
    case 'cluster-authenticated':
      return [{ ref, authentication: 'tls-authenticated', networks: 'cluster' }];
  }
}

function cidrsOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((n) => field(n, 'cidr')).filter((c): c is string => typeof c === 'string');
}

export type ParsedServerAuthorization =
  | {
      readonly ok: true;
      readonly name: string;
      readonly server: { readonly name: string } | { readonly selector: unknown };
      readonly authorization: Authorization;
    }
  | { readonly ok: false; readonly name: string; readonly error: string };

/**
 * policy-controller/k8s/index/src/inbound/server_authorization.rs client_authz: `client.unauthenticated`
 * wins; else `meshTLS.unauthenticatedTLS` gives TLS without identity; else the identities and
 * service accounts must be non-empty. With no `networks` the proxy is told the clusterNetworks
 * (policy-controller/grpc/src/inbound.rs to_authz). An illegal one is ignored by the index.
 */
export function parseServerAuthorization(obj: unknown): ParsedServerAuthorization {
  const name = text(field(field(obj, 'metadata'), 'name') ?? '');
  const spec = field(obj, 'spec');
  const client = field(spec, 'client');
  const srv = field(spec, 'server');
  const srvName = field(srv, 'name');
  const server = typeof srvName === 'string' ? { name: srvName } : { selector: field(srv, 'selector') ?? {} };
  const nets = cidrsOf(field(client, 'networks'));
  const networks = nets.length > 0 ? nets : 'cluster';
  const ref: AuthorizationRef = { kind: 'ServerAuthorization', name };
  if (field(client, 'unauthenticated') === true)
    return { ok: true, name, server, authorization: { ref, authentication: 'unauthenticated', networks } };
  const mtls = field(client, 'meshTLS');
  if (!isObj(mtls)) return { ok: false, name, error: 'no client authentication configured' };
  if (field(mtls, 'unauthenticatedTLS') === true)
    return { ok: true, name, server, authorization: { ref, authentication: 'tls-unauthenticated', networks } };
  const ids = field(mtls, 'identities');
  const sas = field(mtls, 'serviceAccounts');
  const count = (Array.isArray(ids) ? ids.length : 0) + (Array.isArray(sas) ? sas.length : 0);
  if (count === 0) return { ok: false, name, error: 'authorization authorizes no clients' };
  return { ok: true, name, server, authorization: { ref, authentication: 'tls-authenticated', networks } };
}

/** policy-controller/k8s/api/src/policy.rs targets_kind: group (absent or empty = core) and kind compared case-insensitively. */
export function targetsKind(ref: unknown, group: string, kind: string): boolean {
  const g = field(ref, 'group');
  const k = field(ref, 'kind');
  const refGroup = typeof g === 'string' && g !== '' ? g : 'core';
  return (
    typeof k === 'string' &&
    refGroup.toLowerCase() === (group === '' ? 'core' : group).toLowerCase() &&
    k.toLowerCase() === kind.toLowerCase()
  );
}

export type PolicyTarget =
  | { readonly kind: 'Server'; readonly name: string }
  | { readonly kind: 'Namespace' }
  | { readonly kind: 'HTTPRoute' | 'GRPCRoute'; readonly group: string; readonly name: string };

export interface AuthenticationRef {
  readonly kind: 'MeshTLSAuthentication' | 'NetworkAuthentication' | 'ServiceAccount';
  readonly namespace?: string;
  readonly name: string;
}

export type ParsedAuthorizationPolicy =
  | {
      readonly ok: true;
      readonly name: string;
      readonly target: PolicyTarget;
      readonly authentications: readonly AuthenticationRef[];
    }
  | { readonly ok: false; readonly name: string; readonly error: string };

/** policy-controller/k8s/index/src/inbound/authorization_policy.rs Spec::try_from: target and authentication kinds. */
export function parseAuthorizationPolicy(obj: unknown): ParsedAuthorizationPolicy {
  const name = text(field(field(obj, 'metadata'), 'name') ?? '');
  const spec = field(obj, 'spec');
  const t = field(spec, 'targetRef');
  const tname = field(t, 'name');
  if (typeof tname !== 'string') return { ok: false, name, error: 'targetRef has no name' };
  let target: PolicyTarget;
  if (targetsKind(t, POLICY_GROUP, 'Server')) target = { kind: 'Server', name: tname };
  else if (targetsKind(t, '', 'Namespace')) target = { kind: 'Namespace' };
  else if (targetsKind(t, POLICY_GROUP, 'HTTPRoute') || targetsKind(t, 'gateway.networking.k8s.io', 'HTTPRoute'))
    target = { kind: 'HTTPRoute', group: text(field(t, 'group') ?? ''), name: tname };
  else if (targetsKind(t, 'gateway.networking.k8s.io', 'GRPCRoute'))
    target = { kind: 'GRPCRoute', group: text(field(t, 'group') ?? ''), name: tname };
  else return { ok: false, name, error: `unsupported authorization target type: ${text(field(t, 'kind'))}` };
  const refs = field(spec, 'requiredAuthenticationRefs');
  const authentications: AuthenticationRef[] = [];
  for (const r of Array.isArray(refs) ? refs : []) {
    const rname = field(r, 'name');
    const ns = field(r, 'namespace');
    if (typeof rname !== 'string') return { ok: false, name, error: 'an authentication ref has no name' };
    const base = { name: rname, ...(typeof ns === 'string' ? { namespace: ns } : {}) };
    if (targetsKind(r, POLICY_GROUP, 'MeshTLSAuthentication'))
      authentications.push({ kind: 'MeshTLSAuthentication', ...base });
    else if (targetsKind(r, POLICY_GROUP, 'NetworkAuthentication'))
      authentications.push({ kind: 'NetworkAuthentication', ...base });
    else if (targetsKind(r, '', 'ServiceAccount')) authentications.push({ kind: 'ServiceAccount', ...base });
    else return { ok: false, name, error: `unsupported authentication target: ${text(field(r, 'kind'))}` };
  }
  return { ok: true, name, target, authentications };
}

/** Finds an authentication object by namespace and name; undefined when it does not exist. */
export type AuthenticationLookup = (
  kind: 'MeshTLSAuthentication' | 'NetworkAuthentication',
  namespace: string,
  name: string,
) => unknown;

/**
 * policy-controller/k8s/index/src/inbound/index.rs policy_client_authz: a MeshTLSAuthentication or a
 * ServiceAccount makes the authorization TLS-authenticated, otherwise it is UNAUTHENTICATED (so a
 * policy with only a NetworkAuthentication, or with no refs at all, admits plaintext); networks come
 * from the NetworkAuthentication, otherwise every address (0.0.0.0/0 and ::/0). More than one of a
 * kind, or a MeshTLSAuthentication/NetworkAuthentication that does not exist, makes the policy illegal:
 * the index ignores it (authorizes nothing).
 */
export function authorizationPolicyAuthorization(
  ap: Extract<ParsedAuthorizationPolicy, { ok: true }>,
  namespace: string,
  lookup: AuthenticationLookup,
): { ok: true; authorization: Authorization } | { ok: false; error: string } {
  const ref: AuthorizationRef = { kind: 'AuthorizationPolicy', name: ap.name };
  let identities = false;
  let networks: Authorization['networks'] | undefined;
  for (const a of ap.authentications) {
    const ns = a.namespace ?? namespace;
    if (a.kind === 'NetworkAuthentication') continue;
    if (identities)
      return {
        ok: false,
        error: `policy must not include multiple ${a.kind === 'ServiceAccount' ? 'ServiceAccounts' : 'MeshTLSAuthentications'}`,
      };
    if (a.kind === 'MeshTLSAuthentication' && lookup('MeshTLSAuthentication', ns, a.name) === undefined)
      return { ok: false, error: `could not find MeshTLSAuthentication ${a.name} in namespace ${ns}` };
    identities = true;
  }
  for (const a of ap.authentications) {
    if (a.kind !== 'NetworkAuthentication') continue;
    const ns = a.namespace ?? namespace;
    const na = lookup('NetworkAuthentication', ns, a.name);
    if (na === undefined)
      return { ok: false, error: `could not find NetworkAuthentication ${a.name} in namespace ${ns}` };
    if (networks !== undefined) return { ok: false, error: 'policy must not include multiple NetworkAuthentications' };
    const cidrs = cidrsOf(field(field(na, 'spec'), 'networks'));
    // An empty list reaches the proxy as the clusterNetworks (grpc/src/inbound.rs to_authz).
    networks = cidrs.length > 0 ? cidrs : 'cluster';
  }
  return {
    ok: true,
    authorization: {
      ref,
      authentication: identities ? 'tls-authenticated' : 'unauthenticated',
      networks: networks ?? ALL_NETWORKS,
    },
  };
}

/** Networks as text for a report. */
export function networksText(
  n: Authorization['networks'],
  clusterNetworks: readonly string[] = DEFAULTS.clusterNetworks,
): string {
  return n === 'cluster' ? `cluster networks (${clusterNetworks.join(', ')})` : n.join(', ');
}
