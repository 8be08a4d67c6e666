// Writing PolicyReports (or openreports Reports) to the cluster: create, or replace what is there.
import type { KubeConfig } from '@kubernetes/client-node';
import { collectionPath, KubeApiError, requestJson } from './list.js';

export interface ReportObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

const PLURALS: Record<string, string> = {
  PolicyReport: 'policyreports',
  ClusterPolicyReport: 'clusterpolicyreports',
  Report: 'reports',
  ClusterReport: 'clusterreports',
};

export type ApplyOutcome = 'created' | 'replaced';

export async function applyReport(kc: KubeConfig, report: ReportObject): Promise<ApplyOutcome> {
  const plural = PLURALS[report.kind];
  if (!plural) throw new KubeApiError(`unknown report kind ${report.kind}`, 0);
  const coll = collectionPath(report.apiVersion, plural, report.metadata.namespace);
  const created = await requestJson(kc, 'POST', coll, report);
  if (created.status >= 200 && created.status < 300) return 'created';
  if (created.status !== 409) throw new KubeApiError(`creating ${report.kind} ${report.metadata.name}: HTTP ${created.status} ${(created.json as { message?: string } | undefined)?.message ?? ''}`.trim(), created.status);
  // It exists: replace it with the current resourceVersion (optimistic concurrency, one retry).
  for (let attempt = 0; attempt < 3; attempt++) {
    const item = `${coll}/${encodeURIComponent(report.metadata.name)}`;
    const current = await requestJson(kc, 'GET', item);
    const rv = (current.json as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
    const put = await requestJson(kc, 'PUT', item, { ...report, metadata: { ...report.metadata, ...(rv ? { resourceVersion: rv } : {}) } });
    if (put.status >= 200 && put.status < 300) return 'replaced';
    if (put.status !== 409) throw new KubeApiError(`replacing ${report.kind} ${report.metadata.name}: HTTP ${put.status} ${(put.json as { message?: string } | undefined)?.message ?? ''}`.trim(), put.status);
  }
  throw new KubeApiError(`replacing ${report.kind} ${report.metadata.name}: conflict after 3 attempts`, 409);
}
