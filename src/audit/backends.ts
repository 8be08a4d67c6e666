// apiserver-backend-strict (POLICY.md "Edges"): the kube-apiserver is outside the mesh, so it calls
// an admission webhook or an aggregated API (APIService) in plaintext TLS of its own. When the pods
// behind that Service are meshed and the called port is effectively STRICT (Istio) or admits no
// unauthenticated traffic (Linkerd), the calls fail: a
// webhook with failurePolicy Fail then blocks every request it matches. Pure: inventory in, findings out.
import type { CompiledEdge, ResolvedConfig } from '../config/index.js';
import {
  bypassesInboundCapture,
  effectiveMtls,
  excludedInboundPorts,
  modeOnPort,
  subsetOf,
  type PolicyIndex,
} from '../policy/index.js';
import { linkerd as L } from '../policy/index.js';
import { controlsFor } from '../policy/controls.js';
import { linkerdPortRow, type LinkerdFacts } from './linkerd.js';
import { labelsOf, nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import type { ReportFinding } from './model.js';
import {
  meshStatus,
  refKey,
  workloadOf,
  type ControllerIndex,
  type NamespaceFacts,
  type WorkloadRef,
} from './workloads.js';

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Who calls a Service on the apiserver's behalf: a webhook of a configuration, or an APIService. */
interface Caller {
  readonly kind: string;
  readonly name: string;
  /** `webhook <name>` or `APIService <name>`, for the message. */
  readonly what: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number;
}

function callers(inv: Inventory): Caller[] {
  const out: Caller[] = [];
  for (const cfg of [...inv.validatingWebhooks, ...inv.mutatingWebhooks]) {
    for (const w of Array.isArray(cfg.webhooks) ? cfg.webhooks : []) {
      const svc = isRec(w) && isRec(w['clientConfig']) ? w['clientConfig']['service'] : undefined;
      if (!isRec(svc) || typeof svc['namespace'] !== 'string' || typeof svc['name'] !== 'string') continue;
      // admissionregistration/v1 ServiceReference: port defaults to 443.
      const port = typeof svc['port'] === 'number' ? svc['port'] : 443;
      out.push({
        kind: String(cfg.kind),
        name: nameOf(cfg),
        what: `webhook ${String((w as Rec)['name'])}`,
        namespace: svc['namespace'],
        service: svc['name'],
        port,
      });
    }
  }
  for (const a of inv.apiServices) {
    const svc = a.spec?.['service'];
    if (!isRec(svc) || typeof svc['namespace'] !== 'string' || typeof svc['name'] !== 'string') continue;
    const port = typeof svc['port'] === 'number' ? svc['port'] : 443;
    out.push({
      kind: 'APIService',
      name: nameOf(a),
      what: `APIService ${nameOf(a)}`,
      namespace: svc['namespace'],
      service: svc['name'],
      port,
    });
  }
  return out;
}

/** The container port a Service port sends to in a pod: targetPort (a number, or a container port's name), else the port itself. */
function targetPortIn(pod: KObj, servicePort: Rec): number | undefined {
  const target = servicePort['targetPort'] ?? servicePort['port'];
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^[0-9]+$/.test(target)) return Number(target);
  if (typeof target !== 'string') return undefined;
  for (const c of Array.isArray(pod.spec?.['containers']) ? (pod.spec['containers'] as unknown[]) : []) {
    for (const p of isRec(c) && Array.isArray(c['ports']) ? (c['ports'] as unknown[]) : []) {
      if (isRec(p) && p['name'] === target && typeof p['containerPort'] === 'number') return p['containerPort'];
    }
  }
  return undefined;
}

export interface BackendContext {
  readonly config: ResolvedConfig;
  readonly now: number;
  readonly policies: PolicyIndex;
  readonly controllers: ControllerIndex;
  readonly factsOf: (namespace: string) => NamespaceFacts;
  readonly served: ReadonlySet<string>;
  readonly running: (pod: KObj) => boolean;
  /** With `mesh: linkerd`: Linkerd's installed settings and policy objects (the port's effective inbound policy decides). */
  readonly linkerd?: LinkerdFacts;
}

function edgeFor(
  config: ResolvedConfig,
  namespace: string,
  labels: Record<string, string>,
  port: number,
  now: number,
): CompiledEdge | undefined {
  return config.edges.find(
    (e) =>
      e.source.namespace === namespace &&
      now <= e.expiresAt &&
      e.ports.has(port) &&
      subsetOf(e.source.selector.matchLabels, labels),
  );
}

function yamlMap(m: Readonly<Record<string, string>>): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}

export function apiserverBackendFindings(inv: Inventory, ctx: BackendContext): ReportFinding[] {
  const findings: ReportFinding[] = [];
  const services = new Map<string, KObj>();
  for (const s of inv.services) services.set(`${namespaceOf(s)}/${nameOf(s)}`, s);
  for (const caller of callers(inv)) {
    const svc = services.get(`${caller.namespace}/${caller.service}`);
    const selector = svc?.spec?.['selector'];
    if (!svc || !isRec(selector) || Object.keys(selector).length === 0) continue;
    const servicePort = (Array.isArray(svc.spec?.['ports']) ? (svc.spec['ports'] as unknown[]) : []).find(
      (p) => isRec(p) && p['port'] === caller.port,
    );
    if (!isRec(servicePort)) continue;
    const sel = Object.fromEntries(Object.entries(selector).map(([k, v]) => [k, String(v)]));
    // One finding per caller and workload: the pods of one workload share labels and policy.
    const strictWorkloads = new Map<
      string,
      { ref: WorkloadRef; port: number; labels: Record<string, string>; from: readonly string[] }
    >();
    for (const pod of inv.pods) {
      if (namespaceOf(pod) !== caller.namespace || !ctx.running(pod)) continue;
      const labels = labelsOf(pod);
      if (!subsetOf(sel, labels)) continue;
      const port = targetPortIn(pod, servicePort);
      if (port === undefined) continue;
      if (ctx.linkerd) {
        // Linkerd (docs/POLICY-LINKERD.md (c)): meshed by its proxy; the called port refuses the
        // apiserver when its effective inbound policy admits no unauthenticated traffic.
        if (!L.meshed(labels, pod.spec, ctx.linkerd.controlPlaneNamespace)) continue;
        const row = linkerdPortRow(pod, port, ctx.linkerd);
        if (row.mode !== 'STRICT') continue;
        const ref = workloadOf(pod, ctx.controllers);
        const from = [
          row.server
            ? `Server ${row.server}`
            : row.source === 'annotation'
              ? 'the pod annotation config.linkerd.io/default-inbound-policy'
              : 'the cluster default inbound policy',
          ...(row.policy ? [`policy ${row.policy}`] : []),
        ];
        if (!strictWorkloads.has(refKey(ref)))
          strictWorkloads.set(refKey(ref), { ref, port, labels, from: [from.join(', ')] });
        continue;
      }
      const status = meshStatus(pod, ctx.factsOf(caller.namespace), ctx.served);
      // Outside the mesh nothing refuses plaintext; an excluded or bypassed port skips the proxy.
      if (!status.meshed) continue;
      const annotations = pod.metadata?.annotations ?? {};
      if (status.dataplane === 'sidecar' && excludedInboundPorts(annotations)?.has(port)) continue;
      if (status.dataplane === 'ambient' && bypassesInboundCapture(annotations)) continue;
      const mtls = effectiveMtls(ctx.policies, caller.namespace, labels);
      if (modeOnPort(mtls, port) !== 'STRICT') continue;
      const ref = workloadOf(pod, ctx.controllers);
      if (!strictWorkloads.has(refKey(ref))) strictWorkloads.set(refKey(ref), { ref, port, labels, from: mtls.from });
    }
    for (const { ref, port, labels, from } of strictWorkloads.values()) {
      const edge = edgeFor(ctx.config, caller.namespace, labels, port, ctx.now);
      const paSelector = edge ? edge.source.selector.matchLabels : sel;
      const pa = ctx.linkerd
        ? `a Server in ${caller.namespace} with podSelector.matchLabels ${yamlMap(paSelector)}, port ${port} and accessPolicy all-unauthenticated`
        : `a PeerAuthentication in ${caller.namespace} with selector.matchLabels ${yamlMap(paSelector)} and portLevelMtls {${port}: {mode: PERMISSIVE}}`;
      const strictly = ctx.linkerd ? `admitting no unauthenticated traffic` : `effectively STRICT`;
      findings.push({
        rule: 'apiserver-backend-strict',
        severity: 'error',
        mode: 'audit',
        namespace: caller.namespace,
        kind: caller.kind,
        name: caller.name,
        message: `${caller.what} calls service ${caller.namespace}/${caller.service} port ${caller.port}, whose pods (${ref.kind} ${ref.name}) are meshed with port ${port} ${strictly}${from.length ? ` (from ${from.join(', ')})` : ''}: the kube-apiserver is outside the mesh, so its calls fail`,
        fix: edge
          ? `edges[${edge.index}] ("${edge.source.reason}") permits it: apply ${pa}`
          : `add an edges entry {namespace: ${caller.namespace}, selector: {matchLabels: ${yamlMap(sel)}}, ports: [${port}], reason: ...} to the config, then apply ${pa}`,
        controls: controlsFor('apiserver-backend-strict'),
      });
    }
  }
  return findings;
}
