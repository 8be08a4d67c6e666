// The Helm chart (deploy/chart) with the real Helm CLI (built from its Go module by
// test/helm/build.sh): `helm lint --strict`, and `helm template` compared object by object with what
// `kubectl kustomize` renders from deploy/ and its overlays, then each value doing what it says.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfigText } from '../src/config/index.js';
import { runCli } from './lib/cli.js';
import { locate, repoRoot, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'helm', 'kubectl');
t.setTimeout(600_000);

const HELM = locate('helm') as string;
const KUBECTL = locate('kubectl') as string;
const CHART = join(repoRoot, 'deploy/chart');

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
};
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

// YAML 1.1, as kubectl and Helm (Go's yaml) read it: `defaultMode: 0440` is octal.
const docs = (text: string): Obj[] =>
  parseAllDocuments(text, { version: '1.1' })
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function helm(args: string[]): { code: number; out: string } {
  const r = spawnSync(HELM, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function template(set: string[] = [], namespace = 'meshlock'): Obj[] {
  const r = spawnSync(
    HELM,
    ['template', 'meshlock', CHART, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`helm template ${set.join(' ')}: ${r.stderr}`);
  return docs(r.stdout);
}

const kustomize = (dir: string): Obj[] =>
  docs(execFileSync(KUBECTL, ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' }));

/**
 * The config file inside the ConfigMap compared as data, not as text (comments and key order differ);
 * pod volumes by name (a strategic merge patch moves the volume it patches to the front).
 */
function normal(o: Obj): Obj {
  const volumes = (o as Any).spec?.template?.spec?.volumes as { name: string }[] | undefined;
  if (volumes) volumes.sort((a, b) => a.name.localeCompare(b.name));
  if (o.kind !== 'ConfigMap' || o.metadata.name !== 'meshlock-config') return o;
  const data = o['data'] as Record<string, string>;
  return { ...o, data: { ...data, 'config.yaml': parse(data['config.yaml'] ?? '') as never } };
}

const VARIANTS: [string, string[]][] = [
  ['deploy', []],
  ['deploy/overlays/dry-run', ['dryRun=true']],
  ['deploy/overlays/cert-manager', ['certManager.enabled=true']],
  ['deploy/overlays/linkerd', ['config.mesh=linkerd']],
];

t.test('helm lint --strict passes with the default values and every variant', async (t) => {
  for (const [, set] of VARIANTS) {
    const r = helm(['lint', '--strict', CHART, ...set.flatMap((s) => ['--set', s])]);
    t.equal(r.code, 0, `helm lint --strict ${set.join(' ')}: ${r.out}`);
  }
});

for (const [dir, set] of VARIANTS) {
  t.test(
    `helm template ${set.join(' ') || '(defaults)'} renders the same objects as kubectl kustomize ${dir}`,
    async (t) => {
      const chart = new Map(template(set).map((o) => [key(o), normal(o)]));
      const kust = new Map(kustomize(dir).map((o) => [key(o), normal(o)]));
      t.same([...chart.keys()].sort(), [...kust.keys()].sort(), 'the same objects');
      for (const [k, o] of kust) t.same(chart.get(k), o, k);
    },
  );
}

t.test(
  'values: image, replicas, resources, mode and the config reach the objects, and the config stays valid',
  async (t) => {
    const objs = template([
      'image.repository=registry.example/meshlock',
      'image.tag=9.9.9',
      'replicas=5',
      'resources.limits.memory=512Mi',
      'mode=warn',
      'config.namespaces.team-a=dry-run',
    ]);
    const dep = objs.find((o) => o.kind === 'Deployment') as Any;
    t.equal(dep.spec.replicas, 5);
    t.equal(dep.spec.template.spec.containers[0].image, 'registry.example/meshlock:9.9.9');
    t.equal(dep.spec.template.spec.containers[0].resources.limits.memory, '512Mi');
    const cm = objs.find((o) => o.kind === 'ConfigMap') as Any;
    const config = parseConfigText(cm.data['config.yaml'], 'chart config');
    t.equal(config.mode, 'warn');
    t.same(config.namespaces, { 'team-a': 'dry-run' });
    const digest = template(['image.digest=sha256:' + 'a'.repeat(64)]).find((o) => o.kind === 'Deployment') as Any;
    t.equal(digest.spec.template.spec.containers[0].image, `ghcr.io/meshlock/meshlock@sha256:${'a'.repeat(64)}`);
    const bad = spawnSync(HELM, ['template', 'meshlock', CHART, '--set', 'mode=block'], { encoding: 'utf8' });
    const cmBad = docs(bad.stdout).find((o) => o.kind === 'ConfigMap') as Any;
    t.throws(
      () => parseConfigText(cmBad.data['config.yaml'], 'chart config'),
      'a bad mode renders a config meshlock refuses (and the server would not start on it)',
    );
  },
);

t.test('another release namespace is used everywhere the namespace is named', async (t) => {
  const objs = template(['certManager.enabled=true'], 'policy');
  const text = JSON.stringify(objs);
  t.notMatch(
    text,
    /"meshlock\.meshlock|namespace":"meshlock"|meshlock\/meshlock-serving/,
    'no object names the namespace meshlock',
  );
  t.equal((objs.find((o) => o.kind === 'Namespace') as Obj).metadata.name, 'policy');
  const vwc = objs.find((o) => o.kind === 'ValidatingWebhookConfiguration') as Any;
  t.equal(vwc.webhooks[0].clientConfig.service.namespace, 'policy');
  t.ok(
    vwc.webhooks[1].namespaceSelector.matchExpressions[0].values.includes('policy'),
    "meshlock's own namespace is out of its webhooks",
  );
  t.equal(vwc.metadata.annotations['cert-manager.io/inject-ca-from'], 'policy/meshlock-serving');
  const cert = objs.find((o) => o.kind === 'Certificate') as Any;
  t.ok(cert.spec.dnsNames.includes('meshlock.policy.svc'));
  t.notOk(
    template(['namespace.create=false']).some((o) => o.kind === 'Namespace'),
    'namespace.create=false leaves the Namespace out',
  );
});

t.test('the rendered chart passes meshlock check (meshlock does not refuse its own install)', async (t) => {
  const r = spawnSync(HELM, ['template', 'meshlock', CHART, '--namespace', 'meshlock'], { encoding: 'utf8' });
  const check = runCli('main', ['check', '-f', '-'], { input: r.stdout });
  t.equal(check.code, 0, check.stdout + check.stderr);
  const folder = runCli('main', ['check', '-f', CHART]);
  t.equal(folder.code, 2, 'the chart folder itself is not YAML');
  t.match(folder.stderr, /helm template RELEASE CHART \| meshlock check -f -/);
});
