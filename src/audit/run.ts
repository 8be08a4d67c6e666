// One audit from start to report: the objects from a dump (-f) or the live cluster, meshlock's
// webhook configurations as deploy/ installs them (--deploy), and the report. The CLI parses flags,
// calls auditOnce and renders what it returns; what cannot be audited is an AuditInputError (exit 2).
import { readFileSync, statSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ResolvedConfig } from '../config/index.js';
import { renderKustomization } from '../manifests/kustomize.js';
import { parseManifestText, skipNotes, type SourceSet } from '../manifests/sources.js';
import { collectFromCluster, collectFromFiles, type Collected } from './collect.js';
import { evaluateInventory } from './evaluate.js';
import type { InstallExpectations } from './install.js';
import type { KObj } from './inventory.js';
import type { AuditReport } from './model.js';
import { MeshlockError } from '../errors.js';

/** Nothing to audit, no cluster, or an unreadable --deploy: a usage error, not a finding. */
export class AuditInputError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_AUDIT_INPUT', message);
  }
}

/** Webhook configurations as deploy/ installs them: a rendered YAML file, or a kustomize folder rendered with kubectl. */
export function loadExpectations(path: string): InstallExpectations {
  const set: SourceSet = { objects: [], errors: [], files: [] };
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new AuditInputError(`--deploy: ${(err as Error).message}`);
  }
  if (stat.isDirectory()) {
    const rendered = renderKustomization(path);
    if (rendered === undefined) throw new AuditInputError(`--deploy: ${path} is a folder without a kustomization file`);
    if ('skip' in rendered)
      throw new AuditInputError(
        `--deploy: ${path}: kubectl is not on PATH to render it (or pass a file: kubectl kustomize ${path} > rendered.yaml)`,
      );
    if ('error' in rendered) throw new AuditInputError(`--deploy: ${path}: ${rendered.error}`);
    parseManifestText(rendered.file, rendered.text, set);
  } else {
    parseManifestText(path, readFileSync(path, 'utf8'), set);
  }
  if (set.errors.length > 0)
    throw new AuditInputError(`--deploy: ${set.errors[0]?.file}:${set.errors[0]?.line}: ${set.errors[0]?.message}`);
  const objs = set.objects.map((o) => o.object as KObj);
  return {
    mutating: objs.filter((o) => o.kind === 'MutatingWebhookConfiguration'),
    validating: objs.filter((o) => o.kind === 'ValidatingWebhookConfiguration'),
  };
}

export interface AuditOnceOptions {
  readonly config: ResolvedConfig;
  readonly now: Date;
  /** Only these namespaces; all when empty. */
  readonly namespaces: readonly string[];
  /** A dump to read (kubectl get ... -o yaml); when absent, `kc`'s cluster is read. */
  readonly files?: readonly string[];
  readonly kc?: KubeConfig;
  /** deploy/ (folder or rendered file) to compare the installed webhook configurations with. */
  readonly deploy?: string;
  /** Objects listed so far, by resource type (a progress bar). */
  readonly progress?: (what: string, n: number) => void;
  /** A line for the user about the input (an unreadable document, a file that is not Kubernetes YAML). */
  readonly note?: (line: string) => void;
}

/** Reads the input and audits it; throws AuditInputError when there is nothing to audit. */
export async function auditOnce(o: AuditOnceOptions): Promise<AuditReport> {
  const note = o.note ?? (() => undefined);
  const namespaces = o.namespaces;
  let collected: Collected;
  let source: AuditReport['source'];
  let notes: string[] = [];
  if (o.files && o.files.length > 0) {
    collected = collectFromFiles(o.files, namespaces[0] ?? 'default');
    source = { type: 'file', name: o.files.join(', '), ...(namespaces.length ? { namespaces } : {}) };
    for (const e of collected.errors) note(`${e.file}:${e.line}: ${e.message}`);
    for (const line of skipNotes(collected.skipped ?? [])) note(line);
    if (collected.errors.length > 0 && collected.inventory.namespaces.length + collected.inventory.pods.length === 0) {
      throw new AuditInputError(`nothing readable to audit in ${o.files.join(', ')}`);
    }
    if (collected.objects === 0)
      throw new AuditInputError(
        `no Kubernetes objects in ${o.files.join(', ')}: nothing to audit (a dump is kubectl get ... -A -o yaml)`,
      );
  } else {
    if (!o.kc) throw new AuditInputError('no cluster: pass -f FILE or a kubeconfig');
    try {
      collected = await collectFromCluster(o.kc, o.config, {
        namespaces: [...namespaces],
        ...(o.progress ? { progress: o.progress } : {}),
      });
    } catch (err) {
      throw new AuditInputError((err as Error).message);
    }
    source = {
      type: 'cluster',
      name: `${o.kc.getCurrentContext()} (${o.kc.getCurrentCluster()?.server ?? '?'})`,
      ...(namespaces.length ? { namespaces } : {}),
    };
    notes = [
      ...collected.errors.map((e) => `${e.file}: ${e.message}`),
      ...collected.missing.map((m) => `${m}: not served by this cluster (Istio CRDs not installed?)`),
    ];
  }
  const expected = o.deploy && o.kc ? loadExpectations(o.deploy) : {};
  return evaluateInventory(collected.inventory, o.config, o.now, {
    source,
    ...(namespaces.length ? { namespaces } : {}),
    live: o.kc !== undefined && !(o.files && o.files.length > 0),
    ...(o.kc && !(o.files && o.files.length > 0)
      ? { cluster: { context: o.kc.getCurrentContext(), server: o.kc.getCurrentCluster()?.server ?? '' } }
      : {}),
    expectations: expected,
    notes,
    ...(collected.locations ? { locations: collected.locations } : {}),
  });
}
