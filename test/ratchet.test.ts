// Ratcheting UPDATEs (POLICY.md "UPDATE: ratcheting, never a wedged controller") through every way
// in: the admission layer (warnings, auditAnnotations, the decision record), the HTTPS server (its
// decision log and metrics), `meshlock review` on the shipped example, and `meshlock check --old`.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit } from '../src/admission/index.js';
import { parseConfigText, resolveConfig } from '../src/config/index.js';
import { runCli } from './lib/cli.js';
import { eventually, REPO_ROOT, reviewOf, startTestServer } from './lib/server.js';

const now = new Date('2026-06-01T00:00:00Z');
const ctx = (text = '') => ({ config: resolveConfig(parseConfigText(text), 'meshlock'), now });

const legacy = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'legacy',
    namespace: 'shop',
    deletionTimestamp: '2026-05-31T23:00:00Z',
    finalizers: ['example.com/cleanup'],
    labels: { 'sidecar.istio.io/inject': 'false' },
  },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
};
const withoutFinalizer = { ...legacy, metadata: { ...legacy.metadata, finalizers: [] as string[] } };
const finalizerRemoval = reviewOf(withoutFinalizer, { operation: 'UPDATE', oldObject: legacy });

t.test(
  'a finalizer removal on a terminating non-compliant pod is allowed, warned and annotated as pre-existing',
  async (t) => {
    const { review, record } = admit('validate', finalizerRemoval, ctx());
    t.equal(review.response.allowed, true);
    t.equal(review.response.warnings?.length, 1);
    t.match(review.response.warnings?.[0], /^pod-injection-disabled \(pre-existing\): /);
    t.ok((review.response.warnings?.[0] ?? '').length <= 120, 'within 120 characters');
    t.equal(review.response.auditAnnotations?.['preexisting'], 'pod-injection-disabled');
    t.equal(review.response.auditAnnotations?.['violations'], 'pod-injection-disabled');
    t.equal(review.response.auditAnnotations?.['decision'], 'warned');
    t.same(record.findings, [{ rule: 'pod-injection-disabled', mode: 'enforce', preExisting: true }]);
  },
);

t.test('with ratchet: false the same UPDATE is judged whole and denied', async (t) => {
  const { review } = admit('validate', finalizerRemoval, ctx('ratchet: false\n'));
  t.equal(review.response.allowed, false);
  t.match(review.response.status?.message, /\[pod-injection-disabled\]/);
  t.equal(review.response.auditAnnotations?.['preexisting'], undefined);
});

t.test('a CREATE of the same object is judged whole, and DELETE is unchanged', async (t) => {
  t.equal(admit('validate', reviewOf(legacy), ctx()).review.response.allowed, false);
  t.equal(
    admit('validate', reviewOf(null, { oldObject: legacy, operation: 'DELETE' }), ctx()).review.response.allowed,
    true,
  );
});

t.test('the server logs which violations were pre-existing and counts them apart', async (t) => {
  const s = await startTestServer(t);
  await s.post('/validate', finalizerRemoval);
  await s.post('/validate', reviewOf(legacy));
  const text = await s.metrics();
  t.match(text, 'meshlock_preexisting_violations_total{rule="pod-injection-disabled",mode="enforce"} 1');
  t.match(
    text,
    'meshlock_violations_total{rule="pod-injection-disabled",mode="enforce"} 1',
    'the CREATE is counted as a violation, the UPDATE is not',
  );
  t.match(text, 'meshlock_admission_requests_total{webhook="validate",decision="warned"} 1');
  await eventually(() => s.logs.lines.filter((l) => l['msg'] === 'admission decision').length >= 2);
  const lines = s.logs.lines.filter((l) => l['msg'] === 'admission decision');
  const update = lines.find((l) => l['operation'] === 'UPDATE');
  t.same(update?.['preExisting'], ['pod-injection-disabled'], 'the decision log names the pre-existing rules');
  t.equal(update?.['decision'], 'warned');
  const create = lines.find((l) => l['operation'] === 'CREATE');
  t.equal(create?.['preExisting'], undefined, 'a CREATE has none');
});

t.test('meshlock review answers the shipped ratcheted UPDATE example as the webhook does', async (t) => {
  const r = runCli('main', ['review', 'validate'], {
    input: readFileSync(join(REPO_ROOT, 'examples/review-pod-update-ratchet.json'), 'utf8'),
  });
  t.equal(r.code, 0);
  const resp = (
    JSON.parse(r.stdout) as {
      response: { allowed: boolean; warnings: string[]; auditAnnotations: Record<string, string> };
    }
  ).response;
  t.equal(resp.allowed, true);
  t.same(resp.warnings.map((w) => w.slice(0, w.indexOf(':'))).sort(), [
    'pod-host-network (pre-existing)',
    'pod-injection-disabled (pre-existing)',
  ]);
  t.equal(resp.auditAnnotations['preexisting'], 'pod-injection-disabled,pod-host-network');
});

t.test('meshlock check --old checks a manifest naming an existing object as an UPDATE of it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-ratchet-'));
  const dep = (ann: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, sidecar.istio.io/inject: "true"}
      annotations: {${ann}}
    spec:
      hostNetwork: true
      containers: [{name: app, image: web:1}]
`;
  writeFileSync(join(dir, 'live.yaml'), dep('').replace('REPLICAS', '2'));
  writeFileSync(join(dir, 'scaled.yaml'), dep('').replace('REPLICAS', '5'));
  writeFileSync(
    join(dir, 'bypass.yaml'),
    dep('traffic.sidecar.istio.io/excludeInboundPorts: "9090"').replace('REPLICAS', '2'),
  );
  const run = (file: string, old: boolean) => {
    const r = runCli('main', [
      'check',
      '-o',
      'json',
      '-f',
      join(dir, file),
      ...(old ? ['--old', join(dir, 'live.yaml')] : []),
    ]);
    return {
      code: r.code,
      result: (
        JSON.parse(r.stdout) as {
          results: {
            decision: string;
            rules: string[];
            operation?: string;
            findings: { rule: string; denies: boolean; preExisting?: boolean }[];
          }[];
        }
      ).results[0]!,
    };
  };
  const scaledNew = run('scaled.yaml', false);
  t.equal(scaledNew.code, 1, 'without --old the manifest is a CREATE and hostNetwork denies');
  const scaled = run('scaled.yaml', true);
  t.equal(scaled.code, 0, 'scaling the live object is allowed');
  t.equal(scaled.result.decision, 'warn');
  t.same(
    scaled.result.findings.map((f) => [f.rule, f.denies, f.preExisting ?? false]),
    [['pod-host-network', false, true]],
  );
  const bypass = run('bypass.yaml', true);
  t.equal(bypass.code, 1, 'adding a bypass annotation to the live object is denied');
  t.same(bypass.result.findings.map((f) => [f.rule, f.denies]).sort(), [
    ['pod-capture-bypass', true],
    ['pod-host-network', false],
  ]);
  const text = runCli('main', ['check', '-f', join(dir, 'scaled.yaml'), '--old', join(dir, 'live.yaml')]);
  t.match(text.stdout, /WARN {2}Deployment shop\/web \(update\)/);
  t.match(text.stdout, /\[pod-host-network\] .*\(pre-existing\)/);
});
