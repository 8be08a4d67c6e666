// The controller owner reference of an object: how a pod names the workload that made it.
import { field, isObj } from './object.js';

export interface ControllerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

/**
 * The ownerReference with `controller: true` (Kubernetes allows at most one). Only the controller
 * counts: other owners (a garbage-collection parent, an operator's bookkeeping) did not make the pod.
 */
export function controllerOf(object: unknown): ControllerRef | undefined {
  const refs = field(field(object, 'metadata'), 'ownerReferences');
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    if (!isObj(r) || r['controller'] !== true) continue;
    const { apiVersion, kind, name } = r;
    if (typeof kind !== 'string' || typeof name !== 'string' || name === '') return undefined;
    return { apiVersion: typeof apiVersion === 'string' ? apiVersion : '', kind, name };
  }
  return undefined;
}
