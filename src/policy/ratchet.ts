// Ratcheting UPDATEs (POLICY.md "UPDATE: ratcheting, never a wedged controller"): an UPDATE is denied
// only for what it introduces. A violation is pre-existing when oldObject had the same one (rule,
// path and message, so the same container, label value or host) and the update leaves every field it
// is about as it was. Nothing about the object's state (deletionTimestamp, finalizers, owners,
// managed-by labels) enters this decision: a terminating pod still runs, and weakening it is denied.
import { ENROLMENT_LABELS } from './istio/index.js';
import { isObj, join } from './object.js';
import type { Violation } from './types.js';

/** The value at a JSON pointer (RFC 6901), or undefined when any step is missing. */
export function at(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let node: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = /^(0|[1-9][0-9]*)$/.test(token) ? node[Number(token)] : undefined;
    else if (isObj(node)) node = Object.hasOwn(node, token) ? node[token] : undefined;
    else return undefined;
  }
  return node;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

const NAMESPACE_LABELS = ENROLMENT_LABELS.map((k) => join('/metadata/labels', k));

/**
 * The fields a violation is about: its own path, plus what decides its scope. A PeerAuthentication's
 * mode is judged with its selector (the same PERMISSIVE on a wider selector is a new exposure), a
 * DestinationRule's tls with its host. A namespace's enrolment rules point at the labels map, but are
 * about the three enrolment labels only: another controller adding an unrelated label changes nothing.
 */
export function fieldsOf(v: Violation): readonly string[] {
  const path = v.path ?? '';
  if (v.rule.startsWith('pa-')) return [path, '/spec/selector'];
  if (v.rule.startsWith('dr-')) return [path, '/spec/host'];
  if (v.rule.startsWith('ns-') && path === '/metadata/labels') return NAMESPACE_LABELS;
  return [path];
}

function key(v: Violation): string {
  return `${v.rule}\u0000${v.path ?? ''}\u0000${v.message}`;
}

/**
 * For each violation of the new object, whether it is pre-existing: `before` (the violations of
 * oldObject) holds the same one and the update changed none of its fields.
 */
export function preExisting(
  violations: readonly Violation[],
  before: readonly Violation[],
  oldObject: unknown,
  object: unknown,
): boolean[] {
  const had = new Set(before.map(key));
  return violations.map((v) => had.has(key(v)) && fieldsOf(v).every((f) => deepEqual(at(oldObject, f), at(object, f))));
}
