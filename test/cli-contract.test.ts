// The command line's contract with CI pipelines, through the spawned CLI: exit 0 clean, 1 would deny
// (or warn, with --fail-on warning), 2 for every usage error and for input with no Kubernetes
// objects; the same flags on every command; clear notes for what is not a Kubernetes object; no
// library warnings on the terminal; help and version without loading any command.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { node, repoRoot, runCli } from './lib/cli.js';
import { locate, skipUnless } from './lib/needs.js';
import { spawnSync } from 'node:child_process';

t.setTimeout(600_000);

const dir = mkdtempSync(join(tmpdir(), 'meshlock-contract-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

const PA = (mode: string): string => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: pa-${mode.toLowerCase()}
  namespace: shop
spec:
  mtls:
    mode: ${mode}
`;
const GOOD = file('good.yaml', PA('STRICT'));
const BAD = file('bad.yaml', PA('PERMISSIVE'));
// The DestinationRule origination rule is a warning-severity rule once set to warn in the config.
const WARN_CONFIG = file('warn.yaml', 'mode: warn\n');

t.test(
  'check: 0 when clean, 1 when something would be denied, 1 for warnings only with --fail-on warning',
  async (t) => {
    t.equal(runCli('main', ['check', '-f', GOOD]).code, 0);
    t.equal(runCli('main', ['check', '-f', BAD]).code, 1);
    t.equal(runCli('main', ['check', '-f', BAD, '-c', WARN_CONFIG]).code, 0, 'warn mode allows');
  },
);

t.test('audit: 0 by default, 1 with --fail-on when findings exist', async (t) => {
  const dump = file(
    'dump.yaml',
    `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: shop}\n- ${PA('PERMISSIVE').replace(/\n/g, '\n  ').trimEnd()}\n`,
  );
  t.equal(runCli('main', ['audit', '-f', dump]).code, 0);
  t.equal(runCli('main', ['audit', '-f', dump, '--fail-on', 'error']).code, 1);
  t.equal(runCli('main', ['audit', '-f', dump, '--fail-on', 'warning']).code, 1);
  t.equal(runCli('main', ['audit', '-f', dump, '-o', 'json']).code, 0, '-o is --output on audit too');
  t.equal(runCli('main', ['audit', '-f', dump, '--format', 'json']).code, 0, '--format still works');
});

t.test('every usage error exits 2: unknown command, unknown flag, bad flag value, missing input', async (t) => {
  const cases: [string[], RegExp][] = [
    [['chekc'], /unknown command 'chekc'[\s\S]*Did you mean check/],
    [['check', '--ouput', 'json', '-f', GOOD], /unknown option '--ouput'[\s\S]*Did you mean --output/],
    [['check', '-f', GOOD, '-o', 'yaml'], /argument 'yaml' is invalid/],
    [['check'], /no input/],
    [['check', '-f', join(dir, 'nope.yaml')], /nope\.yaml/],
    [['audit', '-f', GOOD, '-o', 'yaml'], /argument 'yaml' is invalid/],
    [['audit', '--fail-on', 'sometimes', '-f', GOOD], /argument 'sometimes' is invalid/],
    [['review', 'approve'], /'approve' is invalid/],
    [['certs', 'init', '--days', 'ten', '--out', join(dir, 'c')], /positive whole number/],
    [['certs', 'rotate'], /unknown command 'rotate'/],
    [['serve', '--port', 'x'], /port/],
    [['config', 'validate', '-o', 'yaml', GOOD], /argument 'yaml' is invalid/],
    [['completion', 'tcsh'], /'tcsh' is invalid/],
    [['check', '-f', GOOD, '-c', join(dir, 'missing-config.yaml')], /missing-config\.yaml/],
    // A failure of meshlock's own (here: the output cannot be written) is never exit 1, "would deny".
    [['check', '-f', BAD, '--out', '/dev/null/x/report.txt'], /ENOTDIR|not a directory/],
  ];
  for (const [args, message] of cases) {
    const r = runCli('main', args);
    t.equal(r.code, 2, `meshlock ${args.join(' ')} exits 2`);
    // Unreadable input is also in the text report on stdout; usage errors are on stderr.
    t.match(r.stdout + r.stderr, message, `meshlock ${args.join(' ')} says why`);
  }
});

t.test(
  'check takes paths as arguments too (as pre-commit passes them), and --allow-empty accepts input without objects',
  async (t) => {
    t.equal(runCli('main', ['check', GOOD, BAD]).code, 1);
    t.equal(runCli('main', ['check', GOOD]).code, 0);
    const other = file('other/values.yaml', 'a: 1\n');
    t.equal(runCli('main', ['check', other]).code, 2);
    t.equal(runCli('main', ['check', '--allow-empty', other]).code, 0);
  },
);

t.test('input with no Kubernetes objects is bad usage, for check and audit alike', async (t) => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  for (const cmd of ['check', 'audit']) {
    const r = runCli('main', [cmd, '-f', empty]);
    t.equal(r.code, 2, `${cmd} on an empty folder`);
    t.match(r.stderr, /no Kubernetes objects in/);
  }
  const r = runCli('main', ['check', '-f', '-'], { input: '' });
  t.equal(r.code, 2, 'empty stdin');
});

t.test(
  'non-Kubernetes YAML is skipped with a note, never counted, and the library never warns on the terminal',
  async (t) => {
    const values = file('misc/values.yaml', 'replicas: 2\nimage: {tag: x}\n');
    const odd = file('misc/odd.yaml', '? [a, b]\n: c\n');
    const kust = file(
      'misc/kustomization.yaml',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n',
    );
    const chart = file('misc/Chart.yaml.d/Chart.yaml', 'apiVersion: v2\nname: x\nversion: 0.1.0\n');
    const only = runCli('main', ['check', '-f', values, '-f', odd, '-f', kust, '-f', chart]);
    t.equal(only.code, 2, 'nothing but non-objects: nothing was checked');
    t.match(only.stderr, `note: ${values}:1: skipped, not a Kubernetes object`);
    t.match(only.stderr, `note: ${kust}:1: skipped, a kustomize Kustomization`);
    t.match(only.stderr, `note: ${chart}:1: skipped, not a Kubernetes object (no kind)`);
    t.notMatch(only.stderr, /Warning:|stringified|trace-warnings/, 'no library warning');
    const mixed = runCli('main', ['check', '-f', values, '-f', GOOD, '-o', 'json']);
    t.equal(mixed.code, 0);
    t.equal(
      (JSON.parse(mixed.stdout) as { summary: { objects: number } }).summary.objects,
      1,
      'only the object is counted',
    );
  },
);

t.test('a Helm chart gives one hint to render it first, not a YAML error per template', async (t) => {
  const chart = join(dir, 'chart');
  file('chart/Chart.yaml', 'apiVersion: v2\nname: demo\nversion: 0.1.0\n');
  for (const n of ['a', 'b', 'c'])
    file(
      `chart/templates/${n}.yaml`,
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-${n}\n  labels:\n    {{- include "demo.labels" . | nindent 4 }}\n`,
    );
  const r = runCli('main', ['check', '-f', chart]);
  t.equal(r.code, 2);
  t.equal(r.stderr.match(/helm template RELEASE CHART \| meshlock check -f -/g)?.length, 1, 'one hint');
  t.notMatch(r.stderr, /YAML error/);
  const templates = runCli('main', ['check', '-f', join(chart, 'templates')]);
  t.equal(templates.code, 2);
  t.equal(templates.stderr.match(/helm template/g)?.length, 1, 'one hint for the templates folder too');
});

t.test(
  'a folder with a kustomization is rendered with kubectl kustomize; --no-render reads its files',
  { skip: skipUnless('kubectl') },
  async (t) => {
    const base = join(dir, 'kust');
    file('kust/pa.yaml', PA('PERMISSIVE').replace('  namespace: shop\n', ''));
    file(
      'kust/kustomization.yaml',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: payments\nresources: [pa.yaml]\npatches:\n- target: {kind: PeerAuthentication}\n  patch: |-\n    - op: replace\n      path: /spec/mtls/mode\n      value: STRICT\n',
    );
    const kubectlDir = join(locate('kubectl') as string, '..');
    const env = { PATH: `${kubectlDir}:${process.env['PATH']}` };
    const rendered = runCli('main', ['check', '-f', base, '-o', 'json'], { env });
    t.equal(rendered.code, 0, `the patch makes it STRICT: ${rendered.stderr}`);
    const out = JSON.parse(rendered.stdout) as { results: { namespace: string; file: string }[] };
    t.same(
      out.results.map((r) => [r.namespace, r.file]),
      [['payments', join(base, 'kustomization.yaml')]],
      'the namespace transformer applied; placed at the kustomization',
    );
    const raw = runCli('main', ['check', '-f', base, '--no-render']);
    t.equal(raw.code, 1, 'as written the policy is PERMISSIVE');
    t.match(raw.stderr, /skipped, a kustomize Kustomization/);
    const broken = file('kust-broken/kustomization.yaml', 'resources: [missing.yaml]\n');
    const bad = runCli('main', ['check', '-f', join(broken, '..')], { env });
    t.equal(bad.code, 2);
    t.match(bad.stdout + bad.stderr, /kubectl kustomize failed/);
  },
);

t.test('without kubectl a kustomization folder is read as it is, with a note saying so', async (t) => {
  const base = join(dir, 'kust-nokubectl');
  file('kust-nokubectl/pa.yaml', PA('STRICT'));
  file('kust-nokubectl/kustomization.yaml', 'resources: [pa.yaml]\n');
  const r = runCli('main', ['check', '-f', base], { env: { PATH: '/nonexistent', KUBECTL: '' } });
  t.equal(r.code, 0);
  t.match(r.stderr, /kubectl is not on PATH: its files are read as they are/);
});

t.test('audit without any kubeconfig says so, and how to go on', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'meshlock-home-'));
  const r = runCli('main', ['audit'], { env: { HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } });
  t.equal(r.code, 2);
  t.match(r.stderr, /no cluster to talk to: \$KUBECONFIG is unset/);
  t.match(r.stderr, /--kubeconfig FILE/);
  t.notMatch(r.stderr, /skipTLSVerify|localhost:8080/);
  const wrong = runCli('main', ['audit', '--kubeconfig', join(home, 'nope')]);
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /does not exist/);
});

t.test('the shared flags mean the same on every command that takes them', async (t) => {
  const help = (args: string[]): string => runCli('main', [...args, '--help']).stdout;
  for (const cmd of [['check'], ['audit'], ['review', 'validate'], ['serve'], ['config', 'validate']])
    t.match(help(cmd), /-c, --config <file>/, `${cmd.join(' ')} has -c`);
  for (const cmd of [['check'], ['audit'], ['config', 'validate']])
    t.match(help(cmd), /-o, --output <format>/, `${cmd.join(' ')} has -o`);
  for (const cmd of [['check'], ['audit'], ['certs', 'init']])
    t.match(help(cmd), /-n, --namespace <ns>/, `${cmd.join(' ')} has -n`);
  for (const cmd of [['audit'], ['certs', 'inject']])
    t.match(help(cmd), /--context <name>/, `${cmd.join(' ')} has --context`);
});

t.test('--help and --version load no command module, and exit 0', async (t) => {
  const hook = file(
    'hook.mjs',
    `import { registerHooks } from 'node:module';
registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes('/dist/')) process.stderr.write('LOADED ' + r.url.split('/dist/')[1] + '\\n'); return r; } });
`,
  );
  for (const args of [['--help'], ['--version'], ['-V'], ['help']]) {
    const r = spawnSync(node, ['--import', hook, join(repoRoot, 'dist/cli/main.js'), ...args], { encoding: 'utf8' });
    t.equal(r.status, 0, `meshlock ${args.join(' ')}`);
    const loaded = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('LOADED '))
      .map((l) => l.slice(7))
      .sort();
    // audit/version.js is the one place the version is read (reports stamp it too); it imports nothing.
    t.same(
      loaded,
      ['audit/version.js', 'cli/exit.js', 'cli/main.js', 'cli/program.js', 'cli/version.js'],
      `meshlock ${args.join(' ')} loads only the command table`,
    );
  }
  const checkHelp = spawnSync(node, ['--import', hook, join(repoRoot, 'dist/cli/main.js'), 'check', '--help'], {
    encoding: 'utf8',
  });
  t.notMatch(checkHelp.stderr, /cli\/(audit|serve|certs)\.js/, 'check --help loads no other command');
  t.match(runCli('main', ['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('the kubectl plugin keeps the same contract', async (t) => {
  t.equal(runCli('kubectl-meshlock', ['check', '-f', BAD]).code, 1);
  t.equal(runCli('kubectl-meshlock', ['serve']).code, 2, 'the plugin has audit and check only');
  t.equal(runCli('kubectl-meshlock', ['--help']).code, 0);
});
