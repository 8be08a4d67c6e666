// `meshlock audit --watch`: the audit kept current. One reflector per resource type (list, then
// watch) holds a stripped copy of what the audit reads; any change schedules a re-evaluation a
// short debounce later (one at a time; changes during a run schedule the next), and so does every
// interval tick, which also catches exemptions expiring with nothing else changing. Each run sets
// the metrics and, with reports on, brings the cluster's PolicyReports up to date.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { Reflector, type ReflectorOptions } from '../kube/watch.js';
import type { ResourceType } from '../kube/list.js';
import { CONFIGMAPS, LINKERD_POLICIES, NAMESPACED, NAMESPACES, SECRETS, WEBHOOKS } from './collect.js';
import { evaluateInventory } from './evaluate.js';
import type { InstallExpectations } from './install.js';
import { addToInventory, emptyInventory, type Inventory, type KObj } from './inventory.js';
import type { AuditMetrics } from './metrics.js';
import type { AuditReport } from './model.js';
import { ReportSync, type BuildReports } from './report-sync.js';
import { stripForAudit } from './strip.js';

export interface LiveAuditOptions {
  readonly kc: KubeConfig;
  readonly config: ResolvedConfig;
  /** Only these namespaces (the root namespace is always read for mesh policies and istiod). */
  readonly namespaces?: readonly string[];
  readonly intervalMs: number;
  /** Quiet time after a change before the audit runs again; default 1 s. */
  readonly debounceMs?: number;
  /** Keep the reports these build (the PolicyReport renderer, given by the CLI) in the cluster after every run. */
  readonly reports?: BuildReports;
  readonly expectations?: InstallExpectations;
  readonly metrics: AuditMetrics;
  readonly log: Logger;
  /** Called with every report (the CLI writes --out). */
  readonly onReport?: (report: AuditReport) => void;
  readonly pageSize?: number;
  readonly backoffMs?: ReflectorOptions['backoffMs'];
}

export class LiveAudit {
  readonly reflectors: Reflector[] = [];
  /** The last report's summary; the report itself is not kept (on a large cluster it is tens of MiB). */
  summary: AuditReport['summary'] | undefined;
  lastRunAt: Date | undefined;
  private config: ResolvedConfig;
  private readonly sync: ReportSync | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private readonly scope: ReadonlySet<string> | undefined;

  constructor(private readonly opts: LiveAuditOptions) {
    this.config = opts.config;
    this.scope =
      opts.namespaces && opts.namespaces.length > 0
        ? new Set([...opts.namespaces, opts.config.rootNamespace])
        : undefined;
    if (opts.reports) {
      const scope = this.scope;
      this.sync = new ReportSync(opts.kc, opts.reports, scope ? (ns) => scope.has(ns) : undefined);
    }
    const scopes = this.scope ? [...this.scope] : [undefined];
    const add = (type: ResourceType, namespace?: string, fieldSelector?: string): void => {
      this.reflectors.push(
        new Reflector(opts.kc, {
          type,
          ...(namespace ? { namespace } : {}),
          ...(fieldSelector ? { fieldSelector } : {}),
          transform: stripForAudit,
          onChange: (change, r) => this.changed(change, r),
          ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
          ...(opts.backoffMs ? { backoffMs: opts.backoffMs } : {}),
          log: (level, msg, fields) => {
            if (level === 'warn') opts.metrics.watchErrors.inc({ resource: type.resource });
            opts.log[level](fields, msg);
          },
        }),
      );
    };
    add(NAMESPACES);
    for (const type of NAMESPACED) for (const ns of scopes) add(type, ns);
    // As the one-shot audit (collect.ts): Linkerd's policy kinds and its installed values with
    // `mesh: linkerd`. The mesh is read once: a config reload that switches it takes a restart.
    if (opts.config.mesh === 'linkerd') {
      for (const type of LINKERD_POLICIES) for (const ns of scopes) add(type, ns);
      add(CONFIGMAPS, opts.config.linkerd.controlPlaneNamespace, 'metadata.name=linkerd-config');
    }
    for (const type of WEBHOOKS) add(type);
    // Only TLS Secrets of meshlock's namespace: the serving certificate, nothing else.
    add(SECRETS, opts.config.meshlockNamespace, 'type=kubernetes.io/tls');
  }

  /** Every reflector has listed once (or knows its type is missing or forbidden). */
  get settled(): boolean {
    return this.reflectors.every((r) => r.settled);
  }

  get ready(): boolean {
    return this.summary !== undefined;
  }

  start(): void {
    for (const r of this.reflectors) r.start();
    this.ticker = setInterval(() => this.schedule(0, 'interval'), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    await Promise.all(this.reflectors.map((r) => r.stop()));
    await this.running;
  }

  /** A new config (exemptions, modes): audit again now. */
  setConfig(config: ResolvedConfig): void {
    this.config = config;
    this.schedule(0, 'config');
  }

  private changed(change: string, r: Reflector): void {
    if (change === 'state' && r.state === 'failing') return;
    if (!this.settled) return;
    // The first complete listing runs at once; later changes wait for the debounce.
    this.schedule(
      this.summary ? (this.opts.debounceMs ?? 1000) : 0,
      change === 'relisted' ? `${r.name} listed` : `${r.name} ${change}`,
    );
  }

  private schedule(delayMs: number, reason: string): void {
    if (this.stopped || this.timer) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run(reason).finally(() => {
        this.running = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.schedule(this.opts.debounceMs ?? 1000, 'changes during the last run');
        }
      });
    }, delayMs);
  }

  /** The inventory of what the reflectors hold; namespaces being deleted, and everything in them, are gone already. */
  inventory(): { inventory: Inventory; notes: string[] } {
    const terminating = new Set<string>();
    const notes: string[] = [];
    for (const r of this.reflectors) {
      if (r.opts.type === NAMESPACES)
        for (const n of r.store.values())
          if ((n.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp)
            terminating.add(String(n.metadata?.name));
      if (r.state === 'missing') notes.push(`${r.name}: not served by this cluster (Istio CRDs not installed?)`);
      else if (r.state === 'forbidden') notes.push(`${r.name}: forbidden: ${r.lastError ?? ''}`.trim());
      else if (r.state === 'failing')
        notes.push(`${r.name}: watch failing, showing the last state seen: ${r.lastError ?? ''}`.trim());
    }
    const scope = this.scope;
    function* objects(reflectors: readonly Reflector[]): Generator<KObj> {
      for (const r of reflectors) {
        for (const o of r.store.values()) {
          const k = o as KObj;
          const ns = r.opts.type === NAMESPACES ? (k.metadata?.name ?? '') : (k.metadata?.namespace ?? '');
          if (ns && terminating.has(ns)) continue;
          if (r.opts.type === NAMESPACES && scope && !scope.has(ns)) continue;
          yield k;
        }
      }
    }
    return { inventory: addToInventory(emptyInventory(), objects(this.reflectors)), notes };
  }

  private async run(reason: string): Promise<void> {
    if (!this.settled) return;
    const started = process.hrtime.bigint();
    const now = new Date();
    let report: AuditReport;
    try {
      const { inventory, notes } = this.inventory();
      const server = this.opts.kc.getCurrentCluster()?.server ?? '?';
      report = evaluateInventory(inventory, this.config, now, {
        source: {
          type: 'cluster',
          name: `${this.opts.kc.getCurrentContext()} (${server})`,
          ...(this.opts.namespaces?.length ? { namespaces: this.opts.namespaces } : {}),
        },
        cluster: { context: this.opts.kc.getCurrentContext(), server },
        ...(this.opts.namespaces?.length ? { namespaces: this.opts.namespaces } : {}),
        live: true,
        ...(this.opts.expectations ? { expectations: this.opts.expectations } : {}),
        notes,
      });
    } catch (err) {
      this.opts.metrics.runs.inc({ outcome: 'error' });
      this.opts.log.error({ err, reason }, 'audit failed');
      return;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.summary = report.summary;
    this.lastRunAt = new Date();
    this.opts.metrics.record(report, seconds, this.lastRunAt);
    this.opts.metrics.runs.inc({ outcome: 'ok' });
    const s = report.summary;
    this.opts.log.info(
      {
        reason,
        seconds: Math.round(seconds * 1000) / 1000,
        workloads: s.workloads,
        meshed: s.meshed,
        strict: s.strict,
        errors: s.findings.error,
        warnings: s.findings.warning,
      },
      'audit evaluated',
    );
    try {
      this.opts.onReport?.(report);
    } catch (err) {
      this.opts.log.error({ err }, 'writing the report failed');
    }
    if (this.sync && !this.stopped) {
      // The periodic run also brings back reports deleted by hand (their content did not change).
      const r = await this.sync.sync(report, { recheck: reason === 'interval' });
      const m = this.opts.metrics.reportWrites;
      if (r.created) m.inc({ outcome: 'created' }, r.created);
      if (r.replaced) m.inc({ outcome: 'replaced' }, r.replaced);
      if (r.deleted) m.inc({ outcome: 'deleted' }, r.deleted);
      if (r.errors.length) m.inc({ outcome: 'error' }, r.errors.length);
      if (r.created + r.replaced + r.deleted > 0 || r.errors.length > 0) {
        this.opts.log[r.errors.length ? 'warn' : 'info'](
          {
            created: r.created,
            replaced: r.replaced,
            deleted: r.deleted,
            unchanged: r.unchanged,
            errors: r.errors.slice(0, 5),
          },
          'reports synced',
        );
      }
    }
  }
}
