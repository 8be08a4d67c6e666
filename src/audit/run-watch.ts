// The long-running side of `meshlock audit --watch`: the live audit, its metrics endpoint, config
// reloads, an optional report file rewritten after every run, and a clean stop on SIGTERM/SIGINT.
import { renameSync, writeFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { watchConfig } from '../config/watch.js';
import type { InstallExpectations } from './install.js';
import { AuditMetrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import type { AuditReport } from './model.js';
import type { BuildReports } from './report-sync.js';
import { LiveAudit } from './watch.js';

export interface WatchAuditOptions {
  readonly kc: KubeConfig;
  readonly config: ResolvedConfig;
  /** Reloaded when it changes (a mounted ConfigMap): new exemptions apply at once. */
  readonly configFile?: string;
  readonly namespaces?: readonly string[];
  readonly intervalMs: number;
  readonly debounceMs?: number;
  readonly metricsPort: number;
  readonly metricsHost?: string;
  /** Keep these reports in the cluster (--apply-reports); `reportApi` names their API in the log. */
  readonly reports?: { readonly build: BuildReports; readonly api: string };
  readonly expectations?: InstallExpectations;
  /** Rewrite this file (atomically) after every run with what `render` makes of the report. */
  readonly out?: { readonly file: string; readonly render: (report: AuditReport) => string };
  readonly logger?: Logger;
  /** Resolves when the watch should end (tests); the command ends on SIGTERM or SIGINT. */
  readonly until?: Promise<void>;
}

/** Runs until a signal (or `until`); resolves with the exit code. */
export async function watchAudit(opts: WatchAuditOptions): Promise<number> {
  const log = opts.logger ?? pino({ name: 'meshlock-audit' });
  const metrics = new AuditMetrics();
  metrics.interval.set(opts.intervalMs / 1000);
  const live = new LiveAudit({
    kc: opts.kc,
    config: opts.config,
    ...(opts.namespaces ? { namespaces: opts.namespaces } : {}),
    intervalMs: opts.intervalMs,
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.reports ? { reports: opts.reports.build } : {}),
    ...(opts.expectations ? { expectations: opts.expectations } : {}),
    metrics,
    log,
    ...(opts.out
      ? {
          onReport: (report) => {
            const out = opts.out as { file: string; render: (report: AuditReport) => string };
            writeFileSync(`${out.file}.tmp`, out.render(report));
            renameSync(`${out.file}.tmp`, out.file);
          },
        }
      : {}),
  });
  const startedAt = Date.now();
  const stale = 3 * opts.intervalMs;
  let server: Awaited<ReturnType<typeof startMetricsServer>>;
  try {
    server = await startMetricsServer({
      port: opts.metricsPort,
      ...(opts.metricsHost ? { host: opts.metricsHost } : {}),
      registry: metrics.registry,
      // Alive while the loop keeps running audits: none for three intervals means it is stuck.
      healthz: () => {
        const last = live.lastRunAt?.getTime() ?? startedAt;
        const ok = Date.now() - last < stale;
        return { ok, detail: ok ? 'ok' : `no audit for ${Math.round((Date.now() - last) / 1000)} s (three intervals)` };
      },
      readyz: () => {
        if (live.ready) return { ok: true, detail: 'ok' };
        const waiting = live.reflectors
          .filter((r) => !r.settled)
          .map((r) => `${r.name}${r.lastError ? ` (${r.lastError})` : ''}`);
        return {
          ok: false,
          detail: waiting.length ? `waiting for the first listing of: ${waiting.join(', ')}` : 'first audit running',
        };
      },
    });
  } catch (err) {
    log.error({ err, port: opts.metricsPort }, 'cannot listen for metrics');
    return 2;
  }
  log.info(
    {
      port: server.port,
      intervalSeconds: opts.intervalMs / 1000,
      reports: opts.reports?.api ?? 'off',
      namespaces: opts.namespaces?.length ? opts.namespaces : 'all',
    },
    'watching audit started',
  );
  const reload = opts.configFile
    ? watchConfig(opts.configFile, {
        onReload: (c) => {
          log.info({ file: opts.configFile }, 'config reloaded');
          live.setConfig(c);
        },
        onInvalid: (e) => log.error({ err: e.message }, 'config change refused; keeping the running config'),
      })
    : undefined;
  live.start();
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    void opts.until?.then(() => resolve());
  });
  reload?.close();
  await live.stop();
  await server.close();
  return 0;
}
