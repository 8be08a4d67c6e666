// From an engine decision to an AdmissionResponse: status, warnings, auditAnnotations, JSON Patch.
import type { MutationResult, ValidationResult } from '../policy/index.js';
import type { AdmissionResponse } from './schema.js';

// The apiserver prefixes each key with "<webhook name>/" and requires a qualified name, so keys stay
// short lowercase words; values are comma-separated rule ids.
export const AUDIT_KEYS = Object.freeze({
  decision: 'decision',
  violations: 'violations',
  mode: 'mode',
  exempted: 'exempted',
  preExisting: 'preexisting',
  mutations: 'mutations',
});

function modes(items: readonly { rule?: string; id?: string; mode: string }[]): string {
  return items.map((i) => `${i.rule ?? i.id ?? ''}=${i.mode}`).join(',');
}

export type ValidateDecision = 'allowed' | 'warned' | 'denied';

export function validateDecision(result: ValidationResult): ValidateDecision {
  if (!result.allowed) return 'denied';
  return result.warnings.length > 0 ? 'warned' : 'allowed';
}

export function validateResponse(uid: string, result: ValidationResult): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: result.allowed };
  if (!result.allowed) {
    response.status = { code: 403, reason: 'Forbidden', message: result.message ?? 'meshlock denied the request' };
  }
  if (result.warnings.length > 0) response.warnings = [...result.warnings];
  if (result.findings.length > 0 || result.exempted.length > 0) {
    const a: Record<string, string> = { [AUDIT_KEYS.decision]: validateDecision(result) };
    if (result.findings.length > 0) {
      a[AUDIT_KEYS.violations] = result.findings.map((f) => f.rule).join(',');
      a[AUDIT_KEYS.mode] = modes(result.findings);
      const kept = result.findings.filter((f) => f.preExisting === true);
      // Violations an UPDATE kept from oldObject (ratcheting): allowed, but the cluster's audit log keeps them.
      if (kept.length > 0) a[AUDIT_KEYS.preExisting] = kept.map((f) => f.rule).join(',');
    }
    if (result.exempted.length > 0) a[AUDIT_KEYS.exempted] = result.exempted.map((e) => e.rule).join(',');
    response.auditAnnotations = a;
  }
  return response;
}

export type MutateDecision = 'patched' | 'allowed';

export function mutateDecision(result: MutationResult): MutateDecision {
  return result.patch.length > 0 ? 'patched' : 'allowed';
}

export function encodePatch(patch: MutationResult['patch']): string {
  return Buffer.from(JSON.stringify(patch), 'utf8').toString('base64');
}

export function mutateResponse(uid: string, result: MutationResult): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  // An empty patch is left out entirely: the apiserver rejects patchType without a patch.
  if (result.patch.length > 0) {
    response.patch = encodePatch(result.patch);
    response.patchType = 'JSONPatch';
  }
  if (result.mutations.length > 0 || result.exempted.length > 0) {
    const a: Record<string, string> = { [AUDIT_KEYS.decision]: mutateDecision(result) };
    if (result.mutations.length > 0) {
      a[AUDIT_KEYS.mutations] = result.mutations.map((m) => m.id).join(',');
      a[AUDIT_KEYS.mode] = modes(result.mutations);
    }
    if (result.exempted.length > 0) a[AUDIT_KEYS.exempted] = result.exempted.map((e) => e.id).join(',');
    response.auditAnnotations = a;
  }
  return response;
}

/** The answer to a review meshlock cannot evaluate. /validate fails closed; /mutate leaves the object alone. */
export function failureResponse(
  uid: string,
  webhook: 'validate' | 'mutate',
  code: number,
  message: string,
): AdmissionResponse {
  if (webhook === 'mutate') return { uid, allowed: true, auditAnnotations: { [AUDIT_KEYS.decision]: 'error' } };
  return {
    uid,
    allowed: false,
    status: { code, reason: code === 400 ? 'BadRequest' : 'InternalError', message },
    auditAnnotations: { [AUDIT_KEYS.decision]: 'error' },
  };
}
