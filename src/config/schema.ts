// The configuration file's schema. It is the single source of both the ajv validation and the
// TypeScript type (TypeBox), so the check and the type cannot drift (STYLE.md §3).
import { Type, type Static } from '@sinclair/typebox';

/** Every validation rule of POLICY.md's catalogue. Ids are stable: they appear in config, logs, metrics, reports. */
export const RULE_IDS = [
  'pa-mode',
  'pa-port-mode',
  'pa-mesh-strict',
  'pa-mesh-delete',
  'pa-root-selector',
  'dr-tls-disable',
  'dr-tls-origination',
  'ns-injection-disabled',
  'ns-injection-missing',
  'ns-injection-conflict',
  'pod-injection-disabled',
  'pod-host-network',
  'pod-capture-bypass',
  'pod-outbound-bypass',
  'pod-proxy-uid',
  'pod-net-admin',
  'pod-forged-status',
  // docs/POLICY-LINKERD.md, with config `mesh: linkerd`.
  'ld-ns-inject',
  'ld-ns-inject-missing',
  'ld-ns-webhooks-off',
  'ld-pod-inject',
  'ld-pod-not-meshed',
  'ld-selector-bypass',
  'ld-forged-proxy',
  'ld-host-network',
  'ld-skip-inbound',
  'ld-skip-outbound',
  'ld-proxy-uid',
  'ld-net-admin',
  'ld-inbound-policy',
  'ld-server-access',
  'ld-saz-unauth',
  'ld-authz-unauth',
  'ld-mesh-label',
  'ld-job-sidecar',
  // Not in POLICY.md's table: an object of a family meshlock checks that it cannot read at all (not an
  // object, no metadata, a template that is not an object). The engine fails closed on it.
  'malformed-object',
] as const;

/** The mutations of POLICY.md. They share the rule-id namespace for modes and exemptions. */
export const MUTATION_IDS = [
  'ns-injection-label',
  'pod-injection-label',
  'job-native-sidecar',
  'ld-ns-inject-annotation',
  'ld-ns-default-policy',
  'ld-pod-inject-annotation',
  'ld-job-native-sidecar',
] as const;

export type RuleId = (typeof RULE_IDS)[number];
export type MutationId = (typeof MUTATION_IDS)[number];

export const ModeSchema = Type.Union([Type.Literal('enforce'), Type.Literal('warn'), Type.Literal('dry-run')], {
  description: 'enforce denies, warn allows with admission warnings, dry-run allows silently and only records',
});
export type Mode = Static<typeof ModeSchema>;

const RuleOrMutationIdSchema = Type.Union(
  [...RULE_IDS, ...MUTATION_IDS].map((id) => Type.Literal(id)),
  { description: 'a rule or mutation id of POLICY.md' },
);

// Kubernetes namespace names are RFC 1123 labels.
const NamespaceName = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 });
// Exemption namespace and name may be globs: `*` any run of characters, `?` one character (glob.ts),
// at most 8 `*` so the work of a match stays bounded whatever the config says.
const Glob = Type.String({ minLength: 1, maxLength: 253, pattern: '^[^*]*(\\*[^*]*){0,8}$' });

export const ExemptionSchema = Type.Object(
  {
    namespace: Glob,
    kind: Type.Optional(Type.String({ minLength: 1 })),
    name: Type.Optional(Glob),
    rules: Type.Optional(Type.Array(RuleOrMutationIdSchema, { minItems: 1 })),
    reason: Type.String({ minLength: 1 }),
    // A YAML 1.2 date such as 2027-06-30 is read as a string; a full timestamp is accepted too.
    expires: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.String({ format: 'date-time' })])),
    owner: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Exemption = Static<typeof ExemptionSchema>;

const LabelKey = Type.String({
  minLength: 1,
  maxLength: 317,
  pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
});
const LabelValue = Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$' });

/**
 * A port that callers outside the mesh (the kube-apiserver, a load balancer) must reach: for the
 * workloads of `namespace` whose labels include `selector.matchLabels`, these ports (and only these)
 * may be PERMISSIVE in a PeerAuthentication with exactly that selector, or excluded from inbound
 * capture (POLICY.md "Edges").
 */
export const EdgeSchema = Type.Object(
  {
    namespace: NamespaceName,
    selector: Type.Object(
      { matchLabels: Type.Record(LabelKey, LabelValue, { minProperties: 1 }) },
      { additionalProperties: false, description: 'the workload, as the PeerAuthentication selects it' },
    ),
    ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), {
      minItems: 1,
      uniqueItems: true,
      description: 'container (target) ports',
    }),
    reason: Type.String({ minLength: 1 }),
    owner: Type.Optional(Type.String()),
    expires: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.String({ format: 'date-time' })])),
  },
  { additionalProperties: false },
);
export type Edge = Static<typeof EdgeSchema>;

/** Linkerd 2 settings (docs/POLICY-LINKERD.md), read with `mesh: linkerd`. */
export const LinkerdConfigSchema = Type.Object(
  {
    /** The namespace Linkerd's control plane runs in: a system namespace, and the value of a meshed pod's `linkerd.io/control-plane-ns`. */
    controlPlaneNamespace: Type.Optional(NamespaceName),
    /** The cluster's default inbound policy as installed (`proxy.defaultInboundPolicy`); the audit prefers what ConfigMap linkerd-config says. */
    clusterDefaultInboundPolicy: Type.Optional(
      Type.Union([
        Type.Literal('all-unauthenticated'),
        Type.Literal('all-authenticated'),
        Type.Literal('cluster-unauthenticated'),
        Type.Literal('cluster-authenticated'),
        Type.Literal('deny'),
        Type.Literal('audit'),
      ]),
    ),
    /** What mutation ld-ns-default-policy writes into `config.linkerd.io/default-inbound-policy`. */
    namespaceDefaultInboundPolicy: Type.Optional(
      Type.Union([Type.Literal('all-authenticated'), Type.Literal('cluster-authenticated'), Type.Literal('deny')]),
    ),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    mode: Type.Optional(ModeSchema),
    /** The mesh meshlock enforces: Istio (POLICY.md) or Linkerd 2 (docs/POLICY-LINKERD.md). */
    mesh: Type.Optional(Type.Union([Type.Literal('istio'), Type.Literal('linkerd')])),
    linkerd: Type.Optional(LinkerdConfigSchema),
    dataplane: Type.Optional(Type.Union([Type.Literal('sidecar'), Type.Literal('ambient')])),
    revision: Type.Optional(Type.String({ pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$', maxLength: 63 })),
    rootNamespace: Type.Optional(NamespaceName),
    clusterDomain: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 })),
    systemNamespaces: Type.Optional(Type.Array(NamespaceName)),
    /** meshlock's own namespace: always a system namespace. Defaults to the POD_NAMESPACE env or "meshlock". */
    meshlockNamespace: Type.Optional(NamespaceName),
    rules: Type.Optional(
      Type.Partial(Type.Object(Object.fromEntries([...RULE_IDS, ...MUTATION_IDS].map((id) => [id, ModeSchema]))), {
        additionalProperties: false,
      }),
    ),
    namespaces: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ModeSchema)),
    /** An UPDATE is denied only for what it introduces (POLICY.md "UPDATE: ratcheting"). false judges every UPDATE whole. */
    ratchet: Type.Optional(Type.Boolean()),
    /** Jobs, CronJobs and Job-owned pods get `sidecar.istio.io/nativeSidecar: "true"` (mutation job-native-sidecar). */
    nativeSidecarForJobs: Type.Optional(Type.Boolean()),
    exemptions: Type.Optional(Type.Array(ExemptionSchema)),
    edges: Type.Optional(Type.Array(EdgeSchema)),
  },
  { additionalProperties: false },
);

export type ConfigFile = Static<typeof ConfigSchema>;
