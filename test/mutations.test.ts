// Mutations that never surprise (POLICY.md "Mutations") through `meshlock check`: a namespace in the
// input that is ambient keeps the injection label off its pods and templates, Jobs get the
// native-sidecar annotation, and `--old` makes a replicas-only change a patch-free UPDATE.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './lib/cli.js';

interface Out {
  results: { kind: string; name: string; namespace: string; patch: { op: string; path: string; value?: unknown }[] }[];
}

const check = (args: string[], input: string): Out => {
  const r = runCli('main', ['check', '-o', 'json', ...args], { input });
  return JSON.parse(r.stdout) as Out;
};

const deployment = (ns: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: web:1}]}
`;

t.test('check: pods and templates of a namespace the input labels ambient get no injection label', async (t) => {
  const input = `apiVersion: v1
kind: Namespace
metadata: {name: mesh-ambient, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh-sidecar, labels: {istio-injection: enabled}}
---
${deployment('mesh-ambient')}---
${deployment('mesh-sidecar')}---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: mesh-ambient}
spec: {containers: [{name: app, image: web:1}]}
`;
  const out = check(['-f', '-'], input);
  const patchOf = (kind: string, ns: string) => out.results.find((r) => r.kind === kind && r.namespace === ns)?.patch;
  t.same(patchOf('Deployment', 'mesh-ambient'), [], 'no patch in the ambient namespace');
  t.same(patchOf('Pod', 'mesh-ambient'), [], 'no patch for a pod in the ambient namespace');
  t.same(
    patchOf('Deployment', 'mesh-sidecar'),
    [{ op: 'add', path: '/spec/template/metadata/labels/sidecar.istio.io~1inject', value: 'true' }],
    'the sidecar namespace still gets the label',
  );
  t.same(
    check(['-f', '-'], deployment('elsewhere')).results[0]?.patch.length,
    1,
    'a namespace not in the input: the label is added, as the webhook would',
  );
});

t.test('check: a Job template gets the native-sidecar annotation, unless nativeSidecarForJobs is false', async (t) => {
  const job = `apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec: {restartPolicy: Never, containers: [{name: app, image: migrate:1}]}
`;
  const paths = check(['-f', '-'], job).results[0]?.patch.map((op) => op.path);
  t.same(paths, [
    '/spec/template/metadata/labels/sidecar.istio.io~1inject',
    '/spec/template/metadata/annotations',
    '/spec/template/metadata/annotations/sidecar.istio.io~1nativeSidecar',
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-mut-'));
  writeFileSync(join(dir, 'c.yaml'), 'nativeSidecarForJobs: false\n');
  t.same(
    check(['-f', '-', '--config', join(dir, 'c.yaml')], job).results[0]?.patch.map((op) => op.path),
    ['/spec/template/metadata/labels/sidecar.istio.io~1inject'],
  );
});

t.test(
  'check --old: a replicas-only change of a live Deployment yields no patch; a template change does',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'meshlock-mut-'));
    writeFileSync(join(dir, 'live.yaml'), deployment('shop'));
    t.same(
      check(['-f', '-', '--old', join(dir, 'live.yaml')], deployment('shop').replace('replicas: 2', 'replicas: 7'))
        .results[0]?.patch,
      [],
    );
    t.equal(
      check(['-f', '-', '--old', join(dir, 'live.yaml')], deployment('shop').replace('image: web:1', 'image: web:2'))
        .results[0]?.patch.length,
      1,
    );
  },
);
