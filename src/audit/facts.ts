// The first phase of an audit: what the inventory says about namespaces, revisions, policies and
// controllers, read once and shared by every later phase. Pure.
import type { EngineContext, PolicyIndex } from '../policy/index.js';
import { indexPolicies, readPeerAuthentication, type PeerAuthn } from '../policy/index.js';
import { labelsOf, nameOf, type Inventory, type KObj } from './inventory.js';
import { linkerdFacts, type LinkerdFacts } from './linkerd.js';
import { servedRevisions, type ServedRevisions } from './revisions.js';
import { controlPlaneVersions } from './skew.js';
import { indexControllers, type ControllerIndex, type NamespaceFacts } from './workloads.js';

export interface AuditFacts {
  readonly ctx: EngineContext;
  /** ctx.now in milliseconds. */
  readonly now: number;
  /** Whether a namespace is in the audit's scope (-n). */
  readonly wanted: (ns: string) => boolean;
  readonly nsFacts: ReadonlyMap<string, NamespaceFacts>;
  readonly factsOf: (ns: string) => NamespaceFacts;
  readonly nsAnnotations: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Linkerd's cluster facts when the mesh is Linkerd. */
  readonly ld: LinkerdFacts | undefined;
  readonly served: ServedRevisions;
  readonly cpVersions: ReturnType<typeof controlPlaneVersions>;
  readonly policies: PolicyIndex;
  readonly controllers: ControllerIndex;
}

/** Pods that finished serve no traffic, so they are neither covered nor uncovered. */
export function running(pod: KObj): boolean {
  const phase = pod.status?.['phase'];
  return phase !== 'Succeeded' && phase !== 'Failed';
}

export function auditFacts(inv: Inventory, ctx: EngineContext, namespaces: readonly string[] | undefined): AuditFacts {
  const config = ctx.config;
  const inScope = namespaces && namespaces.length > 0 ? new Set(namespaces) : undefined;
  const nsFacts = new Map<string, NamespaceFacts>();
  for (const n of inv.namespaces) nsFacts.set(nameOf(n), { labels: new Map(Object.entries(labelsOf(n))), known: true });
  const nsAnnotations = new Map<string, ReadonlyMap<string, string>>();
  for (const n of inv.namespaces) nsAnnotations.set(nameOf(n), new Map(Object.entries(n.metadata?.annotations ?? {})));
  const policies: PeerAuthn[] = [];
  for (const pa of inv.peerAuthentications) {
    const p = readPeerAuthentication(pa);
    if (p) policies.push(p);
  }
  return {
    ctx,
    now: ctx.now.getTime(),
    wanted: (ns) => !inScope || inScope.has(ns),
    nsFacts,
    factsOf: (ns) => nsFacts.get(ns) ?? { labels: new Map(), known: false },
    nsAnnotations,
    ld: config.mesh === 'linkerd' ? linkerdFacts(inv, config) : undefined,
    served: servedRevisions(inv, config.rootNamespace),
    cpVersions: controlPlaneVersions(inv, config.rootNamespace),
    policies: indexPolicies(policies, config.rootNamespace),
    controllers: indexControllers(inv.controllers),
  };
}
