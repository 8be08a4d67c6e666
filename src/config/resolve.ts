// Turns a validated config file into the form the engine reads on every request: defaults filled,
// system namespaces as a set, exemption globs compiled. Done once per (re)load, never per request.
import { compileGlob } from './glob.js';
import type { ConfigFile, Edge, Exemption, Mode, MutationId, RuleId } from './schema.js';

export const DEFAULT_SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];

export interface CompiledExemption {
  readonly source: Exemption;
  /** Index in the config file's `exemptions` list, for reports. */
  readonly index: number;
  /** End of validity in epoch ms (inclusive), or Infinity. */
  readonly expiresAt: number;
  matchesNamespace(ns: string): boolean;
  matchesName(name: string): boolean;
  /** The exemption names this object, or the workload that made it (through its controller owner). */
  covers(target: ExemptionTarget): boolean;
}

export interface CompiledEdge {
  readonly source: Edge;
  /** Index in the config file's `edges` list, for reports. */
  readonly index: number;
  /** End of validity in epoch ms (inclusive), or Infinity. An expired edge permits nothing. */
  readonly expiresAt: number;
  readonly ports: ReadonlySet<number>;
}

export type LinkerdDefaultPolicy =
  'all-unauthenticated' | 'all-authenticated' | 'cluster-unauthenticated' | 'cluster-authenticated' | 'deny' | 'audit';

export interface ResolvedLinkerd {
  readonly controlPlaneNamespace: string;
  readonly clusterDefaultInboundPolicy: LinkerdDefaultPolicy;
  readonly namespaceDefaultInboundPolicy: 'all-authenticated' | 'cluster-authenticated' | 'deny';
}

/** Namespaces Linkerd's own pods run in, never enrolled (docs/POLICY-LINKERD.md (b)). */
export const LINKERD_SYSTEM_NAMESPACES = ['linkerd-cni', 'cert-manager'];

export interface ResolvedConfig {
  readonly mode: Mode;
  readonly mesh: 'istio' | 'linkerd';
  readonly linkerd: ResolvedLinkerd;
  readonly dataplane: 'sidecar' | 'ambient';
  readonly revision: string;
  readonly rootNamespace: string;
  readonly clusterDomain: string;
  readonly meshlockNamespace: string;
  /** Ratcheting UPDATEs: deny only what an UPDATE introduces. */
  readonly ratchet: boolean;
  /** Mutation job-native-sidecar is on. */
  readonly nativeSidecarForJobs: boolean;
  /** Configured system namespaces plus the root namespace and meshlock's own. */
  readonly systemNamespaces: ReadonlySet<string>;
  readonly rules: Readonly<Partial<Record<RuleId | MutationId, Mode>>>;
  readonly namespaces: Readonly<Record<string, Mode>>;
  readonly exemptions: readonly CompiledExemption[];
  readonly edges: readonly CompiledEdge[];
  /** The file as written (defaults not filled), for display. */
  readonly file: ConfigFile;
  /**
   * The resolution functions below, bound to this config: the engine calls them through the config
   * it is given, so policy code needs config's types only (ARCHITECTURE.md).
   */
  modeFor(id: RuleId | MutationId, namespace: string): Mode;
  exemptionsFor(id: RuleId | MutationId, target: ExemptionTarget, now: number): ExemptionMatch[];
  activeExemption(id: RuleId | MutationId, target: ExemptionTarget, now: number): CompiledExemption | undefined;
}

export interface ExemptionTarget {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** The object's controller owner reference (a pod's ReplicaSet, DaemonSet, Job...), when it has one. */
  readonly owner?: { readonly kind: string; readonly name: string };
}

/**
 * The names a workload's objects carry: a Deployment's ReplicaSets are `<deployment>-<pod-template-hash>`
 * (pkg/controller/deployment/sync.go), a CronJob's Jobs `<cronjob>-<scheduled time in minutes>`
 * (pkg/controller/cronjob/utils.go getJobName). Returns the workload name the owner's name implies
 * for an exemption of `kind`, or undefined when the owner is not such an object.
 */
function workloadNameOf(kind: string, owner: { kind: string; name: string }): string | undefined {
  if (owner.kind === kind) return owner.name;
  if (kind === 'Deployment' && owner.kind === 'ReplicaSet') return /^(.+)-[a-z0-9]+$/.exec(owner.name)?.[1];
  if (kind === 'CronJob' && owner.kind === 'Job') return /^(.+)-[0-9]+$/.exec(owner.name)?.[1];
  return undefined;
}

/** End of the day a date-only `expires` names (UTC), or the instant of a timestamp. */
export function expiryInstant(expires: string | undefined): number {
  if (expires === undefined) return Number.POSITIVE_INFINITY;
  if (/^\d{4}-\d{2}-\d{2}$/.test(expires)) return Date.parse(`${expires}T23:59:59.999Z`);
  return Date.parse(expires);
}

function compileExemption(e: Exemption, index: number): CompiledExemption {
  const nsGlob = compileGlob(e.namespace);
  const nameGlob = e.name === undefined ? undefined : compileGlob(e.name);
  const matchesName = (name: string): boolean => nameGlob === undefined || nameGlob.matches(name);
  return {
    source: e,
    index,
    expiresAt: expiryInstant(e.expires),
    matchesNamespace: (ns) => nsGlob.matches(ns),
    matchesName,
    covers(target) {
      if (!nsGlob.matches(target.namespace)) return false;
      if (e.kind === undefined || e.kind === target.kind) {
        if (matchesName(target.name)) return true;
      }
      // A workload exemption covers what the workload makes: its pods (and a Deployment's
      // ReplicaSets, a CronJob's Jobs, and their pods), found through the controller owner reference.
      // The namespace is the same by construction: owner references never cross namespaces.
      if (e.kind === undefined || target.owner === undefined) return false;
      const workload = workloadNameOf(e.kind, target.owner);
      return workload !== undefined && matchesName(workload);
    },
  };
}

export function defaultMeshlockNamespace(): string {
  const fromEnv = process.env['POD_NAMESPACE'];
  return fromEnv && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(fromEnv) ? fromEnv : 'meshlock';
}

export function resolveConfig(
  file: ConfigFile,
  meshlockNamespace = file.meshlockNamespace ?? defaultMeshlockNamespace(),
): ResolvedConfig {
  const rootNamespace = file.rootNamespace ?? 'istio-system';
  const system = new Set(file.systemNamespaces ?? DEFAULT_SYSTEM_NAMESPACES);
  system.add(rootNamespace);
  system.add(meshlockNamespace);
  const mesh = file.mesh ?? 'istio';
  const linkerd: ResolvedLinkerd = Object.freeze({
    controlPlaneNamespace: file.linkerd?.controlPlaneNamespace ?? 'linkerd',
    // Linkerd's chart default (charts/linkerd-control-plane/values.yaml proxy.defaultInboundPolicy).
    clusterDefaultInboundPolicy: file.linkerd?.clusterDefaultInboundPolicy ?? 'all-unauthenticated',
    namespaceDefaultInboundPolicy: file.linkerd?.namespaceDefaultInboundPolicy ?? 'all-authenticated',
  });
  if (mesh === 'linkerd')
    for (const ns of [linkerd.controlPlaneNamespace, ...LINKERD_SYSTEM_NAMESPACES]) system.add(ns);
  const resolved: ResolvedConfig = Object.freeze({
    mode: file.mode ?? 'enforce',
    mesh,
    linkerd,
    dataplane: file.dataplane ?? 'sidecar',
    revision: file.revision ?? '',
    rootNamespace,
    clusterDomain: file.clusterDomain ?? 'cluster.local',
    meshlockNamespace,
    ratchet: file.ratchet ?? true,
    nativeSidecarForJobs: file.nativeSidecarForJobs ?? true,
    systemNamespaces: system,
    // Null-prototype maps: a namespace named `constructor` (a valid Kubernetes name) must not read
    // Object.prototype.constructor as its mode.
    rules: Object.assign(Object.create(null) as Record<string, Mode>, file.rules ?? {}),
    namespaces: Object.assign(Object.create(null) as Record<string, Mode>, file.namespaces ?? {}),
    exemptions: (file.exemptions ?? []).map(compileExemption),
    edges: (file.edges ?? []).map((e, index) => ({
      source: e,
      index,
      expiresAt: expiryInstant(e.expires),
      ports: new Set(e.ports),
    })),
    file,
    modeFor: (id: RuleId | MutationId, namespace: string) => modeFor(resolved, id, namespace),
    exemptionsFor: (id: RuleId | MutationId, target: ExemptionTarget, now: number) =>
      exemptionsFor(resolved, id, target, now),
    activeExemption: (id: RuleId | MutationId, target: ExemptionTarget, now: number) =>
      activeExemption(resolved, id, target, now),
  });
  return resolved;
}

/**
 * Mode of one rule or mutation in one namespace: the namespace's entry, then the rule's entry, then
 * the global mode (POLICY.md "Enforcement modes"). Never read from the object or its namespace's
 * labels: whoever can label a namespace could otherwise switch enforcement off.
 */
export function modeFor(config: ResolvedConfig, id: RuleId | MutationId, namespace: string): Mode {
  const byNamespace = Object.hasOwn(config.namespaces, namespace) ? config.namespaces[namespace] : undefined;
  const byRule = Object.hasOwn(config.rules, id) ? config.rules[id] : undefined;
  return byNamespace ?? byRule ?? config.mode;
}

export interface ExemptionMatch {
  readonly exemption: CompiledExemption;
  readonly expired: boolean;
}

/**
 * Exemptions that name this object (namespace, kind and name only, never its labels or annotations,
 * which the requester controls) and the given rule. Expired ones are returned flagged, so reports can
 * show them; only unexpired ones lift a rule.
 */
export function exemptionsFor(
  config: ResolvedConfig,
  id: RuleId | MutationId,
  target: ExemptionTarget,
  now: number,
): ExemptionMatch[] {
  const out: ExemptionMatch[] = [];
  for (const ex of config.exemptions) {
    const e = ex.source;
    if (e.rules && !e.rules.includes(id)) continue;
    if (!ex.covers(target)) continue;
    out.push({ exemption: ex, expired: now > ex.expiresAt });
  }
  return out;
}

/** The active (unexpired) exemption lifting `id` for this object, if any. */
export function activeExemption(
  config: ResolvedConfig,
  id: RuleId | MutationId,
  target: ExemptionTarget,
  now: number,
): CompiledExemption | undefined {
  return exemptionsFor(config, id, target, now).find((m) => !m.expired)?.exemption;
}
