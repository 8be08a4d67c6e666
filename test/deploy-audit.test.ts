// deploy/audit (the watching audit) and deploy/audit-monitoring (its dashboard and alerts), rendered
// by the real `kubectl kustomize`: RBAC grants list/watch on exactly the types the audit collects and
// only the report verbs it uses, the Deployment is one hardened replica like the webhook's, and every
// metric the dashboard and the alerts query is one meshlock exports.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { CONFIGMAPS, LINKERD_POLICIES, NAMESPACED, NAMESPACES, SECRETS, WEBHOOKS } from '../src/audit/collect.js';
import { AuditMetrics } from '../src/audit/metrics.js';
import { METRIC_NAMES } from '../src/server/metrics.js';
import { locate, repoRoot, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'kubectl');

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;
const render = (dir: string): Any[] =>
  parseAllDocuments(execFileSync(locate('kubectl') as string, ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' }))
    .map((d) => d.toJS() as Any)
    .filter(Boolean);
const audit = render('deploy/audit');
const monitoring = render('deploy/audit-monitoring');
const base = render('deploy');
const one = (objs: Any[], kind: string, name: string): Any => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0];
};
const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '');

t.test('RBAC: its own ServiceAccount, list/watch on what the audit reads, the report verbs it uses', async (t) => {
  one(audit, 'ServiceAccount', 'meshlock-audit');
  const bindings = audit.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
  for (const b of bindings)
    t.same(
      b.subjects,
      [{ kind: 'ServiceAccount', name: 'meshlock-audit', namespace: 'meshlock' }],
      `${b.metadata.name} binds only the audit`,
    );
  const clusterRules = bindings
    .filter((b) => b.kind === 'ClusterRoleBinding')
    .flatMap((b) => one(audit, 'ClusterRole', b.roleRef.name).rules as Any[]);
  const grants = (rules: Any[], group: string, resource: string): Set<string> =>
    new Set(rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs));
  for (const type of [NAMESPACES, ...NAMESPACED, ...WEBHOOKS, ...LINKERD_POLICIES, CONFIGMAPS]) {
    t.same(
      [...grants(clusterRules, groupOf(type.apiVersion), type.resource)].sort(),
      ['list', 'watch'],
      `${type.resource}: list and watch only`,
    );
  }
  // Linkerd's installed values are the one ConfigMap the audit reads: by name, no other ConfigMap.
  const cm = clusterRules.filter((r) => r.apiGroups.includes('') && r.resources.includes(CONFIGMAPS.resource));
  t.same(
    cm.map((r) => r.resourceNames),
    [['linkerd-config']],
    'configmaps: linkerd-config only',
  );
  const roleRules = one(audit, 'Role', 'meshlock-audit-cert').rules as Any[];
  t.same(
    [...grants(roleRules, '', SECRETS.resource)].sort(),
    ['list', 'watch'],
    'secrets: list and watch, in meshlock only (a Role)',
  );
  t.notOk(
    clusterRules.some((r) => r.resources.includes('secrets')),
    'no cluster-wide secrets',
  );
  for (const [group, kinds] of [
    ['wgpolicyk8s.io', ['policyreports', 'clusterpolicyreports']],
    ['openreports.io', ['reports', 'clusterreports']],
  ] as const) {
    for (const k of kinds)
      t.same(
        [...grants(clusterRules, group, k)].sort(),
        ['create', 'delete', 'get', 'list', 'update'],
        `${group} ${k}: what ReportSync does`,
      );
  }
  const verbs = new Set(clusterRules.flatMap((r) => r.verbs));
  t.notOk(verbs.has('*') || verbs.has('patch') || verbs.has('escalate') || verbs.has('bind'), 'nothing broader');
});

t.test('Deployment: one replica, hardened like the webhook, probes on the metrics port', async (t) => {
  const d = one(audit, 'Deployment', 'meshlock-audit');
  const web = one(base, 'Deployment', 'meshlock');
  t.equal(d.spec.replicas, 1);
  t.equal(d.spec.strategy.type, 'Recreate', 'never two writers during an upgrade');
  const pod = d.spec.template.spec;
  t.equal(pod.serviceAccountName, 'meshlock-audit');
  t.same(pod.securityContext, web.spec.template.spec.securityContext, 'pod security context as the webhook');
  const c = pod.containers[0];
  t.same(
    c.securityContext,
    web.spec.template.spec.containers[0].securityContext,
    'container security context as the webhook',
  );
  t.equal(c.image, web.spec.template.spec.containers[0].image, 'same image');
  t.same(c.args.slice(0, 2), ['audit', '--watch']);
  t.ok(
    c.args.includes('--apply-reports') && c.args.includes('--metrics-port=9091') && c.args.includes('--interval=5m'),
  );
  const cfg = pod.volumes.find((v: Any) => v.name === 'config');
  t.equal(cfg.configMap.name, 'meshlock-config', "reads the webhook's config (modes, exemptions)");
  t.ok(one(base, 'ConfigMap', 'meshlock-config'));
  t.equal(c.livenessProbe.httpGet.path, '/healthz');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.equal(c.ports.find((p: Any) => p.name === c.readinessProbe.httpGet.port).containerPort, 9091);
  t.equal(c.resources.limits.memory, '512Mi');
  t.equal(d.spec.template.metadata.labels['sidecar.istio.io/inject'], 'false');
  // The webhook's NetworkPolicy must not select the audit (it would shut its metrics port).
  const webNp = one(base, 'NetworkPolicy', 'meshlock');
  const labels = d.spec.template.metadata.labels;
  t.notOk(
    Object.entries(webNp.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
    "the webhook's NetworkPolicy does not select it",
  );
  const np = one(audit, 'NetworkPolicy', 'meshlock-audit');
  t.same(
    np.spec.ingress.flatMap((i: Any) => i.ports.map((p: Any) => p.port)),
    [9091],
  );
  const svc = one(audit, 'Service', 'meshlock-audit');
  t.same(svc.spec.selector, d.spec.selector.matchLabels);
});

// Metric names meshlock exports, histogram series included.
const known = new Set<string>();
for (const m of await new AuditMetrics().registry.getMetricsAsJSON()) known.add(m.name);
for (const n of Object.values(METRIC_NAMES)) known.add(n);
for (const n of [...known]) for (const suffix of ['_bucket', '_sum', '_count']) known.add(`${n}${suffix}`);
const metricsIn = (expr: string): string[] => [...expr.matchAll(/\b(meshlock_[a-z_]+)\b/g)].map((m) => m[1] as string);

t.test(
  'the Grafana dashboard: a ConfigMap for the sidecar, panels for what the issue lists, only real metrics',
  async (t) => {
    const cm = one(monitoring, 'ConfigMap', 'meshlock-grafana-dashboard');
    t.equal(cm.metadata.labels.grafana_dashboard, '1');
    const dash = JSON.parse(cm.data['meshlock-dashboard.json']) as {
      panels: { title: string; targets: { expr: string }[] }[];
      uid: string;
    };
    t.equal(dash.uid, 'meshlock-compliance');
    const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr));
    for (const e of exprs) for (const m of metricsIn(e)) t.ok(known.has(m), `${m} is exported`);
    const all = exprs.join('\n');
    for (const m of [
      'meshlock_audit_strict_workloads',
      'meshlock_audit_meshed_workloads',
      'meshlock_audit_findings',
      'meshlock_audit_namespace_findings',
      'meshlock_admission_requests_total',
      'meshlock_admission_request_duration_seconds_bucket',
    ]) {
      t.ok(all.includes(m), `a panel shows ${m}`);
    }
  },
);

t.test('the PrometheusRule: the alerts the issue asks for, on real metrics', async (t) => {
  const rule = one(monitoring, 'PrometheusRule', 'meshlock-audit');
  t.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  const rules = rule.spec.groups.flatMap((g: Any) => g.rules) as {
    alert: string;
    expr: string;
    labels: { severity: string };
  }[];
  t.same(rules.map((r) => r.alert).sort(), [
    'MeshlockAuditAbsent',
    'MeshlockAuditStale',
    'MeshlockExemptionExpiringSoon',
    'MeshlockMeshCoverageDropped',
    'MeshlockNewErrorFindings',
    'MeshlockStrictnessDropped',
  ]);
  for (const r of rules) {
    t.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert} has a severity`);
    for (const m of metricsIn(r.expr)) t.ok(known.has(m), `${r.alert}: ${m} is exported`);
  }
  t.match(rules.find((r) => r.alert === 'MeshlockExemptionExpiringSoon')?.expr, /7 \* 86400/);
  t.match(rules.find((r) => r.alert === 'MeshlockAuditStale')?.expr, /3 \* meshlock_audit_interval_seconds/);
});
