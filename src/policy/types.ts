// The engine's vocabulary: what goes in (an object and the operation on it) and what comes out
// (violations, findings with their modes, JSON Patch operations).
import type { CompiledExemption, ResolvedConfig } from '../config/resolve.js';
import type { Mode, MutationId, RuleId } from '../config/schema.js';

export type { Mode, MutationId, RuleId };

export type Severity = 'error' | 'warning';
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** One broken rule, as a rule function reports it (before modes and exemptions). */
export interface Violation {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** What is wrong, one sentence without a final period. */
  readonly message: string;
  /** What to change, one sentence without a final period. */
  readonly fix: string;
  /** JSON pointer into the object of the offending field, when there is one. */
  readonly path?: string;
}

/** A violation after config is applied: the mode it is enforced in, and any expired exemption naming it. */
export interface Finding extends Violation {
  readonly mode: Mode;
  /** True when this finding denies the request (severity error in enforce mode). */
  readonly denies: boolean;
  /** An exemption that named this rule and object but has expired. */
  readonly expiredExemption?: CompiledExemption;
  /**
   * UPDATE with ratcheting: oldObject had this violation and the update left its fields alone. It
   * never denies; it is returned as a `<rule id> (pre-existing): ...` warning outside dry-run.
   */
  readonly preExisting?: boolean;
}

/** A violation lifted by an active exemption: not enforced, kept for reports. */
export interface ExemptedViolation extends Violation {
  readonly exemption: CompiledExemption;
}

/** RFC 6902 JSON Patch operation. meshlock only ever adds. */
export interface PatchOp {
  readonly op: 'add' | 'replace' | 'remove' | 'test';
  readonly path: string;
  readonly value?: unknown;
}

export interface EngineInput {
  readonly operation: Operation;
  /** Kind as the apiserver names it (request.kind.kind), e.g. `Pod`, `PeerAuthentication`. */
  readonly kind: string;
  /** API group, '' for the core group. Used to tell Istio's kinds from look-alikes. */
  readonly group: string;
  /**
   * Namespace the object lives in (request.namespace, or metadata.namespace offline). For a
   * Namespace object, its own name.
   */
  readonly namespace: string;
  /** request.name, or metadata.name (or generateName) offline. */
  readonly name: string;
  /** The object after all mutations (null on DELETE). */
  readonly object: unknown;
  /** The object before the change (UPDATE, DELETE). */
  readonly oldObject?: unknown;
  /**
   * Labels of the object's namespace, when the caller knows them (`check` and `audit` reading a
   * Namespace in their input). The webhook leaves it unset: its namespaceSelector does that work.
   */
  readonly namespaceLabels?: ReadonlyMap<string, unknown>;
  /**
   * Annotations of the object's namespace, when the caller knows them (`check` and `audit` reading
   * the Namespace). Linkerd enrols namespaces by annotation, which no webhook selector can match.
   */
  readonly namespaceAnnotations?: ReadonlyMap<string, unknown>;
  /**
   * Where the object comes from: an admission request (after every mutating webhook, the default),
   * manifests on disk (`check`: no injector has run), or a live cluster (`audit`).
   */
  readonly source?: 'admission' | 'manifests' | 'cluster';
}

export interface EngineContext {
  readonly config: ResolvedConfig;
  /** The clock, read once by the caller: exemption expiry is judged against it. */
  readonly now: Date;
}

export interface ValidationResult {
  readonly allowed: boolean;
  /** Every violation not lifted by an exemption, with its mode. */
  readonly findings: readonly Finding[];
  readonly exempted: readonly ExemptedViolation[];
  /** Admission warnings (warn mode, and warning-severity rules outside dry-run), each <= 120 chars. */
  readonly warnings: readonly string[];
  /** The denial message of POLICY.md when `allowed` is false. */
  readonly message?: string;
}

export interface MutationOutcome {
  readonly id: MutationId;
  readonly mode: Mode;
  /** The operations this mutation wants (also in dry-run, where they are not applied). */
  readonly ops: readonly PatchOp[];
  /** False in dry-run: the would-be patch is only recorded. */
  readonly applied: boolean;
}

export interface MutationResult {
  /** The patch to return: operations of every applied mutation, in order. Empty when nothing applies. */
  readonly patch: readonly PatchOp[];
  readonly mutations: readonly MutationOutcome[];
  /** Mutations an active exemption prevented. */
  readonly exempted: readonly { readonly id: MutationId; readonly exemption: CompiledExemption }[];
}
