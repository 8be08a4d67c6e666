// Reading Kubernetes objects from files: files, folders (recursively, .yaml/.yml/.json), or `-` for
// stdin; multi-document YAML, JSON, and `kind: List` (what `kubectl get -o yaml` prints). A broken
// document is reported with its file and line and never hides the others.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node as YamlNode } from 'yaml';

/** One object read from a file, with where it was found. */
export interface SourceObject {
  readonly file: string;
  /** Position of the object in the file, counting every object (List items included) from 0. */
  readonly index: number;
  /** 1-based line of the object's first key (0 when unknown, e.g. fast JSON). */
  readonly line: number;
  readonly object: unknown;
}

/** Input that could not be read: a missing file, a YAML syntax error, a document that is not an object. */
export interface SourceError {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface SourceSet {
  readonly objects: SourceObject[];
  readonly errors: SourceError[];
  /** Files actually read, in order. */
  readonly files: string[];
}

export interface ReadOptions {
  /** Text for `-` (tests pass it; the CLI reads process.stdin). */
  readonly stdin?: () => string;
  /** Parse JSON with JSON.parse (many times faster than the YAML parser, but List items get no line). */
  readonly fast?: boolean;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/** Expands folders into their manifest files, sorted for a stable order. */
function expand(path: string, errors: SourceError[]): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    errors.push({ file: path, line: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return [];
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) out.push(...expand(p, errors));
    else if (MANIFEST.test(entry.name)) out.push(p);
  }
  return out;
}

function lineOf(lc: LineCounter, node: YamlNode | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 0 : lc.linePos(offset).line;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A `kind: List` (or `*List`) expands to its items, each with its own line. Callers number them. */
function pushDoc(file: string, value: unknown, line: number, itemLines: (i: number) => number, out: SourceSet): void {
  if (value === null || value === undefined) return; // empty document (`---` at the end)
  if (!isObject(value)) {
    out.errors.push({ file, line, message: 'document is not a Kubernetes object' });
    return;
  }
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
    (value['items'] as unknown[]).forEach((item, i) => {
      if (!isObject(item)) out.errors.push({ file, line: itemLines(i) || line, message: `items[${i}] is not a Kubernetes object` });
      else out.objects.push({ file, index: 0, line: itemLines(i) || line, object: item });
    });
    return;
  }
  out.objects.push({ file, index: 0, line, object: value });
}

/** Parses one file's text into `out`. Exported for tests and stdin. */
export function parseManifestText(file: string, text: string, out: SourceSet, fast = false): void {
  const trimmed = text.trimStart();
  if (fast && (trimmed.startsWith('{') || trimmed.startsWith('['))) {
    try {
      const v: unknown = JSON.parse(text);
      const start = out.objects.length;
      // JSON.parse keeps no positions: a lone object is on line 1, List items are not placed.
      for (const doc of Array.isArray(v) ? v : [v]) pushDoc(file, doc, 1, () => 0, out);
      for (let i = start; i < out.objects.length; i++) (out.objects[i] as { index: number }).index = i - start;
      return;
    } catch {
      // Not plain JSON after all: fall through to the YAML parser, which reports the line.
    }
  }
  const lc = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false }) as Document.Parsed[];
  } catch (err) {
    out.errors.push({ file, line: 0, message: `cannot parse: ${(err as Error).message}` });
    return;
  }
  if (!Array.isArray(docs)) docs = [docs];
  let counter = 0;
  for (const doc of docs) {
    const first = doc.errors[0];
    if (first) {
      const line = first.linePos?.[0]?.line ?? lc.linePos(first.pos[0]).line;
      out.errors.push({ file, line, message: `YAML error: ${first.message.split('\n')[0] ?? first.message}` });
      continue;
    }
    const contents = doc.contents;
    const line = lineOf(lc, contents);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const items = isMap(contents) ? contents.get('items', true) : undefined;
    const itemLines = (i: number): number => (isSeq(items) ? lineOf(lc, items.items[i] as YamlNode | undefined) : 0);
    const before = out.objects.length;
    pushDoc(file, value, line, itemLines, out);
    for (let i = before; i < out.objects.length; i++) (out.objects[i] as { index: number }).index = counter++;
  }
}

/** Reads every path; `-` is stdin. Never throws for bad input: problems go to `errors`. */
export function readManifests(paths: readonly string[], opts: ReadOptions = {}): SourceSet {
  const out: SourceSet = { objects: [], errors: [], files: [] };
  for (const p of paths) {
    if (p === '-') {
      out.files.push('<stdin>');
      parseManifestText('<stdin>', opts.stdin ? opts.stdin() : readFileSync(0, 'utf8'), out, opts.fast);
      continue;
    }
    for (const file of expand(p, out.errors)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        out.errors.push({ file, line: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
        continue;
      }
      out.files.push(file);
      parseManifestText(file, text, out, opts.fast);
    }
  }
  return out;
}
