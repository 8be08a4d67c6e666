// deploy/ and the Helm chart against the real apiserver: every object they render passes
// `kubectl apply --dry-run=server` (the apiserver's own schemas and validation, not only structure),
// and the chart installs and uninstalls with the real Helm CLI (built from its Go module).
// This control plane runs no kubelet, so pods never start: the install is checked object by object.
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { locate, skipFileUnless } from '../lib/needs.js';
import { clusterEnv, REPO_ROOT } from './lib/cluster.js';
import { describeRun, kubectl, run, toYaml, type Manifest, type Run } from './lib/kubectl.js';

skipFileUnless(t, 'helm');
t.setTimeout(600_000);

const env = clusterEnv();
const HELM = locate('helm') as string;
const CHART = join(REPO_ROOT, 'deploy/chart');
const helm = (args: string[]): Promise<Run> =>
  run(HELM, [...args, '--kubeconfig', env.kubeconfig], {
    timeoutMs: 300_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(env.dir, 'helm-cache'),
      HELM_CONFIG_HOME: join(env.dir, 'helm-config'),
      HELM_DATA_HOME: join(env.dir, 'helm-data'),
    },
  });

const docs = (text: string): Manifest[] =>
  parseAllDocuments(text, { version: '1.1' })
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
const meta = (o: Manifest): { name: string; namespace?: string } =>
  o['metadata'] as { name: string; namespace?: string };
const groupOf = (o: Manifest): string =>
  String(o['apiVersion']).includes('/') ? String(o['apiVersion']).split('/')[0]! : '';

// Custom resources of add-ons this control plane does not install; their objects cannot be checked here.
const ADDON_GROUPS = new Set(['cert-manager.io', 'monitoring.coreos.com']);

async function servedGroups(): Promise<Set<string>> {
  const r = await kubectl(['api-versions']);
  if (r.code !== 0) throw new Error(describeRun(r));
  return new Set(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((v) => (v.includes('/') ? v.split('/')[0]! : '')),
  );
}

async function render(source: string): Promise<Manifest[]> {
  if (source.startsWith('helm:')) {
    const set = source.slice(5).split(' ').filter(Boolean);
    const r = await helm([
      'template',
      'meshlock',
      CHART,
      '--namespace',
      'meshlock',
      ...set.flatMap((s) => ['--set', s]),
    ]);
    if (r.code !== 0) throw new Error(describeRun(r));
    return docs(r.stdout);
  }
  const r = await kubectl(['kustomize', join(REPO_ROOT, source)]);
  if (r.code !== 0) throw new Error(describeRun(r));
  return docs(r.stdout);
}

const SOURCES = [
  'deploy',
  'deploy/overlays/dry-run',
  'deploy/overlays/cert-manager',
  'deploy/overlays/linkerd',
  'deploy/audit',
  'deploy/monitoring',
  'deploy/audit-monitoring',
  'helm:',
  'helm:dryRun=true',
  'helm:certManager.enabled=true',
  'helm:config.mesh=linkerd',
];

for (const source of SOURCES) {
  t.test(
    `every object of ${source.startsWith('helm:') ? `helm template ${source.slice(5) || '(defaults)'}` : `kubectl kustomize ${source}`} passes kubectl apply --dry-run=server`,
    async (t) => {
      let objects: Manifest[];
      try {
        objects = await render(source);
      } catch (err) {
        // A folder another change has not added yet is not this test's business; a broken render is.
        if (
          /does not exist|no such file|must resolve to a file/i.test((err as Error).message) &&
          !source.startsWith('helm:') &&
          !source.startsWith('deploy/overlays') &&
          source !== 'deploy'
        ) {
          t.pass(`${source} is not in this checkout`);
          return;
        }
        throw err;
      }
      const served = await servedGroups();
      const checked = objects.filter((o) => served.has(groupOf(o)));
      const unchecked = objects.filter((o) => !served.has(groupOf(o)));
      for (const o of unchecked)
        t.ok(
          ADDON_GROUPS.has(groupOf(o)),
          `${String(o['kind'])} ${meta(o).name}: ${groupOf(o)} is an add-on's API this cluster does not serve`,
        );
      if (checked.length === 0) return; // only add-ons' objects (deploy/monitoring): nothing this cluster can judge
      // Namespaced objects go to their namespace, which a dry run does not create: create them first.
      for (const ns of new Set(checked.map((o) => meta(o).namespace).filter((n): n is string => !!n))) {
        await kubectl(['create', 'namespace', ns]);
      }
      const r = await run(env.kubectl, ['--kubeconfig', env.kubeconfig, 'apply', '--dry-run=server', '-f', '-'], {
        input: toYaml(checked),
        timeoutMs: 120_000,
      });
      t.equal(r.code, 0, `kubectl apply --dry-run=server: ${describeRun(r)}`);
      for (const o of checked)
        t.match(
          r.stdout,
          new RegExp(
            `/${meta(o).name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (created|configured|unchanged) \\(server dry run\\)`,
          ),
          `${String(o['kind'])} ${meta(o).name}`,
        );
    },
  );
}

t.test('helm install puts every object of the chart in the cluster, helm uninstall removes them', async (t) => {
  const ns = 'meshlock-helm';
  // No pod ever runs here, so the webhooks would refuse everything with failurePolicy Fail: the
  // install keeps them out of the way of the other tests with Ignore.
  const set = ['--set', 'webhook.failurePolicy=Ignore', '--set', 'namespace.create=false'];
  const created = await kubectl(['create', 'namespace', ns]);
  t.equal(created.code, 0, describeRun(created));
  // No namespace is deleted: without a namespace controller here it would stay Terminating.
  t.teardown(async () => {
    await helm(['uninstall', 'meshlock', '--namespace', ns, '--ignore-not-found']);
  });
  const rendered = await helm(['template', 'meshlock', CHART, '--namespace', ns, ...set]);
  const expected = docs(rendered.stdout);
  const install = await helm(['install', 'meshlock', CHART, '--namespace', ns, ...set]);
  t.equal(install.code, 0, describeRun(install));
  const status = await helm(['status', 'meshlock', '--namespace', ns, '-o', 'json']);
  t.equal((JSON.parse(status.stdout) as { info: { status: string } }).info.status, 'deployed');
  for (const o of expected) {
    const m = meta(o);
    const got = await kubectl([
      'get',
      `${String(o['kind']).toLowerCase()}.${groupOf(o) || 'core'}`.replace(/\.core$/, ''),
      m.name,
      ...(m.namespace ? ['-n', m.namespace] : []),
      '-o',
      'json',
    ]);
    t.equal(got.code, 0, `${String(o['kind'])} ${m.name} exists: ${describeRun(got)}`);
    if (got.code === 0) {
      const live = JSON.parse(got.stdout) as {
        metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
      };
      t.equal(live.metadata.annotations?.['meta.helm.sh/release-name'], 'meshlock', `${m.name} belongs to the release`);
    }
  }
  const vwc = JSON.parse(
    (await kubectl(['get', 'validatingwebhookconfiguration', 'meshlock', '-o', 'json'])).stdout,
  ) as { webhooks: { clientConfig: { service: { namespace: string } }; failurePolicy: string }[] };
  t.same(
    [...new Set(vwc.webhooks.map((w) => w.clientConfig.service.namespace))],
    [ns],
    'the webhooks call the Service in the release namespace',
  );
  const uninstall = await helm(['uninstall', 'meshlock', '--namespace', ns]);
  t.equal(uninstall.code, 0, describeRun(uninstall));
  for (const [kind, name] of [
    ['validatingwebhookconfiguration', 'meshlock'],
    ['mutatingwebhookconfiguration', '00-meshlock'],
    ['clusterrole', 'meshlock-read'],
    ['priorityclass', 'meshlock'],
    ['deployment', 'meshlock'],
  ] as const) {
    const gone = await kubectl(['get', kind, name, ...(kind === 'deployment' ? ['-n', ns] : [])]);
    t.match(gone.stderr, /NotFound/, `${kind} ${name} is gone`);
  }
});
