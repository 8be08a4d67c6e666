// The fourth phase: findings about the effective state rather than about one object (workloads
// outside the mesh or accepting plaintext, namespaces on a revision no control plane serves) and
// the exemptions' own rows and expiry findings. Pure.
import type { CompiledExemption, ResolvedConfig } from '../config/index.js';
import { controlsFor } from '../policy/controls.js';
import { LABEL_REV, namespaceEnrolment } from '../policy/index.js';
import type { AuditFacts } from './facts.js';
import type { LinkerdFacts } from './linkerd.js';
import type { ExemptedFinding, ExemptionRow, ReportFinding, WorkloadRow } from './model.js';
import { portSummary } from './ports.js';
import { exemptionRef } from './phases.js';
import { refKey } from './workloads.js';

export const EXPIRY_WARNING_DAYS = 30;
const DAY = 86_400_000;

type Base = { mode: string; namespace: string; kind: string; name: string };

/**
 * Workloads outside the mesh, or inside it but accepting plaintext somewhere. A workload an
 * exemption covers (one used on its own objects, or one without a rule list naming it) is reported
 * as exempted, not as an error beside an exemption the report calls used.
 */
export function workloadFindings(
  workloads: readonly WorkloadRow[],
  facts: AuditFacts,
  exemptedBy: ReadonlyMap<string, CompiledExemption>,
): { findings: ReportFinding[]; exempted: ExemptedFinding[] } {
  const config = facts.ctx.config;
  const covering = (w: Base): CompiledExemption | undefined =>
    exemptedBy.get(refKey(w)) ??
    config.exemptions.find(
      (x) =>
        facts.now <= x.expiresAt &&
        x.source.rules === undefined &&
        x.covers({ namespace: w.namespace, kind: w.kind, name: w.name }),
    );
  const findings: ReportFinding[] = [];
  const exempted: ExemptedFinding[] = [];
  for (const w of workloads) {
    const base = { mode: 'audit', namespace: w.namespace, kind: w.kind, name: w.name };
    for (const f of w.linkerd ? linkerdWorkloadFindings(w, base, facts.ld) : istioWorkloadFindings(w, base)) {
      const x = covering(f);
      if (x === undefined) findings.push(f);
      else exempted.push({ ...f, mode: 'exempted', exemption: exemptionRef(x) });
    }
  }
  return { findings, exempted };
}

function istioWorkloadFindings(w: WorkloadRow, base: Base): ReportFinding[] {
  if (!w.meshed) {
    return [
      {
        ...base,
        rule: 'workload-not-meshed',
        severity: 'error',
        message: `not in the mesh: ${w.reason ?? 'no proxy'}`,
        fix:
          w.istio?.injection.injected === true
            ? 'restart its pods (kubectl rollout restart) so that the injector adds the proxy'
            : 'enrol the namespace and restart the pods, or remove what keeps them out',
        controls: controlsFor('workload-not-meshed'),
      },
    ];
  }
  if (w.strict) return [];
  const ports = portSummary(w);
  return [
    {
      ...base,
      rule: 'workload-not-strict',
      severity: 'error',
      message: `effective mTLS is ${w.effectiveMtls}${ports ? ` (ports ${ports})` : ''}, so plaintext is accepted${w.policies.length ? ` (from ${w.policies.join(', ')})` : ' (no PeerAuthentication applies: Istio defaults to PERMISSIVE)'}`,
      fix: 'apply a STRICT mesh-wide PeerAuthentication in the root namespace and remove weaker ones',
      controls: controlsFor('workload-not-strict'),
    },
  ];
}

/**
 * The Linkerd workload findings: not meshed (with the injector's reason), ports that admit plaintext
 * (naming the authorizations, or the iptables skip), and a proxy older or newer than the control plane.
 */
function linkerdWorkloadFindings(w: WorkloadRow, base: Base, ld: LinkerdFacts | undefined): ReportFinding[] {
  const out: ReportFinding[] = [];
  const d = w.linkerd;
  if (!d) return out;
  if (!w.meshed) {
    out.push({
      ...base,
      rule: 'workload-not-meshed',
      severity: 'error',
      message: `not in the mesh: ${w.reason ?? 'no proxy'}`,
      fix: 'annotate the namespace linkerd.io/inject=enabled, remove what the injector skips on, and restart the pods',
      controls: controlsFor('workload-not-meshed'),
    });
    return out;
  }
  const weak = d.ports.filter((p) => p.mode !== 'STRICT');
  if (weak.length > 0) {
    const parts = weak.map((p) =>
      p.source === 'iptables-skip'
        ? `${p.port} skipped by iptables (${p.skipped})`
        : `${p.port} admits plaintext through ${p.plaintext.join(', ')}${p.server ? ` (Server ${p.server})` : ` (${p.source} ${p.policy ?? ''})`}`,
    );
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
    out.push({
      ...base,
      rule: 'ld-proxy-version-skew',
      severity: 'warning',
      message: `proxy ${d.proxyVersion} differs from the control plane's ${ld.controlPlaneVersion}`,
      fix: 'restart the pods so the injector gives them the current proxy',
      controls: controlsFor('ld-proxy-version-skew'),
    });
  }
  const open = d.ports.filter((p) => p.openProbePaths.length > 0);
  if (open.length > 0 && ld && ld.cluster.probeNetworks.some((n) => /\/0$/.test(n))) {
    out.push({
      ...base,
      rule: 'ld-probe-paths-open',
      severity: 'warning',
      message: `probe paths open without authentication from ${ld.cluster.probeNetworks.join(', ')}: ${open.map((p) => `${p.port} ${p.openProbePaths.join(',')}`).join('; ')}`,
      fix: 'set policyController.probeNetworks to the node network, or serve probes on a port of their own',
      controls: controlsFor('ld-probe-paths-open'),
    });
  }
  return out;
}

/** Namespaces that name a revision no control plane serves: their new pods get no sidecar. */
export function unservedRevisions(facts: AuditFacts): {
  unserved: { namespace: string; revision: string }[];
  findings: ReportFinding[];
} {
  const unserved: { namespace: string; revision: string }[] = [];
  const findings: ReportFinding[] = [];
  if (facts.ld) return { unserved, findings };
  const served = facts.served.all;
  for (const [ns, nsf] of facts.nsFacts) {
    if (!facts.wanted(ns)) continue;
    const e = namespaceEnrolment(nsf.labels);
    const rev = e.sidecarRevision;
    if (e.sidecarBy !== LABEL_REV || rev === undefined || served.has(rev)) continue;
    unserved.push({ namespace: ns, revision: rev });
    findings.push({
      rule: 'install-revision-unserved',
      severity: 'error',
      mode: 'audit',
      namespace: ns,
      kind: 'Namespace',
      name: ns,
      message: `istio.io/rev=${rev} names a revision no control plane serves${served.size ? ` (served: ${[...served].sort().join(', ')})` : ' (no control plane found)'}: new pods get no sidecar`,
      fix: `install revision ${rev} or relabel the namespace with a served revision`,
      controls: controlsFor('install-revision-unserved'),
    });
  }
  return { unserved, findings };
}

/** Exemptions: active, expiring within 30 days, or expired (an expired one no longer lifts anything). */
export function exemptionRows(
  config: ResolvedConfig,
  now: number,
  use: ReadonlyMap<number, number>,
): { exemptions: ExemptionRow[]; findings: ReportFinding[] } {
  const exemptions: ExemptionRow[] = config.exemptions.map((ex) => {
    const e = ex.source;
    const status =
      now > ex.expiresAt ? 'expired' : ex.expiresAt - now <= EXPIRY_WARNING_DAYS * DAY ? 'expiring' : 'active';
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
      used: use.get(ex.index) ?? 0,
    };
  });
  const findings: ReportFinding[] = [];
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
      message:
        x.status === 'expired'
          ? `exemption "${x.reason}" expired on ${x.expires} and no longer applies`
          : `exemption "${x.reason}" expires on ${x.expires}, within ${EXPIRY_WARNING_DAYS} days`,
      fix: 'fix what it exempts, or renew it with a new expiry date',
      controls: controlsFor(rule),
    });
  }
  return { exemptions, findings };
}
