// The audit of a Linkerd 2 cluster (docs/POLICY-LINKERD.md (d)): per workload, meshed or not and the
// injector's own reasons, the effective inbound policy of every declared TCP port (a Server, the
// pod's annotation, or the cluster default of ConfigMap linkerd-config) with the authorizations that
// admit plaintext named, the ports iptables skips, and the proxy version against the control plane.
// Every Linkerd fact is the model's (src/policy/linkerd); this file only assembles a report.
import { parse as parseYaml } from 'yaml';
import type { ResolvedConfig } from '../config/index.js';
import { linkerd as L, type MtlsMode } from '../policy/index.js';
import { nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';

export interface LinkerdPortRow {
  readonly port: number;
  /** What decided the port: a Server, the pod's annotation, the cluster default, or iptables skipping it. */
  readonly source: 'server' | 'annotation' | 'cluster-default' | 'iptables-skip';
  readonly policy?: string;
  readonly server?: string;
  /** `Kind/name` of every authorization admitting plaintext (`default/<policy>` for a default policy). */
  readonly plaintext: readonly string[];
  /** Why iptables skips the port (skip-inbound-ports, default-ignore, admin-port, control-port, skip-subnets). */
  readonly skipped?: string;
  /** Probe paths any address in probeNetworks may GET without authentication. */
  readonly openProbePaths: readonly string[];
  readonly mode: MtlsMode;
}

export interface LinkerdWorkloadDetail {
  /** The injector's reasons for skipping (its own names), or why its webhook was not called. */
  readonly reasons: readonly string[];
  readonly proxyVersion?: string;
  readonly ports: readonly LinkerdPortRow[];
}

export interface LinkerdFacts {
  readonly controlPlaneNamespace: string;
  readonly cluster: L.ClusterPolicy;
  /** Where the cluster default came from: ConfigMap linkerd-config, or meshlock's config when that was not readable. */
  readonly defaultFrom: 'linkerd-config' | 'config';
  /** The proxy version the control plane injects (values proxy.image.version, else linkerdVersion). */
  readonly controlPlaneVersion?: string;
  readonly objects: L.PolicyObjects;
}

function get(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const k of path)
    v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Linkerd's installed settings: ConfigMap linkerd-config (its `values` key), else meshlock's config. */
export function linkerdFacts(inv: Inventory, config: ResolvedConfig): LinkerdFacts {
  const cp = config.linkerd.controlPlaneNamespace;
  const cm = inv.configMaps.find((c) => nameOf(c) === 'linkerd-config' && namespaceOf(c) === cp);
  let values: unknown;
  try {
    values = cm?.data?.['values'] ? parseYaml(cm.data['values']) : undefined;
  } catch {
    values = undefined;
  }
  const installed = L.parseDefaultPolicy(get(values, 'proxy', 'defaultInboundPolicy'));
  const probe = get(values, 'policyController', 'probeNetworks');
  const version = get(values, 'proxy', 'image', 'version') || get(values, 'linkerdVersion');
  return {
    controlPlaneNamespace: cp,
    cluster: {
      defaultPolicy: installed ?? config.linkerd.clusterDefaultInboundPolicy,
      probeNetworks: Array.isArray(probe)
        ? probe.filter((p): p is string => typeof p === 'string')
        : L.DEFAULTS.probeNetworks,
    },
    defaultFrom: installed ? 'linkerd-config' : 'config',
    ...(typeof version === 'string' && version !== '' ? { controlPlaneVersion: version } : {}),
    objects: inv.linkerd,
  };
}

const PROXY_OWN_PORTS: ReadonlySet<number> = new Set([
  L.DEFAULTS.inboundPort,
  L.DEFAULTS.adminPort,
  L.DEFAULTS.controlPort,
]);

/** The ports the pod's app containers declare (the proxy's own are not app ports). */
function appPorts(spec: unknown): number[] {
  const containers = [
    ...((get(spec, 'containers') as unknown[]) ?? []),
    ...((get(spec, 'initContainers') as unknown[]) ?? []),
  ];
  const apps = containers.filter((c) => get(c, 'name') !== L.PROXY_CONTAINER && get(c, 'name') !== L.INIT_CONTAINER);
  return L.tcpPorts({ containers: apps }).filter((p) => !PROXY_OWN_PORTS.has(p));
}

export interface LinkerdPodStatus {
  readonly meshed: boolean;
  readonly reason?: string;
  readonly detail: LinkerdWorkloadDetail;
}

/** One pod: meshed or not and why, then each app port's effective inbound policy. */
export function linkerdPodStatus(
  pod: KObj,
  ns: { labels: ReadonlyMap<string, string>; annotations: ReadonlyMap<string, string>; known: boolean },
  facts: LinkerdFacts,
): LinkerdPodStatus {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const namespace = namespaceOf(pod);
  const meshed = L.meshed(labels, pod.spec, facts.controlPlaneNamespace);
  const version = L.proxyVersion(annotations);
  if (!meshed) {
    const notCalled = L.webhookSelects(namespace, ns.labels, labels);
    const verdict = L.injectionVerdict(ns.annotations, annotations, pod.spec);
    const reasons: string[] = notCalled ? [notCalled] : [...verdict.reasons];
    const text = reasons.map((r) => L.REASON_TEXT[r as keyof typeof L.REASON_TEXT] ?? r);
    const enrolled = L.namespaceEnrolled(ns.annotations);
    let reason: string;
    if (L.claimsMesh(labels, facts.controlPlaneNamespace))
      reason = `it carries ${L.CONTROL_PLANE_NS}=${facts.controlPlaneNamespace} but runs no ${L.PROXY_CONTAINER} container`;
    else if (text.length > 0)
      reason = `${enrolled ? 'in an enrolled namespace, but ' : ''}the injector skips it: ${text.join(', ')}`;
    else if (verdict.inject)
      reason = `${enrolled ? 'in an enrolled namespace, ' : ''}the injector would inject it but it runs no proxy (created while the injector was down, or before enrolment: restart it)`;
    else reason = 'no proxy';
    return {
      meshed: false,
      reason,
      detail: {
        reasons,
        ...(version ? { proxyVersion: version } : {}),
        ports: appPorts(pod.spec).map((port) => ({
          port,
          source: 'iptables-skip',
          plaintext: [],
          skipped: 'no proxy',
          openProbePaths: [],
          mode: 'DISABLE',
        })),
      },
    };
  }
  const ports = appPorts(pod.spec).map((port) => linkerdPortRow(pod, port, facts));
  return { meshed: true, detail: { reasons: [], ...(version ? { proxyVersion: version } : {}), ports } };
}

/** The effective inbound policy of one port of a meshed pod (declared by a container or not). */
export function linkerdPortRow(pod: KObj, port: number, facts: LinkerdFacts): LinkerdPortRow {
  const annotations = pod.metadata?.annotations ?? {};
  const skip = L.inboundSkip(annotations);
  const view: L.PodView = {
    namespace: namespaceOf(pod),
    labels: pod.metadata?.labels ?? {},
    annotations,
    spec: pod.spec,
  };
  const skipped = L.inboundSkipped(skip, port);
  // skip-subnets bypasses only for those sources; a listed port bypasses for everyone.
  if (skipped !== undefined && (skipped !== 'skip-subnets' || skip.allSources)) {
    return { port, source: 'iptables-skip', plaintext: [], skipped, openProbePaths: [], mode: 'DISABLE' };
  }
  const p = L.inboundPolicy(view, port, facts.objects, facts.cluster);
  const plaintext = L.plaintextAuthorizations(p).map((a) => `${a.ref.kind}/${a.ref.name}`);
  const mode: MtlsMode = skipped === 'skip-subnets' || !p.strict ? 'PERMISSIVE' : 'STRICT';
  return {
    port,
    source: p.source,
    ...(p.policy ? { policy: p.policy } : {}),
    ...(p.server ? { server: p.server } : {}),
    plaintext: skipped === 'skip-subnets' ? [...plaintext, `skip-subnets ${skip.subnets.join(',')}`] : plaintext,
    ...(skipped === 'skip-subnets' ? { skipped } : {}),
    openProbePaths: p.probePaths,
    mode,
  };
}

/** The weakest mode over the ports (STRICT when the pod declares none: nothing listens). */
export function weakestMode(ports: readonly LinkerdPortRow[]): MtlsMode {
  if (ports.some((p) => p.mode === 'DISABLE')) return 'DISABLE';
  if (ports.some((p) => p.mode === 'PERMISSIVE')) return 'PERMISSIVE';
  return 'STRICT';
}

/** A namespace's enrolment, as the report's namespace table shows it. */
export function linkerdEnrolment(annotations: ReadonlyMap<string, string>): string {
  const v = annotations.get(L.INJECT);
  if (L.namespaceEnrolled(annotations)) return `${L.INJECT}=${L.INJECT_ENABLED}`;
  return v === undefined ? 'not enrolled' : `not enrolled (${L.INJECT}=${v})`;
}
