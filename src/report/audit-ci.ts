// The audit for machines: JSON (the report model as is), SARIF and JUnit.
import type { AuditReport, ReportFinding } from '../audit/model.js';
import type { Case, Entry } from './entries.js';
import { renderJunit } from './junit.js';
import { renderSarif } from './sarif.js';
import { exemptionText } from './audit-text.js';

export function renderAuditJson(r: AuditReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function effectsText(f: ReportFinding): string {
  return (f.effects ?? []).length
    ? `; causes ${(f.effects ?? []).map((e) => `${e.rule} on ${e.kind} ${e.namespace}/${e.name}`).join(', ')}`
    : '';
}

function toEntry(f: ReportFinding): Entry {
  return {
    rule: f.rule,
    level: f.mode === 'dry-run' ? 'note' : f.severity,
    message: `${f.message}${effectsText(f)}`,
    ...(f.exemption ? { suppression: exemptionText(f.exemption) } : {}),
    ...(f.fix ? { fix: f.fix } : {}),
    namespace: f.namespace,
    kind: f.kind,
    name: f.name,
    ...(f.file ? { file: f.file, line: f.line ?? 1 } : {}),
    mode: f.mode,
    controls: f.controls,
  };
}

/** Findings, and exempted findings as suppressed results (SARIF's `suppressions`, justification = the exemption). */
export function renderAuditSarif(r: AuditReport): string {
  const controlTitles = new Map(r.controls.map((c) => [c.id as string, c.title]));
  return renderSarif([...r.findings, ...r.exempted].map(toEntry), {
    name: r.tool.name,
    version: r.tool.version,
    controlTitles,
  });
}

/**
 * One test case per workload (is it effectively STRICT?) and per other object with findings. A
 * workload fails on its own findings and on those of which it is an effect (a PeerAuthentication
 * that leaves it PERMISSIVE); a workload whose only findings are exempted is skipped, saying why.
 */
export function renderAuditJunit(r: AuditReport): string {
  const byObject = new Map<string, ReportFinding[]>();
  const add = (k: string, f: ReportFinding): void => {
    const list = byObject.get(k);
    if (list) list.push(f);
    else byObject.set(k, [f]);
  };
  for (const f of r.findings) {
    add(`${f.namespace}\u0000${f.kind}\u0000${f.name}`, f);
    for (const e of f.effects ?? []) {
      add(`${e.namespace}\u0000${e.kind}\u0000${e.name}`, {
        ...f,
        rule: e.rule,
        message: `${e.message} (caused by ${f.rule} on ${f.kind} ${f.namespace}/${f.name})`,
        effects: [],
      });
    }
  }
  const exemptedOn = new Map<string, ReportFinding>();
  for (const f of r.exempted) {
    exemptedOn.set(`${f.namespace}\u0000${f.kind}\u0000${f.name}`, f);
    for (const e of f.effects ?? []) exemptedOn.set(`${e.namespace}\u0000${e.kind}\u0000${e.name}`, f);
  }
  const cases: Case[] = [];
  const done = new Set<string>();
  for (const w of r.workloads) {
    const k = `${w.namespace}\u0000${w.kind}\u0000${w.name}`;
    done.add(k);
    const failures = (byObject.get(k) ?? []).map(toEntry);
    const ex = exemptedOn.get(k);
    cases.push({
      classname: `mtls.${w.namespace}`,
      name: `${w.kind}/${w.name} is effectively STRICT`,
      failures,
      ...(failures.length === 0 && ex?.exemption
        ? { skipped: `exempted (${ex.rule}): ${exemptionText(ex.exemption)}` }
        : {}),
    });
  }
  for (const [k, fs] of byObject) {
    if (done.has(k)) continue;
    const f = fs[0] as ReportFinding;
    cases.push({
      classname: `objects.${f.namespace || 'cluster'}`,
      name: `${f.kind}/${f.name}`,
      failures: fs.map(toEntry),
    });
  }
  return renderJunit(`meshlock audit (${r.source.name})`, cases, new Date(r.generatedAt));
}
