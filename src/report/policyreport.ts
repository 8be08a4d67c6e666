// PolicyReports, ready for `kubectl apply -f`: one namespaced report per namespace and one
// cluster-scoped report, in the wgpolicyk8s.io/v1alpha2 shape or the newer openreports.io/v1alpha1
// one (same result fields; kinds Report/ClusterReport and a top-level `source`). Each result names
// its controls in `properties`, which the CRDs type as a map of strings.
import { stringify } from 'yaml';
import type { AuditReport, ReportFinding, WorkloadRow } from '../audit/model.js';

export type ReportApi = 'wgpolicyk8s' | 'openreports';

interface Result {
  source: string;
  policy: string;
  rule: string;
  category: string;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  result: 'pass' | 'fail' | 'warn' | 'error' | 'skip';
  scored: boolean;
  message: string;
  timestamp: { seconds: number; nanos: number };
  resources?: { apiVersion?: string; kind: string; name: string; namespace?: string }[];
  properties: Record<string, string>;
}

export interface KubeReport {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  source?: string;
  scope?: { apiVersion: string; kind: string; name: string };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: Result[];
}

const POLICY = 'meshlock-strict-mtls';
const LABELS = { 'app.kubernetes.io/managed-by': 'meshlock' };
const API_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Pod: 'v1',
  Namespace: 'v1',
  ReplicationController: 'v1',
  PeerAuthentication: 'security.istio.io/v1',
  DestinationRule: 'networking.istio.io/v1',
};

function category(rule: string): string {
  if (rule.startsWith('pa-')) return 'PeerAuthentication';
  if (rule.startsWith('dr-')) return 'DestinationRule';
  if (rule.startsWith('ns-')) return 'Namespace enrolment';
  if (rule.startsWith('pod-')) return 'Pod';
  if (rule.startsWith('workload-')) return 'Effective mTLS';
  if (rule.startsWith('exemption-')) return 'Exemptions';
  if (rule.startsWith('install-')) return 'Installation';
  if (rule.startsWith('dataplane-')) return 'Data plane';
  return 'Other';
}

function resourceOf(kind: string, name: string, namespace: string): NonNullable<Result['resources']>[number] {
  const apiVersion = API_VERSIONS[kind];
  return {
    ...(apiVersion ? { apiVersion } : {}),
    kind,
    name,
    ...(namespace && kind !== 'Namespace' ? { namespace } : {}),
  };
}

function fromFinding(f: ReportFinding, ts: Result['timestamp']): Result {
  // warn: not scored or not enforced (warning severity, warn or dry-run mode); fail: enforced error;
  // skip: lifted by an active exemption (its owner, reason and expiry in the properties).
  const enforced = f.severity === 'error' && (f.mode === 'enforce' || f.mode === 'audit');
  const effects = (f.effects ?? []).map((e) => `${e.rule} on ${e.kind} ${e.namespace}/${e.name}`);
  const ex = f.exemption;
  return {
    source: 'meshlock',
    policy: POLICY,
    rule: f.rule,
    category: category(f.rule),
    severity: f.severity === 'error' ? 'high' : 'medium',
    result: ex ? 'skip' : enforced ? 'fail' : 'warn',
    scored: enforced && !ex,
    message: `${f.message}${effects.length ? `; causes ${effects.join(', ')}` : ''}`,
    timestamp: ts,
    ...(f.kind === 'Exemption' ? {} : { resources: [resourceOf(f.kind, f.name, f.namespace)] }),
    properties: {
      controls: f.controls.join(','),
      mode: f.mode,
      ...(f.fix ? { fix: f.fix } : {}),
      ...(ex
        ? {
            exemption: `exemptions[${ex.index}]`,
            exemptionReason: ex.reason,
            ...(ex.owner ? { exemptionOwner: ex.owner } : {}),
            exemptionExpires: ex.expires ?? 'never',
          }
        : {}),
    },
  };
}

/** A STRICT workload passes every control the report maps (a pass has no finding to take them from). */
function passOf(w: WorkloadRow, ts: Result['timestamp'], controls: string): Result {
  return {
    source: 'meshlock',
    policy: POLICY,
    rule: 'workload-not-strict',
    category: category('workload-not-strict'),
    severity: 'high',
    result: 'pass',
    scored: true,
    message: `every port effectively STRICT (${w.pods} pod${w.pods === 1 ? '' : 's'}, ${w.dataplane})`,
    timestamp: ts,
    resources: [resourceOf(w.kind, w.name, w.namespace)],
    properties: { controls, mode: 'audit' },
  };
}

function summarise(results: Result[]): KubeReport['summary'] {
  const s = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) s[r.result]++;
  return s;
}

/** Kubernetes names: lower case alphanumerics and dashes, at most 253 characters. */
function reportName(ns: string): string {
  return `meshlock-${ns}`.slice(0, 253);
}

export function buildPolicyReports(r: AuditReport, api: ReportApi = 'wgpolicyk8s'): KubeReport[] {
  const ms = Date.parse(r.generatedAt);
  const ts = { seconds: Math.floor(ms / 1000), nanos: 0 };
  const allControls = r.controls.map((c) => c.id).join(',');
  const apiVersion = api === 'openreports' ? 'openreports.io/v1alpha1' : 'wgpolicyk8s.io/v1alpha2';
  const nsKind = api === 'openreports' ? 'Report' : 'PolicyReport';
  const clusterKind = api === 'openreports' ? 'ClusterReport' : 'ClusterPolicyReport';
  const perNs = new Map<string, Result[]>();
  const cluster: Result[] = [];
  const push = (ns: string, res: Result): void => {
    const list = perNs.get(ns);
    if (list) list.push(res);
    else perNs.set(ns, [res]);
  };
  for (const n of r.namespaces) perNs.set(n.namespace, []);
  for (const w of r.workloads) if (w.strict) push(w.namespace, passOf(w, ts, allControls));
  for (const f of [...r.findings, ...r.exempted]) {
    const res = fromFinding(f, ts);
    // Namespaces, webhook configurations and exemptions are cluster-level subjects.
    if (f.kind === 'Namespace' || f.kind === 'Exemption' || f.rule.startsWith('install-') || !f.namespace)
      cluster.push(res);
    else push(f.namespace, res);
  }
  const reports: KubeReport[] = [];
  for (const [ns, results] of [...perNs].sort(([a], [b]) => a.localeCompare(b))) {
    reports.push({
      apiVersion,
      kind: nsKind,
      metadata: { name: reportName(ns), namespace: ns, labels: LABELS },
      ...(api === 'openreports' ? { source: 'meshlock' } : {}),
      scope: { apiVersion: 'v1', kind: 'Namespace', name: ns },
      summary: summarise(results),
      results,
    });
  }
  const s = r.summary;
  cluster.unshift({
    source: 'meshlock',
    policy: POLICY,
    rule: 'mesh-coverage',
    category: category('workload-'),
    severity: 'high',
    result: s.strict === s.workloads ? 'pass' : 'fail',
    scored: true,
    message: `${r.verdict.summary}; ${s.strict} of ${s.workloads} workloads effectively STRICT (${s.coveragePercent}%), ${s.meshed} meshed; source ${r.source.type} ${r.source.name}`,
    timestamp: ts,
    properties: {
      controls: allControls,
      workloads: String(s.workloads),
      meshed: String(s.meshed),
      strict: String(s.strict),
      coveragePercent: String(s.coveragePercent),
    },
  });
  reports.push({
    apiVersion,
    kind: clusterKind,
    metadata: { name: 'meshlock', labels: LABELS },
    ...(api === 'openreports' ? { source: 'meshlock' } : {}),
    summary: summarise(cluster),
    results: cluster,
  });
  return reports;
}

export function renderPolicyReports(r: AuditReport, api: ReportApi = 'wgpolicyk8s'): string {
  return buildPolicyReports(r, api)
    .map((doc) => stringify(doc, { lineWidth: 0 }))
    .join('---\n');
}
