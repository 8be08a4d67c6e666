// Linkerd 2 mutations (docs/POLICY-LINKERD.md (c)): the annotations that put a namespace and its
// pods in the mesh. Each entry computes its operations against the object as the earlier entries
// leave it, so two of them never both add the same missing annotations map.
import { isJobLike, mutableEvent } from './mutations.js';
import { field, isObj, stringMap } from './object.js';
import { addAnnotationOps } from './patch.js';
import type { Template } from './pod.js';
import { A, INJECT, INJECT_ENABLED } from './linkerd/index.js';
import type { EngineContext, EngineInput, MutationId, PatchOp } from './types.js';

export interface PlannedMutation {
  readonly id: MutationId;
  readonly ops: (meta: unknown) => PatchOp[];
}

function addIfAbsent(
  metaPath: string,
  key: string,
  value: string,
  also: readonly string[] = [],
): (meta: unknown) => PatchOp[] {
  return (meta) => {
    const ann = stringMap(meta, 'annotations');
    if (!ann.ok || ann.values.has(key) || also.some((k) => ann.values.has(k))) return [];
    return addAnnotationOps(metaPath, meta, key, value);
  };
}

/** ld-ns-inject-annotation, then ld-ns-default-policy: only what is absent; an opt-out is never overwritten. */
export function linkerdNamespaceMutations(input: EngineInput, ctx: EngineContext): PlannedMutation[] {
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  if (!stringMap(field(input.object, 'metadata'), 'annotations').ok) return [];
  return [
    { id: 'ld-ns-inject-annotation', ops: addIfAbsent('/metadata', INJECT, INJECT_ENABLED) },
    {
      id: 'ld-ns-default-policy',
      ops: addIfAbsent('/metadata', A.defaultInboundPolicy, ctx.config.linkerd.namespaceDefaultInboundPolicy),
    },
  ];
}

/**
 * ld-pod-inject-annotation, then ld-job-native-sidecar. A Job's proxy as a classic sidecar keeps the
 * pod running after its containers exit; the alpha key is honoured from 2.15 to today and is in the
 * injector's namespace-inheritance list (pkg/inject/inject.go ProxyAlphaConfigAnnotations).
 */
export function linkerdWorkloadMutations(input: EngineInput, ctx: EngineContext, t: Template): PlannedMutation[] {
  if (!mutableEvent(input, t)) return [];
  if (t.meta !== undefined && !isObj(t.meta)) return [];
  const meta = `${t.base}/metadata`;
  const out: PlannedMutation[] = [{ id: 'ld-pod-inject-annotation', ops: addIfAbsent(meta, INJECT, INJECT_ENABLED) }];
  if (ctx.config.nativeSidecarForJobs && isJobLike(input)) {
    out.push({
      id: 'ld-job-native-sidecar',
      ops: addIfAbsent(meta, A.nativeSidecarAlpha, 'true', [A.nativeSidecar, A.nativeSidecarBeta]),
    });
  }
  return out;
}
