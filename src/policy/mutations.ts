// The mutations of pods and pod templates (POLICY.md "Mutations"): when they apply at all, so that
// meshlock never surprises a cluster. Pods are mutated on CREATE only (a label added to a running
// pod changes nothing Istio does, and an UPDATE of a terminating pod must never be patched); pod
// templates on CREATE, and on UPDATE only when the template itself changed, so a `kubectl scale` or
// a status-only change never starts a rollout. Ambient workloads are left alone: Istio's
// object-selector injector webhook answers `sidecar.istio.io/inject: "true"` with a sidecar, which
// would silently turn an ambient workload into a sidecar one.
import { addAnnotationOps, addLabelOps } from './patch.js';
import { field, isObj, stringMap } from './object.js';
import { controllerOf } from './owner.js';
import { at, deepEqual } from './ratchet.js';
import { ANNOTATION_NATIVE_SIDECAR, LABEL_POD_INJECT, labelledAmbient, namespaceEnrolment } from './istio/index.js';
import type { Template } from './pod.js';
import type { EngineContext, EngineInput, MutationId, PatchOp } from './types.js';

/** Whether the event may be mutated at all: pods on CREATE, templates on CREATE or a template-changing UPDATE. */
export function mutableEvent(input: EngineInput, t: Template): boolean {
  if (input.operation === 'CREATE') return true;
  if (input.operation !== 'UPDATE' || !t.isTemplate) return false;
  // The apiserver always sends oldObject on UPDATE; without it, meshlock cannot tell and mutates.
  if (!isObj(input.oldObject)) return true;
  return !deepEqual(at(input.oldObject, t.base), at(input.object, t.base));
}

/**
 * Ambient: the namespace is labelled `istio.io/dataplane-mode=ambient` (known offline only: the
 * webhook's namespaceSelector leaves those namespaces out), or the pod (template) or the workload
 * itself carries that label.
 */
export function isAmbient(input: EngineInput, t: Template): boolean {
  if (input.namespaceLabels !== undefined && namespaceEnrolment(input.namespaceLabels).ambient) return true;
  if (labelledAmbient(stringMap(t.meta, 'labels').values)) return true;
  return t.isTemplate && labelledAmbient(stringMap(field(input.object, 'metadata'), 'labels').values);
}

/** A Job or CronJob template, or a pod whose controller is a Job. */
export function isJobLike(input: EngineInput): boolean {
  if (input.group === 'batch' && (input.kind === 'Job' || input.kind === 'CronJob')) return true;
  if (input.group !== '' || input.kind !== 'Pod') return false;
  const owner = controllerOf(input.object);
  return owner !== undefined && owner.kind === 'Job' && owner.apiVersion.startsWith('batch/');
}

/**
 * The patch operations each workload mutation wants, in order, computed against the object as the
 * earlier ones leave it (the caller applies them in turn). Called only in sidecar mode, in scope.
 */
export function workloadMutations(
  input: EngineInput,
  ctx: EngineContext,
  t: Template,
): { id: MutationId; ops: (meta: unknown) => PatchOp[] }[] {
  if (ctx.config.dataplane !== 'sidecar' || !mutableEvent(input, t) || isAmbient(input, t)) return [];
  if (t.meta !== undefined && !isObj(t.meta)) return [];
  const out: { id: MutationId; ops: (meta: unknown) => PatchOp[] }[] = [
    {
      id: 'pod-injection-label',
      ops: (meta) => {
        const labels = stringMap(meta, 'labels');
        return !labels.ok || labels.values.has(LABEL_POD_INJECT)
          ? []
          : addLabelOps(`${t.base}/metadata`, meta, LABEL_POD_INJECT, 'true');
      },
    },
  ];
  // A classic sidecar keeps a Job's pod running after its containers exit, so the Job never
  // completes; as a Kubernetes native sidecar (an init container with restartPolicy Always) the
  // proxy stops with them. Istio's injector reads the annotation per pod, over its global setting
  // (pkg/kube/inject/inject.go, RunTemplate).
  if (ctx.config.nativeSidecarForJobs && isJobLike(input)) {
    out.push({
      id: 'job-native-sidecar',
      ops: (meta) => {
        const ann = stringMap(meta, 'annotations');
        return !ann.ok || ann.values.has(ANNOTATION_NATIVE_SIDECAR)
          ? []
          : addAnnotationOps(`${t.base}/metadata`, meta, ANNOTATION_NATIVE_SIDECAR, 'true');
      },
    });
  }
  return out;
}
