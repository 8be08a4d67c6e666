// What Linkerd's traffic redirection (linkerd-init or the CNI plugin) leaves out.
import { A, DEFAULTS } from './names.js';
import { asMap, type AnnotationsLike } from './read.js';
import { inRanges, parseGoInt, parsePortList, type PortRange } from './parse.js';

export interface RedirectDefaults {
  /** proxyInit.ignoreInboundPorts as installed (default "4567,4568"). */
  readonly ignoreInboundPorts?: string;
  /** proxyInit.ignoreOutboundPorts as installed (default "4567,4568"). */
  readonly ignoreOutboundPorts?: string;
  readonly proxyUid?: number;
  readonly proxyGid?: number;
}

export interface InboundSkip {
  /** The port ranges inbound redirection skips, each with why. */
  readonly ports: readonly {
    readonly range: PortRange;
    readonly source: 'control-port' | 'admin-port' | 'skip-inbound-ports' | 'default-ignore';
  }[];
  /** Entries of skip-inbound-ports that proxy-init cannot parse (skipped, so they change nothing). */
  readonly invalid: readonly string[];
  /** Source CIDRs whose traffic skips the proxy on every port (skip-subnets). */
  readonly subnets: readonly string[];
  /** A skip-subnets entry covers every source address (`0.0.0.0/0`, `::/0`): no inbound capture at all. */
  readonly allSources: boolean;
}

const ZERO_PREFIX = /\/0+$/;

function portAnnotation(ann: ReadonlyMap<string, string>, key: string, fallback: number): number {
  // pkg/inject/inject.go ApplyAnnotationOverrides: strconv.ParseInt(v, 10, 32); a failure keeps the default.
  const v = ann.get(key);
  const n = v === undefined ? undefined : parseGoInt(v);
  return n !== undefined && n >= -2147483648 && n <= 2147483647 ? n : fallback;
}

/**
 * The inbound side of linkerd2-proxy-init (its iptables.go addIncomingTrafficRules): PREROUTING
 * RETURNs, before redirecting all TCP to the proxy, for the destination ports of
 * `--inbound-ports-to-ignore` and for the SOURCE subnets of `--subnets-to-ignore`. The chart passes
 * "<control port>,<admin port>[,<proxyInit.ignoreInboundPorts>]" (charts/partials/templates/_proxy-init.tpl),
 * where `config.linkerd.io/skip-inbound-ports` REPLACES the installed list (pkg/inject/inject.go
 * ApplyAnnotationOverrides) and `admin-port`/`control-port` move the proxy's own ports.
 * `annotations` are the pod's annotations as injected (see annotationsAtInjection).
 */
export function inboundSkip(annotations: AnnotationsLike, defaults: RedirectDefaults = {}): InboundSkip {
  const ann = asMap(annotations);
  const ports: { range: PortRange; source: InboundSkip['ports'][number]['source'] }[] = [];
  const control = portAnnotation(ann, A.controlPort, DEFAULTS.controlPort);
  const admin = portAnnotation(ann, A.adminPort, DEFAULTS.adminPort);
  if (control >= 0 && control <= 65535) ports.push({ range: { lo: control, hi: control }, source: 'control-port' });
  if (admin >= 0 && admin <= 65535) ports.push({ range: { lo: admin, hi: admin }, source: 'admin-port' });
  const own = ann.get(A.skipInboundPorts);
  const list = parsePortList(own ?? defaults.ignoreInboundPorts ?? DEFAULTS.ignoreInboundPorts);
  for (const range of list.ranges)
    ports.push({ range, source: own !== undefined ? 'skip-inbound-ports' : 'default-ignore' });
  const subnetsText = ann.get(A.skipSubnets) ?? '';
  const subnets = subnetsText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    ports,
    invalid: own !== undefined ? list.invalid : [],
    subnets,
    allSources: subnets.some((s) => ZERO_PREFIX.test(s)),
  };
}

/** Whether inbound traffic to `port` reaches the app without the proxy (from some or all sources). */
export function inboundSkipped(
  skip: InboundSkip,
  port: number,
): InboundSkip['ports'][number]['source'] | 'skip-subnets' | undefined {
  const hit = skip.ports.find((p) => inRanges(port, [p.range]));
  if (hit) return hit.source;
  return skip.subnets.length > 0 ? 'skip-subnets' : undefined;
}

export interface OutboundSkip {
  readonly ports: readonly PortRange[];
  /** `config.linkerd.io/skip-outbound-ports` is set (it replaces the installed list). */
  readonly annotated: boolean;
  /** Traffic of this UID is never redirected (`--uid-owner`). */
  readonly proxyUid: number;
  /** Traffic of this GID is never redirected; only when >= 0. */
  readonly proxyGid?: number;
}

/**
 * The outbound side: OUTPUT RETURNs for the proxy's UID (and GID when >= 0), loopback, and the
 * ports of `--outbound-ports-to-ignore`; the UID/GID come from `config.linkerd.io/proxy-uid` and
 * `proxy-gid` when they parse (pkg/inject/inject.go ApplyAnnotationOverrides: ParseInt(v, 10, 64)).
 */
export function outboundSkip(annotations: AnnotationsLike, defaults: RedirectDefaults = {}): OutboundSkip {
  const ann = asMap(annotations);
  const own = ann.get(A.skipOutboundPorts);
  const ports = parsePortList(own ?? defaults.ignoreOutboundPorts ?? DEFAULTS.ignoreOutboundPorts).ranges;
  const uidText = ann.get(A.proxyUid);
  const gidText = ann.get(A.proxyGid);
  const proxyUid = (uidText === undefined ? undefined : parseGoInt(uidText)) ?? defaults.proxyUid ?? DEFAULTS.proxyUid;
  const gid = (gidText === undefined ? undefined : parseGoInt(gidText)) ?? defaults.proxyGid ?? DEFAULTS.proxyGid;
  return { ports, annotated: own !== undefined, proxyUid, ...(gid >= 0 ? { proxyGid: gid } : {}) };
}
