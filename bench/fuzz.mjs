// Random AdmissionReviews (fast-check) against a running meshlock over HTTPS: well-formed reviews of
// every kind meshlock reviews with arbitrary labels, annotations and specs, reviews with fields of
// the wrong type, hostile names, deep nesting, `__proto__` keys, and bytes that are not JSON at all.
// Any 5xx, a lost connection or a dead server fails the run; each answer to a well-formed review must
// be the engine's own decision for it. Run: npm run fuzz [-- --requests 100000 --concurrency 16 --seed N]
import { Agent } from 'node:https';
import path from 'node:path';
import fc from 'fast-check';
import { benchCertificates, flags, once, root, rssMiB, startMeshlock } from './hardening-lib.mjs';

const opt = flags({ requests: 100_000, concurrency: 16, seed: Date.now() % 2 ** 31 });
const { admit } = await import(path.join(root, 'dist/admission/index.js'));
const { defaultConfig } = await import(path.join(root, 'dist/config/index.js'));
const config = defaultConfig();

const key = fc.oneof(
  fc.constantFrom(
    'sidecar.istio.io/inject',
    'istio-injection',
    'istio.io/rev',
    'istio.io/dataplane-mode',
    'traffic.sidecar.istio.io/excludeInboundPorts',
    'sidecar.istio.io/status',
    'proxy.istio.io/config',
    '__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 40 }),
);
const value = fc.oneof(
  fc.constantFrom('true', 'false', 'enabled', 'disabled', 'ambient', 'none', '*', '15008', ''),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
);
const stringMap = fc.oneof(
  fc.dictionary(key, value, { maxKeys: 12 }),
  fc.constant(null),
  fc.string(),
  fc.array(fc.string(), { maxLength: 3 }),
);
const name = fc.oneof(
  fc.constantFrom('default', 'api', 'x'),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const ns = fc.oneof(fc.constantFrom('shop', 'istio-system', 'kube-system', 'default'), fc.string({ maxLength: 70 }));
const container = fc.record(
  {
    name: fc.oneof(fc.constantFrom('istio-proxy', 'app', 'istio-init'), fc.string({ maxLength: 20 })),
    image: fc.string({ maxLength: 30 }),
    ports: fc.option(
      fc.array(fc.record({ containerPort: fc.oneof(fc.integer({ min: -1, max: 70000 }), fc.string()) }), {
        maxLength: 3,
      }),
    ),
  },
  { requiredKeys: ['name'] },
);
const podSpec = fc.record(
  {
    containers: fc.oneof(fc.array(container, { maxLength: 3 }), fc.constant(null), fc.string()),
    initContainers: fc.option(fc.array(container, { maxLength: 2 })),
    hostNetwork: fc.option(fc.oneof(fc.boolean(), fc.string())),
  },
  { requiredKeys: [] },
);
const meta = fc.record({ name, namespace: ns, labels: stringMap, annotations: stringMap }, { requiredKeys: [] });
const mode = fc.oneof(
  fc.constantFrom('STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'),
  fc.string({ maxLength: 10 }),
  fc.integer(),
);
const objects = {
  Pod: {
    gvk: { group: '', version: 'v1', kind: 'Pod' },
    resource: 'pods',
    object: fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Pod'), metadata: meta, spec: podSpec }),
  },
  Deployment: {
    gvk: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: 'deployments',
    object: fc.record({
      apiVersion: fc.constant('apps/v1'),
      kind: fc.constant('Deployment'),
      metadata: meta,
      spec: fc.record({ template: fc.oneof(fc.record({ metadata: meta, spec: podSpec }), fc.constant(null)) }),
    }),
  },
  Namespace: {
    gvk: { group: '', version: 'v1', kind: 'Namespace' },
    resource: 'namespaces',
    object: fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Namespace'), metadata: meta }),
  },
  PeerAuthentication: {
    gvk: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' },
    resource: 'peerauthentications',
    object: fc.record({
      apiVersion: fc.constant('security.istio.io/v1'),
      kind: fc.constant('PeerAuthentication'),
      metadata: meta,
      spec: fc.record(
        {
          selector: fc.option(fc.record({ matchLabels: stringMap })),
          mtls: fc.option(fc.record({ mode })),
          portLevelMtls: fc.option(
            fc.dictionary(
              fc.oneof(fc.integer({ min: -5, max: 70000 }).map(String), fc.string({ maxLength: 6 })),
              fc.record({ mode }),
              { maxKeys: 4 },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  DestinationRule: {
    gvk: { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' },
    resource: 'destinationrules',
    object: fc.record({
      apiVersion: fc.constant('networking.istio.io/v1'),
      kind: fc.constant('DestinationRule'),
      metadata: meta,
      spec: fc.record(
        {
          host: fc.oneof(
            fc.constantFrom('*', 'api.shop.svc.cluster.local', 'api', '*.local', 'example.com'),
            fc.string({ maxLength: 40 }),
          ),
          trafficPolicy: fc.option(
            fc.record({
              tls: fc.option(
                fc.record({
                  mode: fc.oneof(fc.constantFrom('DISABLE', 'SIMPLE', 'ISTIO_MUTUAL', 'MUTUAL'), fc.string()),
                }),
              ),
            }),
          ),
        },
        { requiredKeys: [] },
      ),
    }),
  },
};
const wellFormed = fc.oneof(
  ...Object.values(objects).map((o) =>
    fc
      .record({
        path: fc.constantFrom('/validate', '/mutate'),
        apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'),
        operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
        namespace: ns,
        dryRun: fc.boolean(),
        object: o.object,
        oldObject: fc.option(o.object),
      })
      .map((r) => ({
        kind: 'review',
        path: r.path,
        body: {
          apiVersion: r.apiVersion,
          kind: 'AdmissionReview',
          request: {
            uid: 'fuzz',
            kind: o.gvk,
            resource: { group: o.gvk.group, version: o.gvk.version, resource: o.resource },
            name: typeof r.object.metadata?.name === 'string' ? r.object.metadata.name : '',
            namespace: r.namespace,
            operation: r.operation,
            userInfo: { username: 'fuzz' },
            object: r.operation === 'DELETE' ? null : r.object,
            oldObject: r.oldObject,
            dryRun: r.dryRun,
          },
        },
      })),
  ),
);
const deep = fc.integer({ min: 1, max: 5000 }).map((d) => ({
  kind: 'raw',
  path: '/validate',
  body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"d","object":${'['.repeat(d)}${']'.repeat(d)}}}`,
}));
const garbage = fc
  .oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.json(),
  )
  .map((b) => ({ kind: 'raw', path: '/validate', body: b }));
const wrongTypes = fc.anything({ maxDepth: 3 }).map((a) => ({
  kind: 'raw',
  path: '/mutate',
  body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: a }) ?? 'null',
}));
const proto = fc.constantFrom('__proto__', 'constructor').map((k) => ({
  kind: 'raw',
  path: '/validate',
  body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"p","${k}":{"prototype":{"allowed":true}},"object":{"${k}":{"allowed":true}}}}`,
}));
const input = fc.oneof(
  { arbitrary: wellFormed, weight: 14 },
  { arbitrary: garbage, weight: 2 },
  { arbitrary: wrongTypes, weight: 2 },
  { arbitrary: deep, weight: 1 },
  { arbitrary: proto, weight: 1 },
);

const certs = await benchCertificates();
const server = await startMeshlock(certs, ['--log-decisions', 'none']);
const agent = new Agent({ keepAlive: true, ca: certs.ca, maxSockets: opt.concurrency });
const samples = fc.sample(input, { numRuns: Math.min(opt.requests, 5000), seed: opt.seed });
const statuses = {};
const failures = [];
let done = 0;
let next = 0;
const t0 = performance.now();
async function worker() {
  while (next < opt.requests && failures.length < 20) {
    const i = next++;
    const s = samples[i % samples.length];
    // Past the sample, reviews are varied by their uid so each request differs.
    const uid = `fuzz-${i}`;
    let body = s.body;
    if (s.kind === 'review') body = JSON.stringify({ ...s.body, request: { ...s.body.request, uid } });
    const res = await once(server.port, certs.ca, { path: s.path, body, agent }).catch((err) => ({
      status: 0,
      text: String(err.code ?? err.message),
    }));
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === 0 || res.status >= 500)
      failures.push({
        status: res.status,
        text: res.text.slice(0, 200),
        input: (typeof body === 'string' ? body : String(body)).slice(0, 300),
      });
    else if (s.kind === 'review' && res.status === 200) {
      const expected = admit(s.path.slice(1), JSON.parse(body), { config, now: new Date() }).review.response;
      const got = JSON.parse(res.text).response;
      if (got.allowed !== expected.allowed || got.uid !== uid || (got.patch ?? '') !== (expected.patch ?? ''))
        failures.push({ status: res.status, text: 'answer differs from the engine', input: body.slice(0, 300) });
    }
    done++;
    if (done % 10_000 === 0)
      process.stderr.write(`fuzz: ${done} requests, RSS ${rssMiB(server.pid).rss.toFixed(0)} MiB\n`);
  }
}
await Promise.all(Array.from({ length: opt.concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
const alive = await once(server.port, certs.ca, { path: '/healthz', method: 'GET' }).then(
  (r) => r.status === 200,
  () => false,
);
const peak = rssMiB(server.pid).peak;
server.child.kill('SIGTERM');
await server.exited;
agent.destroy();
certs.cleanup();
process.stdout.write(
  `fuzz: ${done} requests in ${seconds.toFixed(0)} s (seed ${opt.seed}), statuses ${JSON.stringify(statuses)}, server ${alive ? 'alive' : 'DEAD'}, peak RSS ${peak.toFixed(0)} MiB\n`,
);
for (const f of failures) process.stdout.write(`FAIL ${JSON.stringify(f)}\n`);
process.exitCode = failures.length === 0 && alive ? 0 : 1;
