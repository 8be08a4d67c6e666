// Defensive readers for objects that arrive as untrusted JSON. The engine never assumes a shape:
// every reader says whether the field was absent, present and well-formed, or present and malformed.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field that may be absent; `undefined` and `null` both count as absent (JSON null is unset). */
export function field(o: unknown, key: string): unknown {
  if (!isObj(o)) return undefined;
  const v = o[key];
  return v === null ? undefined : v;
}

export function has(o: unknown, key: string): boolean {
  return field(o, key) !== undefined;
}

/** Escapes one JSON pointer token (RFC 6901): `~` then `/`. */
export function ptr(token: string | number): string {
  if (typeof token === 'number') return String(token);
  // Most tokens (field names, indexes, label keys without a slash) need no escaping: no regex run.
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function join(base: string, ...tokens: (string | number)[]): string {
  let out = base;
  for (const t of tokens) out += `/${ptr(t)}`;
  return out;
}

/** A string map such as labels or annotations. `ok` is false when present but not a map of strings. */
export interface StringMap {
  readonly ok: boolean;
  readonly present: boolean;
  readonly values: ReadonlyMap<string, unknown>;
}

const EMPTY: ReadonlyMap<string, unknown> = new Map();

/**
 * A read-only Map over an object's own keys, without copying them: a rule asks for a few keys of a
 * map that may hold 100,000 (a 7 MiB review), and a copy per read cost most of such a review's time.
 * A Map subclass with its own storage left empty, so readers that tell a Map from a plain object
 * (policy/istio/names.ts) take it for the Map it behaves as.
 */
class ObjectView extends Map<string, unknown> {
  constructor(private readonly o: Obj) {
    super();
  }
  override set(): this {
    throw new TypeError('read-only');
  }
  override delete(): boolean {
    throw new TypeError('read-only');
  }
  override clear(): void {
    throw new TypeError('read-only');
  }
  override get(key: string): unknown {
    return Object.hasOwn(this.o, key) ? this.o[key] : undefined;
  }
  override has(key: string): boolean {
    return Object.hasOwn(this.o, key);
  }
  override get size(): number {
    return Object.keys(this.o).length;
  }
  override entries(): MapIterator<[string, unknown]> {
    return Object.entries(this.o)[Symbol.iterator]();
  }
  override keys(): MapIterator<string> {
    return Object.keys(this.o)[Symbol.iterator]();
  }
  override values(): MapIterator<unknown> {
    return Object.values(this.o)[Symbol.iterator]();
  }
  override forEach(cb: (value: unknown, key: string, map: Map<string, unknown>) => void): void {
    for (const [k, v] of Object.entries(this.o)) cb(v, k, this);
  }
  override [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries();
  }
}

export function stringMap(o: unknown, key: string): StringMap {
  const v = field(o, key);
  if (v === undefined) return { ok: true, present: false, values: EMPTY };
  if (!isObj(v)) return { ok: false, present: true, values: EMPTY };
  return { ok: true, present: true, values: new ObjectView(v) };
}

/** Renders a value for a message: strings quoted, everything else as JSON, kept short. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = '(unprintable value)';
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * A user or group id as the API gives it (a number; a string in a hand-written manifest); anything
 * else is not an id (NaN). Number() of an object can throw ({"valueOf": ""}), so it is never called on one.
 */
export function idNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return NaN;
}
