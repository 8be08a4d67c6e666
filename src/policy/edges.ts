// Edges (POLICY.md "Edges"): the ports that callers outside the mesh must reach. An edge never
// exempts a rule; it only lets `pa-port-mode` accept PERMISSIVE (never DISABLE) on exactly its ports
// in a PeerAuthentication whose selector equals its own, and `pod-capture-bypass` accept exactly its
// ports in `traffic.sidecar.istio.io/excludeInboundPorts` for the workloads it selects.
import type { CompiledEdge, ResolvedConfig } from '../config/resolve.js';
import { subsetOf } from './istio/index.js';
import { field, isObj } from './object.js';

function active(e: CompiledEdge, namespace: string, now: number): boolean {
  return e.source.namespace === namespace && now <= e.expiresAt;
}

/** `spec.selector.matchLabels` exactly as written, when every value is a string; else undefined. */
function rawMatchLabels(spec: unknown): Record<string, string> | undefined {
  const ml = field(field(spec, 'selector'), 'matchLabels');
  if (!isObj(ml)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ml)) {
    if (typeof v !== 'string') return undefined;
    out[k] = v;
  }
  return out;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * The unexpired edge that lets `port` be PERMISSIVE in a PeerAuthentication of `namespace` with this
 * spec: its selector must equal the edge's, so the relaxation reaches exactly the edge's workloads.
 */
export function edgePermittingPermissive(
  config: ResolvedConfig,
  namespace: string,
  spec: unknown,
  port: number,
  now: number,
): CompiledEdge | undefined {
  const selector = rawMatchLabels(spec);
  if (selector === undefined || Object.keys(selector).length === 0) return undefined;
  return config.edges.find(
    (e) => active(e, namespace, now) && e.ports.has(port) && sameLabels(e.source.selector.matchLabels, selector),
  );
}

/** Ports that unexpired edges of `namespace` open for a workload with these labels. */
export function edgePortsFor(
  config: ResolvedConfig,
  namespace: string,
  labels: ReadonlyMap<string, unknown>,
  now: number,
): ReadonlyMap<number, CompiledEdge> {
  const out = new Map<number, CompiledEdge>();
  for (const e of config.edges) {
    if (!active(e, namespace, now) || !subsetOf(e.source.selector.matchLabels, labels)) continue;
    for (const p of e.ports) if (!out.has(p)) out.set(p, e);
  }
  return out;
}
