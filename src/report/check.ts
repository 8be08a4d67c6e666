// Renderers of the offline check: text (short, for a terminal), json (per-object decisions, for
// tools), sarif and junit (for CI systems).
import type { CheckedObject, CheckReport } from '../check/check.js';
import { paint } from './colour.js';
import type { Case, Entry, SarifTool } from './entries.js';
import { renderJunit } from './junit.js';
import { renderSarif } from './sarif.js';

export type CheckFormat = 'text' | 'json' | 'sarif' | 'junit';
export const CHECK_FORMATS: readonly CheckFormat[] = ['text', 'json', 'sarif', 'junit'];

function where(r: CheckedObject): string {
  return `${r.file}:${r.line || 1}`;
}

function label(r: CheckedObject): string {
  return `${r.kind || '?'} ${r.kind === 'Namespace' ? r.name : `${r.namespace}/${r.name}`}${r.operation === 'UPDATE' ? ' (update)' : ''}`;
}

function patchSummary(r: CheckedObject): string {
  return r.patch
    .filter((op) => typeof op.value === 'string')
    .map((op) => `${(op.path.split('/').pop() ?? '').replace(/~1/g, '/').replace(/~0/g, '~')}=${String(op.value)}`)
    .join(', ');
}

export function renderCheckText(report: CheckReport, colour: boolean): string {
  const p = paint(colour);
  const out: string[] = [];
  for (const e of report.errors) out.push(`${p.red('ERROR')} ${e.file}:${e.line}: ${e.message}`);
  for (const r of report.results) {
    if (!r.checked) continue;
    const patch = patchSummary(r);
    const mark = r.decision === 'deny' ? p.red('DENY ') : r.decision === 'warn' ? p.yellow('WARN ') : p.green('ALLOW');
    out.push(`${mark} ${label(r)} ${p.dim(`(${where(r)})`)}${patch ? ` ${p.dim(`patched: ${patch}`)}` : ''}`);
    for (const m of r.mutations.filter((x) => !x.applied))
      out.push(`      would patch [${m.id}] (${m.mode}, not applied)`);
    for (const f of r.findings) {
      const tag = f.denies ? p.red(f.rule) : p.yellow(f.rule);
      const notes = [...(f.mode !== 'enforce' ? [f.mode] : []), ...(f.preExisting ? ['pre-existing'] : [])];
      out.push(`      [${tag}] ${f.message}. Fix: ${f.fix}${notes.length ? ` (${notes.join(', ')})` : ''}`);
    }
  }
  const s = report.summary;
  out.push(
    p.bold(
      `${s.objects} object${s.objects === 1 ? '' : 's'}: ${s.denied} denied, ${s.warned} warned, ${s.patched} patched${s.errors ? `, ${s.errors} unreadable` : ''}`,
    ),
  );
  return `${out.join('\n')}\n`;
}

export function renderCheckJson(report: CheckReport): string {
  const results = report.results.map((r) => ({
    file: r.file,
    index: r.index,
    line: r.line,
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    decision: r.decision,
    rules: r.rules,
    patch: r.patch,
    mutations: r.mutations.map((m) => ({ id: m.id, mode: m.mode, applied: m.applied, ops: m.ops })),
    findings: r.findings.map((f) => ({
      rule: f.rule,
      severity: f.severity,
      mode: f.mode,
      denies: f.denies,
      ...(f.preExisting ? { preExisting: true } : {}),
      message: f.message,
      fix: f.fix,
      ...(f.path ? { path: f.path } : {}),
    })),
    exempted: r.exempted,
    ...(r.message ? { message: r.message } : {}),
  }));
  return `${JSON.stringify({ summary: report.summary, results, errors: report.errors }, null, 2)}\n`;
}

const controlIds = (report: CheckReport, rule: string) => (report.controls[rule] ?? []).map((c) => c.id);

function entriesOf(report: CheckReport, r: CheckedObject): Entry[] {
  return r.findings.map((f) => ({
    rule: f.rule,
    level: f.denies ? 'error' : f.mode === 'dry-run' ? 'note' : 'warning',
    message: f.message,
    fix: f.fix,
    namespace: r.namespace,
    kind: r.kind,
    name: r.name,
    file: r.file,
    line: r.line,
    mode: f.mode,
    controls: controlIds(report, f.rule),
  }));
}

function sarifTool(report: CheckReport, version: string): SarifTool {
  return {
    name: 'meshlock',
    version,
    controlTitles: new Map(
      Object.values(report.controls)
        .flat()
        .map((c) => [c.id, c.title]),
    ),
  };
}

export function renderCheckSarif(report: CheckReport, version: string): string {
  const entries = report.results.flatMap((r) => entriesOf(report, r));
  // Unreadable input is a finding too: a scanner that silently shows nothing would hide it.
  for (const e of report.errors) {
    entries.push({
      rule: 'malformed-object',
      level: 'error',
      message: e.message,
      namespace: '',
      kind: 'File',
      name: e.file,
      file: e.file,
      line: e.line,
      controls: controlIds(report, 'malformed-object'),
    });
  }
  return renderSarif(entries, sarifTool(report, version));
}

export function renderCheckJunit(report: CheckReport, now: Date): string {
  const cases: Case[] = report.results
    .filter((r) => r.checked)
    .map((r) => ({
      classname: `${r.file}`,
      name: label(r),
      file: r.file,
      line: r.line,
      failures: entriesOf(report, r),
    }));
  return renderJunit('meshlock check', cases, now, report.errors);
}

/** `version`: meshlock's, which SARIF names as the tool's. */
export function renderCheck(
  report: CheckReport,
  format: CheckFormat,
  opts: { colour: boolean; now: Date; version: string },
): string {
  switch (format) {
    case 'text':
      return renderCheckText(report, opts.colour);
    case 'json':
      return renderCheckJson(report);
    case 'sarif':
      return renderCheckSarif(report, opts.version);
    case 'junit':
      return renderCheckJunit(report, opts.now);
  }
}
