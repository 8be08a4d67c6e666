// Builds the audit report from an inventory, in phases: the facts (namespaces, revisions, policies,
// controllers), one row per workload, the engine's findings on every object, findings on the
// effective state, then folding effects under their root causes and summing up. Pure: the clock
// comes in through the context.
import { CONTROLS, type ControlId } from '../policy/controls.js';
import { isSystemNamespace, namespaceEnrolment, type EngineContext } from '../policy/index.js';
import { apiserverBackendFindings } from './backends.js';
import { auditFacts, running, type AuditFacts } from './facts.js';
import type { Inventory } from './inventory.js';
import { linkerdEnrolment } from './linkerd.js';
import type { AuditReport, ExemptedFinding, NamespaceRow, ReportFinding, WorkloadRow } from './model.js';
import { objectFindings } from './object-findings.js';
import { foldRootCauses, verdictOf } from './phases.js';
import { exemptionRows, unservedRevisions, workloadFindings } from './state-findings.js';
import { VERSION } from './version.js';
import { workloadRows } from './workload-rows.js';

export { EXPIRY_WARNING_DAYS } from './state-findings.js';

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

export function buildReport(inv: Inventory, ctx: EngineContext, opts: BuildOptions): AuditReport {
  const config = ctx.config;
  const facts = auditFacts(inv, ctx, opts.namespaces);
  const { workloads, pods } = workloadRows(inv, facts);
  const objects = objectFindings(inv, facts, opts.locations);
  const state = workloadFindings(workloads, facts, objects.exemptedBy);
  // Webhooks and aggregated APIs the kube-apiserver cannot reach through STRICT mTLS.
  const backends = apiserverBackendFindings(inv, {
    config,
    now: facts.now,
    policies: facts.policies,
    controllers: facts.controllers,
    factsOf: facts.factsOf,
    served: facts.served.all,
    running,
    ...(facts.ld ? { linkerd: facts.ld } : {}),
  }).filter((f) => facts.wanted(f.namespace));
  const revisions = unservedRevisions(facts);
  const { exemptions, findings: expiry } = exemptionRows(config, facts.now, objects.exemptionUse);
  // One finding per root cause: effects listed under their cause, and following it into an exemption.
  const rooted = foldRootCauses(
    [
      ...objects.findings,
      ...state.findings,
      ...backends,
      ...revisions.findings,
      ...expiry,
      ...(opts.extraFindings ?? []),
      ...objects.exempted,
      ...state.exempted,
    ],
    workloads,
  );
  const findings = rooted.filter((f) => !f.exemption);
  const exempted = rooted.filter((f): f is ExemptedFinding => f.exemption !== undefined);
  const namespaces = namespaceRows(facts, workloads, findings);

  const meshed = workloads.filter((w) => w.meshed).length;
  const strict = workloads.filter((w) => w.strict).length;
  const errors = findings.filter((f) => f.severity === 'error').length;
  const served = [...facts.served.all].sort();
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
      istio: served.map((revision) => ({
        revision,
        ...(facts.cpVersions.get(revision) ? { version: facts.cpVersions.get(revision)?.text } : {}),
      })),
      meshlockVersion: VERSION,
      generatedAt: ctx.now.toISOString(),
    },
    config: configSection(facts),
    summary: {
      workloads: workloads.length,
      meshed,
      strict,
      coveragePercent: pct(strict, workloads.length),
      meshedPercent: pct(meshed, workloads.length),
      pods,
      namespaces: namespaces.length,
      findings: { error: errors, warning: findings.length - errors, total: findings.length },
    },
    namespaces,
    workloads,
    findings,
    destinationRules: objects.destinationRules,
    exemptions,
    exempted,
    revisions: { served, unserved: revisions.unserved },
    ...(opts.installation ? { installation: opts.installation } : {}),
    controls: controlRows(findings),
  };
}

function configSection(facts: AuditFacts): AuditReport['config'] {
  const config = facts.ctx.config;
  const ld = facts.ld;
  return {
    mode: config.mode,
    dataplane: config.dataplane,
    rootNamespace: config.rootNamespace,
    ...(ld
      ? {
          mesh: 'linkerd' as const,
          linkerd: {
            controlPlaneNamespace: ld.controlPlaneNamespace,
            defaultInboundPolicy: ld.cluster.defaultPolicy,
            defaultFrom: ld.defaultFrom,
            ...(ld.controlPlaneVersion ? { version: ld.controlPlaneVersion } : {}),
          },
        }
      : {}),
  };
}

/** Per-namespace rows: every namespace seen, in the input or through a workload. */
function namespaceRows(
  facts: AuditFacts,
  workloads: readonly WorkloadRow[],
  findings: readonly ReportFinding[],
): NamespaceRow[] {
  const config = facts.ctx.config;
  const names = new Set<string>(
    [...facts.nsFacts.keys()].filter((n) => facts.wanted(n) && !isSystemNamespace(config, n)),
  );
  const byNs = new Map<string, WorkloadRow[]>();
  for (const w of workloads) {
    names.add(w.namespace);
    const list = byNs.get(w.namespace);
    if (list) list.push(w);
    else byNs.set(w.namespace, [w]);
  }
  const findingsByNs = new Map<string, number>();
  for (const f of findings) findingsByNs.set(f.namespace, (findingsByNs.get(f.namespace) ?? 0) + 1);
  return [...names].sort().map((ns) => {
    const ws = byNs.get(ns) ?? [];
    const strict = ws.filter((w) => w.strict).length;
    const nsf = facts.factsOf(ns);
    return {
      namespace: ns,
      enrolment: !nsf.known
        ? 'unknown'
        : facts.ld
          ? linkerdEnrolment(facts.nsAnnotations.get(ns) ?? new Map())
          : namespaceEnrolment(nsf.labels).via,
      workloads: ws.length,
      meshed: ws.filter((w) => w.meshed).length,
      strict,
      coveragePercent: pct(strict, ws.length),
      findings: findingsByNs.get(ns) ?? 0,
    };
  });
}

/** The control mapping: every control, with the rules and the number of findings that bear on it. */
function controlRows(findings: readonly ReportFinding[]): AuditReport['controls'] {
  return (Object.keys(CONTROLS) as ControlId[]).map((id) => {
    const on = findings.filter((f) => f.controls.includes(id));
    return { ...CONTROLS[id], rules: [...new Set(on.map((f) => f.rule))].sort(), findings: on.length };
  });
}
