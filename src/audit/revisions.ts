// Which Istio revisions have a control plane: istiod Deployments or pods in the root namespace
// (label istio.io/rev, "default" when absent), the per-revision sidecar injector webhook
// configurations (istio-sidecar-injector-<rev>, labelled istio.io/rev), and revision tags
// (istio-revision-tag-<tag>, labelled istio.io/tag), which a namespace may name like a revision.
import { LABEL_REV } from '../policy/index.js';
import { labelsOf, nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';

export interface ServedRevisions {
  readonly all: ReadonlySet<string>;
  /** Where each revision was seen, for the report. */
  readonly evidence: ReadonlyMap<string, string>;
}

function isIstiod(o: KObj): boolean {
  const l = labelsOf(o);
  return l['app'] === 'istiod' || l['istio'] === 'pilot' || nameOf(o).startsWith('istiod');
}

export function servedRevisions(inv: Inventory, rootNamespace: string): ServedRevisions {
  const evidence = new Map<string, string>();
  const add = (rev: string, why: string): void => {
    if (rev && !evidence.has(rev)) evidence.set(rev, why);
  };
  const deployments = inv.controllers.filter((c) => c.kind === 'Deployment');
  for (const o of [...deployments, ...inv.pods]) {
    if (namespaceOf(o) !== rootNamespace || !isIstiod(o)) continue;
    add(labelsOf(o)[LABEL_REV] ?? 'default', `${String(o.kind)} ${rootNamespace}/${nameOf(o)}`);
  }
  for (const w of inv.mutatingWebhooks) {
    const l = labelsOf(w);
    const name = nameOf(w);
    if (name.startsWith('istio-revision-tag-') && l['istio.io/tag'])
      add(l['istio.io/tag'], `MutatingWebhookConfiguration ${name}`);
    else if (name.startsWith('istio-sidecar-injector'))
      add(l[LABEL_REV] ?? 'default', `MutatingWebhookConfiguration ${name}`);
  }
  return { all: new Set(evidence.keys()), evidence };
}
