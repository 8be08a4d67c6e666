// The audit as one self-contained HTML file an auditor can open offline: the verdict, what was
// audited, a chart of coverage by namespace (inline SVG), and tables a reader can sort (click a
// heading) and filter (type in the box above). No external asset: a Content Security Policy
// forbids fetching anything (no connect, no image but data:, no form), and the only stylesheet and
// the only script are allowed by their hashes. Without script the tables are simply static.
import { createHash } from 'node:crypto';
import type { AuditReport, NamespaceRow, ReportFinding, WorkloadRow } from '../audit/model.js';
import { exemptionText, istioDecision, workloadExemption } from './audit-text.js';
import { linkerdHeadline, linkerdPortLines } from './linkerd.js';

/** A workload that is not STRICT: an error, or grey and saying so when an exemption lifts it. */
function exemptedCell(r: AuditReport, w: WorkloadRow): string {
  const x = workloadExemption(r, w);
  return x
    ? `<span class="exempted" title="${esc(exemptionText(x))}">no, exempted (exemptions[${esc(x.index)}])</span>`
    : '<span class="error">no</span>';
}

export function esc(s: string | number): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:75rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.meta{color:#57606a}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card dt{color:#57606a;font-size:.8rem;text-transform:uppercase}.card dd{margin:0;font-size:1.6rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#cf222e;font-weight:600}.warning{color:#9a6700;font-weight:600}.ok{color:#1a7f37;font-weight:600}
svg text{font-size:12px;fill:#1b1f24}
.verdict{font-size:1.3rem;font-weight:700;padding:.6rem 1rem;border-radius:6px;margin:1rem 0}
.verdict.pass{background:#dafbe1;color:#1a7f37;border:1px solid #1a7f37}.verdict.fail{background:#ffebe9;color:#cf222e;border:1px solid #cf222e}
dl.identity{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}dl.identity dt{color:#57606a}dl.identity dd{margin:0}
.filter{margin:.3rem 0;padding:.25rem .5rem;width:20rem;max-width:100%;font:inherit}
th.sortable{cursor:pointer;user-select:none}th.sortable::after{content:" \\2195";color:#8c959f}
th[aria-sort=ascending]::after{content:" \\2191"}th[aria-sort=descending]::after{content:" \\2193"}
tr.filtered-out{display:none}ul.effects{margin:.2rem 0 0 1rem;padding:0;color:#57606a}.exempted{color:#57606a}
@media print{body{margin:0;padding:0;max-width:none;font-size:9pt}.filter,.filter+.meta{display:none}th.sortable::after{content:none}table{font-size:8pt}td,th{overflow-wrap:break-word;hyphens:manual;padding:.1rem .25rem}tr{break-inside:avoid}h2{break-after:avoid}svg{width:100%;height:auto}.cards{gap:.4rem}.card{min-width:0;padding:.3rem .6rem}}
`.trim();

// Sorting and filtering, inline and hash-allowed. It reads and reorders the page; it fetches nothing.
const SCRIPT = `
document.querySelectorAll('table[data-sortable]').forEach(function (table) {
  var body = table.tBodies[0];
  table.querySelectorAll('th').forEach(function (th, col) {
    th.classList.add('sortable');
    th.tabIndex = 0;
    var sort = function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (o) { o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) { var c = r.cells[col]; return c ? (c.getAttribute('data-sort') || c.textContent.trim()) : ''; };
      var num = rows.every(function (r) { var k = key(r); return k === '' || !isNaN(parseFloat(k)); });
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var d = num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort(); });
  });
});
document.querySelectorAll('input.filter').forEach(function (input) {
  var table = document.getElementById(input.getAttribute('data-table'));
  var count = document.getElementById(input.getAttribute('data-count'));
  var apply = function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      var text = r.textContent.toLowerCase();
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      r.classList.toggle('filtered-out', !hit);
      if (hit) shown++;
    });
    if (count) count.textContent = shown + ' of ' + table.tBodies[0].rows.length + ' shown';
  };
  input.addEventListener('input', apply);
  apply();
});
`.trim();

const MAX_BARS = 200;

function chart(rows: readonly NamespaceRow[]): string {
  // Lowest coverage first: the namespaces an auditor must look at.
  const shown = [...rows]
    .sort((a, b) => a.coveragePercent - b.coveragePercent || a.namespace.localeCompare(b.namespace))
    .slice(0, MAX_BARS);
  const barH = 18;
  const labelW = 220;
  const plotW = 480;
  const h = shown.length * (barH + 4) + 24;
  const bars = shown
    .map((n, i) => {
      const y = i * (barH + 4);
      const w = Math.round((n.coveragePercent / 100) * plotW);
      const fill = n.coveragePercent >= 100 ? '#2da44e' : n.coveragePercent >= 50 ? '#d4a72c' : '#cf222e';
      return `<g data-namespace="${esc(n.namespace)}" data-coverage="${n.coveragePercent}"><title>${esc(n.namespace)}: ${n.strict}/${n.workloads} strict (${n.coveragePercent}%)</title><text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(n.namespace.length > 30 ? `${n.namespace.slice(0, 29)}…` : n.namespace)}</text><rect x="${labelW}" y="${y}" width="${plotW}" height="${barH}" fill="#eaeef2"/><rect class="bar" x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${fill}"/><text x="${labelW + plotW + 6}" y="${y + 13}">${n.coveragePercent}%</text></g>`;
    })
    .join('');
  const note =
    rows.length > MAX_BARS
      ? `<p class="meta">Showing the ${MAX_BARS} namespaces with the lowest coverage of ${rows.length}.</p>`
      : '';
  return `<svg id="coverage-chart" role="img" aria-label="Coverage by namespace" xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 60}" height="${h}" viewBox="0 0 ${labelW + plotW + 60} ${h}">${bars}</svg>${note}`;
}

function table(
  id: string,
  head: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: ReadonlySet<number> = new Set(),
): string {
  const th = head.map((h) => `<th scope="col">${esc(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('\n');
  const filter =
    rows.length > 1
      ? `<input class="filter" type="search" placeholder="Filter ${esc(id.replace(/-/g, ' '))}" aria-label="Filter ${esc(id.replace(/-/g, ' '))}" data-table="${id}" data-count="${id}-count"> <span class="meta" id="${id}-count"></span>\n`
      : '';
  return `${filter}<table id="${id}" data-sortable><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function objectName(f: { kind: string; namespace: string; name: string }): string {
  return `${f.kind} ${f.namespace && f.kind !== 'Namespace' ? `${f.namespace}/` : ''}${f.name}`;
}

function effectsList(f: ReportFinding): string {
  const e = f.effects ?? [];
  return e.length
    ? `<ul class="effects">${e.map((x) => `<li>causes <strong>${esc(x.rule)}</strong> on ${esc(objectName(x))}: ${esc(x.message)}</li>`).join('')}</ul>`
    : '';
}

export function renderAuditHtml(r: AuditReport): string {
  const s = r.summary;
  const hash = createHash('sha256').update(CSS).digest('base64');
  const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'sha256-${hash}'; script-src 'sha256-${scriptHash}'; img-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'`;
  const id = r.identity;
  const card = (id: string, label: string, value: string | number): string =>
    `<div class="card"><dt>${esc(label)}</dt><dd id="${id}">${esc(value)}</dd></div>`;
  const sev = (x: string): string => `<span class="${x === 'error' ? 'error' : 'warning'}">${esc(x)}</span>`;
  const parts: string[] = [];
  parts.push(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshlock mTLS audit: ${esc(r.source.name)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>meshlock mTLS audit</h1>
<p class="verdict ${r.verdict.result === 'PASS' ? 'pass' : 'fail'}" id="verdict" data-result="${r.verdict.result}">${esc(r.verdict.summary)}</p>
<dl class="identity" id="identity">
${id.context !== undefined ? `<dt>Context</dt><dd>${esc(id.context)}</dd>` : ''}${id.server ? `<dt>API server</dt><dd>${esc(id.server)}</dd>` : ''}<dt>Source</dt><dd>${esc(id.source)}</dd>
<dt>Istio revisions</dt><dd>${id.istio.length ? esc(id.istio.map((x) => `${x.revision}${x.version ? ` (${x.version})` : ''}`).join(', ')) : 'no control plane found'}</dd>
<dt>meshlock</dt><dd>${esc(id.meshlockVersion)}</dd>
<dt>Generated</dt><dd><time datetime="${esc(id.generatedAt)}">${esc(id.generatedAt)}</time></dd>
</dl>
<p class="meta" id="source">Source: ${esc(r.source.type)} <strong>${esc(r.source.name)}</strong>${r.source.namespaces?.length ? ` (namespaces ${esc(r.source.namespaces.join(', '))})` : ''}; generated <time datetime="${esc(r.generatedAt)}">${esc(r.generatedAt)}</time> by meshlock ${esc(r.tool.version)}; mode ${esc(r.config.mode)}, dataplane ${esc(r.config.dataplane)}, root namespace ${esc(r.config.rootNamespace)}.</p>
<h2>Summary</h2>
<dl class="cards">
${card('summary-workloads', 'Workloads', s.workloads)}
${card('summary-meshed', 'Meshed', s.meshed)}
${card('summary-strict', 'Strict', s.strict)}
${card('summary-coverage', 'Coverage', `${s.coveragePercent}%`)}
${card('summary-errors', 'Errors', s.findings.error)}
${card('summary-warnings', 'Warnings', s.findings.warning)}
${card('summary-exempted', 'Exempted', r.exempted.length)}
</dl>
<h2>Coverage by namespace</h2>
${chart(r.namespaces)}`);
  parts.push('<h2>Namespaces</h2>');
  parts.push(
    table(
      'namespaces',
      ['namespace', 'enrolment', 'workloads', 'meshed', 'strict', 'coverage', 'findings'],
      r.namespaces.map((n) => [
        esc(n.namespace),
        esc(n.enrolment),
        esc(n.workloads),
        esc(n.meshed),
        esc(n.strict),
        `${esc(n.coveragePercent)}%`,
        esc(n.findings),
      ]),
      new Set([2, 3, 4, 5, 6]),
    ),
  );
  parts.push('<h2>Workloads</h2>');
  parts.push(
    table(
      'workloads',
      ['namespace', 'kind', 'name', 'pods', 'meshed', 'Istio decided by', 'strict', 'mTLS', 'policies'],
      r.workloads.map((w) => [
        esc(w.namespace),
        esc(w.kind),
        esc(w.name),
        esc(w.pods),
        w.meshed ? `<span class="ok">yes</span> (${esc(w.dataplane)})` : '<span class="error">no</span>',
        `<span title="${esc(w.istio ? `${w.istio.injection.because}; ${w.istio.capture.because}` : (w.reason ?? ''))}">${esc(istioDecision(w))}</span>`,
        w.strict ? '<span class="ok">yes</span>' : exemptedCell(r, w),
        esc(w.mtls),
        esc(w.policies.join(', ')),
      ]),
      new Set([3]),
    ),
  );
  const ldPorts = linkerdPortLines(r);
  if (ldPorts.length > 0) {
    parts.push('<h2>Linkerd inbound policy per workload and port</h2>');
    const head = linkerdHeadline(r);
    if (head) parts.push(`<p>${esc(head)}</p>`);
    parts.push(
      table(
        'linkerd-ports',
        ['workload', 'port', 'mode', 'decided by', 'policy', 'plaintext via', 'open probe paths'],
        ldPorts.map((l) => [
          esc(l.workload),
          esc(l.port),
          `<span class="${l.mode === 'STRICT' ? 'ok' : 'error'}">${esc(l.mode)}</span>`,
          esc(l.decidedBy),
          esc(l.policy),
          esc(l.plaintextVia),
          esc(l.openProbes),
        ]),
        new Set([1]),
      ),
    );
  }
  parts.push('<h2>Findings</h2>');
  parts.push(
    table(
      'findings',
      ['rule', 'severity', 'mode', 'object', 'message', 'controls'],
      r.findings.map((f) => [
        esc(f.rule),
        sev(f.severity),
        esc(f.mode),
        esc(objectName(f)),
        `${esc(f.message)}${effectsList(f)}`,
        esc(f.controls.join(', ')),
      ]),
    ),
  );
  parts.push('<h2>Exempted findings</h2>');
  parts.push('<p class="meta">Lifted by an active exemption: shown for the record, not counted in the verdict.</p>');
  parts.push(
    table(
      'exempted',
      ['rule', 'severity', 'object', 'message', 'exemption', 'owner', 'expires', 'reason'],
      r.exempted.map((f) => {
        const e = f.exemption as NonNullable<ReportFinding['exemption']>;
        return [
          `<span class="exempted">${esc(f.rule)}</span>`,
          esc(f.severity),
          esc(objectName(f)),
          `${esc(f.message)}${effectsList(f)}`,
          `exemptions[${esc(e.index)}]`,
          esc(e.owner ?? ''),
          esc(e.expires ?? 'never'),
          esc(e.reason),
        ];
      }),
    ),
  );
  if (r.destinationRules.length > 0) {
    parts.push('<h2>DestinationRules sending without mesh mTLS</h2>');
    parts.push(
      table(
        'destination-rules',
        ['namespace', 'name', 'host', 'rule', 'message'],
        r.destinationRules.map((d) => [esc(d.namespace), esc(d.name), esc(d.host), esc(d.rule), esc(d.message)]),
      ),
    );
  }
  parts.push('<h2>Exemptions</h2>');
  parts.push(
    table(
      'exemptions',
      ['status', 'namespace', 'kind', 'name', 'rules', 'expires', 'reason', 'owner', 'used'],
      r.exemptions.map((e) => [
        esc(e.status),
        esc(e.namespace),
        esc(e.kind ?? '*'),
        esc(e.name ?? '*'),
        esc(e.rules?.join(', ') ?? 'all'),
        esc(e.expires ?? 'never'),
        esc(e.reason),
        esc(e.owner ?? ''),
        esc(e.used),
      ]),
      new Set([8]),
    ),
  );
  if (r.installation) {
    parts.push('<h2>Installation</h2>');
    parts.push(`<ul id="installation">${r.installation.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  }
  parts.push('<h2>Control mapping</h2>');
  parts.push(
    table(
      'controls',
      ['control', 'framework', 'title', 'findings', 'rules'],
      r.controls.map((c) => [esc(c.id), esc(c.framework), esc(c.title), esc(c.findings), esc(c.rules.join(', '))]),
      new Set([3]),
    ),
  );
  parts.push(`<script>${SCRIPT}</script>`);
  parts.push('</body>\n</html>\n');
  return parts.join('\n');
}
