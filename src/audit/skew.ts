// Data-plane version skew: for every meshed pod, the version of its proxy against the control plane
// that serves the proxy's revision. A proxy more than one minor version behind its control plane
// (or ahead of it, which Istio never supports) is a warning; a proxy whose revision no control plane
// serves gets no configuration and no certificate renewal, which ends its mTLS: an error. How Istio
// writes versions and revisions on objects is policy/istio's (versions.ts). Pure.
import type { ResolvedConfig } from '../config/index.js';
import {
  istiodVersion,
  minorsBehind,
  imageVersion,
  proxyImage,
  proxyRevision,
  type IstioVersion,
} from '../policy/istio/index.js';
import { controlsFor } from '../policy/controls.js';
import { labelsOf, nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import type { ReportFinding } from './model.js';
import { servedRevisions } from './revisions.js';
import { indexControllers, refKey, workloadOf, type WorkloadRef } from './workloads.js';

type Version = IstioVersion;

function isIstiod(o: KObj): boolean {
  const l = labelsOf(o);
  return l['app'] === 'istiod' || l['istio'] === 'pilot' || nameOf(o).startsWith('istiod');
}

/** Control-plane version per revision, from istiod Deployments (or pods) in the root namespace; revision tags point at their revision's. */
export function controlPlaneVersions(inv: Inventory, rootNamespace: string): Map<string, Version> {
  const out = new Map<string, Version>();
  const deployments = inv.controllers.filter((c) => c.kind === 'Deployment');
  for (const o of [...deployments, ...inv.pods]) {
    if (namespaceOf(o) !== rootNamespace || !isIstiod(o)) continue;
    const rev = labelsOf(o)['istio.io/rev'] ?? 'default';
    if (out.has(rev)) continue;
    const v = istiodVersion(o.kind === 'Pod' ? o.spec : (o.spec?.['template'] as KObj | undefined)?.spec);
    if (v) out.set(rev, v);
  }
  for (const w of inv.mutatingWebhooks) {
    const l = labelsOf(w);
    const tag = l['istio.io/tag'];
    const rev = l['istio.io/rev'];
    if (tag && rev && !out.has(tag) && out.has(rev)) out.set(tag, out.get(rev) as Version);
  }
  return out;
}

interface Acc {
  ref: WorkloadRef;
  pods: number;
  oldest?: { version: Version; image: string };
  newest?: { version: Version; image: string };
  revision: string;
}

const cmp = (a: Version, b: Version): number => a.major - b.major || a.minor - b.minor;

/** One finding per workload whose proxies are skewed from, or orphaned by, their control plane. */
export function versionSkewFindings(
  inv: Inventory,
  config: ResolvedConfig,
  inScope: (ns: string) => boolean = () => true,
): ReportFinding[] {
  const served = servedRevisions(inv, config.rootNamespace).all;
  // Without any control plane in the input (a dump of one namespace) there is nothing to compare with.
  if (served.size === 0) return [];
  const versions = controlPlaneVersions(inv, config.rootNamespace);
  const controllers = indexControllers(inv.controllers);
  const unserved = new Map<string, Acc>();
  const skewed = new Map<string, Acc>();
  for (const pod of inv.pods) {
    const ns = namespaceOf(pod);
    if (!inScope(ns) || config.systemNamespaces.has(ns)) continue;
    const phase = pod.status?.['phase'];
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const image = proxyImage(pod.spec);
    if (image === undefined) continue;
    const revision = proxyRevision(pod.metadata?.annotations, labelsOf(pod));
    const ref = workloadOf(pod, controllers);
    const key = `${refKey(ref)}\u0000${revision}`;
    if (!served.has(revision)) {
      const acc = unserved.get(key) ?? { ref, pods: 0, revision };
      acc.pods++;
      unserved.set(key, acc);
      continue;
    }
    const cp = versions.get(revision);
    const v = imageVersion(image);
    if (!cp || !v) continue;
    const behind = minorsBehind(cp, v);
    if (behind <= 1 && behind >= 0) continue;
    const acc = skewed.get(key) ?? { ref, pods: 0, revision };
    acc.pods++;
    if (!acc.oldest || cmp(v, acc.oldest.version) < 0) acc.oldest = { version: v, image };
    if (!acc.newest || cmp(v, acc.newest.version) > 0) acc.newest = { version: v, image };
    skewed.set(key, acc);
  }
  const findings: ReportFinding[] = [];
  const pods = (n: number): string => `${n} pod${n === 1 ? '' : 's'}`;
  for (const a of unserved.values()) {
    findings.push({
      rule: 'dataplane-revision-unserved',
      severity: 'error',
      mode: 'audit',
      namespace: a.ref.namespace,
      kind: a.ref.kind,
      name: a.ref.name,
      message: `${pods(a.pods)} run a proxy of revision ${a.revision}, which no control plane serves (served: ${[...served].sort().join(', ')}): they get no configuration and their certificates are not renewed`,
      fix: `restart the pods so they are injected by a served revision, or install revision ${a.revision}`,
      controls: controlsFor('dataplane-revision-unserved'),
    });
  }
  for (const a of skewed.values()) {
    const cp = versions.get(a.revision) as Version;
    const ahead = a.newest && cmp(a.newest.version, cp) > 0;
    const v = (ahead ? a.newest : a.oldest) as { version: Version; image: string };
    findings.push({
      rule: 'dataplane-version-skew',
      severity: 'warning',
      mode: 'audit',
      namespace: a.ref.namespace,
      kind: a.ref.kind,
      name: a.ref.name,
      message: ahead
        ? `${pods(a.pods)} run proxy ${v.version.text} (${v.image}), newer than control plane ${cp.text} of revision ${a.revision}: a data plane ahead of its control plane is not supported`
        : `${pods(a.pods)} run proxy ${v.version.text} (${v.image}), more than one minor version behind control plane ${cp.text} of revision ${a.revision}`,
      fix: 'restart the pods to inject the current proxy (kubectl rollout restart)',
      controls: controlsFor('dataplane-version-skew'),
    });
  }
  return findings.sort(
    (x, y) => x.namespace.localeCompare(y.namespace) || x.name.localeCompare(y.name) || x.rule.localeCompare(y.rule),
  );
}
