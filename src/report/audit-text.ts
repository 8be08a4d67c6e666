// The audit as text for a terminal, and as Markdown for a pull request or a wiki page.
import type { AuditReport, ExemptionRef, ReportFinding, WorkloadRow } from '../audit/model.js';
import { paint } from './colour.js';
import { linkerdHeadline, linkerdPortLines } from './linkerd.js';

/**
 * Which of Istio's rules decided injection and ztunnel capture, in the words of Istio's code; for a
 * Linkerd workload, the injector's own reasons.
 */
export function istioDecision(w: WorkloadRow): string {
  if (w.linkerd)
    return w.linkerd.reasons.length > 0 ? `injector: ${w.linkerd.reasons.join(', ')}` : 'injector: injected';
  return w.istio ? `injection: ${w.istio.injection.rule}, capture: ${w.istio.capture.rule}` : '';
}

function sourceLine(r: AuditReport): string {
  return `${r.source.type === 'cluster' ? 'cluster' : 'file'} ${r.source.name}${r.source.namespaces?.length ? ` (namespaces: ${r.source.namespaces.join(', ')})` : ''}, ${r.generatedAt}`;
}

/** Cluster identity lines, shared by text and Markdown. */
export function identityLines(r: AuditReport): string[] {
  const id = r.identity;
  const istio = id.istio.length
    ? id.istio.map((x) => `${x.revision}${x.version ? ` (${x.version})` : ''}`).join(', ')
    : 'no control plane found';
  return [
    ...(id.context !== undefined ? [`context: ${id.context}`] : []),
    ...(id.server ? [`server: ${id.server}`] : []),
    `source: ${id.source}`,
    `Istio revisions: ${istio}`,
    `meshlock: ${id.meshlockVersion}`,
    `generated: ${id.generatedAt}`,
  ];
}

function objectName(f: { kind: string; namespace: string; name: string }): string {
  return `${f.kind} ${f.namespace && f.kind !== 'Namespace' ? `${f.namespace}/` : ''}${f.name}`;
}

/** `exemptions[2], owner team-a, until 2026-12-31: reason` */
export function exemptionText(e: ExemptionRef): string {
  return `exemptions[${e.index}]${e.owner ? `, owner ${e.owner}` : ''}, ${e.expires ? `until ${e.expires}` : 'no expiry'}: ${e.reason}`;
}

/**
 * The exemption that lifts a workload's own not-meshed or not-strict finding, if any: such a
 * workload is listed as exempted, not as a failure beside it.
 */
export function workloadExemption(
  r: AuditReport,
  w: Pick<WorkloadRow, 'namespace' | 'kind' | 'name'>,
): ExemptionRef | undefined {
  const lifts = (f: { rule: string; namespace: string; kind: string; name: string }) =>
    (f.rule === 'workload-not-meshed' || f.rule === 'workload-not-strict') &&
    f.namespace === w.namespace &&
    f.kind === w.kind &&
    f.name === w.name;
  return r.exempted.find((f) => lifts(f) || (f.effects ?? []).some(lifts))?.exemption;
}

export function renderAuditText(r: AuditReport, colour: boolean): string {
  const p = paint(colour);
  const s = r.summary;
  const out: string[] = [];
  out.push(p.bold(`meshlock audit of ${sourceLine(r)}`));
  out.push(
    p.bold(
      r.verdict.result === 'PASS' ? p.green(`verdict: ${r.verdict.summary}`) : p.red(`verdict: ${r.verdict.summary}`),
    ),
  );
  for (const l of identityLines(r)) out.push(`  ${l}`);
  out.push(
    `workloads ${s.workloads}, meshed ${s.meshed}, strict ${s.strict}, coverage ${s.coveragePercent}%; findings: ${p.red(`${s.findings.error} error`)}, ${p.yellow(`${s.findings.warning} warning`)}`,
  );
  out.push('');
  out.push(
    p.bold('NAMESPACE                      ENROLMENT                 WORKLOADS MESHED STRICT COVERAGE FINDINGS'),
  );
  for (const n of r.namespaces) {
    out.push(
      `${n.namespace.padEnd(30)} ${n.enrolment.padEnd(25)} ${String(n.workloads).padStart(9)} ${String(n.meshed).padStart(6)} ${String(n.strict).padStart(6)} ${`${n.coveragePercent}%`.padStart(8)} ${String(n.findings).padStart(8)}`,
    );
  }
  const headline = linkerdHeadline(r);
  if (headline) out.splice(2, 0, headline);
  const ports = linkerdPortLines(r);
  if (ports.length > 0) {
    out.push('');
    out.push(p.bold('Linkerd inbound policy per workload and port'));
    for (const l of ports) {
      const tag = l.mode === 'STRICT' ? p.green(l.mode) : p.red(l.mode);
      out.push(
        `  ${l.workload} :${l.port} ${tag} by ${l.decidedBy}${l.policy ? ` (${l.policy})` : ''}${l.plaintextVia ? `; plaintext via ${l.plaintextVia}` : ''}${l.openProbes ? `; probes open: ${l.openProbes}` : ''}`,
      );
    }
  }
  const weak = r.workloads.filter((w) => !w.strict);
  if (weak.length > 0) {
    out.push('');
    out.push(p.bold('Workloads not effectively STRICT'));
    for (const w of weak) {
      const x = workloadExemption(r, w);
      out.push(
        `  ${w.namespace}/${w.kind}/${w.name} (${w.pods} pod${w.pods === 1 ? '' : 's'}): ${w.mtls}${w.meshed ? '' : ` [${istioDecision(w)}]`}${x ? p.dim(` (exempted: ${exemptionText(x)})`) : ''}`,
      );
    }
  }
  const edged = r.workloads.filter((w) => w.edges !== undefined);
  if (edged.length > 0) {
    out.push('');
    out.push(p.bold('Edge ports (permitted by the config)'));
    for (const w of edged) {
      const ports = Object.entries(w.edges ?? {}).map(
        ([port, reason]) => `${port}=${w.ports[port] ?? '?'} (edge: ${reason})`,
      );
      out.push(`  ${w.namespace}/${w.kind}/${w.name}: ${ports.join(', ')}`);
    }
  }
  if (r.findings.length > 0) {
    out.push('');
    out.push(p.bold('Findings'));
    for (const f of r.findings) {
      const tag = f.severity === 'error' ? p.red(f.rule) : p.yellow(f.rule);
      out.push(
        `  [${tag}] ${objectName(f)}: ${f.message}${f.mode !== 'enforce' && f.mode !== 'audit' ? ` (${f.mode})` : ''}`,
      );
      for (const e of f.effects ?? []) out.push(`      causes [${e.rule}] ${objectName(e)}: ${e.message}`);
    }
  }
  if (r.exemptions.length > 0) {
    out.push('');
    out.push(p.bold('Exemptions'));
    for (const e of r.exemptions)
      out.push(
        `  [${e.status}] ${e.namespace}/${e.kind ?? '*'}/${e.name ?? '*'} ${e.rules?.join(',') ?? 'all rules'} until ${e.expires ?? 'forever'}: ${e.reason} (used ${e.used})`,
      );
  }
  if (r.exempted.length > 0) {
    out.push('');
    out.push(p.bold('Exempted findings (not counted in the verdict)'));
    for (const f of r.exempted) {
      out.push(`  [exempted ${f.rule}] ${objectName(f)}: ${f.message}`);
      out.push(`      by ${exemptionText(f.exemption)}`);
      for (const e of f.effects ?? []) out.push(`      causes [${e.rule}] ${objectName(e)}: ${e.message}`);
    }
  }
  if (r.installation) {
    out.push('');
    out.push(p.bold('Installation'));
    for (const n of r.installation.notes) out.push(`  ${n}`);
  }
  out.push('');
  out.push(p.bold('Controls'));
  for (const c of r.controls)
    out.push(
      `  ${c.id} (${c.title}): ${c.findings} finding${c.findings === 1 ? '' : 's'}${c.rules.length ? ` [${c.rules.join(', ')}]` : ''}`,
    );
  return `${out.join('\n')}\n`;
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderAuditMarkdown(r: AuditReport): string {
  const s = r.summary;
  const out: string[] = [];
  out.push('# meshlock mTLS audit');
  out.push('');
  out.push(`**Verdict: ${r.verdict.result}**: ${md(r.verdict.summary)}`);
  out.push('');
  for (const l of identityLines(r)) out.push(`- ${md(l)}`);
  out.push('');
  out.push(
    `Source: ${md(sourceLine(r))}. meshlock ${r.tool.version}, mode ${r.config.mode}, dataplane ${r.config.dataplane}, root namespace ${r.config.rootNamespace}.`,
  );
  out.push('');
  out.push('## Summary');
  out.push('');
  out.push('| workloads | meshed | strict | coverage | errors | warnings |');
  out.push('|---:|---:|---:|---:|---:|---:|');
  out.push(
    `| ${s.workloads} | ${s.meshed} | ${s.strict} | ${s.coveragePercent}% | ${s.findings.error} | ${s.findings.warning} |`,
  );
  out.push('');
  out.push('## Namespaces');
  out.push('');
  out.push('| namespace | enrolment | workloads | meshed | strict | coverage | findings |');
  out.push('|---|---|---:|---:|---:|---:|---:|');
  for (const n of r.namespaces)
    out.push(
      `| ${md(n.namespace)} | ${md(n.enrolment)} | ${n.workloads} | ${n.meshed} | ${n.strict} | ${n.coveragePercent}% | ${n.findings} |`,
    );
  out.push('');
  out.push('## Workloads');
  out.push('');
  out.push('| namespace | kind | name | pods | meshed | Istio decided by | mTLS | strict |');
  out.push('|---|---|---|---:|---|---|---|---|');
  for (const w of r.workloads) {
    out.push(
      `| ${md(w.namespace)} | ${w.kind} | ${md(w.name)} | ${w.pods} | ${w.meshed ? `yes (${w.dataplane})` : 'no'} | ${md(istioDecision(w))} | ${md(w.mtls)} | ${w.strict ? 'yes' : workloadExemption(r, w) ? `no, exempted (exemptions[${workloadExemption(r, w)?.index}])` : 'no'} |`,
    );
  }
  out.push('');
  const ldPorts = linkerdPortLines(r);
  if (ldPorts.length > 0) {
    out.push('## Linkerd inbound policy per workload and port');
    out.push('');
    const head = linkerdHeadline(r);
    if (head) out.push(`${md(head)}.`, '');
    out.push('| workload | port | mode | decided by | policy | plaintext via | open probe paths |');
    out.push('|---|---:|---|---|---|---|---|');
    for (const l of ldPorts)
      out.push(
        `| ${md(l.workload)} | ${l.port} | ${l.mode} | ${md(l.decidedBy)} | ${md(l.policy)} | ${md(l.plaintextVia)} | ${md(l.openProbes)} |`,
      );
    out.push('');
  }
  out.push('## Findings');
  out.push('');
  out.push('| rule | severity | mode | object | message | controls |');
  out.push('|---|---|---|---|---|---|');
  const causes = (f: ReportFinding): string =>
    (f.effects ?? []).length
      ? `<br>causes: ${(f.effects ?? []).map((e) => md(`${e.rule} on ${objectName(e)}`)).join('; ')}`
      : '';
  for (const f of r.findings)
    out.push(
      `| ${f.rule} | ${f.severity} | ${f.mode} | ${md(objectName(f))} | ${md(f.message)}${causes(f)} | ${f.controls.join(', ')} |`,
    );
  out.push('');
  out.push('## Exemptions');
  out.push('');
  out.push('| status | namespace | kind | name | rules | expires | reason | owner | used |');
  out.push('|---|---|---|---|---|---|---|---|---:|');
  for (const e of r.exemptions)
    out.push(
      `| ${e.status} | ${md(e.namespace)} | ${e.kind ?? '*'} | ${md(e.name ?? '*')} | ${e.rules?.join(', ') ?? 'all'} | ${e.expires ?? 'never'} | ${md(e.reason)} | ${md(e.owner ?? '')} | ${e.used} |`,
    );
  out.push('');
  out.push('## Exempted findings');
  out.push('');
  if (r.exempted.length === 0) out.push('None.');
  else {
    out.push('| rule | severity | object | message | exemption | owner | expires | reason |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const f of r.exempted) {
      const e = f.exemption;
      out.push(
        `| ${f.rule} | ${f.severity} | ${md(objectName(f))} | ${md(f.message)}${causes(f)} | exemptions[${e.index}] | ${md(e.owner ?? '')} | ${e.expires ?? 'never'} | ${md(e.reason)} |`,
      );
    }
  }
  if (r.installation) {
    out.push('');
    out.push('## Installation');
    out.push('');
    for (const n of r.installation.notes) out.push(`- ${md(n)}`);
  }
  out.push('');
  out.push('## Control mapping');
  out.push('');
  out.push('| control | framework | title | findings | rules |');
  out.push('|---|---|---|---:|---|');
  for (const c of r.controls)
    out.push(`| ${c.id} | ${md(c.framework)} | ${md(c.title)} | ${c.findings} | ${c.rules.join(', ')} |`);
  return `${out.join('\n')}\n`;
}
