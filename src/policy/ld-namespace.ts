// Linkerd 2: namespaces (docs/POLICY-LINKERD.md (b), (c)). Linkerd enrols a namespace by ANNOTATION.
import { field, show, stringMap } from './object.js';
import { checkLinkerdAnnotations } from './ld-pod.js';
import { ADMISSION_WEBHOOKS, INJECT, INJECT_ENABLED, namespaceEnrolled } from './linkerd/index.js';
import type { EngineContext, EngineInput, Violation } from './types.js';

const NO_PORTS: readonly number[] = [];
const NO_EDGE: ReadonlySet<number> = new Set();

export function checkLinkerdNamespace(input: EngineInput, _ctx: EngineContext, inScope: boolean): Violation[] {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT' || !inScope) return [];
  const meta = field(input.object, 'metadata');
  const annMap = stringMap(meta, 'annotations');
  const labelMap = stringMap(meta, 'labels');
  if (!annMap.ok || !labelMap.ok) {
    return [
      {
        rule: 'ld-ns-inject-missing',
        severity: 'error',
        path: '/metadata',
        message: 'labels or annotations are not a map, so enrolment cannot be read',
        fix: `annotate the namespace ${INJECT}=${INJECT_ENABLED}`,
      },
    ];
  }
  const ann = new Map<string, string>();
  for (const [k, v] of annMap.values) if (typeof v === 'string') ann.set(k, v);
  const out: Violation[] = [];
  if (!namespaceEnrolled(ann)) {
    if (annMap.values.has(INJECT)) {
      out.push({
        rule: 'ld-ns-inject',
        severity: 'error',
        path: '/metadata/annotations',
        message: `annotation ${INJECT}=${show(annMap.values.get(INJECT))} leaves the namespace's pods out of the mesh unless each opts in`,
        fix: `annotate the namespace ${INJECT}=${INJECT_ENABLED} (or ask the platform team for an exemption)`,
      });
    } else {
      out.push({
        rule: 'ld-ns-inject-missing',
        severity: 'error',
        path: '/metadata/annotations',
        message: `the namespace has no ${INJECT} annotation, so its pods would run outside the mesh`,
        fix: `annotate the namespace ${INJECT}=${INJECT_ENABLED}`,
      });
    }
  }
  if (labelMap.values.get(ADMISSION_WEBHOOKS) === 'disabled') {
    out.push({
      rule: 'ld-ns-webhooks-off',
      severity: 'error',
      path: '/metadata/labels',
      message: `label ${ADMISSION_WEBHOOKS}=disabled keeps Linkerd's injector away from every pod of the namespace`,
      fix: `remove the ${ADMISSION_WEBHOOKS} label`,
    });
  }
  // A namespace's config annotations reach every pod injected later; an edge cannot be told apart
  // per workload here, so the namespace gets none.
  checkLinkerdAnnotations(ann, '/metadata', NO_PORTS, NO_EDGE, out);
  return out;
}
