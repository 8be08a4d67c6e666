// Builds the audit report from an inventory: effective mTLS per workload, mesh membership, engine
// findings on every object, exemptions and revisions. Pure: the clock comes in through the context.
import { CONTROLS, controlsFor, type ControlId } from '../policy/controls.js';
import type { EngineContext, ValidationResult } from '../policy/index.js';
import type { CompiledExemption } from '../config/index.js';
import { edgePortsFor, effectiveMtls, familyOf, groupOf, indexPolicies, inputFromObject, isSystemNamespace, LABEL_REV, namespaceEnrolment, readPeerAuthentication, validate, weakest, type MtlsMode, type PeerAuthn } from '../policy/index.js';
import { apiserverBackendFindings } from './backends.js';
import { labelsOf, nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import type { AuditReport, DestinationRuleRow, ExemptedFinding, ExemptionRow, NamespaceRow, ReportFinding, WorkloadRow } from './model.js';
import { portSummary } from './ports.js';
import { exemptionRef, foldRootCauses, mtlsText, verdictOf } from './phases.js';
import { linkerdEnrolment, linkerdFacts, linkerdPodStatus, weakestMode, type LinkerdPodStatus } from './linkerd.js';
import { servedRevisions } from './revisions.js';
import { controlPlaneVersions } from './skew.js';
import { VERSION } from './version.js';
import { indexControllers, meshStatus, refKey, workloadOf, type MeshStatus, type NamespaceFacts, type WorkloadRef } from './workloads.js';

export const EXPIRY_WARNING_DAYS = 30;
const DAY = 86_400_000;

export interface BuildOptions {
  readonly source: AuditReport['source'];
  /** Limit the report to these namespaces (policies of the root namespace still apply). */
  readonly namespaces?: readonly string[];
  /** Findings from checks outside this module (installation), already in report form. */
  readonly extraFindings?: readonly ReportFinding[];
  readonly installation?: AuditReport['installation'];
  /** The cluster audited (live audits): kubeconfig context and API server. */
  readonly cluster?: { readonly context?: string; readonly server?: string };
  /** File and line of objects read from a dump, keyed by the object itself. */
  readonly locations?: ReadonlyMap<unknown, { file: string; line: number }>;
}

function pct(n: number, d: number): number {
  return d === 0 ? 0 : Math.round((n / d) * 1000) / 10;
}

/** Pods that finished serve no traffic, so they are neither covered nor uncovered. */
function running(pod: KObj): boolean {
  const phase = pod.status?.['phase'];
  return phase !== 'Succeeded' && phase !== 'Failed';
}

interface WorkloadAcc {
  ref: WorkloadRef;
  pods: KObj[];
  statuses: MeshStatus[];
  linkerd: LinkerdPodStatus[];
}

export function buildReport(inv: Inventory, ctx: EngineContext, opts: BuildOptions): AuditReport {
  const config = ctx.config;
  const now = ctx.now.getTime();
  const inScopeNs = opts.namespaces && opts.namespaces.length > 0 ? new Set(opts.namespaces) : undefined;
  const wanted = (ns: string): boolean => !inScopeNs || inScopeNs.has(ns);

  const nsFacts = new Map<string, NamespaceFacts>();
  for (const n of inv.namespaces) nsFacts.set(nameOf(n), { labels: new Map(Object.entries(labelsOf(n))), known: true });
  const factsOf = (ns: string): NamespaceFacts => nsFacts.get(ns) ?? { labels: new Map(), known: false };
  const nsAnnotations = new Map<string, ReadonlyMap<string, string>>();
  for (const n of inv.namespaces) nsAnnotations.set(nameOf(n), new Map(Object.entries(n.metadata?.annotations ?? {})));
  const isLinkerd = config.mesh === 'linkerd';
  const ld = isLinkerd ? linkerdFacts(inv, config) : undefined;

  const served = servedRevisions(inv, config.rootNamespace);
  const cpVersions = controlPlaneVersions(inv, config.rootNamespace);
  const policies: PeerAuthn[] = [];
  for (const pa of inv.peerAuthentications) {
    const p = readPeerAuthentication(pa);
    if (p) policies.push(p);
  }
  const pIndex = indexPolicies(policies, config.rootNamespace);
  const controllers = indexControllers(inv.controllers);

  // Workloads: running pods outside system namespaces, grouped by the top of their owner chain.
  const groups = new Map<string, WorkloadAcc>();
  let podCount = 0;
  for (const pod of inv.pods) {
    const ns = namespaceOf(pod);
    if (!wanted(ns) || isSystemNamespace(config, ns) || !running(pod)) continue;
    podCount++;
    const ref = workloadOf(pod, controllers);
    const key = refKey(ref);
    let acc = groups.get(key);
    if (!acc) groups.set(key, (acc = { ref, pods: [], statuses: [], linkerd: [] }));
    acc.pods.push(pod);
    if (ld) {
      const f = factsOf(ns);
      acc.linkerd.push(linkerdPodStatus(pod, { labels: f.labels, annotations: nsAnnotations.get(ns) ?? new Map(), known: f.known }, ld));
    } else acc.statuses.push(meshStatus(pod, factsOf(ns), served.all));
  }

  const workloads: WorkloadRow[] = [];
  for (const acc of groups.values()) {
    if (ld) {
      // The first pod that is not meshed speaks for the workload, else the first pod.
      const status = acc.linkerd.find((s) => !s.meshed) ?? (acc.linkerd[0] as LinkerdPodStatus);
      const ports = status.detail.ports;
      const effective: MtlsMode = status.meshed ? weakestMode(ports) : 'DISABLE';
      const portModes = Object.fromEntries(ports.map((p) => [String(p.port), p.mode]));
      const deciders = [...new Set(ports.map((p) => (p.source === 'server' ? `Server ${acc.ref.namespace}/${p.server}` : p.source === 'annotation' ? `annotation ${p.policy}` : p.source === 'cluster-default' ? `cluster default ${p.policy}` : `iptables skip (${p.skipped})`)))];
      workloads.push({
        namespace: acc.ref.namespace,
        kind: acc.ref.kind,
        name: acc.ref.name,
        pods: acc.pods.length,
        meshed: status.meshed,
        dataplane: status.meshed ? 'sidecar' : 'none',
        ...(status.reason ? { reason: status.reason } : {}),
        linkerd: status.detail,
        effectiveMtls: effective,
        policyMtls: effective,
        // Ports the pod does not declare get the proxy's default (its env, baked in at injection).
        defaultMtls: ld.cluster.defaultPolicy.endsWith('-authenticated') || ld.cluster.defaultPolicy === 'deny' ? 'STRICT' : 'PERMISSIVE',
        ports: portModes,
        mtls: status.meshed
          ? ports.length === 0
            ? 'no declared port'
            : ports.map((p) => `port ${p.port}: ${p.mode}${p.source === 'iptables-skip' ? ' (skipped by iptables)' : p.plaintext.length > 0 ? ` (plaintext via ${p.plaintext.join(', ')})` : ''}`).join('; ')
          : `no mTLS: not meshed (${status.reason ?? 'no proxy'})`,
        policies: deciders,
        strict: status.meshed && effective === 'STRICT',
      });
      continue;
    }
    const first = acc.pods[0] as KObj;
    const labels = labelsOf(first);
    const policy = effectiveMtls(pIndex, acc.ref.namespace, labels);
    // POLICY.md "Edges": a port an unexpired edge names may be PERMISSIVE for the workloads it
    // selects. It is shown as such and not counted as a strictness failure; every other port is.
    const edgePorts = config.edges.length > 0 ? edgePortsFor(config, acc.ref.namespace, new Map(Object.entries(labels)), now) : undefined;
    const edges: Record<string, string> = {};
    for (const [port, m] of Object.entries(policy.ports)) {
      const e = edgePorts?.get(Number(port));
      if (e && m === 'PERMISSIVE') edges[port] = e.source.reason;
    }
    const judged = weakest([policy.mode, ...Object.entries(policy.ports).filter(([port]) => !Object.hasOwn(edges, port)).map(([, m]) => m)]);
    const notMeshed = acc.statuses.find((s) => !s.meshed);
    const meshed = notMeshed === undefined;
    // Without a proxy nothing enforces the policy: the workload accepts plaintext.
    const effective: MtlsMode = meshed ? judged : 'DISABLE';
    const dataplane = meshed ? (acc.statuses.some((s) => s.dataplane === 'sidecar') ? 'sidecar' : 'ambient') : 'none';
    workloads.push({
      namespace: acc.ref.namespace,
      kind: acc.ref.kind,
      name: acc.ref.name,
      pods: acc.pods.length,
      meshed,
      dataplane,
      ...(notMeshed?.reason ? { reason: notMeshed.reason } : {}),
      istio: (notMeshed ?? (acc.statuses[0] as MeshStatus)).istio,
      effectiveMtls: effective,
      policyMtls: policy.weakest,
      defaultMtls: policy.mode,
      ports: policy.ports,
      ...(Object.keys(edges).length > 0 ? { edges } : {}),
      mtls: mtlsText({ meshed, ...(notMeshed?.reason ? { reason: notMeshed.reason } : {}), defaultMtls: policy.mode, ports: policy.ports, ...(Object.keys(edges).length > 0 ? { edges } : {}) }),
      policies: policy.from,
      strict: meshed && judged === 'STRICT',
    });
  }
  workloads.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

  // Engine findings on every object of a family meshlock has rules for, as a CREATE of it now.
  // Findings on pods and ReplicaSets are reported on the workload that owns them, once.
  const findings: ReportFinding[] = [];
  const seen = new Set<string>();
  const exemptionUse = new Map<number, number>();
  // What exemptions lifted, and on which workload: a workload whose own violations an exemption
  // lifted has its workload findings shown as exempted by it, never as errors.
  const exempted: ExemptedFinding[] = [];
  const exemptedBy = new Map<string, CompiledExemption>();
  const exemptionOf = (x: CompiledExemption): ExemptedFinding['exemption'] => exemptionRef(x);
  const destinationRules: DestinationRuleRow[] = [];
  const judgeObject = (o: KObj, attributeTo: WorkloadRef | undefined): ValidationResult | undefined => {
    const group = groupOf(o.apiVersion);
    if (familyOf(group, String(o.kind)) === undefined) return undefined;
    const input = inputFromObject(o, namespaceOf(o) || 'default', 'CREATE');
    if (!wanted(input.namespace) && !(o.kind === 'PeerAuthentication' && input.namespace === config.rootNamespace)) return undefined;
    const result = validate(input, ctx);
    const who = attributeTo ?? { namespace: input.namespace, kind: input.kind, name: input.name };
    const loc = opts.locations?.get(o);
    for (const f of result.findings) {
      const key = `${refKey(who)}\u0000${f.rule}\u0000${f.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push({
        rule: f.rule,
        severity: f.severity,
        mode: f.mode,
        namespace: who.kind === 'Namespace' ? who.name : who.namespace,
        kind: who.kind,
        name: who.name,
        message: f.message,
        fix: f.fix,
        controls: controlsFor(f.rule),
        ...(loc ? { file: loc.file, line: loc.line } : {}),
      });
    }
    for (const e of result.exempted) {
      exemptionUse.set(e.exemption.index, (exemptionUse.get(e.exemption.index) ?? 0) + 1);
      if (!exemptedBy.has(refKey(who))) exemptedBy.set(refKey(who), e.exemption);
      const key = `${refKey(who)}\u0000${e.rule}\u0000${e.message}\u0000exempted`;
      if (seen.has(key)) continue;
      seen.add(key);
      exempted.push({
        rule: e.rule,
        severity: e.severity,
        mode: 'exempted',
        namespace: who.kind === 'Namespace' ? who.name : who.namespace,
        kind: who.kind,
        name: who.name,
        message: e.message,
        fix: e.fix,
        controls: controlsFor(e.rule),
        exemption: exemptionOf(e.exemption),
        ...(loc ? { file: loc.file, line: loc.line } : {}),
      });
    }
    return result;
  };
  for (const n of inv.namespaces) judgeObject(n, undefined);
  for (const o of [...inv.linkerd.servers, ...inv.linkerd.serverAuthorizations, ...inv.linkerd.authorizationPolicies]) judgeObject(o, undefined);
  for (const pa of inv.peerAuthentications) judgeObject(pa, undefined);
  for (const dr of inv.destinationRules) {
    const r = judgeObject(dr, undefined);
    for (const f of r?.findings ?? []) {
      if (f.rule !== 'dr-tls-disable' && f.rule !== 'dr-tls-origination') continue;
      const host = (dr.spec as { host?: unknown } | undefined)?.host;
      destinationRules.push({ namespace: namespaceOf(dr), name: nameOf(dr), host: typeof host === 'string' ? host : String(host), rule: f.rule, message: f.message });
    }
  }
  for (const c of inv.controllers) {
    const top = workloadOf(c, controllers);
    judgeObject(c, top.kind === c.kind && top.name === nameOf(c) ? undefined : top);
  }
  for (const pod of inv.pods) {
    if (!running(pod)) continue;
    // An injected pod's template was judged on its controller; the pod itself adds only what differs.
    judgeObject(pod, workloadOf(pod, controllers));
  }

  // Effective state: workloads outside the mesh, or inside it but accepting plaintext somewhere. A
  // workload an exemption covers (one used on its own objects, or one without a rule list naming it)
  // is reported as exempted, not as an error beside an exemption the report calls used.
  const coveringExemption = (w: WorkloadRow): CompiledExemption | undefined =>
    exemptedBy.get(refKey(w)) ?? config.exemptions.find((x) => now <= x.expiresAt && x.source.rules === undefined && x.covers({ namespace: w.namespace, kind: w.kind, name: w.name }));
  const workloadFindingsFrom = findings.length;
  for (const w of workloads) {
    const base = { mode: 'audit', namespace: w.namespace, kind: w.kind, name: w.name };
    if (w.linkerd) {
      findings.push(...linkerdWorkloadFindings(w, base, ld));
      continue;
    }
    if (!w.meshed) {
      findings.push({ ...base, rule: 'workload-not-meshed', severity: 'error', message: `not in the mesh: ${w.reason ?? 'no proxy'}`, fix: w.istio?.injection.injected === true ? 'restart its pods (kubectl rollout restart) so that the injector adds the proxy' : 'enrol the namespace and restart the pods, or remove what keeps them out', controls: controlsFor('workload-not-meshed') });
    } else if (!w.strict) {
      const ports = portSummary(w);
      findings.push({
        ...base,
        rule: 'workload-not-strict',
        severity: 'error',
        message: `effective mTLS is ${w.effectiveMtls}${ports ? ` (ports ${ports})` : ''}, so plaintext is accepted${w.policies.length ? ` (from ${w.policies.join(', ')})` : ' (no PeerAuthentication applies: Istio defaults to PERMISSIVE)'}`,
        fix: 'apply a STRICT mesh-wide PeerAuthentication in the root namespace and remove weaker ones',
        controls: controlsFor('workload-not-strict'),
      });
    }
  }
  for (const f of findings.splice(workloadFindingsFrom)) {
    const x = coveringExemption(f as unknown as WorkloadRow);
    if (x === undefined) findings.push(f);
    else exempted.push({ ...f, mode: 'exempted', exemption: exemptionOf(x) });
  }

  // Webhooks and aggregated APIs the kube-apiserver cannot reach through STRICT mTLS.
  findings.push(
    ...apiserverBackendFindings(inv, { config, now, policies: pIndex, controllers, factsOf, served: served.all, running, ...(ld ? { linkerd: ld } : {}) }).filter((f) => wanted(f.namespace)),
  );

  // Namespaces that name a revision no control plane serves.
  const unserved: { namespace: string; revision: string }[] = [];
  for (const [ns, facts] of nsFacts) {
    if (!wanted(ns) || isLinkerd) continue;
    const e = namespaceEnrolment(facts.labels);
    const rev = e.sidecarRevision;
    if (e.sidecarBy !== LABEL_REV || rev === undefined) continue;
    if (served.all.has(rev)) continue;
    unserved.push({ namespace: ns, revision: rev });
    findings.push({
      rule: 'install-revision-unserved',
      severity: 'error',
      mode: 'audit',
      namespace: ns,
      kind: 'Namespace',
      name: ns,
      message: `istio.io/rev=${rev} names a revision no control plane serves${served.all.size ? ` (served: ${[...served.all].sort().join(', ')})` : ' (no control plane found)'}: new pods get no sidecar`,
      fix: `install revision ${rev} or relabel the namespace with a served revision`,
      controls: controlsFor('install-revision-unserved'),
    });
  }

  // Exemptions: active, expiring within 30 days, or expired (an expired one no longer lifts anything).
  const exemptions: ExemptionRow[] = config.exemptions.map((ex) => {
    const e = ex.source;
    const status = now > ex.expiresAt ? 'expired' : ex.expiresAt - now <= EXPIRY_WARNING_DAYS * DAY ? 'expiring' : 'active';
    return {
      index: ex.index,
      namespace: e.namespace,
      ...(e.kind ? { kind: e.kind } : {}),
      ...(e.name ? { name: e.name } : {}),
      ...(e.rules ? { rules: e.rules } : {}),
      reason: e.reason,
      ...(e.owner ? { owner: e.owner } : {}),
      ...(e.expires ? { expires: e.expires } : {}),
      status,
      used: exemptionUse.get(ex.index) ?? 0,
    };
  });
  for (const x of exemptions) {
    if (x.status === 'active') continue;
    const rule = x.status === 'expired' ? 'exemption-expired' : 'exemption-expiring';
    findings.push({
      rule,
      severity: 'warning',
      mode: 'audit',
      namespace: x.namespace,
      kind: 'Exemption',
      name: `exemptions[${x.index}]`,
      message: x.status === 'expired' ? `exemption "${x.reason}" expired on ${x.expires} and no longer applies` : `exemption "${x.reason}" expires on ${x.expires}, within ${EXPIRY_WARNING_DAYS} days`,
      fix: 'fix what it exempts, or renew it with a new expiry date',
      controls: controlsFor(rule),
    });
  }

  findings.push(...(opts.extraFindings ?? []));
  // One finding per root cause: effects listed under their cause, and following it into an exemption.
  {
    const rooted = foldRootCauses([...findings, ...exempted], workloads);
    findings.length = 0;
    exempted.length = 0;
    for (const f of rooted) {
      if (f.exemption) exempted.push(f as ExemptedFinding);
      else findings.push(f);
    }
  }

  // Per-namespace rows: every namespace seen, in the input or through a workload.
  const nsNames = new Set<string>([...nsFacts.keys()].filter((n) => wanted(n) && !isSystemNamespace(config, n)));
  for (const w of workloads) nsNames.add(w.namespace);
  const byNs = new Map<string, WorkloadRow[]>();
  for (const w of workloads) {
    const list = byNs.get(w.namespace);
    if (list) list.push(w);
    else byNs.set(w.namespace, [w]);
  }
  const findingsByNs = new Map<string, number>();
  for (const f of findings) findingsByNs.set(f.namespace, (findingsByNs.get(f.namespace) ?? 0) + 1);
  const namespaces: NamespaceRow[] = [...nsNames].sort().map((ns) => {
    const ws = byNs.get(ns) ?? [];
    const meshedN = ws.filter((w) => w.meshed).length;
    const strictN = ws.filter((w) => w.strict).length;
    const facts = factsOf(ns);
    return {
      namespace: ns,
      enrolment: !facts.known ? 'unknown' : isLinkerd ? linkerdEnrolment(nsAnnotations.get(ns) ?? new Map()) : namespaceEnrolment(facts.labels).via,
      workloads: ws.length,
      meshed: meshedN,
      strict: strictN,
      coveragePercent: pct(strictN, ws.length),
      findings: findingsByNs.get(ns) ?? 0,
    };
  });

  const meshed = workloads.filter((w) => w.meshed).length;
  const strict = workloads.filter((w) => w.strict).length;
  const errors = findings.filter((f) => f.severity === 'error').length;
  const controls = (Object.keys(CONTROLS) as ControlId[]).map((id) => ({
    ...CONTROLS[id],
    rules: [...new Set(findings.filter((f) => f.controls.includes(id)).map((f) => f.rule))].sort(),
    findings: findings.filter((f) => f.controls.includes(id)).length,
  }));
  return {
    apiVersion: 'meshlock.dev/v1alpha1',
    kind: 'AuditReport',
    generatedAt: ctx.now.toISOString(),
    tool: { name: 'meshlock', version: VERSION },
    source: opts.source,
    verdict: verdictOf(findings, exempted.length),
    identity: {
      ...(opts.cluster?.context ? { context: opts.cluster.context } : {}),
      ...(opts.cluster?.server ? { server: opts.cluster.server } : {}),
      source: `${opts.source.type} ${opts.source.name}`,
      istio: [...served.all].sort().map((revision) => ({ revision, ...(cpVersions.get(revision) ? { version: cpVersions.get(revision)?.text } : {}) })),
      meshlockVersion: VERSION,
      generatedAt: ctx.now.toISOString(),
    },
    config: {
      mode: config.mode,
      dataplane: config.dataplane,
      rootNamespace: config.rootNamespace,
      ...(ld
        ? {
            mesh: 'linkerd' as const,
            linkerd: { controlPlaneNamespace: ld.controlPlaneNamespace, defaultInboundPolicy: ld.cluster.defaultPolicy, defaultFrom: ld.defaultFrom, ...(ld.controlPlaneVersion ? { version: ld.controlPlaneVersion } : {}) },
          }
        : {}),
    },
    summary: {
      workloads: workloads.length,
      meshed,
      strict,
      coveragePercent: pct(strict, workloads.length),
      meshedPercent: pct(meshed, workloads.length),
      pods: podCount,
      namespaces: namespaces.length,
      findings: { error: errors, warning: findings.length - errors, total: findings.length },
    },
    namespaces,
    workloads,
    findings,
    destinationRules,
    exemptions,
    exempted,
    revisions: { served: [...served.all].sort(), unserved },
    ...(opts.installation ? { installation: opts.installation } : {}),
    controls,
  };
}

/**
 * The Linkerd workload findings: not meshed (with the injector's reason), ports that admit plaintext
 * (naming the authorizations, or the iptables skip), and a proxy older or newer than the control plane.
 */
function linkerdWorkloadFindings(w: WorkloadRow, base: { mode: string; namespace: string; kind: string; name: string }, ld: ReturnType<typeof linkerdFacts> | undefined): ReportFinding[] {
  const out: ReportFinding[] = [];
  const d = w.linkerd;
  if (!d) return out;
  if (!w.meshed) {
    out.push({ ...base, rule: 'workload-not-meshed', severity: 'error', message: `not in the mesh: ${w.reason ?? 'no proxy'}`, fix: 'annotate the namespace linkerd.io/inject=enabled, remove what the injector skips on, and restart the pods', controls: controlsFor('workload-not-meshed') });
    return out;
  }
  const weak = d.ports.filter((p) => p.mode !== 'STRICT');
  if (weak.length > 0) {
    const parts = weak.map((p) => (p.source === 'iptables-skip' ? `${p.port} skipped by iptables (${p.skipped})` : `${p.port} admits plaintext through ${p.plaintext.join(', ')}${p.server ? ` (Server ${p.server})` : ` (${p.source} ${p.policy ?? ''})`}`));
    out.push({
      ...base,
      rule: 'workload-not-strict',
      severity: 'error',
      message: `ports accepting plaintext: ${parts.join('; ')}`,
      fix: 'annotate the namespace config.linkerd.io/default-inbound-policy=all-authenticated and restart, or set the Server accessPolicy to deny with MeshTLSAuthentication-based AuthorizationPolicies; remove skip-inbound-ports',
      controls: controlsFor('workload-not-strict'),
    });
  }
  if (ld?.controlPlaneVersion && d.proxyVersion && d.proxyVersion !== ld.controlPlaneVersion) {
    out.push({ ...base, rule: 'ld-proxy-version-skew', severity: 'warning', message: `proxy ${d.proxyVersion} differs from the control plane's ${ld.controlPlaneVersion}`, fix: 'restart the pods so the injector gives them the current proxy', controls: controlsFor('ld-proxy-version-skew') });
  }
  const open = d.ports.filter((p) => p.openProbePaths.length > 0);
  if (open.length > 0 && ld && ld.cluster.probeNetworks.some((n) => /\/0$/.test(n))) {
    out.push({ ...base, rule: 'ld-probe-paths-open', severity: 'warning', message: `probe paths open without authentication from ${ld.cluster.probeNetworks.join(', ')}: ${open.map((p) => `${p.port} ${p.openProbePaths.join(',')}`).join('; ')}`, fix: 'set policyController.probeNetworks to the node network, or serve probes on a port of their own', controls: controlsFor('ld-probe-paths-open') });
  }
  return out;
}
