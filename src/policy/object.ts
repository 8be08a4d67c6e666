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
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function join(base: string, ...tokens: (string | number)[]): string {
  return base + tokens.map((t) => `/${ptr(t)}`).join('');
}

/** A string map such as labels or annotations. `ok` is false when present but not a map of strings. */
export interface StringMap {
  readonly ok: boolean;
  readonly present: boolean;
  readonly values: ReadonlyMap<string, unknown>;
}

export function stringMap(o: unknown, key: string): StringMap {
  const v = field(o, key);
  if (v === undefined) return { ok: true, present: false, values: new Map() };
  if (!isObj(v)) return { ok: false, present: true, values: new Map() };
  return { ok: true, present: true, values: new Map(Object.entries(v)) };
}

/** Renders a value for a message: strings quoted, everything else as JSON, kept short. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
