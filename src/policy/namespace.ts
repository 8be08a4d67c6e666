// Namespace: enrolment in the mesh (sidecar injection, a revision, or ambient mode).
import { addLabelOps } from './patch.js';
import { field, show, stringMap } from './object.js';
import { ENROLMENT_LABELS, LABEL_DATAPLANE, LABEL_INJECTION, LABEL_REV, namespaceEnrolment } from './istio/index.js';
import type { EngineContext, EngineInput, PatchOp, Violation } from './types.js';

function enrolFix(ctx: EngineContext): string {
  const c = ctx.config;
  if (c.dataplane === 'ambient') return `label the namespace ${LABEL_DATAPLANE}=ambient`;
  if (c.revision) return `label the namespace ${LABEL_REV}=${c.revision}`;
  return `label the namespace ${LABEL_INJECTION}=enabled`;
}

/**
 * Enrolment rules of a Namespace object. The engine passes `inScope` false for a system namespace
 * (POLICY.md's scope): it is never required to be enrolled; unreadable labels and conflicting labels
 * are still reported there.
 */
export function checkNamespace(input: EngineInput, ctx: EngineContext, inScope: boolean): Violation[] {
  if (input.operation === 'DELETE') return [];
  const labels = stringMap(field(input.object, 'metadata'), 'labels');
  if (!labels.ok) {
    return [
      {
        rule: 'ns-injection-missing',
        severity: 'error',
        path: '/metadata/labels',
        message: 'metadata.labels is not a map, so enrolment cannot be read',
        fix: enrolFix(ctx),
      },
    ];
  }
  const l = labels.values;
  const out: Violation[] = [];
  const enrolment = namespaceEnrolment(l);
  if (inScope && !enrolment.enrolled) {
    const optOut = ENROLMENT_LABELS.filter((k) => l.has(k));
    if (optOut.length > 0) {
      out.push({
        rule: 'ns-injection-disabled',
        severity: 'error',
        path: `/metadata/labels`,
        message: `${optOut.map((k) => `${k}=${show(l.get(k))}`).join(', ')} enrols the namespace in no mesh dataplane`,
        fix: `${enrolFix(ctx)} (or ask the platform team for an exemption)`,
      });
    } else {
      out.push({
        rule: 'ns-injection-missing',
        severity: 'error',
        path: '/metadata/labels',
        message: 'the namespace carries no injection label, so its pods would run outside the mesh',
        fix: enrolFix(ctx),
      });
    }
  }
  if (l.get(LABEL_INJECTION) === 'enabled' && enrolment.revisionIgnored !== undefined) {
    out.push({
      rule: 'ns-injection-conflict',
      severity: 'warning',
      path: '/metadata/labels',
      message: `${LABEL_INJECTION}=enabled and ${LABEL_REV} are both set: Istio uses the default revision and ignores ${LABEL_REV}`,
      fix: `keep only one of ${LABEL_INJECTION} and ${LABEL_REV}`,
    });
  } else if (enrolment.sidecarRevision !== undefined && enrolment.ambient) {
    out.push({
      rule: 'ns-injection-conflict',
      severity: 'warning',
      path: '/metadata/labels',
      message: `a sidecar label and ${LABEL_DATAPLANE}=ambient are both set: pods get sidecars and ambient mode is unused`,
      fix: `keep either the sidecar label or ${LABEL_DATAPLANE}=ambient`,
    });
  }
  return out;
}

/** ns-injection-label: only when none of the three labels is present; an opt-out is never overwritten. */
export function mutateNamespace(input: EngineInput, ctx: EngineContext): PatchOp[] {
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const meta = field(input.object, 'metadata');
  const labels = stringMap(meta, 'labels');
  if (!labels.ok) return [];
  if (ENROLMENT_LABELS.some((k) => labels.values.has(k))) return [];
  const c = ctx.config;
  if (c.dataplane === 'ambient') return addLabelOps('/metadata', meta, LABEL_DATAPLANE, 'ambient');
  if (c.revision) return addLabelOps('/metadata', meta, LABEL_REV, c.revision);
  return addLabelOps('/metadata', meta, LABEL_INJECTION, 'enabled');
}
