// From an admission request to the engine's input. The engine decides; this only translates.
import type { EngineInput } from '../policy/index.js';
import type { AdmissionRequest } from './schema.js';

function metaString(obj: unknown, key: string): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const meta = (obj as Record<string, unknown>)['metadata'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const v = (meta as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function inputFromRequest(req: AdmissionRequest): EngineInput {
  const object = req.object ?? null;
  const oldObject = req.oldObject ?? undefined;
  // request.name is empty on CREATE of an object that only has generateName (pods of a ReplicaSet):
  // the generateName prefix is the best name there is, and exemptions globs such as "web-*" match it.
  const name =
    (req.name !== undefined && req.name !== '' ? req.name : undefined) ??
    metaString(object, 'name') ??
    metaString(oldObject, 'name') ??
    metaString(object, 'generateName') ??
    '';
  // A Namespace is cluster-scoped (request.namespace is empty); the namespace it decides about is itself.
  const isNamespace = req.kind.group === '' && req.kind.kind === 'Namespace';
  const namespace = isNamespace ? name : (req.namespace !== undefined && req.namespace !== '' ? req.namespace : metaString(object, 'namespace') ?? metaString(oldObject, 'namespace') ?? '');
  return {
    operation: req.operation,
    kind: req.kind.kind,
    group: req.kind.group,
    namespace,
    name,
    object,
    ...(oldObject !== undefined && oldObject !== null ? { oldObject } : {}),
  };
}
