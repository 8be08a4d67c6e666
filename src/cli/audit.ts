// `meshlock audit`: the mesh's mTLS posture from a live cluster or a dump, in every report format.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { collectFromCluster, collectFromFiles, type Collected } from '../audit/collect.js';
import { evaluateInventory } from '../audit/evaluate.js';
import type { InstallExpectations } from '../audit/install.js';
import type { KObj } from '../audit/inventory.js';
import type { AuditReport } from '../audit/model.js';
import { AUDIT_FORMATS, renderAudit, type AuditFormat } from '../audit/render/audit.js';
import { buildPolicyReports, type ReportApi } from '../audit/render/policyreport.js';
import { loadConfigOrExit, printSkipped } from './check.js';
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
  if (!Number.isFinite(ms) || ms < 1000) throw new InvalidArgumentError('must be a duration of at least 1s, like 30s, 5m or 1h');
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

/** Webhook configurations as deploy/ installs them: a rendered YAML file, or a kustomize folder rendered with kubectl. */
function loadExpectations(path: string): InstallExpectations {
  let text: string;
  if (statSync(path).isDirectory()) {
    const r = spawnSync('kubectl', ['kustomize', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${path} failed: ${r.stderr || r.error?.message}`);
    text = r.stdout;
  } else {
    text = readFileSync(path, 'utf8');
  }
  const objs = parseAllDocuments(text, { logLevel: 'error' }).map((d) => d.toJS() as KObj).filter(Boolean);
  return {
    mutating: objs.filter((o) => o.kind === 'MutatingWebhookConfiguration'),
    validating: objs.filter((o) => o.kind === 'ValidatingWebhookConfiguration'),
  };
}

export async function runAudit(flags: AuditFlags): Promise<number> {
  const config = loadConfigOrExit(flags.config);
  if (!config) return EXIT_USAGE;
  const now = new Date();
  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  let collected: Collected;
  let source: AuditReport['source'];
  let expected: InstallExpectations = {};
  let notes: string[] = [];
  let kc;
  if (flags.watch && flags.file.length > 0) {
    process.stderr.write('meshlock audit: --watch reads a live cluster; it cannot be combined with -f\n');
    return 2;
  }
  if (flags.file.length > 0) {
    collected = collectFromFiles(flags.file, namespaces[0] ?? 'default');
    source = { type: 'file', name: flags.file.join(', '), ...(namespaces.length ? { namespaces } : {}) };
    for (const e of collected.errors) process.stderr.write(`meshlock audit: ${e.file}:${e.line}: ${e.message}\n`);
    printSkipped('audit', { objects: [], errors: [], files: [], skipped: [...(collected.skipped ?? [])] });
    if (collected.errors.length > 0 && collected.inventory.namespaces.length + collected.inventory.pods.length === 0) return EXIT_USAGE;
    if (collected.objects === 0) {
      process.stderr.write(`meshlock audit: no Kubernetes objects in ${flags.file.join(', ')}: nothing to audit (a dump is kubectl get ... -A -o yaml)\n`);
      return EXIT_USAGE;
    }
  } else {
    try {
      // The Kubernetes client, the watch and its server load only for a live cluster: an audit of a
      // dump (-f) starts without them.
      const { loadKubeConfig } = await import('../kube/client.js');
      kc = loadKubeConfig({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
    } catch (err) {
      process.stderr.write(`meshlock audit: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    if (flags.watch) {
      let expectations: InstallExpectations | undefined;
      try {
        expectations = flags.deploy ? loadExpectations(flags.deploy) : undefined;
      } catch (err) {
        process.stderr.write(`meshlock audit: --deploy: ${(err as Error).message}\n`);
        return 2;
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
        ...(flags.applyReports ? { reportApi: flags.reportApi } : {}),
        ...(expectations ? { expectations } : {}),
        ...(flags.out ? { out: { file: flags.out, format: flags.format } } : {}),
      });
    }
    const bar = progressBar();
    try {
      collected = await collectFromCluster(kc, config, { namespaces, progress: bar.update });
    } catch (err) {
      bar.done();
      process.stderr.write(`meshlock audit: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    bar.done();
    source = { type: 'cluster', name: `${kc.getCurrentContext()} (${kc.getCurrentCluster()?.server ?? '?'})`, ...(namespaces.length ? { namespaces } : {}) };
    if (flags.deploy) {
      try {
        expected = loadExpectations(flags.deploy);
      } catch (err) {
        process.stderr.write(`meshlock audit: --deploy: ${(err as Error).message}\n`);
        return EXIT_USAGE;
      }
    }
    notes = [...collected.errors.map((e) => `${e.file}: ${e.message}`), ...collected.missing.map((m) => `${m}: not served by this cluster (Istio CRDs not installed?)`)];
  }
  const report = evaluateInventory(collected.inventory, config, now, {
    source,
    ...(namespaces.length ? { namespaces } : {}),
    live: kc !== undefined,
    ...(kc ? { cluster: { context: kc.getCurrentContext(), server: kc.getCurrentCluster()?.server ?? '' } } : {}),
    expectations: expected,
    notes,
    ...(collected.locations ? { locations: collected.locations } : {}),
  });
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderAudit(report, flags.format, { colour, reportApi: flags.reportApi });
  if (toFile) {
    mkdirSync(dirname(flags.out as string), { recursive: true });
    writeFileSync(flags.out as string, text);
  }
  else process.stdout.write(text);
  if (flags.applyReports) {
    if (!kc) {
      process.stderr.write('meshlock audit: --apply-reports needs a live cluster (not -f)\n');
      return EXIT_USAGE;
    }
    try {
      for (const r of buildPolicyReports(report, flags.reportApi)) {
        const { applyReport } = await import('../kube/reports.js');
        const outcome = await applyReport(kc, r);
        process.stderr.write(`${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name} ${outcome}\n`);
      }
    } catch (err) {
      process.stderr.write(`meshlock audit: writing reports: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
  }
  const failOn = flags.failOn ?? 'never';
  if (failOn === 'error' && report.summary.findings.error > 0) return EXIT_DENY;
  if (failOn === 'warning' && report.summary.findings.total > 0) return EXIT_DENY;
  return 0;
}

export function addAuditOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'read a dump (kubectl get ... -A -o yaml|json) instead of the cluster; repeatable', (v: string, p: string[]) => [...p, v], [])
    .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
    .addOption(new Option('-o, --output <format>', 'report format').choices(AUDIT_FORMATS as unknown as string[]).default('text'))
    // The flag's first name, kept for scripts written against it.
    .addOption(new Option('--format <format>', 'same as --output').choices(AUDIT_FORMATS as unknown as string[]).hideHelp())
    .option('--out <file>', 'write the report to a file instead of stdout')
    .option('-n, --namespace <ns>', 'only this namespace (repeatable or comma-separated)', collect)
    .option('-A, --all-namespaces', 'every namespace (the default)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .addOption(new Option('--report-api <api>', 'PolicyReport API for -o policyreport and --apply-reports').choices(['wgpolicyk8s', 'openreports']).default('wgpolicyk8s'))
    .option('--apply-reports', 'write the PolicyReports to the cluster (create or replace)')
    .option('--deploy <path>', "compare meshlock's webhook configurations with deploy/ (a kustomize folder or rendered YAML)")
    .addOption(new Option('--fail-on <level>', 'exit 1 when findings of this severity exist').choices(['error', 'warning', 'never']).default('never'))
    .option('--no-color', 'never colour the text output')
    .option('--watch', 'keep auditing: watch the cluster, re-evaluate on every change and every --interval, serve metrics; runs until SIGTERM')
    .addOption(new Option('--interval <duration>', 'with --watch: audit at least this often, also catching expiring exemptions (30s, 5m, 1h)').default(300_000, '5m').argParser(parseDuration))
    .addOption(new Option('--metrics-port <port>', 'with --watch: plain-HTTP port for /metrics, /healthz and /readyz').default(9091).argParser(portNumber))
    .option('--metrics-host <address>', 'with --watch: address for the metrics port (default 0.0.0.0)');
}

export function registerAudit(program: Command): void {
  addAuditOptions(program.command('audit').description("report the mesh's mTLS posture: coverage, effective mTLS per workload, findings, exemptions, installation")).action(
    async (opts: Omit<AuditFlags, 'format'> & { color: boolean; output: AuditFormat; format?: AuditFormat }) => {
      const format = opts.format ?? opts.output;
      process.exitCode = await runAudit({ ...opts, format, color: opts.color === false ? false : undefined } as AuditFlags);
    },
  );
}
