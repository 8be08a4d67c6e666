// Building an engine input from a bare object (offline `check` and `audit`), the way the apiserver
// would fill an AdmissionReview for a CREATE of it.
import { field } from './object.js';
import type { EngineInput, Operation } from './types.js';

export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * `defaultNamespace` stands for the namespace kubectl would use when the manifest names none.
 * Pods made by controllers have only `generateName` at admission; it stands in for the name.
 */
export function inputFromObject(object: unknown, defaultNamespace = 'default', operation: Operation = 'CREATE'): EngineInput {
  const meta = field(object, 'metadata');
  const kind = field(object, 'kind');
  const name = field(meta, 'name') ?? field(meta, 'generateName');
  const ns = field(meta, 'namespace');
  const k = typeof kind === 'string' ? kind : '';
  const nameText = typeof name === 'string' ? name : '';
  return {
    operation,
    kind: k,
    group: groupOf(field(object, 'apiVersion')),
    namespace: k === 'Namespace' ? nameText : typeof ns === 'string' && ns !== '' ? ns : defaultNamespace,
    name: nameText,
    object,
  };
}
