// The last phases of building an audit report, each a pure function over what the earlier ones
// made: folding secondary findings under their root cause, lifting audit findings an exemption
// names, the overall verdict, the cluster's identity, and how a workload's mTLS reads to an auditor.
import type { CompiledExemption } from '../config/index.js';
import type { AuditReport, ExemptionRef, FindingEffect, ReportFinding, WorkloadRow } from './model.js';
import { portSummary } from './ports.js';

/** Engine rules that keep a workload's pods out of the mesh, by where they are reported. */
const WORKLOAD_CAUSES = ['pod-host-network', 'pod-injection-disabled', 'pod-forged-status'];
const NAMESPACE_CAUSES = [
  'ns-injection-missing',
  'ns-injection-disabled',
  'ns-injection-conflict',
  'install-revision-unserved',
];
/** When the injector does select the pod (it only lacks its proxy), the namespace's labels are not why; an unserved revision may be. */
const SELECTED_CAUSES = ['install-revision-unserved'];
const POLICY_CAUSES = ['pa-mode', 'pa-port-mode'];

const key = (kind: string, namespace: string, name: string): string => `${kind}\u0000${namespace}\u0000${name}`;

function effectOf(f: ReportFinding): FindingEffect {
  return { rule: f.rule, kind: f.kind, namespace: f.namespace, name: f.name, message: f.message };
}

/**
 * One finding per root cause. A workload outside the mesh because of its own pods (hostNetwork,
 * injection turned off) or its namespace (not enrolled, an unserved revision), and a meshed workload
 * accepting plaintext because of a PeerAuthentication that is a finding itself, are effects of that
 * finding: they are listed under it instead of counted again. Effects follow their cause into an
 * exemption. Findings with no cause among the others stay as they are.
 */
export function foldRootCauses(findings: readonly ReportFinding[], workloads: readonly WorkloadRow[]): ReportFinding[] {
  const byObject = new Map<string, ReportFinding[]>();
  for (const f of findings) {
    const k = key(f.kind, f.namespace, f.name);
    const list = byObject.get(k);
    if (list) list.push(f);
    else byObject.set(k, [f]);
  }
  const workloadOf = new Map(workloads.map((w) => [key(w.kind, w.namespace, w.name), w]));
  const effects = new Map<ReportFinding, FindingEffect[]>();
  const folded = new Set<ReportFinding>();
  const pick = (kind: string, namespace: string, name: string, rules: readonly string[]): ReportFinding | undefined => {
    const list = byObject.get(key(kind, namespace, name)) ?? [];
    for (const r of rules) {
      const hit = list.find((f) => f.rule === r);
      if (hit) return hit;
    }
    return undefined;
  };
  for (const f of findings) {
    let cause: ReportFinding | undefined;
    if (f.rule === 'workload-not-meshed') {
      const selected = workloadOf.get(key(f.kind, f.namespace, f.name))?.istio?.injection.injected === true;
      cause = selected
        ? pick('Namespace', f.namespace, f.namespace, SELECTED_CAUSES)
        : (pick(f.kind, f.namespace, f.name, WORKLOAD_CAUSES) ??
          pick('Namespace', f.namespace, f.namespace, NAMESPACE_CAUSES));
    } else if (f.rule === 'workload-not-strict') {
      const w = workloadOf.get(key(f.kind, f.namespace, f.name));
      for (const p of w?.policies ?? []) {
        const [ns, name] = p.split('/') as [string, string];
        cause = pick('PeerAuthentication', ns, name, POLICY_CAUSES);
        if (cause) break;
      }
    }
    if (!cause || cause === f) continue;
    folded.add(f);
    const list = effects.get(cause);
    if (list) list.push(effectOf(f));
    else effects.set(cause, [effectOf(f)]);
  }
  return findings
    .filter((f) => !folded.has(f))
    .map((f) => (effects.has(f) ? { ...f, effects: [...(f.effects ?? []), ...(effects.get(f) ?? [])] } : f));
}

/** The exemption as a report shows it. */
export function exemptionRef(e: CompiledExemption): ExemptionRef {
  return {
    index: e.index,
    reason: e.source.reason,
    ...(e.source.owner ? { owner: e.source.owner } : {}),
    ...(e.source.expires ? { expires: e.source.expires } : {}),
  };
}

/** PASS when no error-severity finding stands outside an active exemption. */
export function verdictOf(findings: readonly ReportFinding[], exempted: number): AuditReport['verdict'] {
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  const pass = errors === 0;
  const tail = `${warnings} warning${warnings === 1 ? '' : 's'}, ${exempted} exempted`;
  return {
    result: pass ? 'PASS' : 'FAIL',
    errors,
    summary: pass
      ? `PASS: no error finding outside active exemptions (${tail})`
      : `FAIL: ${errors} error finding${errors === 1 ? '' : 's'} (${tail})`,
  };
}

/** How a workload's mTLS reads: every port's mode (an edge's reason with it), or why there is none. */
export function mtlsText(w: Pick<WorkloadRow, 'meshed' | 'reason' | 'defaultMtls' | 'ports' | 'edges'>): string {
  if (!w.meshed) return `no mTLS: not meshed (${w.reason ?? 'no proxy'})`;
  if (Object.keys(w.ports).length === 0) return `${w.defaultMtls} on every port`;
  return `port ${portSummary(w)
    .replace(/=/g, ': ')
    .replace(/, (\d)/g, ', port $1')}; ${w.defaultMtls} on every other port`;
}
