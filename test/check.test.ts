// `meshlock check` as a CI pipeline runs it: the spawned CLI on files, folders and stdin, and the
// external conformance corpus decided exactly as ../shared/conformance/EXPECTATIONS.md lists.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { applyPatch, type PatchOp } from '../src/policy/index.js';
import { corpus, runCli } from './lib/cli.js';
import { skipUnless } from './lib/needs.js';

// Every case spawns the CLI, as CI does; on a loaded machine that takes seconds each.
t.setTimeout(900_000);

interface Result {
  file: string;
  index: number;
  line: number;
  kind: string;
  namespace: string;
  name: string;
  decision: 'allow' | 'deny' | 'warn';
  rules: string[];
  patch: PatchOp[];
}
interface Output {
  summary: { objects: number; denied: number };
  results: Result[];
  errors: { file: string; line: number; message: string }[];
}

const K = (p: string): string => resolve(corpus, 'kyverno-istio', p);
const I = (p: string): string => resolve(corpus, 'istio', p);

function check(args: string[], input?: string): { code: number; out: Output; stderr: string } {
  const r = runCli('main', ['check', '--output', 'json', ...args], input === undefined ? {} : { input });
  let out: Output;
  try {
    out = JSON.parse(r.stdout) as Output;
  } catch {
    throw new Error(`check printed no JSON (exit ${r.code}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
  }
  return { code: r.code, out, stderr: r.stderr };
}

function find(out: Output, file: string, name: string): Result {
  const r = out.results.find(
    (x) =>
      basename(x.file) === basename(file) && x.file.endsWith(file.split('/').slice(-2).join('/')) && x.name === name,
  );
  if (!r)
    throw new Error(
      `no result for ${name} in ${file}; have ${out.results.map((x) => `${basename(x.file)}:${x.name}`).join(', ')}`,
    );
  return r;
}

type Expect = [file: string, names: string[], decision: Result['decision'], rules: string[]];

function expectAll(t: Test, out: Output, rows: Expect[]): void {
  for (const [file, names, decision, rules] of rows) {
    for (const name of names) {
      const r = find(out, file, name);
      t.equal(r.decision, decision, `${basename(file)} ${name} is ${decision}`);
      t.same(r.rules, rules, `${basename(file)} ${name} is decided by ${rules.join(', ') || 'no rule'}`);
    }
  }
}

// Without ../shared beside the clone these are skipped saying so; with CI=true they are required.
const needsCorpus = { skip: skipUnless('corpus') };

t.test('the external corpus exists', needsCorpus, async (t) => {
  t.ok(existsSync(resolve(corpus, 'EXPECTATIONS.md')), `${corpus}/EXPECTATIONS.md`);
  t.ok(existsSync(K('enforce-strict-mtls/pa-bad.yaml')));
  t.ok(existsSync(I('injection.yaml')));
});

t.test(
  'the kyverno-istio corpus is decided as EXPECTATIONS.md lists (default config, namespace shop)',
  needsCorpus,
  async (t) => {
    const { code, out } = check([
      '-n',
      'shop',
      '-f',
      resolve(corpus, 'kyverno-istio/enforce-strict-mtls'),
      '-f',
      resolve(corpus, 'kyverno-istio/enforce-tls-hosts-host-subnets'),
      '-f',
      resolve(corpus, 'kyverno-istio/enforce-sidecar-injection-namespace'),
      '-f',
      resolve(corpus, 'kyverno-istio/add-sidecar-injection-namespace'),
      '-f',
      resolve(corpus, 'kyverno-istio/prevent-disabling-injection-pods'),
    ]);
    t.equal(code, 1, 'exit 1: something would be denied');
    t.same(out.errors, []);
    expectAll(t, out, [
      [K('enforce-strict-mtls/pa-bad.yaml'), ['pa-bad01', 'pa-bad02', 'pa-bad03'], 'deny', ['pa-mode']],
      [
        K('enforce-strict-mtls/pa-good.yaml'),
        ['good-pa01', 'good-pa02', 'good-pa03', 'good-pa04', 'good-pa05'],
        'allow',
        [],
      ],
      [K('enforce-tls-hosts-host-subnets/dr-bad.yaml'), ['bad-dr01', 'bad-dr02'], 'deny', ['dr-tls-disable']],
      [K('enforce-tls-hosts-host-subnets/dr-good.yaml'), ['good-dr01', 'good-dr02'], 'deny', ['dr-tls-origination']],
      [K('enforce-tls-hosts-host-subnets/dr-good.yaml'), ['good-dr03', 'good-dr04', 'good-dr05'], 'allow', []],
      [
        K('enforce-sidecar-injection-namespace/ns-bad-disabled.yaml'),
        ['bad-istio-sinj01'],
        'deny',
        ['ns-injection-disabled'],
      ],
      [K('enforce-sidecar-injection-namespace/ns-bad-somelabel.yaml'), ['bad-istio-sinj02'], 'allow', []],
      [K('enforce-sidecar-injection-namespace/ns-bad-nolabel.yaml'), ['bad-istio-sinj03'], 'allow', []],
      [K('enforce-sidecar-injection-namespace/ns-good.yaml'), ['good-istio-sinj01', 'good-istio-sinj02'], 'allow', []],
      [K('add-sidecar-injection-namespace/chainsaw-step-02-apply-1.yaml'), ['istio-test-en-ns'], 'allow', []],
      [
        K('add-sidecar-injection-namespace/chainsaw-step-02-apply-2.yaml'),
        ['istio-test-dis-ns'],
        'deny',
        ['ns-injection-disabled'],
      ],
      [
        K('prevent-disabling-injection-pods/pod-bad.yaml'),
        ['badpod01', 'badpod02'],
        'deny',
        ['pod-injection-disabled'],
      ],
      [K('prevent-disabling-injection-pods/pod-good.yaml'), ['goodpod01', 'goodpod02'], 'allow', []],
      [
        K('prevent-disabling-injection-pods/podcontroller-bad.yaml'),
        ['baddeploy01', 'baddeploy02', 'badcronjob01', 'badcronjob02'],
        'deny',
        ['pod-injection-disabled'],
      ],
      [
        K('prevent-disabling-injection-pods/podcontroller-good.yaml'),
        ['gooddeploy01', 'gooddeploy02', 'goodcronjob01', 'goodcronjob02'],
        'allow',
        [],
      ],
    ]);
    // Mutations: what is patched and what is not.
    for (const [file, name] of [
      ['enforce-sidecar-injection-namespace/ns-bad-disabled.yaml', 'bad-istio-sinj01'],
      ['enforce-sidecar-injection-namespace/ns-good.yaml', 'good-istio-sinj01'],
      ['enforce-sidecar-injection-namespace/ns-good.yaml', 'good-istio-sinj02'],
      ['add-sidecar-injection-namespace/chainsaw-step-02-apply-1.yaml', 'istio-test-en-ns'],
      ['add-sidecar-injection-namespace/chainsaw-step-02-apply-2.yaml', 'istio-test-dis-ns'],
    ] as const) {
      t.same(find(out, K(file), name).patch, [], `${name} is not patched: an explicit label is never overwritten`);
    }
    for (const name of ['bad-istio-sinj02', 'bad-istio-sinj03']) {
      const r = out.results.find((x) => x.name === name) as Result;
      const patched = applyPatch(parse(readFileSync(r.file, 'utf8')), r.patch) as {
        metadata: { labels: Record<string, string> };
      };
      t.equal(patched.metadata.labels['istio-injection'], 'enabled', `${name}: mutate adds istio-injection: enabled`);
    }
    for (const [step, target] of [
      ['3', 'patched-ns-none.yaml'],
      ['4', 'patched-ns-alt.yaml'],
    ]) {
      const file = K(`add-sidecar-injection-namespace/chainsaw-step-02-apply-${step}.yaml`);
      const r = out.results.find((x) => x.file === file) as Result;
      t.equal(r.decision, 'allow');
      const patched = applyPatch(parse(readFileSync(file, 'utf8')), r.patch) as { metadata: { labels: unknown } };
      const expected = parse(readFileSync(K(`add-sidecar-injection-namespace/${target}`), 'utf8')) as {
        metadata: { labels: unknown };
      };
      t.same(patched.metadata.labels, expected.metadata.labels, `apply-${step} is patched to ${target}`);
    }
    for (const name of ['goodpod01', 'goodpod02', 'gooddeploy01', 'goodcronjob01']) {
      const r = out.results.find((x) => x.name === name) as Result;
      t.ok(
        r.patch.some((op) => op.path.endsWith('/sidecar.istio.io~1inject') && op.value === 'true'),
        `${name}: mutate adds label sidecar.istio.io/inject: "true"`,
      );
    }
  },
);

t.test(
  'without mutation (the validating webhook alone) unlabelled namespaces are denied by ns-injection-missing',
  needsCorpus,
  async (t) => {
    const { code, out } = check([
      '-n',
      'shop',
      '--no-mutate',
      '-f',
      resolve(corpus, 'kyverno-istio/enforce-sidecar-injection-namespace'),
      '-f',
      I('injection.yaml'),
    ]);
    t.equal(code, 1);
    expectAll(t, out, [
      [
        K('enforce-sidecar-injection-namespace/ns-bad-somelabel.yaml'),
        ['bad-istio-sinj02'],
        'deny',
        ['ns-injection-missing'],
      ],
      [
        K('enforce-sidecar-injection-namespace/ns-bad-nolabel.yaml'),
        ['bad-istio-sinj03'],
        'deny',
        ['ns-injection-missing'],
      ],
      [I('injection.yaml'), ['bar'], 'deny', ['ns-injection-missing']],
    ]);
    t.ok(
      out.results.every((r) => r.patch.length === 0),
      'nothing is patched',
    );
  },
);

t.test(
  'in the root namespace an UNSET mesh-wide policy is denied and a selector policy only warns',
  needsCorpus,
  async (t) => {
    const { out } = check(['-n', 'istio-system', '-f', K('enforce-strict-mtls/pa-good.yaml')]);
    expectAll(t, out, [
      [K('enforce-strict-mtls/pa-good.yaml'), ['good-pa01'], 'allow', []],
      [K('enforce-strict-mtls/pa-good.yaml'), ['good-pa02', 'good-pa03', 'good-pa05'], 'deny', ['pa-mesh-strict']],
      [K('enforce-strict-mtls/pa-good.yaml'), ['good-pa04'], 'warn', ['pa-root-selector']],
    ]);
  },
);

t.test('with dataplane: ambient the ambient corpus is decided as EXPECTATIONS.md lists', needsCorpus, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-'));
  const config = join(dir, 'ambient.yaml');
  writeFileSync(config, 'dataplane: ambient\n');
  const { out } = check([
    '-n',
    'shop',
    '--config',
    config,
    '-f',
    resolve(corpus, 'kyverno-istio/enforce-ambient-mode-namespace'),
    '-f',
    resolve(corpus, 'kyverno-istio/add-ambient-mode-namespace'),
  ]);
  expectAll(t, out, [
    [K('enforce-ambient-mode-namespace/ns-bad-disabled.yaml'), ['bad-istio-amb01'], 'deny', ['ns-injection-disabled']],
    [K('enforce-ambient-mode-namespace/ns-bad-somelabel.yaml'), ['bad-istio-amb02'], 'allow', []],
    [K('enforce-ambient-mode-namespace/ns-bad-nolabel.yaml'), ['bad-istio-amb03'], 'allow', []],
    [K('enforce-ambient-mode-namespace/ns-good.yaml'), ['good-istio-amb01', 'good-istio-amb02'], 'allow', []],
    [K('add-ambient-mode-namespace/chainsaw-step-02-apply-1.yaml'), ['istio-test-en-ns'], 'allow', []],
    [
      K('add-ambient-mode-namespace/chainsaw-step-02-apply-2.yaml'),
      ['istio-test-dis-ns'],
      'deny',
      ['ns-injection-disabled'],
    ],
  ]);
  t.same(
    find(out, K('enforce-ambient-mode-namespace/ns-bad-disabled.yaml'), 'bad-istio-amb01').patch,
    [],
    'amb01: no patch',
  );
  for (const name of ['bad-istio-amb02', 'bad-istio-amb03']) {
    const r = out.results.find((x) => x.name === name) as Result;
    const patched = applyPatch(parse(readFileSync(r.file, 'utf8')), r.patch) as {
      metadata: { labels: Record<string, string> };
    };
    t.equal(
      patched.metadata.labels['istio.io/dataplane-mode'],
      'ambient',
      `${name}: mutate adds istio.io/dataplane-mode: ambient`,
    );
  }
  for (const [step, target] of [
    ['3', 'patched-ns-none.yaml'],
    ['4', 'patched-ns-alt.yaml'],
  ]) {
    const file = K(`add-ambient-mode-namespace/chainsaw-step-02-apply-${step}.yaml`);
    const r = out.results.find((x) => x.file === file) as Result;
    const patched = applyPatch(parse(readFileSync(file, 'utf8')), r.patch) as { metadata: { labels: unknown } };
    const expected = parse(readFileSync(K(`add-ambient-mode-namespace/${target}`), 'utf8')) as {
      metadata: { labels: unknown };
    };
    t.same(patched.metadata.labels, expected.metadata.labels, `ambient apply-${step} is patched to ${target}`);
  }
  const dis = out.results.find(
    (x) => x.file === K('add-ambient-mode-namespace/chainsaw-step-02-apply-2.yaml'),
  ) as Result;
  t.same(dis.patch, [], 'ambient apply-2 is not patched');
});

t.test(
  "Istio's own PeerAuthentication validation cases and injection cluster are decided as EXPECTATIONS.md lists",
  needsCorpus,
  async (t) => {
    const { out } = check([
      '-n',
      'shop',
      '-f',
      I('peerauth-invalid.yaml'),
      '-f',
      I('peerauth-valid.yaml'),
      '-f',
      I('injection.yaml'),
    ]);
    t.same(out.errors, []);
    expectAll(t, out, [
      [I('peerauth-invalid.yaml'), ['bad-mode'], 'deny', ['pa-mode']],
      [
        I('peerauth-invalid.yaml'),
        ['bad-port', 'zero-port', 'high-port', 'empty-port-level', 'port-level-global'],
        'deny',
        ['pa-port-mode'],
      ],
      [I('peerauth-valid.yaml'), ['full'], 'deny', ['pa-mode']],
      [I('peerauth-valid.yaml'), ['partial-selector'], 'allow', []],
      [I('injection.yaml'), ['default', 'ambient', 'canary-test', 'pidgeon-test', 'not-conflict-ns-1'], 'allow', []],
      [I('injection.yaml'), ['foo', 'not-conflict-ns-2'], 'deny', ['ns-injection-disabled']],
      [I('injection.yaml'), ['bar'], 'allow', []],
      [I('injection.yaml'), ['busted', 'multi-ns-1', 'multi-ns-2', 'multi-ns-3'], 'warn', ['ns-injection-conflict']],
      [
        I('injection.yaml'),
        ['podinjectiondisabled', 'podinjectiondisabled-label', 'podinjectiondisabled-label-and-anno'],
        'deny',
        ['pod-injection-disabled'],
      ],
      [I('injection.yaml'), ['noninjectedpodhostnetwork'], 'deny', ['pod-host-network']],
      [I('injection.yaml'), ['injectedpod', 'noninjectedpod', 'istiod-canary-1234567890-12345'], 'allow', []],
    ]);
    for (const name of ['default', 'ambient', 'canary-test', 'pidgeon-test'])
      t.same(find(out, I('injection.yaml'), name).patch, [], `${name}: no patch`);
  },
);

const BAD_PA = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: open
  namespace: shop
spec:
  mtls:
    mode: PERMISSIVE
`;
const GOOD_PA = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: strict
  namespace: shop
spec:
  mtls:
    mode: STRICT
`;

t.test('exit status is 0 when nothing would be denied, 1 when something would, 2 for unreadable input', async (t) => {
  t.equal(runCli('main', ['check', '-f', '-'], { input: GOOD_PA }).code, 0);
  t.equal(runCli('main', ['check', '-f', '-'], { input: BAD_PA }).code, 1);
  const missing = runCli('main', ['check', '-f', '/nonexistent/manifests.yaml']);
  t.equal(missing.code, 2);
  t.match(missing.stdout + missing.stderr, /nonexistent\/manifests\.yaml/);
  t.equal(runCli('main', ['check']).code, 2, 'no input is bad usage');
  t.equal(
    runCli('main', ['check', '-f', '-', '--output', 'yaml'], { input: GOOD_PA }).code,
    2,
    'an unknown format is bad usage',
  );
});

t.test('a YAML error names its file and line and never hides the other documents', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-'));
  const file = join(dir, 'mixed.yaml');
  writeFileSync(file, `${BAD_PA}---\nkind: [unclosed\n  bad: : :\n---\n${GOOD_PA}`);
  const { code, out, stderr } = check(['-f', file]);
  t.equal(code, 2, 'unreadable input wins the exit status');
  t.equal(out.errors.length, 1);
  t.equal(out.errors[0]?.file, file);
  t.equal(out.errors[0]?.line, 10, 'the line of the broken document');
  t.match(stderr, `${file}:10`);
  t.same(
    out.results.map((r) => [r.name, r.decision]),
    [
      ['open', 'deny'],
      ['strict', 'allow'],
    ],
    'both good documents were still decided',
  );
  const text = runCli('main', ['check', '-f', file]);
  t.match(text.stdout, `ERROR ${file}:10`);
  t.match(text.stdout, /DENY {2}PeerAuthentication shop\/open/);
});

t.test('folders are read recursively (.yaml, .yml, .json), and JSON and kind: List are understood', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-'));
  const sub = join(dir, 'a', 'b');
  (await import('node:fs')).mkdirSync(sub, { recursive: true });
  writeFileSync(join(dir, 'one.yml'), BAD_PA);
  writeFileSync(join(sub, 'two.json'), JSON.stringify(parse(GOOD_PA)));
  writeFileSync(
    join(sub, 'list.yaml'),
    `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: team-a\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n    namespace: team-a\n  spec:\n    hostNetwork: true\n    containers: [{name: app, image: nginx}]\n`,
  );
  writeFileSync(join(sub, 'notes.txt'), 'not a manifest');
  const { out } = check(['-f', dir]);
  t.same(out.results.map((r) => `${basename(r.file)}#${r.index}:${r.kind}/${r.name}:${r.decision}`).sort(), [
    'list.yaml#0:Namespace/team-a:allow',
    'list.yaml#1:Pod/p:deny',
    'one.yml#0:PeerAuthentication/open:deny',
    'two.json#0:PeerAuthentication/strict:allow',
  ]);
  const pod = out.results.find((r) => r.name === 'p') as Result;
  t.equal(pod.line, 8, 'a List item has its own line');
});

t.test('objects without a namespace are checked in --namespace (default "default")', async (t) => {
  const pa = BAD_PA.replace('  namespace: shop\n', '');
  t.equal(check(['-f', '-'], pa).out.results[0]?.namespace, 'default');
  t.equal(
    check(['-f', '-', '-n', 'istio-system'], GOOD_PA.replace('  namespace: shop\n', '')).out.results[0]?.namespace,
    'istio-system',
  );
});

t.test('the JSON output gives each object its decision for tools to compare', async (t) => {
  const { out } = check(['-f', '-'], BAD_PA);
  const r = out.results[0] as Result & Record<string, unknown>;
  for (const key of ['file', 'index', 'kind', 'namespace', 'name', 'decision', 'rules'])
    t.ok(key in r, `result has ${key}`);
  t.same(
    [r.file, r.index, r.kind, r.namespace, r.name, r.decision, r.rules],
    ['<stdin>', 0, 'PeerAuthentication', 'shop', 'open', 'deny', ['pa-mode']],
  );
});

t.test('the text output is short, and coloured only on a terminal', async (t) => {
  const r = runCli('main', ['check', '-f', '-'], { input: BAD_PA });
  t.notOk(r.stdout.includes('\u001b['), 'no escape codes when stdout is a pipe');
  t.match(r.stdout, /DENY {2}PeerAuthentication shop\/open \(<stdin>:1\)/);
  t.match(r.stdout, /\[pa-mode\] mTLS mode "PERMISSIVE"/);
  t.match(r.stdout, /1 object: 1 denied, 0 warned, 0 patched/);
  t.ok(r.stdout.split('\n').length < 8);
});

t.test('a dry-run mode reports the would-be patch without applying it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-'));
  const config = join(dir, 'c.yaml');
  writeFileSync(config, 'mode: dry-run\n');
  const { code, out } = check(
    ['--config', config, '-f', '-'],
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n',
  );
  t.equal(code, 0, 'dry-run never denies');
  const r = out.results[0] as Result & { mutations: { id: string; applied: boolean }[] };
  t.same(r.patch, []);
  t.same(
    r.mutations.map((m) => [m.id, m.applied]),
    [['ns-injection-label', false]],
  );
  t.same(r.rules, ['ns-injection-missing']);
  t.equal(r.decision, 'warn');
});

t.test('an invalid config file is bad usage with the path of every error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-'));
  const config = join(dir, 'c.yaml');
  writeFileSync(config, 'mode: block\n');
  const r = runCli('main', ['check', '--config', config, '-f', '-'], { input: GOOD_PA });
  t.equal(r.code, 2);
  t.match(r.stderr, '/mode');
});
