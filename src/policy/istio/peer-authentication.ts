// PeerAuthentication: which policies apply to a workload and port, and the mode that results.
import { type Labels } from './names.js';
import { subsetOf } from './selectors.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
const STRENGTH: Record<MtlsMode, number> = { DISABLE: 0, PERMISSIVE: 1, STRICT: 2 };

export type PeerAuthenticationScope = 'mesh' | 'namespace' | 'workload' | 'ignored';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The workload selector as Istio reads it: `spec.selector.matchLabels` with at least one entry.
 * pilot/pkg/security/authn/policy_applier.go `ComposePeerAuthentication` treats `spec.Selector == nil
 * || len(spec.Selector.MatchLabels) == 0` as namespace- or mesh-level.
 */
/**
 * A value as text, as String() gives it; an object whose own toString or valueOf is not a function
 * (JSON can carry {"toString": ""}) makes String() throw, so it is written as JSON instead.
 */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return String(v);
  } catch {
    return JSON.stringify(v) ?? '';
  }
}

export function workloadSelector(spec: unknown): Readonly<Record<string, string>> | undefined {
  const selector = isRecord(spec) ? spec['selector'] : undefined;
  const ml = isRecord(selector) ? selector['matchLabels'] : undefined;
  if (!isRecord(ml) || Object.keys(ml).length === 0) return undefined;
  return Object.fromEntries(Object.entries(ml).map(([k, v]) => [k, text(v)]));
}

/**
 * ComposePeerAuthentication: no selector in the root namespace is mesh-level, elsewhere
 * namespace-level; a selector outside the root namespace is workload-level; a selector policy in the
 * root namespace is never picked ("the one with selector and not in root namespace").
 */
export function peerAuthenticationScope(
  namespace: string,
  spec: unknown,
  rootNamespace: string,
): PeerAuthenticationScope {
  const selected = workloadSelector(spec) !== undefined;
  if (namespace === rootNamespace) return selected ? 'ignored' : 'mesh';
  return selected ? 'workload' : 'namespace';
}

export interface PeerAuthn {
  readonly namespace: string;
  readonly name: string;
  /** ms since epoch; NaN when unknown (sorted last: an unknown age never beats a known one). */
  readonly created: number;
  /** Non-empty matchLabels, or undefined for a namespace- or mesh-wide policy. */
  readonly selector?: Readonly<Record<string, string>>;
  /** undefined = UNSET; any other string as written. */
  readonly mode?: string;
  readonly ports?: Readonly<Record<string, string | undefined>>;
}

export interface EffectiveMtls {
  /** The workload-level mode (the one for ports without a port-level setting). */
  readonly mode: MtlsMode;
  /** Ports whose port-level mode differs from `mode`. */
  readonly ports: Readonly<Record<string, MtlsMode>>;
  /** The weakest over the workload mode and every port-level mode. */
  readonly weakest: MtlsMode;
  /** Which policies decided it, `namespace/name`, mesh first. */
  readonly from: readonly string[];
}

/**
 * A mode as Istio reads it. pilot/pkg/security/authn/policy_applier.go `isMtlsModeUnset` (no mtls, or
 * UNSET) inherits; pilot/pkg/model/authentication.go `ConvertToMutualTLSMode` maps the rest, and a value
 * it does not know counts as DISABLE here so that the audit fails closed.
 */
export function mtlsMode(mode: string | undefined): MtlsMode | undefined {
  if (mode === undefined || mode === 'UNSET') return undefined;
  if (mode === 'STRICT' || mode === 'PERMISSIVE' || mode === 'DISABLE') return mode;
  return 'DISABLE';
}

export function weakest(modes: Iterable<MtlsMode>): MtlsMode {
  let w: MtlsMode = 'STRICT';
  for (const m of modes) if (STRENGTH[m] < STRENGTH[w]) w = m;
  return w;
}

/**
 * Oldest first: ComposePeerAuthentication keeps a policy only when `CreationTimestamp.Before` the one it
 * holds, over configs sorted by pilot/pkg/model/config.go `sortConfigByCreationTime` (creation time,
 * then name, then namespace).
 */
function older(a: PeerAuthn, b: PeerAuthn): boolean {
  const ta = Number.isNaN(a.created) ? Infinity : a.created;
  const tb = Number.isNaN(b.created) ? Infinity : b.created;
  if (ta !== tb) return ta < tb;
  return a.name < b.name || (a.name === b.name && a.namespace < b.namespace);
}

function oldest(list: readonly PeerAuthn[]): PeerAuthn | undefined {
  let best: PeerAuthn | undefined;
  for (const p of list) if (!best || older(p, best)) best = p;
  return best;
}

/** Policies indexed once, so each workload costs a lookup, not a scan of every policy. */
export interface PolicyIndex {
  readonly mesh?: PeerAuthn;
  readonly namespaceWide: ReadonlyMap<string, PeerAuthn>;
  readonly workload: ReadonlyMap<string, readonly PeerAuthn[]>;
}

export function indexPolicies(policies: readonly PeerAuthn[], rootNamespace: string): PolicyIndex {
  const mesh: PeerAuthn[] = [];
  const nsWide = new Map<string, PeerAuthn[]>();
  const workload = new Map<string, PeerAuthn[]>();
  for (const p of policies) {
    if (p.selector === undefined) {
      if (p.namespace === rootNamespace) mesh.push(p);
      else nsWide.set(p.namespace, [...(nsWide.get(p.namespace) ?? []), p]);
    } else if (p.namespace !== rootNamespace) {
      const list = workload.get(p.namespace);
      if (list) list.push(p);
      else workload.set(p.namespace, [p]);
    }
  }
  const m = oldest(mesh);
  return {
    ...(m ? { mesh: m } : {}),
    namespaceWide: new Map([...nsWide].map(([ns, list]) => [ns, oldest(list) as PeerAuthn])),
    workload,
  };
}

/**
 * pilot/pkg/security/authn/policy_applier.go `ComposePeerAuthentication`: start PERMISSIVE; apply the
 * mesh, then the namespace, then the workload policy, each only when its mode is set (UNSET inherits);
 * the workload policy's `portLevelMtls` gives per-port modes, an UNSET port inheriting the workload's
 * resolved mode. Candidates are the policies of the workload's namespace and the root namespace whose
 * matchLabels are a subset of its labels (pilot/pkg/model/authentication.go `getConfigsForWorkload`).
 */
export function effectiveMtls(index: PolicyIndex, namespace: string, labels: Labels): EffectiveMtls {
  let mode: MtlsMode = 'PERMISSIVE';
  const from: string[] = [];
  const apply = (p: PeerAuthn | undefined): void => {
    if (!p) return;
    const m = mtlsMode(p.mode);
    if (m === undefined) return;
    mode = m;
    from.push(`${p.namespace}/${p.name}`);
  };
  apply(index.mesh);
  apply(index.namespaceWide.get(namespace));
  const candidates = (index.workload.get(namespace) ?? []).filter((p) => p.selector && subsetOf(p.selector, labels));
  const wl = oldest(candidates);
  apply(wl);
  const ports: Record<string, MtlsMode> = {};
  if (wl?.ports) {
    for (const [port, pm] of Object.entries(wl.ports)) {
      const m: MtlsMode = mtlsMode(pm) ?? mode;
      if (m !== mode) ports[port] = m;
    }
    if (Object.keys(wl.ports).length > 0 && !from.includes(`${wl.namespace}/${wl.name}`))
      from.push(`${wl.namespace}/${wl.name}`);
  }
  return { mode, ports, weakest: weakest([mode, ...Object.values(ports)]), from };
}

/** The mode on one container port: its port-level mode where the workload policy sets one, else the workload's. */
export function modeOnPort(e: EffectiveMtls, port: number): MtlsMode {
  return e.ports[String(port)] ?? e.mode;
}

/** The same, from a list of policies: for one workload, or a test. */
export function composePeerAuthentication(
  policies: readonly PeerAuthn[],
  rootNamespace: string,
  namespace: string,
  labels: Labels,
): EffectiveMtls {
  return effectiveMtls(indexPolicies(policies, rootNamespace), namespace, labels);
}

/** Reads a PeerAuthentication object defensively into the shape above. */
export function readPeerAuthentication(obj: unknown): PeerAuthn | undefined {
  if (!isRecord(obj)) return undefined;
  const meta = isRecord(obj['metadata']) ? obj['metadata'] : {};
  const spec = isRecord(obj['spec']) ? obj['spec'] : {};
  const selector = workloadSelector(spec);
  const mtls = spec['mtls'];
  const rawMode = isRecord(mtls) ? mtls['mode'] : undefined;
  const ports: Record<string, string | undefined> = {};
  const plm = spec['portLevelMtls'];
  if (isRecord(plm)) {
    for (const [port, setting] of Object.entries(plm)) {
      const m = isRecord(setting) ? setting['mode'] : undefined;
      ports[port] = m === undefined || m === null ? undefined : text(m);
    }
  }
  const ts = meta['creationTimestamp'];
  return {
    namespace: typeof meta['namespace'] === 'string' ? meta['namespace'] : '',
    name: typeof meta['name'] === 'string' ? meta['name'] : '',
    created: typeof ts === 'string' ? Date.parse(ts) : NaN,
    ...(selector ? { selector } : {}),
    ...(rawMode === undefined || rawMode === null ? {} : { mode: text(rawMode) }),
    // portLevelMtls counts only on a selector policy: ComposePeerAuthentication reads it from the workload policy alone.
    ...(selector && Object.keys(ports).length > 0 ? { ports } : {}),
  };
}
