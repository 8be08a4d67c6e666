// The Linkerd part of an audit, shared by the text, Markdown and HTML renderers: one row per
// workload and port with what decided its inbound policy and what admits plaintext.
import type { AuditReport } from '../audit/model.js';
import type { LinkerdPortRow } from '../audit/linkerd.js';

export interface LinkerdPortLine {
  readonly workload: string;
  readonly port: number;
  readonly mode: string;
  /** Server <name>, annotation, cluster default, or iptables skip. */
  readonly decidedBy: string;
  readonly policy: string;
  /** The authorizations (or skip) that admit plaintext; empty when none. */
  readonly plaintextVia: string;
  readonly openProbes: string;
}

function decidedBy(p: LinkerdPortRow): string {
  if (p.source === 'server') return `Server ${p.server ?? ''}`;
  if (p.source === 'annotation') return 'pod annotation';
  if (p.source === 'cluster-default') return 'cluster default';
  return `iptables skip (${p.skipped ?? ''})`;
}

export function linkerdPortLines(r: AuditReport): LinkerdPortLine[] {
  const out: LinkerdPortLine[] = [];
  for (const w of r.workloads) {
    for (const p of w.linkerd?.ports ?? []) {
      out.push({
        workload: `${w.namespace}/${w.kind}/${w.name}`,
        port: p.port,
        mode: p.mode,
        decidedBy: decidedBy(p),
        policy: p.policy ?? '',
        plaintextVia: p.source === 'iptables-skip' ? 'no proxy on this port' : p.plaintext.join(', '),
        openProbes: p.openProbePaths.join(', '),
      });
    }
  }
  return out;
}

export function linkerdHeadline(r: AuditReport): string | undefined {
  const l = r.config.linkerd;
  if (!l) return undefined;
  return `Linkerd control plane ${l.controlPlaneNamespace}${l.version ? ` ${l.version}` : ''}, cluster default inbound policy ${l.defaultInboundPolicy} (from ${l.defaultFrom})`;
}
