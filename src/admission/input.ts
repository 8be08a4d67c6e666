// From an admission request to the engine's input. The engine decides; this only translates.
import { engineInput, type EngineInput } from '../policy/index.js';
import type { AdmissionRequest } from './schema.js';

export function inputFromRequest(req: AdmissionRequest): EngineInput {
  return engineInput({
    operation: req.operation,
    kind: req.kind.kind,
    group: req.kind.group,
    ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
    ...(req.name !== undefined ? { name: req.name } : {}),
    object: req.object ?? null,
    ...(req.oldObject !== undefined && req.oldObject !== null ? { oldObject: req.oldObject } : {}),
  });
}
