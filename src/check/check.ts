// The offline check: each object is treated as a CREATE (an UPDATE when `--old` holds it as it is
// now), mutated first and validated after, exactly
// as admission would run the mutating then the validating webhook (POLICY.md "Mutations"). Pure:
// no rule is re-implemented here, only the engine's two calls chained.
import {
  applyPatch,
  controlEntries,
  familyOf,
  inputFromObject,
  mutate,
  validate,
  type Control,
  type EngineContext,
  type Finding,
  type MutationOutcome,
  type PatchOp,
} from '../policy/index.js';
import type { SourceError, SourceObject } from '../manifests/sources.js';

export type Decision = 'allow' | 'deny' | 'warn';

export interface CheckedObject {
  readonly file: string;
  readonly index: number;
  readonly line: number;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  /** UPDATE when `--old` held the object as it is now (judged with ratcheting), else CREATE. */
  readonly operation: 'CREATE' | 'UPDATE';
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
  readonly summary: {
    objects: number;
    allowed: number;
    denied: number;
    warned: number;
    patched: number;
    errors: number;
  };
  /** The compliance controls of every rule that has a finding (and of malformed-object when input was unreadable). */
  readonly controls: Readonly<Record<string, readonly Control[]>>;
}

export interface CheckOptions {
  /** Namespace for objects that name none (kubectl's default namespace). */
  readonly namespace: string;
  /** Validate the objects as written, as the validating webhook alone would see them. */
  readonly noMutate?: boolean;
  /**
   * The objects as they are now (e.g. `kubectl get -o yaml`), by objectKey. A manifest naming one of
   * them is checked as an UPDATE of it, as `kubectl apply` would send it: ratcheting applies.
   */
  readonly old?: ReadonlyMap<string, unknown>;
  /**
   * Labels of the Namespace objects in the input, by name: pods and templates of an ambient namespace
   * get no injection label, as the mutating webhook's namespaceSelector leaves them out.
   */
  readonly namespaceLabels?: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  /**
   * Annotations of the Namespace objects in the input, by name: Linkerd enrols namespaces and sets
   * proxy configuration by annotation, and its injector copies those onto the pods it injects.
   */
  readonly namespaceAnnotations?: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
}

function indexNamespaceMeta(
  objects: readonly SourceObject[],
  field: 'labels' | 'annotations',
): Map<string, ReadonlyMap<string, unknown>> {
  const m = new Map<string, ReadonlyMap<string, unknown>>();
  for (const o of objects) {
    const input = inputFromObject(o.object);
    if (input.group !== '' || input.kind !== 'Namespace' || input.name === '') continue;
    const values = (input.object as { metadata?: Record<string, unknown> }).metadata?.[field];
    m.set(
      input.name,
      new Map(typeof values === 'object' && values !== null && !Array.isArray(values) ? Object.entries(values) : []),
    );
  }
  return m;
}

/** Labels of every Namespace object among `objects` (a later one wins, as a later apply would). */
export function indexNamespaceLabels(objects: readonly SourceObject[]): Map<string, ReadonlyMap<string, unknown>> {
  return indexNamespaceMeta(objects, 'labels');
}

/** Annotations of every Namespace object among `objects` (a later one wins, as a later apply would). */
export function indexNamespaceAnnotations(objects: readonly SourceObject[]): Map<string, ReadonlyMap<string, unknown>> {
  return indexNamespaceMeta(objects, 'annotations');
}

/** `group/Kind/namespace/name` of an object, as the engine input names it. */
export function objectKey(input: { group: string; kind: string; namespace: string; name: string }): string {
  return `${input.group}/${input.kind}/${input.namespace}/${input.name}`;
}

/** Indexes the objects of `--old` for checkObject. */
export function indexOld(objects: readonly SourceObject[], namespace: string): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const o of objects) m.set(objectKey(inputFromObject(o.object, namespace)), o.object);
  return m;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function checkObject(src: SourceObject, ctx: EngineContext, opts: CheckOptions): CheckedObject {
  // Manifests: no injector has run, so rules about what admission leaves behind do not apply.
  const created = { ...inputFromObject(src.object, opts.namespace, 'CREATE'), source: 'manifests' as const };
  const old = opts.old?.get(objectKey(created));
  const nsLabels = opts.namespaceLabels?.get(created.namespace);
  const nsAnnotations = opts.namespaceAnnotations?.get(created.namespace);
  const known = {
    ...created,
    ...(nsLabels === undefined ? {} : { namespaceLabels: nsLabels }),
    ...(nsAnnotations === undefined ? {} : { namespaceAnnotations: nsAnnotations }),
  };
  const input = old === undefined ? known : { ...known, operation: 'UPDATE' as const, oldObject: old };
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
    operation: input.operation === 'UPDATE' ? 'UPDATE' : 'CREATE',
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

export function checkAll(
  objects: readonly SourceObject[],
  errors: readonly SourceError[],
  ctx: EngineContext,
  opts: CheckOptions,
): CheckReport {
  const withNamespaces = {
    ...opts,
    namespaceLabels: opts.namespaceLabels ?? indexNamespaceLabels(objects),
    namespaceAnnotations: opts.namespaceAnnotations ?? indexNamespaceAnnotations(objects),
  };
  const results = objects.map((o) => checkObject(o, ctx, withNamespaces));
  const rules = new Set([
    ...results.flatMap((r) => r.findings.map((f) => f.rule)),
    ...(errors.length > 0 ? ['malformed-object'] : []),
  ]);
  return {
    results,
    errors: [...errors],
    controls: Object.fromEntries([...rules].sort().map((rule) => [rule, controlEntries(rule)])),
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

/** What `meshlock check` reads: the manifests, and what the objects are now (--old files, --cluster). */
export interface CheckInputs {
  readonly objects: readonly SourceObject[];
  readonly errors: readonly SourceError[];
  /** The objects as they are now, from files (--old): a manifest naming one is checked as an UPDATE. */
  readonly current?: readonly SourceObject[];
  /** What the live cluster holds (--cluster): its Namespaces' labels and annotations, its policies. */
  readonly live?: readonly SourceObject[];
}

/**
 * Checks manifests against what exists: --old files win over the cluster for the same object, and
 * the input's own Namespaces win over both for labels and annotations.
 */
export function checkManifests(
  inputs: CheckInputs,
  ctx: EngineContext,
  opts: Pick<CheckOptions, 'namespace' | 'noMutate'>,
): CheckReport {
  const live = inputs.live ?? [];
  const currentObjects = [...live, ...(inputs.current ?? [])];
  const old = currentObjects.length > 0 ? indexOld(currentObjects, opts.namespace) : undefined;
  const namespaceLabels =
    live.length > 0 ? new Map([...indexNamespaceLabels(live), ...indexNamespaceLabels(inputs.objects)]) : undefined;
  const namespaceAnnotations =
    live.length > 0
      ? new Map([...indexNamespaceAnnotations(live), ...indexNamespaceAnnotations(inputs.objects)])
      : undefined;
  return checkAll(inputs.objects, inputs.errors, ctx, {
    ...opts,
    ...(old ? { old } : {}),
    ...(namespaceLabels ? { namespaceLabels } : {}),
    ...(namespaceAnnotations ? { namespaceAnnotations } : {}),
  });
}

/** 1 when anything would be denied, 2 when input was unreadable (and nothing denied needs saying louder), else 0. */
export function checkExitCode(report: CheckReport): number {
  if (report.errors.length > 0) return 2;
  return report.summary.denied > 0 ? 1 : 0;
}
