// The watching audit's Prometheus metrics: gauges set from each report (namespaces are bounded by
// the cluster, not by requests, so a per-namespace label is safe), plus counters of the machinery.
// Gauges are reset before each report is applied, so a namespace or rule that is gone disappears.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { expiryInstant } from '../config/index.js';
import { mappedIds } from '../policy/controls.js';
import type { AuditReport } from './model.js';

export class AuditMetrics {
  readonly registry = new Registry();
  private readonly workloads: Gauge<'namespace'>;
  private readonly meshed: Gauge<'namespace'>;
  private readonly strict: Gauge<'namespace'>;
  private readonly findings: Gauge<'rule' | 'severity'>;
  private readonly exemptions: Gauge<'state'>;
  private readonly lastRun: Gauge;
  private readonly duration: Gauge;
  private readonly coverage: Gauge;
  private readonly namespaceFindings: Gauge<'namespace'>;
  private readonly exemptionExpiry: Gauge<'index' | 'namespace' | 'owner'>;
  readonly interval: Gauge;
  readonly runs: Counter<'outcome'>;
  readonly watchErrors: Counter<'resource'>;
  readonly reportWrites: Counter<'outcome'>;

  constructor() {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'meshlock_audit_' });
    this.workloads = new Gauge({
      name: 'meshlock_audit_workloads',
      help: 'Workloads (pods grouped by their top controller) per namespace',
      labelNames: ['namespace'],
      registers: r,
    });
    this.meshed = new Gauge({
      name: 'meshlock_audit_meshed_workloads',
      help: 'Workloads whose every pod runs in the mesh, per namespace',
      labelNames: ['namespace'],
      registers: r,
    });
    this.strict = new Gauge({
      name: 'meshlock_audit_strict_workloads',
      help: 'Meshed workloads whose every port is effectively STRICT, per namespace',
      labelNames: ['namespace'],
      registers: r,
    });
    this.findings = new Gauge({
      name: 'meshlock_audit_findings',
      help: 'Findings of the last audit (exempted ones not counted), by rule and severity',
      labelNames: ['rule', 'severity'],
      registers: r,
    });
    this.exemptions = new Gauge({
      name: 'meshlock_audit_exemptions',
      help: 'Configured exemptions by state: active, expiring (within 30 days) or expired',
      labelNames: ['state'],
      registers: r,
    });
    this.lastRun = new Gauge({
      name: 'meshlock_audit_last_run_timestamp_seconds',
      help: 'When the last audit finished (Unix time)',
      registers: r,
    });
    this.duration = new Gauge({
      name: 'meshlock_audit_run_duration_seconds',
      help: 'How long the last audit took',
      registers: r,
    });
    this.coverage = new Gauge({
      name: 'meshlock_audit_coverage_ratio',
      help: 'Share of workloads effectively STRICT on every port (0 to 1)',
      registers: r,
    });
    this.namespaceFindings = new Gauge({
      name: 'meshlock_audit_namespace_findings',
      help: 'Findings of the last audit per namespace',
      labelNames: ['namespace'],
      registers: r,
    });
    this.exemptionExpiry = new Gauge({
      name: 'meshlock_audit_exemption_expiry_timestamp_seconds',
      help: 'When each configured exemption with an expiry date ends (Unix time)',
      labelNames: ['index', 'namespace', 'owner'],
      registers: r,
    });
    this.interval = new Gauge({
      name: 'meshlock_audit_interval_seconds',
      help: 'The --interval the audit runs at, at least',
      registers: r,
    });
    this.runs = new Counter({
      name: 'meshlock_audit_runs_total',
      help: 'Audits run, by outcome (ok or error)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.watchErrors = new Counter({
      name: 'meshlock_audit_watch_errors_total',
      help: 'Failed lists and watches, by resource',
      labelNames: ['resource'],
      registers: r,
    });
    this.reportWrites = new Counter({
      name: 'meshlock_audit_report_writes_total',
      help: 'PolicyReport writes, by outcome (created, replaced, deleted, error)',
      labelNames: ['outcome'],
      registers: r,
    });
  }

  /** Sets every gauge from a report. */
  record(report: AuditReport, durationSeconds: number, finishedAt: Date): void {
    this.workloads.reset();
    this.meshed.reset();
    this.strict.reset();
    for (const n of report.namespaces) {
      this.workloads.set({ namespace: n.namespace }, n.workloads);
      this.meshed.set({ namespace: n.namespace }, n.meshed);
      this.strict.set({ namespace: n.namespace }, n.strict);
    }
    this.namespaceFindings.reset();
    for (const n of report.namespaces) this.namespaceFindings.set({ namespace: n.namespace }, n.findings);
    this.exemptionExpiry.reset();
    for (const e of report.exemptions) {
      const at = expiryInstant(e.expires);
      if (Number.isFinite(at))
        this.exemptionExpiry.set({ index: String(e.index), namespace: e.namespace, owner: e.owner ?? '' }, at / 1000);
    }
    const counts = new Map<string, { rule: string; severity: string; n: number }>();
    for (const f of report.findings) {
      const key = `${f.rule}\u0000${f.severity}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { rule: f.rule, severity: f.severity, n: 1 });
    }
    this.findings.reset();
    // Every known rule at zero, so "no findings" is a series an alert can compare with, not an absence.
    for (const rule of mappedIds())
      for (const severity of ['error', 'warning']) this.findings.set({ rule, severity }, 0);
    for (const c of counts.values()) this.findings.set({ rule: c.rule, severity: c.severity }, c.n);
    const states = { active: 0, expiring: 0, expired: 0 };
    for (const e of report.exemptions) states[e.status]++;
    for (const [state, n] of Object.entries(states)) this.exemptions.set({ state }, n);
    this.coverage.set(report.summary.workloads === 0 ? 1 : report.summary.strict / report.summary.workloads);
    this.duration.set(durationSeconds);
    this.lastRun.set(finishedAt.getTime() / 1000);
  }
}
