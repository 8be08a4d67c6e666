// Defensive readers for the untrusted JSON this vocabulary is asked about. Kept here so the
// Linkerd model imports nothing else of meshlock's.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function field(o: unknown, key: string): unknown {
  if (!isObj(o)) return undefined;
  const v = o[key];
  return v === null ? undefined : v;
}

/** Labels or annotations as a map of strings; entries that are not strings are left out. */
export function strings(meta: unknown, key: 'labels' | 'annotations'): ReadonlyMap<string, string> {
  const m = field(meta, key);
  const out = new Map<string, string>();
  if (!isObj(m)) return out;
  for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out.set(k, v);
  return out;
}

export type AnnotationsLike = ReadonlyMap<string, string> | Readonly<Record<string, string | undefined>> | undefined;

/** Accepts a Map or a plain record, so callers and test tables can pass either. */
export function asMap(a: AnnotationsLike): ReadonlyMap<string, string> {
  if (a === undefined) return new Map();
  if (a instanceof Map) return a;
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(a)) if (typeof v === 'string') out.set(k, v);
  return out;
}

export interface ContainerRef {
  readonly list: 'initContainers' | 'containers';
  readonly index: number;
  readonly c: Obj;
  readonly name: string | undefined;
  readonly image: string | undefined;
}

/** Init containers then containers (Linkerd's HasExistingSidecars order); non-objects skipped. */
export function containersOf(spec: unknown): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    const arr = field(spec, list);
    if (!Array.isArray(arr)) continue;
    arr.forEach((c: unknown, index) => {
      if (!isObj(c)) return;
      const name = field(c, 'name');
      const image = field(c, 'image');
      out.push({
        list,
        index,
        c,
        name: typeof name === 'string' ? name : undefined,
        image: typeof image === 'string' ? image : undefined,
      });
    });
  }
  return out;
}

/**
 * A value as text, as String() gives it; an object whose own toString or valueOf is not a function
 * (JSON can carry {"toString": ""}) makes String() throw, so it is written as JSON instead.
 */
export function text(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return String(v);
  } catch {
    return JSON.stringify(v) ?? '';
  }
}
