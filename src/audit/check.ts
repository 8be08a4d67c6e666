// The offline check: each object is treated as a CREATE, mutated first and validated after, exactly
// as admission would run the mutating then the validating webhook (POLICY.md "Mutations"). Pure:
// no rule is re-implemented here, only the engine's two calls chained.
import { applyPatch, familyOf, inputFromObject, mutate, validate, type EngineContext, type Finding, type MutationOutcome, type PatchOp } from '../policy/index.js';
import type { SourceError, SourceObject } from './sources.js';

export type Decision = 'allow' | 'deny' | 'warn';

export interface CheckedObject {
  readonly file: string;
  readonly index: number;
  readonly line: number;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  /** deny: the validating webhook would refuse it; warn: allowed with findings; allow: clean. */
  readonly decision: Decision;
  /** Rule ids of every finding, in engine order, without repeats. */
  readonly rules: string[];
  /** Whether meshlock has any rule for the kind (others pass untouched). */
  readonly checked: boolean;
  readonly patch: readonly PatchOp[];
  readonly mutations: readonly MutationOutcome[];
  readonly findings: readonly Finding[];
  readonly exempted: readonly { rule: string; reason: string }[];
  readonly message?: string;
}

export interface CheckReport {
  readonly results: CheckedObject[];
  readonly errors: SourceError[];
  readonly summary: { objects: number; allowed: number; denied: number; warned: number; patched: number; errors: number };
}

export interface CheckOptions {
  /** Namespace for objects that name none (kubectl's default namespace). */
  readonly namespace: string;
  /** Validate the objects as written, as the validating webhook alone would see them. */
  readonly noMutate?: boolean;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function checkObject(src: SourceObject, ctx: EngineContext, opts: CheckOptions): CheckedObject {
  const input = inputFromObject(src.object, opts.namespace, 'CREATE');
  const mutation = opts.noMutate ? { patch: [], mutations: [], exempted: [] } : mutate(input, ctx);
  // The mutating webhook's patch is applied before the validating webhook sees the object.
  const mutated = mutation.patch.length > 0 ? { ...input, object: applyPatch(input.object, mutation.patch) } : input;
  const result = validate(mutated, ctx);
  const rules = [...new Set(result.findings.map((f) => f.rule))];
  const decision: Decision = !result.allowed ? 'deny' : result.findings.length > 0 ? 'warn' : 'allow';
  return {
    file: src.file,
    index: src.index,
    line: src.line,
    kind: input.kind,
    apiVersion: text((src.object as Record<string, unknown>)['apiVersion']),
    namespace: input.namespace,
    name: input.name,
    decision,
    rules,
    checked: familyOf(input.group, input.kind) !== undefined,
    patch: mutation.patch,
    mutations: mutation.mutations,
    findings: result.findings,
    exempted: result.exempted.map((e) => ({ rule: e.rule, reason: e.exemption.source.reason })),
    ...(result.message ? { message: result.message } : {}),
  };
}

export function checkAll(objects: readonly SourceObject[], errors: readonly SourceError[], ctx: EngineContext, opts: CheckOptions): CheckReport {
  const results = objects.map((o) => checkObject(o, ctx, opts));
  return {
    results,
    errors: [...errors],
    summary: {
      objects: results.length,
      allowed: results.filter((r) => r.decision !== 'deny').length,
      denied: results.filter((r) => r.decision === 'deny').length,
      warned: results.filter((r) => r.decision === 'warn').length,
      patched: results.filter((r) => r.patch.length > 0).length,
      errors: errors.length,
    },
  };
}

/** 1 when anything would be denied, 2 when input was unreadable (and nothing denied needs saying louder), else 0. */
export function checkExitCode(report: CheckReport): number {
  if (report.errors.length > 0) return 2;
  return report.summary.denied > 0 ? 1 : 0;
}
