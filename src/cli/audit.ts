// `meshlock audit`: the mesh's mTLS posture from a live cluster or a dump, in every report format.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { buildReport } from '../audit/build.js';
import { collectFromCluster, collectFromFiles, type Collected } from '../audit/collect.js';
import { checkInstallation, type InstallExpectations } from '../audit/install.js';
import type { KObj } from '../audit/inventory.js';
import type { AuditReport } from '../audit/model.js';
import { AUDIT_FORMATS, renderAudit, type AuditFormat } from '../audit/render/audit.js';
import { buildPolicyReports, type ReportApi } from '../audit/render/policyreport.js';
import { loadKubeConfig } from '../kube/client.js';
import { applyReport } from '../kube/reports.js';
import { loadConfigOrExit } from './check.js';

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
  const objs = parseAllDocuments(text).map((d) => d.toJS() as KObj).filter(Boolean);
  return {
    mutating: objs.filter((o) => o.kind === 'MutatingWebhookConfiguration'),
    validating: objs.filter((o) => o.kind === 'ValidatingWebhookConfiguration'),
  };
}

export async function runAudit(flags: AuditFlags): Promise<number> {
  const config = loadConfigOrExit(flags.config);
  if (!config) return 2;
  const now = new Date();
  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  let collected: Collected;
  let source: AuditReport['source'];
  let installation: AuditReport['installation'];
  let extra: AuditReport['findings'] = [];
  let kc;
  if (flags.file.length > 0) {
    collected = collectFromFiles(flags.file, namespaces[0] ?? 'default');
    source = { type: 'file', name: flags.file.join(', '), ...(namespaces.length ? { namespaces } : {}) };
    for (const e of collected.errors) process.stderr.write(`meshlock audit: ${e.file}:${e.line}: ${e.message}\n`);
    if (collected.errors.length > 0 && collected.inventory.namespaces.length + collected.inventory.pods.length === 0) return 2;
  } else {
    try {
      kc = loadKubeConfig({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
    } catch (err) {
      process.stderr.write(`meshlock audit: ${(err as Error).message}\n`);
      return 2;
    }
    const bar = progressBar();
    try {
      collected = await collectFromCluster(kc, config, { namespaces, progress: bar.update });
    } catch (err) {
      bar.done();
      process.stderr.write(`meshlock audit: ${(err as Error).message}\n`);
      return 2;
    }
    bar.done();
    source = { type: 'cluster', name: `${kc.getCurrentContext()} (${kc.getCurrentCluster()?.server ?? '?'})`, ...(namespaces.length ? { namespaces } : {}) };
    let expected: InstallExpectations = {};
    if (flags.deploy) {
      try {
        expected = loadExpectations(flags.deploy);
      } catch (err) {
        process.stderr.write(`meshlock audit: --deploy: ${(err as Error).message}\n`);
        return 2;
      }
    }
    const inst = checkInstallation(collected.inventory, config, now, expected);
    extra = inst.findings;
    const notes = [...inst.notes, ...collected.errors.map((e) => `${e.file}: ${e.message}`), ...collected.missing.map((m) => `${m}: not served by this cluster (Istio CRDs not installed?)`)];
    installation = { checked: true, notes };
  }
  const report = buildReport(collected.inventory, { config, now }, {
    source,
    ...(namespaces.length ? { namespaces } : {}),
    extraFindings: extra,
    ...(installation ? { installation } : {}),
    ...(collected.locations ? { locations: collected.locations } : {}),
  });
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderAudit(report, flags.format, { colour, reportApi: flags.reportApi });
  if (toFile) writeFileSync(flags.out as string, text);
  else process.stdout.write(text);
  if (flags.applyReports) {
    if (!kc) {
      process.stderr.write('meshlock audit: --apply-reports needs a live cluster (not -f)\n');
      return 2;
    }
    try {
      for (const r of buildPolicyReports(report, flags.reportApi)) {
        const outcome = await applyReport(kc, r as never);
        process.stderr.write(`${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name} ${outcome}\n`);
      }
    } catch (err) {
      process.stderr.write(`meshlock audit: writing reports: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const failOn = flags.failOn ?? 'never';
  if (failOn === 'error' && report.summary.findings.error > 0) return 1;
  if (failOn === 'warning' && report.summary.findings.total > 0) return 1;
  return 0;
}

export function addAuditOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'read a dump (kubectl get ... -A -o yaml|json) instead of the cluster; repeatable', (v: string, p: string[]) => [...p, v], [])
    .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
    .addOption(new Option('-o, --format <format>', 'report format').choices(AUDIT_FORMATS as unknown as string[]).default('text'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .option('-n, --namespace <ns>', 'only this namespace (repeatable or comma-separated)', collect)
    .option('-A, --all-namespaces', 'every namespace (the default)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .addOption(new Option('--report-api <api>', 'PolicyReport API for -o policyreport and --apply-reports').choices(['wgpolicyk8s', 'openreports']).default('wgpolicyk8s'))
    .option('--apply-reports', 'write the PolicyReports to the cluster (create or replace)')
    .option('--deploy <path>', "compare meshlock's webhook configurations with deploy/ (a kustomize folder or rendered YAML)")
    .addOption(new Option('--fail-on <level>', 'exit 1 when findings of this severity exist').choices(['error', 'warning', 'never']).default('never'))
    .option('--no-color', 'never colour the text output');
}

export function registerAudit(program: Command): void {
  addAuditOptions(program.command('audit').description("report the mesh's mTLS posture: coverage, effective mTLS per workload, findings, exemptions, installation")).action(
    async (opts: AuditFlags & { color: boolean }) => {
      process.exitCode = await runAudit({ ...opts, color: opts.color === false ? false : undefined } as AuditFlags);
    },
  );
}
