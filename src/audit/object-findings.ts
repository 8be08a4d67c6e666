// The third phase: the engine's findings on every object of a family meshlock has rules for, judged
// as a CREATE of it now. Findings on pods and ReplicaSets are reported on the workload that owns them,
// once; what an exemption lifted is kept apart, with the exemption. Pure.
import type { CompiledExemption } from '../config/index.js';
import { controlsFor } from '../policy/controls.js';
import { familyOf, groupOf, inputFromObject, validate, type ValidationResult } from '../policy/index.js';
import { running, type AuditFacts } from './facts.js';
import { nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import type { DestinationRuleRow, ExemptedFinding, ReportFinding } from './model.js';
import { exemptionRef } from './phases.js';
import { refKey, workloadOf, type WorkloadRef } from './workloads.js';

export interface ObjectFindings {
  readonly findings: ReportFinding[];
  readonly exempted: ExemptedFinding[];
  /** The first exemption that lifted a violation of each workload (by refKey). */
  readonly exemptedBy: ReadonlyMap<string, CompiledExemption>;
  /** How many violations each exemption (by index) lifted. */
  readonly exemptionUse: ReadonlyMap<number, number>;
  readonly destinationRules: DestinationRuleRow[];
}

export function objectFindings(
  inv: Inventory,
  facts: AuditFacts,
  locations?: ReadonlyMap<unknown, { file: string; line: number }>,
): ObjectFindings {
  const { ctx, wanted, controllers } = facts;
  const config = ctx.config;
  const findings: ReportFinding[] = [];
  const exempted: ExemptedFinding[] = [];
  const exemptedBy = new Map<string, CompiledExemption>();
  const exemptionUse = new Map<number, number>();
  const destinationRules: DestinationRuleRow[] = [];
  const seen = new Set<string>();
  const judge = (o: KObj, attributeTo: WorkloadRef | undefined): ValidationResult | undefined => {
    if (familyOf(groupOf(o.apiVersion), String(o.kind)) === undefined) return undefined;
    const input = inputFromObject(o, namespaceOf(o) || 'default', 'CREATE');
    if (!wanted(input.namespace) && !(o.kind === 'PeerAuthentication' && input.namespace === config.rootNamespace))
      return undefined;
    const result = validate(input, ctx);
    const who = attributeTo ?? { namespace: input.namespace, kind: input.kind, name: input.name };
    const where = { namespace: who.kind === 'Namespace' ? who.name : who.namespace, kind: who.kind, name: who.name };
    const loc = locations?.get(o);
    for (const f of result.findings) {
      const key = `${refKey(who)}\u0000${f.rule}\u0000${f.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push({
        rule: f.rule,
        severity: f.severity,
        mode: f.mode,
        ...where,
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
        ...where,
        message: e.message,
        fix: e.fix,
        controls: controlsFor(e.rule),
        exemption: exemptionRef(e.exemption),
        ...(loc ? { file: loc.file, line: loc.line } : {}),
      });
    }
    return result;
  };
  // Fail closed: an object the audit cannot read is an error finding, not a pass.
  for (const u of inv.unreadable) {
    if (u.namespace !== '?' && u.namespace !== '' && !wanted(u.namespace)) continue;
    findings.push({
      rule: 'malformed-object',
      severity: 'error',
      mode: 'audit',
      namespace: u.namespace === '?' ? '' : u.namespace,
      kind: u.kind,
      name: u.name,
      message: `the audit cannot read it: ${u.problem}`,
      fix: 'give its metadata the types the Kubernetes API gives (strings, maps of strings)',
      controls: controlsFor('malformed-object'),
    });
  }
  for (const n of inv.namespaces) judge(n, undefined);
  for (const o of [...inv.linkerd.servers, ...inv.linkerd.serverAuthorizations, ...inv.linkerd.authorizationPolicies])
    judge(o, undefined);
  for (const pa of inv.peerAuthentications) judge(pa, undefined);
  for (const dr of inv.destinationRules) {
    for (const f of judge(dr, undefined)?.findings ?? []) {
      if (f.rule !== 'dr-tls-disable' && f.rule !== 'dr-tls-origination') continue;
      const host = (dr.spec as { host?: unknown } | undefined)?.host;
      destinationRules.push({
        namespace: namespaceOf(dr),
        name: nameOf(dr),
        host: typeof host === 'string' ? host : (JSON.stringify(host) ?? String(host)),
        rule: f.rule,
        message: f.message,
      });
    }
  }
  for (const c of inv.controllers) {
    const top = workloadOf(c, controllers);
    judge(c, top.kind === c.kind && top.name === nameOf(c) ? undefined : top);
  }
  // An injected pod's template was judged on its controller; the pod itself adds only what differs.
  for (const pod of inv.pods) if (running(pod)) judge(pod, workloadOf(pod, controllers));
  return { findings, exempted, exemptedBy, exemptionUse, destinationRules };
}
