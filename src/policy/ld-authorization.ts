// Linkerd 2: Server, ServerAuthorization and AuthorizationPolicy (docs/POLICY-LINKERD.md (b)). What
// an authorization admits is the model's answer (./linkerd/authorizations.ts); this file only judges it.
import { field, isObj, show } from './object.js';
import { parseAuthorizationPolicy, parseDefaultPolicy } from './linkerd/index.js';
import type { EdgePorts } from './ld-pod.js';
import type { EngineInput, Violation } from './types.js';

const PLAINTEXT_POLICIES: ReadonlySet<string> = new Set(['all-unauthenticated', 'cluster-unauthenticated', 'audit']);

function malformed(input: EngineInput): Violation | undefined {
  const spec = field(input.object, 'spec');
  if (spec !== undefined && !isObj(spec))
    return {
      rule: 'malformed-object',
      severity: 'error',
      path: '/spec',
      message: 'spec is not an object',
      fix: 'write spec as an object',
    };
  return undefined;
}

/**
 * ld-server-access: an accessPolicy that admits plaintext, or one Linkerd cannot parse. A Server is
 * how Linkerd names a port, so it is where an edge applies: its podSelector.matchLabels must select
 * the edge's workloads and its numeric port must be an edge port.
 */
export function checkServer(input: EngineInput, edgePorts: EdgePorts): Violation[] {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT') return [];
  const bad = malformed(input);
  if (bad) return [bad];
  const spec = field(input.object, 'spec');
  const raw = field(spec, 'accessPolicy');
  // Absent means the CRD default, deny (charts/linkerd-crds/templates/policy/server.yaml).
  if (raw === undefined) return [];
  const policy = parseDefaultPolicy(raw);
  if (policy !== undefined && !PLAINTEXT_POLICIES.has(policy)) return [];
  if (policy !== undefined) {
    const ml = field(field(spec, 'podSelector'), 'matchLabels');
    const port = field(spec, 'port');
    const labels = new Map<string, string>();
    if (isObj(ml)) for (const [k, v] of Object.entries(ml)) if (typeof v === 'string') labels.set(k, v);
    if (labels.size > 0 && typeof port === 'number' && edgePorts(input.namespace, labels, true).has(port)) return [];
  }
  return [
    {
      rule: 'ld-server-access',
      severity: 'error',
      path: '/spec/accessPolicy',
      message:
        policy === undefined
          ? `accessPolicy ${show(raw)} is not a policy Linkerd knows; its validator fails open and the Server then authorizes nothing it names`
          : `accessPolicy ${policy} admits plaintext on the port`,
      fix: 'set accessPolicy to deny (and authorize clients with a MeshTLSAuthentication), or list the port as an edge in the meshlock config',
    },
  ];
}

/** ld-saz-unauth: `client.unauthenticated` admits plaintext; `meshTLS.unauthenticatedTLS` admits clients without an identity. */
export function checkServerAuthorization(input: EngineInput): Violation[] {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT') return [];
  const bad = malformed(input);
  if (bad) return [bad];
  const client = field(field(input.object, 'spec'), 'client');
  const out: Violation[] = [];
  if (field(client, 'unauthenticated') === true) {
    out.push({
      rule: 'ld-saz-unauth',
      severity: 'error',
      path: '/spec/client/unauthenticated',
      message: 'client.unauthenticated admits plaintext clients',
      fix: 'authorize meshTLS identities or service accounts instead (or exempt this object for an edge)',
    });
  }
  if (field(field(client, 'meshTLS'), 'unauthenticatedTLS') === true) {
    out.push({
      rule: 'ld-saz-unauth',
      severity: 'error',
      path: '/spec/client/meshTLS/unauthenticatedTLS',
      message: 'meshTLS.unauthenticatedTLS admits clients that present no mesh identity',
      fix: 'list meshTLS identities or service accounts instead',
    });
  }
  return out;
}

/**
 * ld-authz-unauth: without a MeshTLSAuthentication or ServiceAccount ref Linkerd authorizes
 * unauthenticated clients (policy-controller/k8s/index/src/inbound/index.rs policy_client_authz),
 * so a network-only policy, or one with no refs, admits plaintext.
 */
export function checkAuthorizationPolicy(input: EngineInput): Violation[] {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT') return [];
  const bad = malformed(input);
  if (bad) return [bad];
  const ap = parseAuthorizationPolicy(input.object);
  // One Linkerd cannot read authorizes nothing (the index ignores it): not a plaintext path.
  if (!ap.ok) return [];
  if (ap.authentications.some((a) => a.kind !== 'NetworkAuthentication')) return [];
  const networks = ap.authentications.length > 0 ? 'only a NetworkAuthentication' : 'no authentication refs';
  return [
    {
      rule: 'ld-authz-unauth',
      severity: 'error',
      path: '/spec/requiredAuthenticationRefs',
      message: `the policy has ${networks}, so it authorizes clients without a mesh identity, plaintext included`,
      fix: 'add a MeshTLSAuthentication or ServiceAccount ref (or exempt this object for an edge)',
    },
  ];
}
