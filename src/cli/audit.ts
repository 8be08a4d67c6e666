// `meshlock audit`: the mesh's mTLS posture from a live cluster or a dump, in every report format.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { InstallExpectations } from '../audit/install.js';
import type { AuditReport } from '../audit/model.js';
import { AuditInputError, auditOnce, loadExpectations } from '../audit/run.js';
import { AUDIT_FORMATS, renderAudit, type AuditFormat } from '../report/audit.js';
import { buildPolicyReports, type ReportApi } from '../report/policyreport.js';
import { loadConfigOrExit } from './check.js';
import { EXIT_DENY, EXIT_USAGE } from './exit.js';

export interface AuditFlags {
  file: string[];
  config?: string;
  format: AuditFormat;
  out?: string;
  namespace?: string[];
  allNamespaces?: boolean;
  kubeconfig?: string;
  context?: string;
  reportApi: ReportApi;
  applyReports?: boolean;
  deploy?: string;
  failOn?: 'error' | 'warning' | 'never';
  color?: boolean;
  watch?: boolean;
  interval: number;
  metricsPort: number;
  metricsHost?: string;
}

/** `90`, `90s`, `5m`, `1h` -> milliseconds (at least one second). */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  const ms = m ? Number(m[1]) * unit[(m[2] ?? 's') as keyof typeof unit] : NaN;
  if (!Number.isFinite(ms) || ms < 1000)
    throw new InvalidArgumentError('must be a duration of at least 1s, like 30s, 5m or 1h');
  return ms;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
function progressBar(): { update: (what: string, n: number) => void; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let total = 0;
  let last = 0;
  const seen = new Map<string, number>();
  return {
    update: (what, n) => {
      total += n - (seen.get(what) ?? 0);
      seen.set(what, n);
      const now = Date.now();
      if (now - last < 80) return;
      last = now;
      const width = 24;
      const pos = Math.floor(now / 120) % width;
      const bar = Array.from({ length: width }, (_, i) => (i === pos ? '=' : ' ')).join('');
      process.stderr.write(`\r[${bar}] ${total} objects, listing ${what}`.padEnd(90).slice(0, 90));
    },
    done: () => process.stderr.write(`\r${' '.repeat(90)}\r`),
  };
}

export async function runAudit(flags: AuditFlags): Promise<number> {
  const config = loadConfigOrExit(flags.config);
  if (!config) return EXIT_USAGE;
  const fail = (message: string): number => {
    process.stderr.write(`meshlock audit: ${message}\n`);
    return EXIT_USAGE;
  };
  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  const fromFiles = flags.file.length > 0;
  if (flags.watch && fromFiles) return fail('--watch reads a live cluster; it cannot be combined with -f');
  if (flags.applyReports && fromFiles) return fail('--apply-reports needs a live cluster (not -f)');
  let kc;
  if (!fromFiles) {
    try {
      // The Kubernetes client, the watch and its server load only for a live cluster: an audit of a
      // dump (-f) starts without them.
      const { loadKubeConfig } = await import('../kube/client.js');
      kc = loadKubeConfig({
        ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
        ...(flags.context ? { context: flags.context } : {}),
      });
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  if (flags.watch && kc) {
    let expectations: InstallExpectations | undefined;
    try {
      expectations = flags.deploy ? loadExpectations(flags.deploy) : undefined;
    } catch (err) {
      return fail((err as Error).message);
    }
    const { watchAudit } = await import('../audit/run-watch.js');
    return watchAudit({
      kc,
      config,
      ...(flags.config ? { configFile: flags.config } : {}),
      ...(namespaces.length ? { namespaces } : {}),
      intervalMs: flags.interval,
      metricsPort: flags.metricsPort,
      ...(flags.metricsHost ? { metricsHost: flags.metricsHost } : {}),
      ...(flags.applyReports
        ? { reports: { build: (r: AuditReport) => buildPolicyReports(r, flags.reportApi), api: flags.reportApi } }
        : {}),
      ...(expectations ? { expectations } : {}),
      ...(flags.out
        ? {
            out: {
              file: flags.out,
              render: (r: AuditReport) => renderAudit(r, flags.format, { reportApi: flags.reportApi }),
            },
          }
        : {}),
    });
  }
  const bar = progressBar();
  let report: AuditReport;
  try {
    report = await auditOnce({
      config,
      now: new Date(),
      namespaces,
      ...(fromFiles ? { files: flags.file } : {}),
      ...(kc ? { kc } : {}),
      ...(flags.deploy ? { deploy: flags.deploy } : {}),
      progress: bar.update,
      note: (line) => process.stderr.write(`meshlock audit: ${line}\n`),
    });
  } catch (err) {
    if (!(err instanceof AuditInputError)) throw err;
    return fail(err.message);
  } finally {
    bar.done();
  }
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderAudit(report, flags.format, { colour, reportApi: flags.reportApi });
  if (toFile) {
    mkdirSync(dirname(flags.out as string), { recursive: true });
    writeFileSync(flags.out as string, text);
  } else process.stdout.write(text);
  if (flags.applyReports && kc) {
    try {
      const { applyReport } = await import('../kube/reports.js');
      for (const r of buildPolicyReports(report, flags.reportApi)) {
        const outcome = await applyReport(kc, r);
        process.stderr.write(
          `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name} ${outcome}\n`,
        );
      }
    } catch (err) {
      return fail(`writing reports: ${(err as Error).message}`);
    }
  }
  const failOn = flags.failOn ?? 'never';
  if (failOn === 'error' && report.summary.findings.error > 0) return EXIT_DENY;
  if (failOn === 'warning' && report.summary.findings.total > 0) return EXIT_DENY;
  return 0;
}

export function addAuditOptions(cmd: Command): Command {
  return (
    cmd
      .option(
        '-f, --file <path>',
        'read a dump (kubectl get ... -A -o yaml|json) instead of the cluster; repeatable',
        (v: string, p: string[]) => [...p, v],
        [],
      )
      .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
      .addOption(
        new Option('-o, --output <format>', 'report format')
          .choices(AUDIT_FORMATS as unknown as string[])
          .default('text'),
      )
      // The flag's first name, kept for scripts written against it.
      .addOption(
        new Option('--format <format>', 'same as --output').choices(AUDIT_FORMATS as unknown as string[]).hideHelp(),
      )
      .option('--out <file>', 'write the report to a file instead of stdout')
      .option('-n, --namespace <ns>', 'only this namespace (repeatable or comma-separated)', collect)
      .option('-A, --all-namespaces', 'every namespace (the default)')
      .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
      .option('--context <name>', 'kubeconfig context')
      .addOption(
        new Option('--report-api <api>', 'PolicyReport API for -o policyreport and --apply-reports')
          .choices(['wgpolicyk8s', 'openreports'])
          .default('wgpolicyk8s'),
      )
      .option('--apply-reports', 'write the PolicyReports to the cluster (create or replace)')
      .option(
        '--deploy <path>',
        "compare meshlock's webhook configurations with deploy/ (a kustomize folder or rendered YAML)",
      )
      .addOption(
        new Option('--fail-on <level>', 'exit 1 when findings of this severity exist')
          .choices(['error', 'warning', 'never'])
          .default('never'),
      )
      .option('--no-color', 'never colour the text output')
      .option(
        '--watch',
        'keep auditing: watch the cluster, re-evaluate on every change and every --interval, serve metrics; runs until SIGTERM',
      )
      .addOption(
        new Option(
          '--interval <duration>',
          'with --watch: audit at least this often, also catching expiring exemptions (30s, 5m, 1h)',
        )
          .default(300_000, '5m')
          .argParser(parseDuration),
      )
      .addOption(
        new Option('--metrics-port <port>', 'with --watch: plain-HTTP port for /metrics, /healthz and /readyz')
          .default(9091)
          .argParser(portNumber),
      )
      .option('--metrics-host <address>', 'with --watch: address for the metrics port (default 0.0.0.0)')
  );
}

export function registerAudit(program: Command): void {
  addAuditOptions(
    program
      .command('audit')
      .description(
        "report the mesh's mTLS posture: coverage, effective mTLS per workload, findings, exemptions, installation",
      ),
  ).action(async (opts: Omit<AuditFlags, 'format'> & { color: boolean; output: AuditFormat; format?: AuditFormat }) => {
    const format = opts.format ?? opts.output;
    process.exitCode = await runAudit({
      ...opts,
      format,
      color: opts.color === false ? false : undefined,
    } as AuditFlags);
  });
}
