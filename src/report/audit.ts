// One entry point for every audit format.
import type { AuditReport } from '../audit/model.js';
import { renderAuditJson, renderAuditJunit, renderAuditSarif } from './audit-ci.js';
import { renderAuditMarkdown, renderAuditText } from './audit-text.js';
import { renderAuditHtml } from './html.js';
import { renderPolicyReports, type ReportApi } from './policyreport.js';

export const AUDIT_FORMATS = ['text', 'json', 'markdown', 'html', 'sarif', 'junit', 'policyreport'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export function renderAudit(
  r: AuditReport,
  format: AuditFormat,
  opts: { colour?: boolean; reportApi?: ReportApi } = {},
): string {
  switch (format) {
    case 'text':
      return renderAuditText(r, opts.colour ?? false);
    case 'json':
      return renderAuditJson(r);
    case 'markdown':
      return renderAuditMarkdown(r);
    case 'html':
      return renderAuditHtml(r);
    case 'sarif':
      return renderAuditSarif(r);
    case 'junit':
      return renderAuditJunit(r);
    case 'policyreport':
      return renderPolicyReports(r, opts.reportApi);
  }
}
