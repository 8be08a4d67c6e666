import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseManifestText, type SourceSet } from '../src/manifests/sources.js';
import { corpusDir as corpus, skipUnless } from './lib/needs.js';

function both(file: string, text: string): { fast: SourceSet; precise: SourceSet } {
  const fast: SourceSet = { objects: [], errors: [], files: [] };
  const precise: SourceSet = { objects: [], errors: [], files: [] };
  parseManifestText(file, text, fast, true);
  parseManifestText(file, text, precise, false);
  return { fast, precise };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(e) ? [p] : [];
  });
}

t.test(
  'the fast YAML path reads every corpus file exactly as the precise parser does (objects, lines, errors)',
  { skip: skipUnless('corpus') },
  async (t) => {
    const files = yamlFiles(corpus);
    t.ok(files.length > 20, 'the corpus is there');
    for (const f of files) {
      const { fast, precise } = both(f, readFileSync(f, 'utf8'));
      t.same(fast, precise, f);
    }
  },
);

t.test('List items get their own lines on the fast path, in both sequence indent styles', async (t) => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'a' } },
    ],
  };
  for (const indentSeq of [true, false]) {
    const text = `# dump\n${stringify(list, { indentSeq })}---\n${stringify(list, { indentSeq })}`;
    const { fast, precise } = both('list.yaml', text);
    t.equal(fast.objects.length, 4);
    t.same(fast, precise, `indentSeq ${indentSeq}`);
    t.ok(
      fast.objects.every((o) => o.line > 3),
      'each item is placed on its own line, not the document start',
    );
    t.same(
      fast.objects.map((o) => o.index),
      [0, 1, 2, 3],
    );
  }
});

t.test('a broken document is reported with its line and the others are still read', async (t) => {
  const text =
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\nkind: Pod\nmetadata: {name: [\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n';
  const { fast, precise } = both('broken.yaml', text);
  t.same(fast, precise);
  t.equal(fast.objects.length, 2);
  t.equal(fast.errors.length, 1);
  t.ok(
    fast.errors[0]!.line >= 6 && fast.errors[0]!.line <= 8,
    `error line ${fast.errors[0]!.line} is in the broken document`,
  );
});

t.test('documents the fast path cannot be sure of go to the precise parser', async (t) => {
  for (const text of [
    '%YAML 1.2\n---\nkind: Namespace\nmetadata: {name: a}\n',
    '--- {kind: Namespace, metadata: {name: a}}\n',
    'kind: Namespace\nmetadata: {name: a}\nmetadata: {name: b}\n',
  ]) {
    const { fast, precise } = both('x.yaml', text);
    t.same(fast, precise, JSON.stringify(text));
  }
});
