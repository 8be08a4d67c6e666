// The engine's input, built in one place for every way in: an admission request, a manifest on disk
// (`check`), an object of a cluster or a dump (`audit`).
import { field } from './object.js';
import type { EngineInput, Operation } from './types.js';

export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export interface InputParts {
  readonly operation: Operation;
  readonly kind: string;
  readonly group: string;
  /** request.namespace; absent offline. */
  readonly namespace?: string;
  /** request.name; absent offline. */
  readonly name?: string;
  readonly object: unknown;
  readonly oldObject?: unknown;
  /** The namespace kubectl would use for an object that names none (offline only). */
  readonly defaultNamespace?: string;
}

function metaString(obj: unknown, key: string): string | undefined {
  const v = field(field(obj, 'metadata'), key);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function given(v: string | undefined): string | undefined {
  return v !== undefined && v !== '' ? v : undefined;
}

/**
 * request.name is empty on CREATE of an object that only has generateName (pods of a ReplicaSet):
 * the generateName prefix is the best name there is, and exemption globs such as "web-*" match it.
 * A Namespace is cluster-scoped (request.namespace is empty); the namespace it decides about is itself.
 */
export function engineInput(p: InputParts): EngineInput {
  const name =
    given(p.name) ??
    metaString(p.object, 'name') ??
    metaString(p.oldObject, 'name') ??
    metaString(p.object, 'generateName') ??
    '';
  const isNamespace = p.group === '' && p.kind === 'Namespace';
  const namespace = isNamespace
    ? name
    : (given(p.namespace) ??
      metaString(p.object, 'namespace') ??
      metaString(p.oldObject, 'namespace') ??
      p.defaultNamespace ??
      '');
  return {
    operation: p.operation,
    kind: p.kind,
    group: p.group,
    namespace,
    name,
    object: p.object,
    ...(p.oldObject !== undefined && p.oldObject !== null ? { oldObject: p.oldObject } : {}),
  };
}

/** A bare object (offline `check` and `audit`), as the apiserver would fill an AdmissionReview for it. */
export function inputFromObject(
  object: unknown,
  defaultNamespace = 'default',
  operation: Operation = 'CREATE',
): EngineInput {
  const kind = field(object, 'kind');
  return engineInput({
    operation,
    kind: typeof kind === 'string' ? kind : '',
    group: groupOf(field(object, 'apiVersion')),
    object,
    defaultNamespace,
  });
}
