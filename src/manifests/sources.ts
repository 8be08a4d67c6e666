// Reading Kubernetes objects from files: files, folders (recursively, .yaml/.yml/.json), or `-` for
// stdin; multi-document YAML, JSON, and `kind: List` (what `kubectl get -o yaml` prints). A broken
// document is reported with its file and line and never hides the others. What is not a Kubernetes
// object (a kustomization.yaml, a Chart.yaml, any other YAML) is skipped with a note, and a Helm
// chart's templates, which are not YAML until rendered, give one hint instead of a YAML error each.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
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

/** A document or file read but not an object to check, with the reason (shown as a note). */
export interface SourceSkip {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

export interface SourceSet {
  readonly objects: SourceObject[];
  readonly errors: SourceError[];
  /** Files actually read, in order. */
  readonly files: string[];
  /** What was skipped as not a Kubernetes object (kept only when the set has this list). */
  readonly skipped?: SourceSkip[];
}

/** A folder rendered before reading (a kustomization through `kubectl kustomize`). */
export type Renderer = (
  dir: string,
) => { text: string; file?: string } | { error: string } | { skip: string } | undefined;

export interface ReadOptions {
  /** Text for `-` (tests pass it; the CLI reads process.stdin). */
  readonly stdin?: () => string;
  /** Parse JSON with JSON.parse (many times faster than the YAML parser, but List items get no line). */
  readonly fast?: boolean;
  /** Asked for each folder given on the command line; a folder it renders is read from its output. */
  readonly render?: Renderer;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/** The one hint for a Helm chart: its templates are Go templates, YAML only once rendered. */
export const HELM_HINT =
  'a Helm chart: its templates are not YAML until rendered; check the rendered chart with `helm template RELEASE CHART | meshlock check -f -`';

/** Expands folders into their manifest files, sorted for a stable order. A Helm chart is not entered. */
function expand(path: string, errors: SourceError[], skipped: SourceSkip[] | undefined): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    errors.push({
      file: path,
      line: 0,
      message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    });
    return [];
  }
  if (!st.isDirectory()) return [path];
  const entries = readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  if (entries.some((e) => e.isFile() && e.name === 'Chart.yaml')) {
    skipped?.push({ file: path, line: 0, reason: HELM_HINT });
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) out.push(...expand(p, errors, skipped));
    else if (MANIFEST.test(entry.name)) out.push(p);
  }
  return out;
}

const KUSTOMIZE_GROUP = 'kustomize.config.k8s.io/';

/** Why a parsed document is not an object to check, or undefined when it is one. */
function notAnObject(value: Record<string, unknown>): string | undefined {
  const { apiVersion, kind } = value;
  if (typeof apiVersion === 'string' && apiVersion.startsWith(KUSTOMIZE_GROUP))
    return `a kustomize ${String(kind ?? 'file')}, not a Kubernetes object`;
  if (typeof kind !== 'string' && typeof apiVersion !== 'string')
    return 'not a Kubernetes object (no apiVersion, no kind)';
  if (typeof kind !== 'string') return 'not a Kubernetes object (no kind)';
  if (typeof apiVersion !== 'string') return 'not a Kubernetes object (no apiVersion)';
  return undefined;
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
    if (out.skipped)
      out.skipped.push({
        file,
        line,
        reason: `not a Kubernetes object (a ${Array.isArray(value) ? 'list' : typeof value})`,
      });
    else out.errors.push({ file, line, message: 'document is not a Kubernetes object' });
    return;
  }
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
    (value['items'] as unknown[]).forEach((item, i) => {
      if (!isObject(item))
        out.errors.push({ file, line: itemLines(i) || line, message: `items[${i}] is not a Kubernetes object` });
      else out.objects.push({ file, index: 0, line: itemLines(i) || line, object: item });
    });
    return;
  }
  const skip = out.skipped ? notAnObject(value) : undefined;
  if (skip) out.skipped?.push({ file, line, reason: skip });
  else out.objects.push({ file, index: 0, line, object: value });
}

const SEPARATOR = /^(---|\.\.\.)(\s|$)/;
const CONTENT = /^\s*[^\s#]/;

/**
 * The fast path for the common file: plain multi-document YAML split on its `---` lines, each
 * document parsed by js-yaml (several times faster than the `yaml` package, which keeps a full
 * syntax tree for positions). Returns false, having written nothing, whenever it cannot be sure of
 * the result: directives, content on a separator line, any parse error (the precise parser then
 * reports the line), or a List whose item lines cannot be found.
 */
function parseFastYaml(file: string, text: string, out: SourceSet): boolean {
  if (/^%/m.test(text)) return false;
  const lines = text.split('\n');
  const pending: SourceSet = { objects: [], errors: [], files: [], ...(out.skipped ? { skipped: [] } : {}) };
  let start = 0;
  let counter = 0;
  const flush = (end: number): boolean => {
    const first = lines.slice(start, end).findIndex((l) => CONTENT.test(l));
    if (first < 0) return true; // empty document
    let value: unknown;
    try {
      value = loadYaml(lines.slice(start, end).join('\n'), { filename: file, maxAliases: 100 });
    } catch {
      return false;
    }
    const line = start + first + 1;
    let itemLines: (i: number) => number = () => 0;
    if (
      isObject(value) &&
      typeof value['kind'] === 'string' &&
      value['kind'].endsWith('List') &&
      Array.isArray(value['items'])
    ) {
      // kubectl prints `items:` at column 0 and each item as `- ` at column 0 (or indented by two).
      const found: number[] = [];
      const itemsAt = lines.findIndex((l, i) => i >= start && i < end && /^items:\s*$/.test(l));
      if (itemsAt < 0) return false;
      const dash = /^( {0,2})- /.exec(lines.slice(itemsAt + 1, end).find((l) => CONTENT.test(l)) ?? '')?.[1];
      if (dash === undefined) return false;
      for (let i = itemsAt + 1; i < end; i++) {
        const l = lines[i] ?? '';
        if (l.startsWith(`${dash}- `) || l === `${dash}-`) found.push(i + 1);
        else if (/^\S/.test(l) && !l.startsWith('#') && dash === '') break;
        else if (dash !== '' && /^\S/.test(l) && !l.startsWith('#')) break;
      }
      if (found.length !== (value['items'] as unknown[]).length) return false;
      itemLines = (i) => found[i] ?? 0;
    }
    const before = pending.objects.length;
    pushDoc(file, value, line, itemLines, pending);
    for (let i = before; i < pending.objects.length; i++) (pending.objects[i] as { index: number }).index = counter++;
    return true;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (!SEPARATOR.test(l)) continue;
    if (CONTENT.test(l.slice(3))) return false; // `--- {a: 1}` or `--- !tag`: leave it to the full parser
    if (!flush(i)) return false;
    start = i + 1;
  }
  if (!flush(lines.length)) return false;
  out.objects.push(...pending.objects);
  out.errors.push(...pending.errors);
  out.skipped?.push(...(pending.skipped ?? []));
  return true;
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
  // Go template actions in a chart's templates/ folder: Helm's, not YAML (one note, not a YAML error each).
  if (text.includes('{{') && /(^|[\\/])templates[\\/]/.test(file) && out.skipped) {
    out.skipped.push({ file, line: 0, reason: HELM_HINT.replace('a Helm chart', 'a Helm template') });
    return;
  }
  if (fast && parseFastYaml(file, text, out)) return;
  const lc = new LineCounter();
  let docs: Document.Parsed[];
  try {
    // logLevel error: the library's warnings (a collection used as a key) would reach the terminal
    // through process.emitWarning; such a document is no Kubernetes object anyway.
    docs = parseAllDocuments(text, {
      lineCounter: lc,
      prettyErrors: false,
      uniqueKeys: false,
      logLevel: 'error',
    }) as Document.Parsed[];
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
  const out: SourceSet = { objects: [], errors: [], files: [], skipped: [] };
  for (const p of paths) {
    if (p === '-') {
      out.files.push('<stdin>');
      parseManifestText('<stdin>', opts.stdin ? opts.stdin() : readFileSync(0, 'utf8'), out, opts.fast);
      continue;
    }
    const rendered = opts.render?.(p);
    if (rendered && 'text' in rendered) {
      // Objects are placed at the file that made them (the kustomization); lines of the rendered
      // stream would point nowhere the user can open.
      const from = rendered.file ?? p;
      out.files.push(from);
      const start = out.objects.length;
      parseManifestText(from, rendered.text, out, opts.fast);
      for (let i = start; i < out.objects.length; i++) (out.objects[i] as { line: number }).line = 0;
      continue;
    }
    if (rendered && 'error' in rendered) {
      out.errors.push({ file: p, line: 0, message: rendered.error });
      continue;
    }
    if (rendered && 'skip' in rendered) out.skipped?.push({ file: p, line: 0, reason: rendered.skip });
    for (const file of expand(p, out.errors, out.skipped)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        out.errors.push({
          file,
          line: 0,
          message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        });
        continue;
      }
      out.files.push(file);
      parseManifestText(file, text, out, opts.fast);
    }
  }
  return out;
}

/**
 * One line per thing read but not checked (`file:line: skipped, reason`), for the user's terminal.
 * Repeated reasons (every template of one chart) are said once.
 */
export function skipNotes(skipped: readonly SourceSkip[]): string[] {
  const said = new Set<string>();
  const lines: string[] = [];
  for (const s of skipped) {
    const key = s.reason.includes('helm template') ? 'helm' : `${s.file}\0${s.reason}`;
    if (said.has(key)) continue;
    said.add(key);
    lines.push(`note: ${s.file}${s.line ? `:${s.line}` : ''}: skipped, ${s.reason}`);
  }
  return lines;
}
