// Edges (POLICY.md "Edges") through `meshlock check` on the shipped examples: the edge's port may be
// PERMISSIVE, any other port may not; and the Job example gets the native-sidecar annotation.
// (Every edge golden case of test/cases/edges also runs through the engine, the server and review.)
import t from 'tap';
import { runCli } from './lib/cli.js';

interface Out {
  results: { name: string; decision: string; rules: string[]; patch: { path: string; value?: unknown }[] }[];
}

t.test('examples/config-edges.yaml lets the edge port be PERMISSIVE and no other', async (t) => {
  const r = runCli('main', [
    'check',
    '-o',
    'json',
    '-c',
    'examples/config-edges.yaml',
    '-f',
    'examples/manifests/edge/',
  ]);
  t.equal(r.code, 1, 'one manifest is denied');
  const out = JSON.parse(r.stdout) as Out;
  t.same(
    out.results.map((x) => [x.name, x.decision, x.rules]),
    [
      ['controller-webhook', 'allow', []],
      ['controller-metrics', 'deny', ['pa-port-mode']],
    ],
  );
  const without = JSON.parse(runCli('main', ['check', '-o', 'json', '-f', 'examples/manifests/edge/']).stdout) as Out;
  t.same(
    without.results.map((x) => x.decision),
    ['deny', 'deny'],
    'without the edge both are denied',
  );
});

t.test('examples/manifests/job.yaml gets the injection label and the native-sidecar annotation', async (t) => {
  const out = JSON.parse(runCli('main', ['check', '-o', 'json', '-f', 'examples/manifests/job.yaml']).stdout) as Out;
  t.same(
    out.results[0]?.patch.filter((op) => typeof op.value === 'string').map((op) => [op.path, op.value]),
    [
      ['/spec/template/metadata/labels/sidecar.istio.io~1inject', 'true'],
      ['/spec/template/metadata/annotations/sidecar.istio.io~1nativeSidecar', 'true'],
    ],
  );
});
