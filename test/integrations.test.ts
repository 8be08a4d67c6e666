// CI integrations as their hosts run them: the composite GitHub Action's steps (action.yml) executed
// by bash the way the runner executes them, with its inputs, GITHUB_ACTION_PATH and GITHUB_OUTPUT;
// the pre-commit hook (.pre-commit-hooks.yaml) given the staged files pre-commit would pass; and the
// LICENSE that package.json declares.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { node, repoRoot } from './lib/cli.js';

t.setTimeout(600_000);

const PA = (name: string, mode: string): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: ${name}\n  namespace: shop\nspec:\n  mtls:\n    mode: ${mode}\n`;

/** A checkout with manifests, as actions/checkout leaves it. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-ws-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

// The project's Node first on PATH: the runner's would come from actions/setup-node.
const PATH = `${join(node, '..')}${delimiter}${process.env['PATH']}`;

interface Step {
  id?: string;
  uses?: string;
  shell?: string;
  run?: string;
  env?: Record<string, string>;
}
interface Action {
  runs: { using: string; steps: Step[] };
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { value: string }>;
}
const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as Action;

/** Runs the action's shell steps (setup-node and the install step are what the runner does for us). */
function runAction(
  cwd: string,
  inputs: Record<string, string>,
): { code: number; out: string; outputs: Record<string, string> } {
  const values = Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, inputs[k] ?? v.default ?? '']));
  const expr = (s: string): string => s.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, k: string) => values[k] ?? '');
  const outFile = join(cwd, '.github-output');
  writeFileSync(outFile, '');
  let out = '';
  let code = 0;
  for (const step of action.runs.steps) {
    if (step.uses || step.id === 'install' || !step.run) continue;
    const env = {
      ...process.env,
      PATH,
      GITHUB_ACTION_PATH: repoRoot,
      GITHUB_OUTPUT: outFile,
      ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(v)])),
    };
    const r = spawnSync('bash', ['-e', '-c', expr(step.run)], { cwd, env, encoding: 'utf8' });
    out += r.stdout + r.stderr;
    code = r.status ?? -1;
    if (code !== 0) break;
  }
  const outputs = Object.fromEntries(
    readFileSync(outFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { code, out, outputs };
}

t.test('action.yml is a composite action whose outputs come from the check step', async (t) => {
  t.equal(action.runs.using, 'composite');
  t.ok(
    action.runs.steps.some((s) => s.uses?.startsWith('actions/setup-node@')),
    'sets up Node',
  );
  for (const s of action.runs.steps.filter((x) => x.run))
    t.equal(s.shell, 'bash', 'composite run steps name their shell');
  t.same(Object.keys(action.outputs).sort(), ['exit-code', 'sarif-file']);
  for (const o of Object.values(action.outputs)) t.match(o.value, /steps\.check\.outputs\./);
});

t.test('the action passes clean manifests and writes a SARIF 2.1.0 file', async (t) => {
  const ws = workspace({ 'k8s/strict.yaml': PA('strict', 'STRICT'), 'README.md': '# app\n' });
  const r = runAction(ws, { files: 'k8s' });
  t.equal(r.code, 0, r.out);
  t.same(r.outputs, { 'sarif-file': 'meshlock.sarif', 'exit-code': '0' });
  const sarif = JSON.parse(readFileSync(join(ws, 'meshlock.sarif'), 'utf8')) as {
    version: string;
    runs: { results: unknown[] }[];
  };
  t.equal(sarif.version, '2.1.0');
  t.same(sarif.runs[0]?.results, []);
  t.match(r.out, /1 object: 0 denied/, 'the text report is in the log');
});

t.test(
  'the action fails on a would-be denial, with the result located in the repository for code scanning',
  async (t) => {
    const ws = workspace({ 'k8s/open.yaml': PA('open', 'PERMISSIVE'), 'k8s/strict.yaml': PA('strict', 'STRICT') });
    const r = runAction(ws, { files: 'k8s', 'sarif-file': 'out/m.sarif' });
    t.equal(r.code, 1, r.out);
    t.equal(r.outputs['exit-code'], '1');
    t.match(r.out, /::error::meshlock check: something would be denied/);
    const sarif = JSON.parse(readFileSync(join(ws, 'out/m.sarif'), 'utf8')) as {
      runs: {
        results: {
          ruleId: string;
          locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
        }[];
      }[];
    };
    const res = sarif.runs[0]?.results ?? [];
    t.same(
      res.map((x) => x.ruleId),
      ['pa-mode'],
    );
    t.equal(
      res[0]?.locations[0]?.physicalLocation.artifactLocation.uri,
      'k8s/open.yaml',
      'a path relative to the checkout',
    );
    t.equal(res[0]?.locations[0]?.physicalLocation.region.startLine, 1);
    const soft = runAction(ws, { files: 'k8s', 'fail-on-deny': 'false' });
    t.equal(soft.code, 0, 'fail-on-deny: false only warns');
    t.match(soft.out, /::warning::/);
    t.equal(soft.outputs['exit-code'], '1');
  },
);

t.test('the action fails on bad usage whatever fail-on-deny says: no objects, a bad config', async (t) => {
  const ws = workspace({
    'docs/values.yaml': 'a: 1\n',
    'bad-config.yaml': 'mode: block\n',
    'k8s/strict.yaml': PA('strict', 'STRICT'),
  });
  const none = runAction(ws, { files: 'docs', 'fail-on-deny': 'false' });
  t.equal(none.code, 2, none.out);
  t.match(none.out, /no Kubernetes objects/);
  const bad = runAction(ws, { files: 'k8s', config: 'bad-config.yaml' });
  t.equal(bad.code, 2, bad.out);
  const several = runAction(ws, { files: 'k8s\ndocs', config: '' });
  t.equal(several.code, 0, `files on several lines: ${several.out}`);
});

interface Hook {
  id: string;
  entry: string;
  language: string;
  files: string;
  exclude?: string;
}
const hooks = parse(readFileSync(join(repoRoot, '.pre-commit-hooks.yaml'), 'utf8')) as Hook[];

/** What pre-commit runs: the entry, then the staged files its `files` and `exclude` patterns select. */
function runHook(hook: Hook, cwd: string, staged: string[]): { code: number; out: string } {
  const files = staged.filter(
    (f) => new RegExp(hook.files).test(f) && !(hook.exclude && new RegExp(hook.exclude).test(f)),
  );
  const [bin, ...args] = hook.entry.split(' ');
  t.equal(bin, 'meshlock', 'the entry is the package bin');
  const r = spawnSync(node, [join(repoRoot, 'dist/cli/main.js'), ...args, ...files], { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

t.test('the pre-commit hook fails a commit that adds a would-be denial and passes other YAML', async (t) => {
  const hook = hooks.find((h) => h.id === 'meshlock-check') as Hook;
  t.ok(hook);
  t.equal(hook.language, 'node', 'pre-commit installs the package with npm (npm pack runs prepack, which builds)');
  const ws = workspace({
    'k8s/open.yaml': PA('open', 'PERMISSIVE'),
    'k8s/strict.yaml': PA('strict', 'STRICT'),
    '.github/workflows/ci.yml': 'on: push\njobs: {}\n',
    'chart/templates/svc.yaml': 'name: {{ .Release.Name }}\n',
    'chart/values.yaml': 'replicas: 1\n',
    'notes.txt': 'x',
  });
  t.equal(runHook(hook, ws, ['k8s/open.yaml', 'k8s/strict.yaml', 'notes.txt']).code, 1);
  const clean = runHook(hook, ws, [
    'k8s/strict.yaml',
    '.github/workflows/ci.yml',
    'chart/templates/svc.yaml',
    'chart/values.yaml',
  ]);
  t.equal(clean.code, 0, clean.out);
  t.notMatch(clean.out, /templates\/svc\.yaml/, 'Helm templates are excluded by the hook');
  const onlyOther = runHook(hook, ws, ['.github/workflows/ci.yml']);
  t.equal(onlyOther.code, 0, `a commit without manifests passes: ${onlyOther.out}`);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    bin: Record<string, string>;
  };
  t.match(pkg.scripts['prepack'], /build/, 'npm pack builds dist/ first');
  t.equal(pkg.bin['meshlock'], 'dist/cli/main.js');
});

t.test('LICENSE is the full Apache License 2.0 text that package.json declares', async (t) => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { license: string };
  t.equal(pkg.license, 'Apache-2.0');
  t.ok(existsSync(join(repoRoot, 'LICENSE')));
  const text = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');
  t.match(text, /Apache License\s+Version 2\.0, January 2004/);
  t.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  t.match(text, /END OF TERMS AND CONDITIONS/);
  t.match(text, /APPENDIX: How to apply the Apache License to your work/);
  for (let i = 1; i <= 9; i++) t.match(text, new RegExp(`\\n\\s*${i}\\. [A-Z]`), `section ${i}`);
});
