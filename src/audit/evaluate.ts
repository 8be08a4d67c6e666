// One audit of an inventory, whatever it came from: the installation checks (live cluster only),
// data-plane version skew, then the report. The one-shot command and the watching audit both call it.
import type { ResolvedConfig } from '../config/index.js';
import { buildReport } from './build.js';
import { checkInstallation, type InstallExpectations } from './install.js';
import type { Inventory } from './inventory.js';
import type { AuditReport } from './model.js';
import { versionSkewFindings } from './skew.js';

export interface EvaluateOptions {
  readonly source: AuditReport['source'];
  /** The cluster audited: kubeconfig context and API server. */
  readonly cluster?: { readonly context?: string; readonly server?: string };
  readonly namespaces?: readonly string[];
  /** Check meshlock's own installation (a live cluster: the webhook configurations are in the inventory). */
  readonly live: boolean;
  readonly expectations?: InstallExpectations;
  /** Notes about the collection itself (forbidden or missing types), shown with the installation checks. */
  readonly notes?: readonly string[];
  readonly locations?: ReadonlyMap<unknown, { file: string; line: number }>;
}

export function evaluateInventory(
  inv: Inventory,
  config: ResolvedConfig,
  now: Date,
  opts: EvaluateOptions,
): AuditReport {
  const scope = opts.namespaces && opts.namespaces.length > 0 ? new Set(opts.namespaces) : undefined;
  const extra = versionSkewFindings(inv, config, scope ? (ns) => scope.has(ns) : undefined);
  let installation: AuditReport['installation'];
  if (opts.live) {
    const inst = checkInstallation(inv, config, now, opts.expectations ?? {});
    extra.unshift(...inst.findings);
    installation = { checked: true, notes: [...inst.notes, ...(opts.notes ?? [])] };
  }
  return buildReport(
    inv,
    { config, now },
    {
      source: opts.source,
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
      ...(scope ? { namespaces: [...scope] } : {}),
      extraFindings: extra,
      ...(installation ? { installation } : {}),
      ...(opts.locations ? { locations: opts.locations } : {}),
    },
  );
}
