// What Istio actually enforces on a workload's inbound side: the effective PeerAuthentication mode,
// per workload and per port. Pure: policies and labels in, modes out.
//
// Mirrors Istio's ComposePeerAuthentication (pilot/pkg/security/authn/policy_applier.go):
// - mesh-wide = root namespace without a selector; namespace-wide = another namespace without a
//   selector; workload = a non-empty selector.matchLabels matching the pod's labels. A selector
//   policy in the root namespace is ignored.
// - among policies of one level, the oldest (creationTimestamp) wins; Istio sorts ties by name.
// - modes apply mesh, then namespace, then workload; UNSET (or no mtls) inherits from the level
//   above; with nothing set at all the proxy is PERMISSIVE.
// - portLevelMtls only counts on the chosen workload policy; an UNSET port inherits the workload's
//   resolved mode. Keys are container ports (Istio matches the targetPort).

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
const STRENGTH: Record<MtlsMode, number> = { DISABLE: 0, PERMISSIVE: 1, STRICT: 2 };

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

/** A mode as Istio reads it; a value it would not know counts as DISABLE so the audit fails closed. */
function known(mode: string | undefined): MtlsMode | undefined {
  if (mode === undefined || mode === 'UNSET') return undefined;
  if (mode === 'STRICT' || mode === 'PERMISSIVE' || mode === 'DISABLE') return mode;
  return 'DISABLE';
}

export function weakest(modes: Iterable<MtlsMode>): MtlsMode {
  let w: MtlsMode = 'STRICT';
  for (const m of modes) if (STRENGTH[m] < STRENGTH[w]) w = m;
  return w;
}

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

export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Policies indexed once per audit, so each workload costs a lookup, not a scan of every policy. */
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
      // A selector policy in the root namespace is ignored by Istio.
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

export function effectiveMtls(index: PolicyIndex, namespace: string, labels: Readonly<Record<string, string>>): EffectiveMtls {
  let mode: MtlsMode = 'PERMISSIVE';
  const from: string[] = [];
  const apply = (p: PeerAuthn | undefined): void => {
    if (!p) return;
    const m = known(p.mode);
    if (m === undefined) return;
    mode = m;
    from.push(`${p.namespace}/${p.name}`);
  };
  apply(index.mesh);
  apply(index.namespaceWide.get(namespace));
  const candidates = (index.workload.get(namespace) ?? []).filter((p) => p.selector && selects(p.selector, labels));
  const wl = oldest(candidates);
  apply(wl);
  const ports: Record<string, MtlsMode> = {};
  if (wl?.ports) {
    for (const [port, pm] of Object.entries(wl.ports)) {
      const m: MtlsMode = known(pm) ?? mode;
      if (m !== mode) ports[port] = m;
    }
    if (Object.keys(wl.ports).length > 0 && !from.includes(`${wl.namespace}/${wl.name}`)) from.push(`${wl.namespace}/${wl.name}`);
  }
  return { mode, ports, weakest: weakest([mode, ...Object.values(ports)]), from };
}

/** Reads a PeerAuthentication object defensively into the shape above. */
export function peerAuthnOf(obj: unknown): PeerAuthn | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as { metadata?: { name?: unknown; namespace?: unknown; creationTimestamp?: unknown }; spec?: unknown };
  const meta = o.metadata ?? {};
  const spec = (typeof o.spec === 'object' && o.spec !== null ? o.spec : {}) as { selector?: { matchLabels?: unknown }; mtls?: { mode?: unknown } | null; portLevelMtls?: unknown };
  const ml = spec.selector?.matchLabels;
  const selector = typeof ml === 'object' && ml !== null && Object.keys(ml).length > 0 ? (Object.fromEntries(Object.entries(ml).map(([k, v]) => [k, String(v)])) as Record<string, string>) : undefined;
  const rawMode = spec.mtls?.mode;
  const ports: Record<string, string | undefined> = {};
  if (typeof spec.portLevelMtls === 'object' && spec.portLevelMtls !== null) {
    for (const [port, setting] of Object.entries(spec.portLevelMtls as Record<string, unknown>)) {
      const m = (setting as { mode?: unknown } | null)?.mode;
      ports[port] = m === undefined || m === null ? undefined : String(m);
    }
  }
  const created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN;
  return {
    namespace: typeof meta.namespace === 'string' ? meta.namespace : '',
    name: typeof meta.name === 'string' ? meta.name : '',
    created,
    ...(selector ? { selector } : {}),
    ...(rawMode === undefined || rawMode === null ? {} : { mode: String(rawMode) }),
    // portLevelMtls counts only on a selector policy (Istio never applies it otherwise).
    ...(selector && Object.keys(ports).length > 0 ? { ports } : {}),
  };
}
