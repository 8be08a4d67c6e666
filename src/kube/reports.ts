// Writing PolicyReports (or openreports Reports) to the cluster: create, or replace what is there.
import type { KubeConfig } from '@kubernetes/client-node';
import { collectionPath, KubeApiError, listAll, requestJson } from './list.js';

/** What applyReport needs to know of a report; the rest of the object is sent as it is. */
export interface ReportObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
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
  if (created.status !== 409)
    throw new KubeApiError(
      `creating ${report.kind} ${report.metadata.name}: HTTP ${created.status} ${(created.json as { message?: string } | undefined)?.message ?? ''}`.trim(),
      created.status,
    );
  // It exists: replace it with the current resourceVersion (optimistic concurrency, one retry).
  for (let attempt = 0; attempt < 3; attempt++) {
    const item = `${coll}/${encodeURIComponent(report.metadata.name)}`;
    const current = await requestJson(kc, 'GET', item);
    const rv = (current.json as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
    const put = await requestJson(kc, 'PUT', item, {
      ...report,
      metadata: { ...report.metadata, ...(rv ? { resourceVersion: rv } : {}) },
    });
    if (put.status >= 200 && put.status < 300) return 'replaced';
    if (put.status !== 409)
      throw new KubeApiError(
        `replacing ${report.kind} ${report.metadata.name}: HTTP ${put.status} ${(put.json as { message?: string } | undefined)?.message ?? ''}`.trim(),
        put.status,
      );
  }
  throw new KubeApiError(`replacing ${report.kind} ${report.metadata.name}: conflict after 3 attempts`, 409);
}

/** Deletes a report; one already gone counts as deleted. */
export async function deleteReport(
  kc: KubeConfig,
  ref: { apiVersion: string; kind: string; name: string; namespace?: string },
): Promise<void> {
  const plural = PLURALS[ref.kind];
  if (!plural) throw new KubeApiError(`unknown report kind ${ref.kind}`, 0);
  const item = `${collectionPath(ref.apiVersion, plural, ref.namespace)}/${encodeURIComponent(ref.name)}`;
  const res = await requestJson(kc, 'DELETE', item);
  if ((res.status >= 200 && res.status < 300) || res.status === 404) return;
  throw new KubeApiError(
    `deleting ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}: HTTP ${res.status} ${(res.json as { message?: string } | undefined)?.message ?? ''}`.trim(),
    res.status,
  );
}

/** Reports carrying `labelSelector` in every namespace (name and namespace only); undefined when the report API is not served. */
export async function listReports(
  kc: KubeConfig,
  apiVersion: string,
  kind: string,
  labelSelector: string,
): Promise<{ name: string; namespace?: string }[] | undefined> {
  const plural = PLURALS[kind];
  if (!plural) throw new KubeApiError(`unknown report kind ${kind}`, 0);
  const items = await listAll(kc, { apiVersion, resource: plural, kind, namespaced: false }, { labelSelector });
  if (!items) return undefined;
  return items.map((o) => {
    const m = (o as { metadata?: { name?: string; namespace?: string } }).metadata ?? {};
    return { name: String(m.name ?? ''), ...(m.namespace ? { namespace: m.namespace } : {}) };
  });
}
