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

/** Applies add/replace/remove/test to a deep copy of `doc`; throws PatchError when a path is missing. */
export function applyPatch<T>(doc: T, patch: readonly PatchOp[]): T {
  const root: { v: unknown } = { v: structuredClone(doc) };
  for (const op of patch) {
    const tokens = op.path === '' ? [] : op.path.split('/').slice(1).map(unescape);
    if (op.path !== '' && !op.path.startsWith('/')) throw new PatchError(`invalid path ${op.path}`);
    let parent: unknown = root;
    let key: string = 'v';
    for (const t of tokens) {
      const next = (parent as Obj)[key];
      if (!isObj(next) && !Array.isArray(next)) throw new PatchError(`path ${op.path} does not exist`);
      parent = next;
      key = t;
    }
    const container = parent as Obj;
    if (Array.isArray(container)) {
      const arr = container as unknown[];
      const idx = key === '-' ? arr.length : Number(key);
      if (op.op === 'add') arr.splice(idx, 0, structuredClone(op.value));
      else if (op.op === 'replace') arr[idx] = structuredClone(op.value);
      else if (op.op === 'remove') arr.splice(idx, 1);
      continue;
    }
    switch (op.op) {
      case 'add':
      case 'replace':
        if (op.op === 'replace' && !(key in container)) throw new PatchError(`path ${op.path} does not exist`);
        container[key] = structuredClone(op.value);
        break;
      case 'remove':
        if (!(key in container)) throw new PatchError(`path ${op.path} does not exist`);
        delete container[key];
        break;
      case 'test':
        if (JSON.stringify(container[key]) !== JSON.stringify(op.value))
          throw new PatchError(`test failed at ${op.path}`);
        break;
    }
  }
  return root.v as T;
}
