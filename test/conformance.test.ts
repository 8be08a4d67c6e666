// The external conformance corpus (../shared/conformance, objects written by Kyverno's and Istio's
// authors) decided through the engine exactly as its EXPECTATIONS.md says. The corpus is read at
// test time, never copied; without it the file is skipped saying so, and with CI=true it fails.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfigText, resolveConfig, type ResolvedConfig } from '../src/config/index.js';
import { applyPatch, inputFromObject, mutate, validate, type EngineInput } from '../src/policy/index.js';
import { skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'corpus');

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const CORPUS = path.resolve(repoRoot, '../shared/conformance');
const NOW = new Date('2026-06-01T00:00:00Z');

type Mutation =
  /** The mutating webhook returns no patch. */
  | { readonly none: true }
  /** Applying the returned patch yields this corpus file. */
  | { readonly patchedTo: string }
  /** The patch adds exactly this label to the pod (template) labels. */
  | { readonly addsPodLabel: true };

interface Expectation {
  readonly file: string;
  /** metadata.name, or a prefix ending in `*`. */
  readonly object: string;
  /** Namespace to evaluate in when it is not the object's own (default: metadata.namespace, else `shop`). */
  readonly ns?: string;
  readonly dataplane?: 'ambient';
  readonly denied?: readonly string[];
  readonly warned?: readonly string[];
  readonly mutate?: Mutation;
  /** After the mutation is applied, the validating webhook allows the object. */
  readonly allowedAfterMutation?: boolean;
}

const K = 'kyverno-istio';
const NONE: Mutation = { none: true };
const E: Expectation[] = [
  // enforce-strict-mtls
  ...['pa-bad01', 'pa-bad02', 'pa-bad03'].map((o) => ({
    file: `${K}/enforce-strict-mtls/pa-bad.yaml`,
    object: o,
    denied: ['pa-mode'],
  })),
  { file: `${K}/enforce-strict-mtls/pa-good.yaml`, object: 'good-pa01' },
  { file: `${K}/enforce-strict-mtls/pa-good.yaml`, object: 'good-pa01', ns: 'istio-system' },
  ...['good-pa02', 'good-pa03', 'good-pa05'].flatMap((o) => [
    { file: `${K}/enforce-strict-mtls/pa-good.yaml`, object: o },
    // Stricter than Kyverno: at mesh level UNSET means PERMISSIVE.
    { file: `${K}/enforce-strict-mtls/pa-good.yaml`, object: o, ns: 'istio-system', denied: ['pa-mesh-strict'] },
  ]),
  { file: `${K}/enforce-strict-mtls/pa-good.yaml`, object: 'good-pa04' },
  {
    file: `${K}/enforce-strict-mtls/pa-good.yaml`,
    object: 'good-pa04',
    ns: 'istio-system',
    warned: ['pa-root-selector'],
  },
  // enforce-tls-hosts-host-subnets
  ...['bad-dr01', 'bad-dr02'].map((o) => ({
    file: `${K}/enforce-tls-hosts-host-subnets/dr-bad.yaml`,
    object: o,
    denied: ['dr-tls-disable'],
  })),
  // Stricter than Kyverno: other certificates replace the mesh identity for an in-mesh host.
  ...['good-dr01', 'good-dr02'].map((o) => ({
    file: `${K}/enforce-tls-hosts-host-subnets/dr-good.yaml`,
    object: o,
    denied: ['dr-tls-origination'],
  })),
  ...['good-dr03', 'good-dr04', 'good-dr05'].map((o) => ({
    file: `${K}/enforce-tls-hosts-host-subnets/dr-good.yaml`,
    object: o,
  })),
  // enforce-sidecar-injection-namespace
  {
    file: `${K}/enforce-sidecar-injection-namespace/ns-bad-disabled.yaml`,
    object: 'bad-istio-sinj01',
    denied: ['ns-injection-disabled'],
    mutate: NONE,
  },
  {
    file: `${K}/enforce-sidecar-injection-namespace/ns-bad-somelabel.yaml`,
    object: 'bad-istio-sinj02',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: '' },
    allowedAfterMutation: true,
  },
  {
    file: `${K}/enforce-sidecar-injection-namespace/ns-bad-nolabel.yaml`,
    object: 'bad-istio-sinj03',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: '' },
    allowedAfterMutation: true,
  },
  ...['good-istio-sinj01', 'good-istio-sinj02'].map((o) => ({
    file: `${K}/enforce-sidecar-injection-namespace/ns-good.yaml`,
    object: o,
    mutate: NONE,
  })),
  // add-sidecar-injection-namespace
  {
    file: `${K}/add-sidecar-injection-namespace/chainsaw-step-02-apply-1.yaml`,
    object: 'istio-test-en-ns',
    mutate: NONE,
  },
  // Differs from Kyverno's patched-ns-disabled.yaml on purpose: an explicit opt-out is refused, not overwritten.
  {
    file: `${K}/add-sidecar-injection-namespace/chainsaw-step-02-apply-2.yaml`,
    object: 'istio-test-dis-ns',
    denied: ['ns-injection-disabled'],
    mutate: NONE,
  },
  {
    file: `${K}/add-sidecar-injection-namespace/chainsaw-step-02-apply-3.yaml`,
    object: 'istio-test-none-ns',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: `${K}/add-sidecar-injection-namespace/patched-ns-none.yaml` },
    allowedAfterMutation: true,
  },
  {
    file: `${K}/add-sidecar-injection-namespace/chainsaw-step-02-apply-4.yaml`,
    object: 'istio-test-alt-ns',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: `${K}/add-sidecar-injection-namespace/patched-ns-alt.yaml` },
    allowedAfterMutation: true,
  },
  // prevent-disabling-injection-pods
  ...['badpod01', 'badpod02'].map((o) => ({
    file: `${K}/prevent-disabling-injection-pods/pod-bad.yaml`,
    object: o,
    denied: ['pod-injection-disabled'],
  })),
  ...['goodpod01', 'goodpod02'].map((o) => ({
    file: `${K}/prevent-disabling-injection-pods/pod-good.yaml`,
    object: o,
    mutate: { addsPodLabel: true } as const,
    allowedAfterMutation: true,
  })),
  ...['baddeploy01', 'baddeploy02', 'badcronjob01', 'badcronjob02'].map((o) => ({
    file: `${K}/prevent-disabling-injection-pods/podcontroller-bad.yaml`,
    object: o,
    denied: ['pod-injection-disabled'],
  })),
  ...['gooddeploy01', 'gooddeploy02', 'goodcronjob01', 'goodcronjob02'].map((o) => ({
    file: `${K}/prevent-disabling-injection-pods/podcontroller-good.yaml`,
    object: o,
    mutate: { addsPodLabel: true } as const,
    allowedAfterMutation: true,
  })),

  // With `dataplane: ambient`
  {
    file: `${K}/enforce-ambient-mode-namespace/ns-bad-disabled.yaml`,
    object: 'bad-istio-amb01',
    dataplane: 'ambient',
    denied: ['ns-injection-disabled'],
    mutate: NONE,
  },
  {
    file: `${K}/enforce-ambient-mode-namespace/ns-bad-somelabel.yaml`,
    object: 'bad-istio-amb02',
    dataplane: 'ambient',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: '' },
    allowedAfterMutation: true,
  },
  {
    file: `${K}/enforce-ambient-mode-namespace/ns-bad-nolabel.yaml`,
    object: 'bad-istio-amb03',
    dataplane: 'ambient',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: '' },
    allowedAfterMutation: true,
  },
  ...['good-istio-amb01', 'good-istio-amb02'].map((o) => ({
    file: `${K}/enforce-ambient-mode-namespace/ns-good.yaml`,
    object: o,
    dataplane: 'ambient' as const,
    mutate: NONE,
  })),
  {
    file: `${K}/add-ambient-mode-namespace/chainsaw-step-02-apply-1.yaml`,
    object: 'istio-test-en-ns',
    dataplane: 'ambient',
    mutate: NONE,
  },
  {
    file: `${K}/add-ambient-mode-namespace/chainsaw-step-02-apply-2.yaml`,
    object: 'istio-test-dis-ns',
    dataplane: 'ambient',
    denied: ['ns-injection-disabled'],
    mutate: NONE,
  },
  {
    file: `${K}/add-ambient-mode-namespace/chainsaw-step-02-apply-3.yaml`,
    object: 'istio-test-none-ns',
    dataplane: 'ambient',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: `${K}/add-ambient-mode-namespace/patched-ns-none.yaml` },
    allowedAfterMutation: true,
  },
  {
    file: `${K}/add-ambient-mode-namespace/chainsaw-step-02-apply-4.yaml`,
    object: 'istio-test-alt-ns',
    dataplane: 'ambient',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: `${K}/add-ambient-mode-namespace/patched-ns-alt.yaml` },
    allowedAfterMutation: true,
  },

  // istio/
  { file: 'istio/peerauth-invalid.yaml', object: 'bad-mode', denied: ['pa-mode'] },
  ...['bad-port', 'zero-port', 'high-port', 'empty-port-level', 'port-level-global'].map((o) => ({
    file: 'istio/peerauth-invalid.yaml',
    object: o,
    denied: ['pa-port-mode'],
  })),
  // Other ports accept plaintext.
  { file: 'istio/peerauth-valid.yaml', object: 'full', denied: ['pa-mode'] },
  { file: 'istio/peerauth-valid.yaml', object: 'partial-selector' },
  ...['default', 'ambient', 'canary-test', 'pidgeon-test', 'not-conflict-ns-1'].map((o) => ({
    file: 'istio/injection.yaml',
    object: o,
    mutate: NONE,
  })),
  ...['foo', 'not-conflict-ns-2'].map((o) => ({
    file: 'istio/injection.yaml',
    object: o,
    denied: ['ns-injection-disabled'],
    mutate: NONE,
  })),
  {
    file: 'istio/injection.yaml',
    object: 'bar',
    denied: ['ns-injection-missing'],
    mutate: { patchedTo: '' },
    allowedAfterMutation: true,
  },
  ...['busted', 'multi-ns-1', 'multi-ns-2', 'multi-ns-3'].map((o) => ({
    file: 'istio/injection.yaml',
    object: o,
    warned: ['ns-injection-conflict'],
    mutate: NONE,
  })),
  ...['podinjectiondisabled', 'podinjectiondisabled-label', 'podinjectiondisabled-label-and-anno'].map((o) => ({
    file: 'istio/injection.yaml',
    object: o,
    denied: ['pod-injection-disabled'],
  })),
  { file: 'istio/injection.yaml', object: 'noninjectedpodhostnetwork', denied: ['pod-host-network'] },
  ...['injectedpod', 'noninjectedpod', 'istiod-canary-*'].map((o) => ({ file: 'istio/injection.yaml', object: o })),
];

/** Corpus files holding objects to decide: everything but the CRDs, Kyverno's policies and Kyverno's expected outputs. */
function corpusFiles(): string[] {
  const out: string[] = [];
  for (const top of [K, 'istio']) {
    const walk = (rel: string): void => {
      for (const entry of readdirSync(path.join(CORPUS, rel), { withFileTypes: true })) {
        const r = `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          if (r !== `${K}/policies`) walk(r);
        } else if (
          entry.name.endsWith('.yaml') &&
          !entry.name.startsWith('patched-') &&
          entry.name !== 'crd-all.gen.yaml'
        )
          out.push(r);
      }
    };
    walk(top);
  }
  return out.sort();
}

type Doc = Record<string, unknown>;

function readDocs(rel: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(path.join(CORPUS, rel), 'utf8'));
  const out: Doc[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${rel}: ${d.errors[0]?.message}`);
    const v: unknown = d.toJS();
    if (v === null || v === undefined) continue;
    const doc = { ...(v as Doc) };
    // Istio's CRD validation cases carry the error Istio expects under `_err`; it is not part of the object.
    delete doc['_err'];
    out.push(doc);
  }
  return out;
}

const nameOf = (d: Doc): string => String((d['metadata'] as Doc | undefined)?.['name'] ?? '');
const matches = (e: Expectation, d: Doc): boolean =>
  e.object.endsWith('*') ? nameOf(d).startsWith(e.object.slice(0, -1)) : nameOf(d) === e.object;

const configs = new Map<string, ResolvedConfig>();
function configFor(e: Expectation): ResolvedConfig {
  const text = e.dataplane ? `dataplane: ${e.dataplane}\n` : '';
  let c = configs.get(text);
  if (!c) configs.set(text, (c = resolveConfig(parseConfigText(text), 'meshlock')));
  return c;
}

function inputFor(e: Expectation, d: Doc): EngineInput {
  // Objects without a namespace are evaluated in `shop` (EXPECTATIONS.md).
  const input = inputFromObject(d, 'shop', 'CREATE');
  return e.ns !== undefined && input.kind !== 'Namespace' ? { ...input, namespace: e.ns } : input;
}

const podLabelsPath = (kind: string): string =>
  kind === 'Pod'
    ? '/metadata/labels'
    : kind === 'CronJob'
      ? '/spec/jobTemplate/spec/template/metadata/labels'
      : '/spec/template/metadata/labels';

t.test('the conformance corpus is present', async (t) => {
  t.ok(existsSync(path.join(CORPUS, 'EXPECTATIONS.md')), `corpus found at ${CORPUS}`);
});

t.test('every corpus object is decided as EXPECTATIONS.md says', async (t) => {
  const files = existsSync(CORPUS) ? corpusFiles() : [];
  t.ok(files.length >= 20, `corpus files found (${files.length})`);
  const used = new Set<Expectation>();
  let decided = 0;
  for (const rel of files) {
    t.test(rel, async (t) => {
      for (const doc of readDocs(rel)) {
        const exps = E.filter((e) => e.file === rel && matches(e, doc));
        t.ok(exps.length > 0, `${rel} ${nameOf(doc)} has an expectation`);
        for (const e of exps) {
          used.add(e);
          decided++;
          const ctx = { config: configFor(e), now: NOW };
          const input = inputFor(e, doc);
          const label = `${input.kind} ${input.namespace}/${input.name}${e.dataplane ? ' (dataplane: ambient)' : ''}`;
          const v = validate(input, ctx);
          const denied = [...new Set(v.findings.filter((f) => f.denies).map((f) => f.rule))].sort();
          const warned = [...new Set(v.warnings.map((w) => w.slice(0, w.indexOf(':'))))].sort();
          t.same(
            denied,
            [...(e.denied ?? [])].sort(),
            `${label}: ${e.denied?.length ? `denied by ${e.denied.join(', ')}` : 'allowed'}`,
          );
          t.equal(v.allowed, !e.denied?.length, `${label}: allowed is ${!e.denied?.length}`);
          t.same(warned, [...(e.warned ?? [])].sort(), `${label}: warnings ${e.warned?.join(', ') ?? 'none'}`);
          if (e.mutate === undefined) continue;
          const m = mutate(input, ctx);
          if ('none' in e.mutate) {
            t.same(m.patch, [], `${label}: no patch`);
            continue;
          }
          t.ok(m.patch.length > 0, `${label}: patched`);
          const patched = applyPatch(doc, m.patch);
          if ('patchedTo' in e.mutate) {
            if (e.mutate.patchedTo !== '') {
              t.same(patched, readDocs(e.mutate.patchedTo)[0], `${label}: patched to ${e.mutate.patchedTo}`);
            } else {
              const key = e.dataplane === 'ambient' ? 'istio.io/dataplane-mode' : 'istio-injection';
              const want = e.dataplane === 'ambient' ? 'ambient' : 'enabled';
              const labels = { ...((doc['metadata'] as Doc)['labels'] as Doc | undefined), [key]: want };
              t.same(
                patched,
                { ...doc, metadata: { ...(doc['metadata'] as Doc), labels } },
                `${label}: adds ${key}: ${want}`,
              );
            }
          } else {
            const labelsPath = podLabelsPath(input.kind);
            t.ok(
              m.patch.some(
                (op) => op.op === 'add' && op.path === `${labelsPath}/sidecar.istio.io~1inject` && op.value === 'true',
              ),
              `${label}: adds label sidecar.istio.io/inject: "true"`,
            );
            t.same(
              m.patch.map((op) => op.op),
              m.patch.map(() => 'add'),
              `${label}: only adds`,
            );
          }
          t.same(mutate({ ...input, object: patched }, ctx).patch, [], `${label}: a second mutation yields no patch`);
          if (e.allowedAfterMutation)
            t.ok(validate({ ...input, object: patched }, ctx).allowed, `${label}: allowed once mutated`);
        }
      }
    });
  }
  t.test('every expectation found its object', async (t) => {
    for (const e of E) t.ok(used.has(e), `${e.file} ${e.object}${e.ns ? ` in ${e.ns}` : ''} was decided`);
    t.ok(decided >= E.length, `${decided} decisions`);
  });
});
