// The admission layer: AdmissionReview in, AdmissionReview out, the engine deciding in between.
import t from 'tap';
import { admit, MeshlockHttpError, type AdmissionReviewResponse } from '../src/admission/index.js';
import { defaultConfig, parseConfigText, resolveConfig } from '../src/config/index.js';
import { applyPatch, type PatchOp } from '../src/policy/index.js';
import { reviewOf } from './lib/server.js';

const now = new Date('2026-06-01T00:00:00Z');
const ctx = { config: resolveConfig({}, 'meshlock'), now };
const withConfig = (text: string) => ({ config: resolveConfig(parseConfigText(text), 'meshlock'), now });

const permissivePa = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'PERMISSIVE' } },
};
const strictPa = { ...permissivePa, spec: { mtls: { mode: 'STRICT' } } };
const pod = (labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', labels },
  spec: { containers: [{ name: 'web', image: 'web:1' }], ...extra },
});

const response = (r: AdmissionReviewResponse) => r.response;
const decodePatch = (p: string | undefined): PatchOp[] =>
  JSON.parse(Buffer.from(p ?? '', 'base64').toString('utf8')) as PatchOp[];
// The apiserver prefixes each audit annotation key with "<webhook name>/" and requires the result to
// be a qualified name: the name part is at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends.
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

t.test('the response echoes the uid and the apiVersion of the request (v1 and v1beta1)', async (t) => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const { review } = admit('validate', reviewOf(strictPa, { apiVersion, uid: 'abc-123' }), ctx);
    t.equal(review.apiVersion, apiVersion);
    t.equal(review.kind, 'AdmissionReview');
    t.equal(review.response.uid, 'abc-123');
    t.equal(review.response.allowed, true);
  }
});

t.test('a denial has status.code 403 and the denial message of POLICY.md', async (t) => {
  const r = response(admit('validate', reviewOf(permissivePa), ctx).review);
  t.equal(r.allowed, false);
  t.equal(r.status?.code, 403);
  t.equal(r.status?.reason, 'Forbidden');
  t.match(
    r.status?.message,
    /^meshlock denied PeerAuthentication shop\/default: 1 violation\n- \[pa-mode\] .+\. Fix: .+$/,
  );
});

t.test(
  'every response with violations carries auditAnnotations naming the violated rules, with valid keys',
  async (t) => {
    const denied = response(
      admit('validate', reviewOf(pod({ 'sidecar.istio.io/inject': 'false' }, { hostNetwork: true })), ctx).review,
    );
    t.same(denied.auditAnnotations?.['violations']?.split(',').sort(), ['pod-host-network', 'pod-injection-disabled']);
    t.equal(denied.auditAnnotations?.['decision'], 'denied');
    const warned = response(
      admit('validate', reviewOf(pod({ 'sidecar.istio.io/inject': 'false' })), withConfig('mode: warn')).review,
    );
    t.equal(warned.auditAnnotations?.['violations'], 'pod-injection-disabled');
    t.equal(warned.auditAnnotations?.['mode'], 'pod-injection-disabled=warn');
    const dry = response(
      admit(
        'validate',
        reviewOf(pod({ 'sidecar.istio.io/inject': 'false' })),
        withConfig('namespaces:\n  shop: dry-run'),
      ).review,
    );
    t.equal(dry.allowed, true);
    t.equal(dry.warnings, undefined, 'dry-run returns no warning');
    t.equal(dry.auditAnnotations?.['violations'], 'pod-injection-disabled', 'dry-run violations are still annotated');
    for (const r of [denied, warned, dry])
      for (const k of Object.keys(r.auditAnnotations ?? {}))
        t.match(k, QUALIFIED_NAME, `audit annotation key ${k} is a valid name`);
    const clean = response(admit('validate', reviewOf(strictPa), ctx).review);
    t.equal(clean.auditAnnotations, undefined, 'no annotations without violations');
  },
);

t.test('warn mode allows and returns each violation as an admission warning', async (t) => {
  const r = response(admit('validate', reviewOf(permissivePa), withConfig('mode: warn')).review);
  t.equal(r.allowed, true);
  t.equal(r.status, undefined);
  t.equal(r.warnings?.length, 1);
  t.match(r.warnings?.[0], /^pa-mode: /);
});

t.test(
  'a mutation is a base64 JSON Patch with patchType JSONPatch, adding metadata.labels first when missing',
  async (t) => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } };
    const r = response(admit('mutate', reviewOf(ns), ctx).review);
    t.equal(r.allowed, true);
    t.equal(r.patchType, 'JSONPatch');
    const patch = decodePatch(r.patch);
    t.same(patch, [
      { op: 'add', path: '/metadata/labels', value: {} },
      { op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' },
    ]);
    const patched = applyPatch(ns, patch) as typeof ns & { metadata: { labels: Record<string, string> } };
    t.equal(patched.metadata.labels['istio-injection'], 'enabled');
    const again = response(admit('mutate', reviewOf(patched), ctx).review);
    t.equal(again.patch, undefined, 'mutation is idempotent: the patched object gets no patch');
    t.equal(again.patchType, undefined);
  },
);

t.test('a label key containing / is written ~1 in the patch', async (t) => {
  const r = response(admit('mutate', reviewOf(pod({ app: 'web' })), ctx).review);
  t.same(decodePatch(r.patch), [{ op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'true' }]);
  t.equal(r.auditAnnotations?.['mutations'], 'pod-injection-label');
});

t.test('no patch field when nothing is mutated', async (t) => {
  const r = response(admit('mutate', reviewOf(strictPa), ctx).review);
  t.same(r, { uid: 'c0ffee00-0000-4000-8000-000000000001', allowed: true });
});

t.test('in dry-run mode a mutation returns no patch but is recorded', async (t) => {
  const { review, record } = admit('mutate', reviewOf(pod({ app: 'web' })), withConfig('namespaces:\n  shop: dry-run'));
  t.equal(review.response.patch, undefined);
  t.equal(review.response.patchType, undefined);
  t.same(record.mutations, [{ id: 'pod-injection-label', mode: 'dry-run', applied: false }]);
  t.equal(review.response.auditAnnotations?.['mode'], 'pod-injection-label=dry-run');
});

t.test('DELETE of the mesh-wide STRICT policy (object null, oldObject set) is denied', async (t) => {
  const mesh = { ...strictPa, metadata: { name: 'default', namespace: 'istio-system' } };
  const { review, record } = admit(
    'validate',
    reviewOf(null, { oldObject: mesh, namespace: 'istio-system', name: 'default' }),
    ctx,
  );
  t.equal(review.response.allowed, false);
  t.match(review.response.status?.message, /pa-mesh-delete/);
  t.equal(record.operation, 'DELETE');
  t.equal(record.name, 'default');
  const m = admit('mutate', reviewOf(null, { oldObject: mesh, namespace: 'istio-system', name: 'default' }), ctx).review
    .response;
  t.same(m, { uid: 'c0ffee00-0000-4000-8000-000000000001', allowed: true }, 'nothing to mutate on DELETE');
});

t.test('requests with dryRun: true are evaluated the same way', async (t) => {
  const real = admit('validate', reviewOf(permissivePa), ctx);
  const dry = admit('validate', reviewOf(permissivePa, { dryRun: true }), ctx);
  t.same(dry.review, real.review);
  t.equal(dry.record.dryRun, true);
  const mreal = admit('mutate', reviewOf(pod()), ctx).review;
  const mdry = admit('mutate', reviewOf(pod(), { dryRun: true }), ctx).review;
  t.same(
    mdry,
    mreal,
    'the patch is returned for a dry-run request too: the apiserver applies it to the dry-run object',
  );
});

t.test('a Namespace is decided in its own name; request.namespace is empty for it', async (t) => {
  const ns = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'team-a', labels: { 'istio-injection': 'disabled' } },
  };
  const { record, review } = admit('validate', reviewOf(ns), withConfig('namespaces:\n  team-a: warn'));
  t.equal(record.namespace, 'team-a');
  t.equal(review.response.allowed, true, "the namespace's own mode applies");
});

t.test('a pod with only generateName is named by it, so exemption globs match', async (t) => {
  const p = pod({}, { hostNetwork: true });
  const obj = { ...p, metadata: { generateName: 'node-exporter-', namespace: 'monitoring', labels: {} } };
  const c = withConfig(
    'exemptions:\n  - namespace: monitoring\n    name: "node-exporter-*"\n    rules: [pod-host-network]\n    reason: host metrics\n',
  );
  const { review, record } = admit('validate', reviewOf(obj, { name: '' }), c);
  t.equal(record.name, 'node-exporter-');
  t.equal(review.response.allowed, true);
  t.equal(review.response.auditAnnotations?.['exempted'], 'pod-host-network');
});

t.test(
  'a review whose request meshlock cannot read is denied on /validate (fail closed) and left alone on /mutate',
  async (t) => {
    const bad = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', operation: 'EXPLODE', kind: { group: '', version: 'v1', kind: 'Pod' } },
    };
    const v = admit('validate', bad, ctx);
    t.equal(v.review.response.uid, 'u-1');
    t.equal(v.review.response.allowed, false);
    t.equal(v.review.response.status?.code, 400);
    t.match(v.review.response.status?.message, /\/request\/operation/);
    t.equal(v.record.decision, 'error');
    const m = admit('mutate', bad, ctx);
    t.equal(m.review.response.allowed, true);
    t.equal(m.review.response.patch, undefined);
  },
);

t.test('an object that is not an object is denied as malformed-object', async (t) => {
  const review = reviewOf(pod());
  (review['request'] as Record<string, unknown>)['object'] = 'not an object';
  const r = admit('validate', review, ctx).review.response;
  t.equal(r.allowed, false);
  t.match(r.status?.message, /malformed-object/);
});

t.test('a body without request.uid cannot be answered: MESHLOCK_ERR_MISSING_UID', async (t) => {
  const noUid = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } };
  t.throws(() => admit('validate', noUid, ctx), { code: 'MESHLOCK_ERR_MISSING_UID', statusCode: 400 });
  t.throws(() => admit('validate', { hello: 'world' }, ctx), { code: 'MESHLOCK_ERR_NOT_A_REVIEW' });
  t.throws(
    () => admit('validate', { apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: { uid: 'x' } }, ctx),
    { code: 'MESHLOCK_ERR_NOT_A_REVIEW' },
  );
  t.throws(() => admit('validate', [], ctx), MeshlockHttpError);
  t.throws(() => admit('validate', undefined, ctx), { code: 'MESHLOCK_ERR_EMPTY_BODY' });
});

t.test('the default config is the one the CLI and server use without --config', async (t) => {
  t.equal(defaultConfig().mode, 'enforce');
});
