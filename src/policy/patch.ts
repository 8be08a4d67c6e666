// RFC 6902 JSON Patch: building label additions, and applying a patch (the offline `check` applies
// mutations before validating, exactly as admission would).
import { isObj, join, type Obj } from './object.js';
import type { PatchOp } from './types.js';
import { MeshlockError } from '../errors.js';

/**
 * Operations that add `key: value` to the labels of the metadata at `metaPath` (e.g. `/metadata`,
 * `/spec/template/metadata`). A missing metadata or labels map is added as an object first, since
 * a JSON Patch `add` fails when the parent does not exist.
 */
export function addLabelOps(metaPath: string, meta: unknown, key: string, value: string): PatchOp[] {
  return addToMapOps(metaPath, meta, 'labels', key, value);
}

/** The same for an annotation. */
export function addAnnotationOps(metaPath: string, meta: unknown, key: string, value: string): PatchOp[] {
  return addToMapOps(metaPath, meta, 'annotations', key, value);
}

function addToMapOps(
  metaPath: string,
  meta: unknown,
  map: 'labels' | 'annotations',
  key: string,
  value: string,
): PatchOp[] {
  const ops: PatchOp[] = [];
  if (!isObj(meta)) ops.push({ op: 'add', path: metaPath, value: {} });
  const entries = isObj(meta) ? meta[map] : undefined;
  if (!isObj(entries)) ops.push({ op: 'add', path: `${metaPath}/${map}`, value: {} });
  ops.push({ op: 'add', path: join(`${metaPath}/${map}`, key), value });
  return ops;
}

export class PatchError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_PATCH', message);
  }
}

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Applies add/replace/remove/test to `doc` without changing it: the objects and arrays on each op's
 * path are copied (once per call), everything else is shared with `doc`, and added values are deep
 * copies. Throws PatchError when a path is missing. (A deep copy of the whole document per patch
 * cost more than the rest of a mutating answer.)
 */
export function applyPatch<T>(doc: T, patch: readonly PatchOp[]): T {
  const root: Obj = { v: doc };
  const owned = new Set<unknown>([root]);
  const own = (c: Obj | unknown[]): Obj | unknown[] => {
    if (owned.has(c)) return c;
    const copy = Array.isArray(c) ? c.slice() : { ...c };
    owned.add(copy);
    return copy;
  };
  for (const op of patch) {
    const tokens = op.path === '' ? [] : op.path.split('/').slice(1).map(unescape);
    if (op.path !== '' && !op.path.startsWith('/')) throw new PatchError(`invalid path ${op.path}`);
    let parent: Obj | unknown[] = root;
    let key: string = 'v';
    for (const t of tokens) {
      const next = (parent as Obj)[key];
      if (!isObj(next) && !Array.isArray(next)) throw new PatchError(`path ${op.path} does not exist`);
      const mine = own(next as Obj | unknown[]);
      (parent as Obj)[key] = mine;
      parent = mine;
      key = t;
    }
    if (Array.isArray(parent)) {
      const arr = parent;
      const idx = key === '-' ? arr.length : Number(key);
      if (op.op === 'add') arr.splice(idx, 0, structuredClone(op.value));
      else if (op.op === 'replace') arr[idx] = structuredClone(op.value);
      else if (op.op === 'remove') arr.splice(idx, 1);
      continue;
    }
    const container = parent;
    switch (op.op) {
      case 'add':
      case 'replace':
        if (op.op === 'replace' && !Object.hasOwn(container, key))
          throw new PatchError(`path ${op.path} does not exist`);
        container[key] = structuredClone(op.value);
        break;
      case 'remove':
        if (!Object.hasOwn(container, key)) throw new PatchError(`path ${op.path} does not exist`);
        delete container[key];
        break;
      case 'test':
        if (JSON.stringify(container[key]) !== JSON.stringify(op.value))
          throw new PatchError(`test failed at ${op.path}`);
        break;
    }
  }
  return root['v'] as T;
}
