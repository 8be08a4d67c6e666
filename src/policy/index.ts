export * from './types.js';
export { validate, mutate, judge, violationsOf, familyOf, type Family } from './engine.js';
export { engineInput, inputFromObject, groupOf, type InputParts } from './input.js';
export { applyPatch, PatchError } from './patch.js';
export { isSystemNamespace } from './scope.js';
export { edgePortsFor, edgePermittingPermissive } from './edges.js';
export * from './istio/index.js';
export { POD_TEMPLATE_PATHS, locateTemplate } from './pod.js';
export { denialMessage, warningText, violationLine, WARNING_MAX } from './messages.js';
export * as linkerd from './linkerd/index.js';
export {
  CONTROLS,
  RULE_CONTROLS,
  AUDIT_CHECK_IDS,
  controlsFor,
  controlEntries,
  mappedIds,
  type Control,
  type ControlId,
  type AuditCheckId,
} from './controls.js';
