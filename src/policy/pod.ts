// Pods and the pod templates of workload controllers: sidecar injection and traffic capture.
import { parse as parseYaml } from 'yaml';
import { field, idNumber, isObj, join, show, stringMap, type Obj } from './object.js';
import {
  ANNOTATION_BYPASS_INBOUND,
  ANNOTATION_STATUS,
  bypassesInboundCapture,
  INIT_CONTAINER,
  LABEL_DATAPLANE,
  LABEL_POD_INJECT,
  optsOutOfAmbient,
  PROXY_CONTAINER,
  runsIstioProxy,
} from './istio/index.js';
import type { EngineInput, Violation } from './types.js';

/** Where each kind keeps its pod template (POLICY.md "Pod templates"). Key: `group/Kind`. */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  '/Pod': [],
  '/ReplicationController': ['spec', 'template'],
  'apps/Deployment': ['spec', 'template'],
  'apps/StatefulSet': ['spec', 'template'],
  'apps/DaemonSet': ['spec', 'template'],
  'apps/ReplicaSet': ['spec', 'template'],
  'batch/Job': ['spec', 'template'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template'],
};

const PROXY_CONTAINERS = new Set([PROXY_CONTAINER, INIT_CONTAINER]);
const PROXY_UID = 1337;

const A = {
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  proxyConfig: 'proxy.istio.io/config',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  status: ANNOTATION_STATUS,
} as const;

export interface Template {
  /** JSON pointer of the pod (template) object: '' for a Pod. */
  readonly base: string;
  readonly meta: unknown;
  readonly spec: unknown;
  readonly isTemplate: boolean;
}

type Located = { ok: true; template: Template } | { ok: false; violation: Violation };

export function locateTemplate(input: EngineInput): Located | undefined {
  const path = POD_TEMPLATE_PATHS[`${input.group}/${input.kind}`];
  if (path === undefined) return undefined;
  let node: unknown = input.object;
  for (const key of path) node = field(node, key);
  const base = path.length === 0 ? '' : join('', ...path);
  if (!isObj(node)) {
    return {
      ok: false,
      violation: {
        rule: 'malformed-object',
        severity: 'error',
        path: base || '/',
        message: `${input.kind} has no readable pod ${path.length ? `template at ${path.join('.')}` : 'object'}`,
        fix: 'write a complete pod template',
      },
    };
  }
  return {
    ok: true,
    template: { base, meta: field(node, 'metadata'), spec: field(node, 'spec'), isTemplate: path.length > 0 },
  };
}

function textValue(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Containers of every list a pod has, with their JSON pointer. */
function allContainers(t: Template, out: Violation[]): { c: Obj; path: string }[] {
  const list: { c: Obj; path: string }[] = [];
  for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
    const arr = field(t.spec, key);
    if (arr === undefined) continue;
    const path = `${t.base}/spec/${key}`;
    if (!Array.isArray(arr)) {
      out.push({
        rule: 'malformed-object',
        severity: 'error',
        path,
        message: `spec.${key} is ${show(arr)}, not a list`,
        fix: 'write the containers as a list',
      });
      continue;
    }
    arr.forEach((c: unknown, i) => {
      if (isObj(c)) list.push({ c, path: `${path}/${i}` });
      else
        out.push({
          rule: 'malformed-object',
          severity: 'error',
          path: `${path}/${i}`,
          message: `spec.${key}[${i}] is ${show(c)}, not a container`,
          fix: 'write each container as an object',
        });
    });
  }
  return list;
}

/** Reads `proxy.istio.io/config` (YAML or JSON). Undefined when unparseable: the caller fails closed. */
function proxyConfigInterception(text: string): { ok: boolean; mode?: unknown } {
  try {
    // logLevel error: errors still throw, but YAML warnings are not printed to stderr, where they
    // would quote the annotation (object contents) on every review that carries it.
    const doc: unknown = parseYaml(text, { logLevel: 'error' });
    if (doc === null || doc === undefined) return { ok: true };
    if (!isObj(doc)) return { ok: false };
    return { ok: true, mode: doc['interceptionMode'] };
  } catch {
    return { ok: false };
  }
}

function checkInjection(
  t: Template,
  labels: ReadonlyMap<string, unknown>,
  annotations: ReadonlyMap<string, unknown>,
  out: Violation[],
): void {
  // Both the label and the legacy annotation are checked: Istio prefers the label, but older
  // releases and other tools read the annotation, so neither may carry an opt-out.
  for (const [where, map] of [
    ['label', labels],
    ['annotation', annotations],
  ] as const) {
    if (!map.has(LABEL_POD_INJECT)) continue;
    const v = map.get(LABEL_POD_INJECT);
    if (v === 'true' || v === '' || v === null) continue;
    out.push({
      rule: 'pod-injection-disabled',
      severity: 'error',
      path: join(`${t.base}/metadata/${where === 'label' ? 'labels' : 'annotations'}`, LABEL_POD_INJECT),
      // Istio reads any value but true and false as "use the namespace's default" (inject.go
      // injectRequired); meshlock still refuses it, so that the intent is written down.
      message:
        v === 'false'
          ? `${where} ${LABEL_POD_INJECT}="false" disables sidecar injection`
          : `${where} ${LABEL_POD_INJECT}=${show(v)} is not "true" or "false": Istio ignores it and uses the namespace's default`,
      fix: `set ${LABEL_POD_INJECT} to "true" or remove the ${where}`,
    });
  }
}

/**
 * The ports of an excludeInboundPorts value that no edge opens, or undefined when every one is open.
 * Istio reads the value as comma-separated ports (pkg/kube/inject/validate.go parsePorts); meshlock
 * takes only the plain decimal form, so a port an edge names is the port Istio excludes.
 */
function portsBeyondEdges(value: unknown, edgePorts: ReadonlySet<number>): string[] | undefined {
  if (typeof value !== 'string') return [show(value)];
  const beyond = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => !(/^[1-9][0-9]{0,4}$/.test(p) && edgePorts.has(Number(p))));
  return beyond.length === 0 ? undefined : beyond;
}

function checkCapture(
  t: Template,
  labels: ReadonlyMap<string, unknown>,
  ann: ReadonlyMap<string, unknown>,
  out: Violation[],
  edgePorts: ReadonlySet<number>,
): void {
  const annPath = (k: string): string => join(`${t.base}/metadata/annotations`, k);
  const bypass = (k: string, what: string): void => {
    out.push({
      rule: 'pod-capture-bypass',
      severity: 'error',
      path: annPath(k),
      message: `annotation ${k}=${show(ann.get(k))} ${what}`,
      fix: `remove the ${k} annotation`,
    });
  };
  const nonEmpty = (k: string): boolean =>
    ann.has(k) && !(typeof ann.get(k) === 'string' && (ann.get(k) as string).trim() === '');
  if (nonEmpty(A.excludeInboundPorts)) {
    // Ports of a matching edge (POLICY.md "Edges") may be excluded; any other port may not.
    const beyond = portsBeyondEdges(ann.get(A.excludeInboundPorts), edgePorts);
    if (beyond !== undefined) {
      bypass(
        A.excludeInboundPorts,
        edgePorts.size > 0
          ? `lets inbound traffic to ${beyond.join(', ')} skip the proxy (edges open only ${[...edgePorts].sort((a, b) => a - b).join(', ')})`
          : 'lets inbound traffic to those ports skip the proxy',
      );
    }
  }
  if (ann.has(A.includeInboundPorts) && textValue(ann.get(A.includeInboundPorts))?.trim() !== '*')
    bypass(A.includeInboundPorts, 'lets inbound traffic to other ports skip the proxy');
  if (nonEmpty(A.excludeInterfaces)) bypass(A.excludeInterfaces, 'lets traffic on those interfaces skip the proxy');
  const im = ann.get(A.interceptionMode);
  if (ann.has(A.interceptionMode) && (typeof im !== 'string' || im.trim().toUpperCase() === 'NONE'))
    bypass(A.interceptionMode, 'turns traffic interception off');
  if (ann.has(A.proxyConfig)) {
    const text = ann.get(A.proxyConfig);
    const pc = typeof text === 'string' ? proxyConfigInterception(text) : { ok: false };
    if (!pc.ok) bypass(A.proxyConfig, 'cannot be read, so it may turn traffic interception off');
    else if (pc.mode !== undefined && (typeof pc.mode !== 'string' || pc.mode.trim().toUpperCase() === 'NONE'))
      bypass(A.proxyConfig, 'sets interceptionMode NONE, turning traffic interception off');
  }
  if (ann.has(ANNOTATION_BYPASS_INBOUND) && bypassesInboundCapture(ann))
    bypass(ANNOTATION_BYPASS_INBOUND, 'lets inbound traffic skip ztunnel');
  if (optsOutOfAmbient(labels)) {
    out.push({
      rule: 'pod-capture-bypass',
      severity: 'error',
      path: join(`${t.base}/metadata/labels`, LABEL_DATAPLANE),
      message: `label ${LABEL_DATAPLANE}=none opts the pod out of ambient mode`,
      fix: `remove the ${LABEL_DATAPLANE} label`,
    });
  }
  for (const k of [A.excludeOutboundPorts, A.excludeOutboundIPRanges, A.includeOutboundIPRanges]) {
    if (!ann.has(k)) continue;
    out.push({
      rule: 'pod-outbound-bypass',
      severity: 'warning',
      path: annPath(k),
      message: `annotation ${k}=${show(ann.get(k))} lets outbound traffic skip the proxy`,
      fix: `remove the ${k} annotation, or route that traffic through an egress gateway`,
    });
  }
}

function normaliseCap(c: unknown): string {
  return typeof c === 'string' ? c.trim().toUpperCase().replace(/^CAP_/, '') : '?';
}

/**
 * What in a container's securityContext lets it rewrite the traffic redirection rules, as the
 * denial says it ("adds NET_ADMIN, NET_RAW", "is privileged"), or undefined. Unreadable
 * capabilities count as "?", so they are denied too. Istio's and Linkerd's rules share it.
 */
export function redirectionPowers(sc: unknown): string | undefined {
  const add = field(field(sc, 'capabilities'), 'add');
  const caps = Array.isArray(add) ? add.map(normaliseCap) : add === undefined ? [] : ['?'];
  const bad = caps.filter((cap) => cap === 'NET_ADMIN' || cap === 'NET_RAW' || cap === 'ALL' || cap === '?');
  if (bad.length > 0) return `adds ${bad.join(', ')}`;
  const privileged = field(sc, 'privileged');
  return privileged !== undefined && privileged !== false ? 'is privileged' : undefined;
}

function checkContainers(t: Template, out: Violation[]): void {
  const containers = allContainers(t, out);
  const podSc = field(t.spec, 'securityContext');
  const podUid = field(podSc, 'runAsUser');
  const podGid = field(podSc, 'runAsGroup');
  for (const { c, path } of containers) {
    const name = field(c, 'name');
    if (typeof name === 'string' && PROXY_CONTAINERS.has(name)) continue;
    const label = typeof name === 'string' ? name : show(name);
    const sc = field(c, 'securityContext');
    const uid = field(sc, 'runAsUser') ?? podUid;
    // Istio's iptables rules skip the proxy's group as well as its user (`--gid-owner 1337`), so a
    // container running with GID 1337 bypasses outbound capture just the same.
    const gid = field(sc, 'runAsGroup') ?? podGid;
    if (gid !== undefined && idNumber(gid) === PROXY_UID && !(uid !== undefined && idNumber(uid) === PROXY_UID)) {
      out.push({
        rule: 'pod-proxy-uid',
        severity: 'error',
        path:
          field(sc, 'runAsGroup') !== undefined
            ? `${path}/securityContext/runAsGroup`
            : `${t.base}/spec/securityContext/runAsGroup`,
        message: `container ${label} runs as GID 1337, the proxy's own group, whose traffic is never redirected`,
        fix: 'run the container with another group',
      });
    }
    if (uid !== undefined && idNumber(uid) === PROXY_UID) {
      out.push({
        rule: 'pod-proxy-uid',
        severity: 'error',
        path:
          field(sc, 'runAsUser') !== undefined
            ? `${path}/securityContext/runAsUser`
            : `${t.base}/spec/securityContext/runAsUser`,
        message: `container ${label} runs as UID 1337, the proxy's own, whose traffic is never redirected`,
        fix: 'run the container as another UID',
      });
    }
    const powers = redirectionPowers(sc);
    if (powers !== undefined) {
      out.push({
        rule: 'pod-net-admin',
        severity: 'error',
        path: `${path}/securityContext`,
        message: `container ${label} ${powers} and can rewrite the traffic redirection rules`,
        fix: 'drop NET_ADMIN, NET_RAW and privileged from the container (Istio CNI removes the need for them)',
      });
    }
  }
}

const NO_PORTS: ReadonlySet<number> = new Set();

/** `edgePorts`: ports that edges open for this workload, which excludeInboundPorts may name. */
export function checkPodLike(t: Template, edgePorts: ReadonlySet<number> = NO_PORTS): Violation[] {
  const out: Violation[] = [];
  if (t.meta !== undefined && !isObj(t.meta)) {
    out.push({
      rule: 'malformed-object',
      severity: 'error',
      path: `${t.base}/metadata`,
      message: 'metadata is not an object',
      fix: 'write metadata as an object',
    });
    return out;
  }
  if (t.spec !== undefined && !isObj(t.spec)) {
    out.push({
      rule: 'malformed-object',
      severity: 'error',
      path: `${t.base}/spec`,
      message: 'spec is not an object',
      fix: 'write spec as an object',
    });
    return out;
  }
  const labelsMap = stringMap(t.meta, 'labels');
  const annMap = stringMap(t.meta, 'annotations');
  if (!labelsMap.ok || !annMap.ok) {
    out.push({
      rule: 'pod-injection-disabled',
      severity: 'error',
      path: `${t.base}/metadata`,
      message: 'labels or annotations are not a map, so injection cannot be read',
      fix: 'write labels and annotations as maps of strings',
    });
    return out;
  }
  const labels = labelsMap.values;
  const ann = annMap.values;
  checkInjection(t, labels, ann, out);
  const hostNetwork = field(t.spec, 'hostNetwork');
  if (hostNetwork !== undefined && hostNetwork !== false) {
    // Istio never injects hostNetwork pods: their traffic cannot be redirected without affecting the node.
    out.push({
      rule: 'pod-host-network',
      severity: 'error',
      path: `${t.base}/spec/hostNetwork`,
      message: 'hostNetwork pods are never injected and bypass mTLS',
      fix: 'remove spec.hostNetwork',
    });
  }
  checkCapture(t, labels, ann, out, edgePorts);
  checkContainers(t, out);
  const hasProxy = runsIstioProxy(t.spec);
  // A pod that claims a sidecar is never captured by ztunnel (istio/ambient.ts ztunnelCapture), and a
  // template must never claim one: the injector writes the annotation on the pods it injects.
  if (ann.has(A.status) && (t.isTemplate || !hasProxy)) {
    out.push({
      rule: 'pod-forged-status',
      severity: 'error',
      path: join(`${t.base}/metadata/annotations`, A.status),
      message: t.isTemplate
        ? `annotation ${A.status} on a template claims a sidecar for every pod, so ztunnel never captures them`
        : `annotation ${A.status} claims injection but the pod has no ${PROXY_CONTAINER} container`,
      fix: `remove the ${A.status} annotation`,
    });
  }
  return out;
}
