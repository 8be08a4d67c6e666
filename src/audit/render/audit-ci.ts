// The audit for machines: JSON (the report model as is), SARIF and JUnit.
import type { AuditReport, ReportFinding } from '../model.js';
import type { Case, Entry } from './entries.js';
import { renderJunit } from './junit.js';
import { renderSarif } from './sarif.js';

export function renderAuditJson(r: AuditReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function toEntry(f: ReportFinding): Entry {
  return {
    rule: f.rule,
    level: f.mode === 'dry-run' ? 'note' : f.severity,
    message: f.message,
    ...(f.fix ? { fix: f.fix } : {}),
    namespace: f.namespace,
    kind: f.kind,
    name: f.name,
    ...(f.file ? { file: f.file, line: f.line ?? 1 } : {}),
    mode: f.mode,
    controls: f.controls,
  };
}

export function renderAuditSarif(r: AuditReport): string {
  return renderSarif(r.findings.map(toEntry));
}

/** One test case per workload (is it effectively STRICT?) and per other object with findings. */
export function renderAuditJunit(r: AuditReport): string {
  const byObject = new Map<string, ReportFinding[]>();
  for (const f of r.findings) {
    const k = `${f.namespace}\u0000${f.kind}\u0000${f.name}`;
    const list = byObject.get(k);
    if (list) list.push(f);
    else byObject.set(k, [f]);
  }
  const cases: Case[] = [];
  const done = new Set<string>();
  for (const w of r.workloads) {
    const k = `${w.namespace}\u0000${w.kind}\u0000${w.name}`;
    done.add(k);
    cases.push({ classname: `mtls.${w.namespace}`, name: `${w.kind}/${w.name} is effectively STRICT`, failures: (byObject.get(k) ?? []).map(toEntry) });
  }
  for (const [k, fs] of byObject) {
    if (done.has(k)) continue;
    const f = fs[0] as ReportFinding;
    cases.push({ classname: `objects.${f.namespace || 'cluster'}`, name: `${f.kind}/${f.name}`, failures: fs.map(toEntry) });
  }
  return renderJunit(`meshlock audit (${r.source.name})`, cases, new Date(r.generatedAt));
}
