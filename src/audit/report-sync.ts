// Keeping the cluster's PolicyReports (or openreports Reports) equal to the latest audit: one report
// per namespace plus the cluster-scoped one, written only when its content changed (timestamps
// aside), and the reports of namespaces that are gone (or being deleted) removed. Reports meshlock
// wrote before a restart are found by their managed-by label and adopted.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { applyReport, deleteReport, listReports, type ReportObject } from '../kube/reports.js';
import type { AuditReport } from './model.js';

/** A report object as the renderer builds it: the results carry a time that is not content. */
export interface SyncedReport extends ReportObject {
  readonly results: readonly { readonly timestamp?: unknown }[];
}

/** Turns an audit into the report objects the cluster should hold (the PolicyReport renderer). */
export type BuildReports = (report: AuditReport) => readonly SyncedReport[];

export interface ReportSyncResult {
  readonly created: number;
  readonly replaced: number;
  readonly deleted: number;
  readonly unchanged: number;
  readonly errors: string[];
}

function keyOf(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}

/** A digest of what a report says, without the time it was said: an equal digest means no write. */
function contentOf(r: SyncedReport): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...r, results: r.results.map(({ timestamp: _t, ...rest }) => rest) }))
    .digest('base64');
}

export class ReportSync {
  /** Reports in the cluster that meshlock owns, with the digest of the content last written (`''` when adopted unseen). */
  private readonly written = new Map<
    string,
    { ref: { apiVersion: string; kind: string; name: string; namespace?: string }; content: string }
  >();
  private adopted = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly build: BuildReports,
    /** Namespaces this audit owns reports in (all when absent); the cluster-scoped report is always its own. */
    private readonly inScope: (namespace: string) => boolean = () => true,
  ) {}

  private async adopt(kinds: readonly { apiVersion: string; kind: string }[]): Promise<void> {
    for (const { apiVersion, kind } of kinds) {
      const found = await listReports(this.kc, apiVersion, kind, 'app.kubernetes.io/managed-by=meshlock');
      for (const f of found ?? []) {
        if (f.namespace && !this.inScope(f.namespace)) continue;
        const ref = { apiVersion, kind, name: f.name, ...(f.namespace ? { namespace: f.namespace } : {}) };
        const key = keyOf({ kind, metadata: ref });
        if (!this.written.has(key)) this.written.set(key, { ref, content: '' });
      }
    }
    this.adopted = true;
  }

  /**
   * Reports written before that are no longer in the cluster (deleted by hand, or by a tool) are
   * written again by the next sync, whether or not their content changed.
   */
  private async recheck(kinds: readonly { apiVersion: string; kind: string }[]): Promise<void> {
    const present = new Set<string>();
    for (const { apiVersion, kind } of kinds) {
      for (const f of (await listReports(this.kc, apiVersion, kind, 'app.kubernetes.io/managed-by=meshlock')) ?? []) {
        present.add(keyOf({ kind, metadata: { name: f.name, ...(f.namespace ? { namespace: f.namespace } : {}) } }));
      }
    }
    for (const [key, w] of this.written) if (!present.has(key)) w.content = '';
  }

  /** `recheck`: first see which written reports are still there (the periodic run does; a change-driven one does not). */
  async sync(report: AuditReport, opts: { recheck?: boolean } = {}): Promise<ReportSyncResult> {
    const wanted = this.build(report);
    const out = { created: 0, replaced: 0, deleted: 0, unchanged: 0, errors: [] as string[] };
    const kinds = [...new Map(wanted.map((r) => [r.kind, { apiVersion: r.apiVersion, kind: r.kind }])).values()];
    if (!this.adopted) {
      try {
        await this.adopt(kinds);
      } catch (err) {
        out.errors.push(`listing existing reports: ${(err as Error).message}`);
      }
    } else if (opts.recheck) {
      try {
        await this.recheck(kinds);
      } catch (err) {
        out.errors.push(`listing existing reports: ${(err as Error).message}`);
      }
    }
    const keep = new Set<string>();
    for (const r of wanted) {
      const key = keyOf(r);
      keep.add(key);
      const content = contentOf(r);
      if (this.written.get(key)?.content === content) {
        out.unchanged++;
        continue;
      }
      try {
        const outcome = await applyReport(this.kc, r);
        out[outcome]++;
        this.written.set(key, {
          ref: {
            apiVersion: r.apiVersion,
            kind: r.kind,
            name: r.metadata.name,
            ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}),
          },
          content,
        });
      } catch (err) {
        out.errors.push((err as Error).message);
      }
    }
    for (const [key, w] of this.written) {
      if (keep.has(key)) continue;
      try {
        await deleteReport(this.kc, w.ref);
        this.written.delete(key);
        out.deleted++;
      } catch (err) {
        out.errors.push((err as Error).message);
      }
    }
    return out;
  }
}
