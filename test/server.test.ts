// The webhook over real TLS: the routes, the refusals (400, 404, 413), limits and timeouts, metrics,
// logs, and a graceful shutdown of the real process.
import t from 'tap';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { BatchedDestination, KEEP_ALIVE_TIMEOUT_MS, Metrics } from '../src/server/index.js';
import type { DecisionRecord } from '../src/admission/index.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePki, reviewOf, send, spawnCli, startTestServer, tempDir } from './lib/server.js';

const permissivePa = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'PERMISSIVE' } },
};
const secretPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api', namespace: 'shop', labels: { 'sidecar.istio.io/inject': 'false' } },
  spec: { containers: [{ name: 'api', image: 'api:1', env: [{ name: 'DB_PASSWORD', value: 'hunter2-do-not-log' }] }] },
};
const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } };

t.test('POST /validate answers both AdmissionReview versions over TLS', async (t) => {
  const s = await startTestServer(t);
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const res = await s.post('/validate', reviewOf(permissivePa, { apiVersion, uid: `uid-${apiVersion}` }));
    t.equal(res.status, 200);
    t.match(res.headers['content-type'], /^application\/json/);
    const body = res.json<{
      apiVersion: string;
      response: { uid: string; allowed: boolean; status: { code: number } };
    }>();
    t.equal(body.apiVersion, apiVersion);
    t.equal(body.response.uid, `uid-${apiVersion}`);
    t.equal(body.response.allowed, false);
    t.equal(body.response.status.code, 403);
  }
});

t.test('POST /mutate returns a base64 JSON Patch', async (t) => {
  const s = await startTestServer(t);
  const res = await s.post('/mutate', reviewOf(ns));
  const r = res.json<{ response: { patch: string; patchType: string } }>().response;
  t.equal(r.patchType, 'JSONPatch');
  t.same(JSON.parse(Buffer.from(r.patch, 'base64').toString()), [
    { op: 'add', path: '/metadata/labels', value: {} },
    { op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' },
  ]);
});

t.test('invalid JSON or an envelope without request.uid get 400 with a clear message', async (t) => {
  const s = await startTestServer(t);
  const invalid = await s.post('/validate', '{"apiVersion": ');
  t.equal(invalid.status, 400);
  t.equal(invalid.json()['code'], 'MESHLOCK_ERR_INVALID_JSON');
  t.match(invalid.json()['message'], /not valid JSON/);
  const noUid = await s.post('/validate', {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { operation: 'CREATE' },
  });
  t.equal(noUid.status, 400);
  t.equal(noUid.json()['code'], 'MESHLOCK_ERR_MISSING_UID');
  const empty = await s.post('/mutate', '');
  t.equal(empty.status, 400);
  t.equal(empty.json()['code'], 'MESHLOCK_ERR_EMPTY_BODY');
  const notReview = await s.post('/validate', { hello: 'world' });
  t.equal(notReview.json()['code'], 'MESHLOCK_ERR_NOT_A_REVIEW');
  const poisoned = await s.post(
    '/validate',
    '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","__proto__":{"allowed":true}}}',
  );
  t.equal(poisoned.status, 400, 'prototype poisoning is refused');
  const textPlain = await s.post('/validate', reviewOf(permissivePa), { 'content-type': 'text/plain' });
  t.equal(textPlain.status, 200, 'a body is read as JSON whatever its content type (curl sends form encoding)');
  const health = await s.get('/healthz');
  t.equal(health.status, 200, 'the server is still healthy after bad requests');
});

t.test('a body of 7 MiB is accepted and a larger one than the limit gets 413', async (t) => {
  const s = await startTestServer(t);
  // An UPDATE of a large object: object and oldObject each carry ~3.5 MiB of annotations.
  const big = (n: number) => ({
    ...secretPod,
    metadata: { ...secretPod.metadata, annotations: { blob: 'x'.repeat(n) } },
  });
  const half = 3.5 * 1024 * 1024;
  // The UPDATE introduces the opt-out label (oldObject had none), so ratcheting still denies it.
  const before = big(half);
  const review = reviewOf(big(half), {
    operation: 'UPDATE',
    oldObject: { ...before, metadata: { ...before.metadata, labels: {} } },
  });
  const body = JSON.stringify(review);
  t.ok(body.length >= 7 * 1024 * 1024, `body is ${body.length} bytes`);
  const ok = await s.post('/validate', body);
  t.equal(ok.status, 200);
  t.equal(ok.json<{ response: { allowed: boolean } }>().response.allowed, false, 'and decided like any other');
  const tooBig = JSON.stringify(reviewOf(big(9 * 1024 * 1024)));
  const res = await s.post('/validate', tooBig).catch((err: Error) => err);
  // Node may reset the socket while the client is still writing; either way it is never accepted.
  if (res instanceof Error) t.match(res.message, /EPIPE|ECONNRESET/);
  else {
    t.equal(res.status, 413);
    t.equal(res.json()['code'], 'MESHLOCK_ERR_BODY_TOO_LARGE');
  }
  t.equal((await s.get('/healthz')).status, 200);
});

t.test('GET /healthz, GET /readyz, and 404 for anything else', async (t) => {
  const s = await startTestServer(t);
  t.equal((await s.get('/healthz')).status, 200);
  const ready = await s.get('/readyz');
  t.equal(ready.status, 200);
  t.same(ready.json(), { status: 'ready' });
  const nf = await s.get('/nope');
  t.equal(nf.status, 404);
  t.equal(nf.json()['code'], 'MESHLOCK_ERR_NOT_FOUND');
  t.equal((await s.get('/validate')).status, 404, 'GET /validate is not a route');
  s.server.state.draining = true;
  t.equal((await s.get('/readyz')).status, 503, 'not ready while draining');
});

t.test('there is no plaintext admission port', async (t) => {
  const s = await startTestServer(t);
  const err = await new Promise<unknown>((resolve) => {
    httpRequest({ host: '127.0.0.1', port: s.server.port, path: '/validate', method: 'POST' }, () => resolve(undefined))
      .on('error', resolve)
      .end('{}');
  });
  t.ok(err instanceof Error, 'a plain HTTP request gets no HTTP answer');
});

t.test('connections stay alive at least 90 s, longer than the apiserver keeps idle ones', async (t) => {
  const s = await startTestServer(t);
  t.ok(KEEP_ALIVE_TIMEOUT_MS >= 90_000);
  t.equal(s.server.app.server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
  const res = await s.get('/healthz');
  t.match(res.headers['keep-alive'], /timeout=\d+/);
  t.ok(Number(/timeout=(\d+)/.exec(String(res.headers['keep-alive']))?.[1]) >= 90);
});

t.test('a slow or broken client does not wedge the server', async (t) => {
  const s = await startTestServer(t);
  // A client that opens TLS, sends half the headers and stalls; another that sends garbage instead of TLS.
  const slow = tlsConnect({ host: '127.0.0.1', port: s.server.port, ca: s.pki.ca.certPem, servername: 'localhost' });
  await new Promise((r) => slow.once('secureConnect', r));
  slow.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n');
  const garbage = netConnect({ host: '127.0.0.1', port: s.server.port });
  garbage.on('error', () => undefined);
  garbage.write(Buffer.alloc(4096, 7));
  const stalledBody = tlsConnect({
    host: '127.0.0.1',
    port: s.server.port,
    ca: s.pki.ca.certPem,
    servername: 'localhost',
  });
  await new Promise((r) => stalledBody.once('secureConnect', r));
  stalledBody.write(
    'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"apiVersion":',
  );
  slow.on('error', () => undefined);
  stalledBody.on('error', () => undefined);
  t.teardown(() => {
    slow.destroy();
    garbage.destroy();
    stalledBody.destroy();
  });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => s.post('/validate', reviewOf(permissivePa, { uid: `u${i}` }))),
  );
  t.ok(
    results.every((r) => r.status === 200),
    'other requests are answered meanwhile',
  );
});

t.test('one log line per decision with its identity and outcome, never the object contents', async (t) => {
  const s = await startTestServer(t);
  await s.post('/validate', reviewOf(secretPod, { uid: 'log-1', dryRun: true }));
  const lines = s.logs.lines.filter((l) => l['msg'] === 'admission decision');
  t.equal(lines.length, 1);
  t.match(lines[0], {
    uid: 'log-1',
    kind: 'Pod',
    namespace: 'shop',
    name: 'api',
    operation: 'CREATE',
    decision: 'denied',
    rules: ['pod-injection-disabled'],
    mode: ['enforce'],
    dryRun: true,
    webhook: 'validate',
  });
  t.type(lines[0]?.['durationMs'], 'number');
  t.notMatch(JSON.stringify(s.logs.lines), /hunter2/, 'no object contents in logs');
});

t.test('dry-run mutation: the would-be patch is logged and counted, and not returned', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'mode: dry-run\n');
  const s = await startTestServer(t, { configFile: file });
  const res = await s.post('/mutate', reviewOf(ns, { uid: 'dry-ns' }));
  const body = res.json<{ response: { allowed: boolean; patch?: string } }>();
  t.equal(body.response.allowed, true);
  t.equal(body.response.patch, undefined, 'no patch applied in dry-run');
  const line = s.logs.lines.find((l) => l['msg'] === 'admission decision' && l['uid'] === 'dry-ns');
  t.match(line, { decision: 'allowed', rules: ['ns-injection-label'], mode: ['dry-run'] });
  t.same(
    line?.['wouldPatch'],
    [
      { op: 'add', path: '/metadata/labels', value: {} },
      { op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' },
    ],
    'the would-be patch is in the log line',
  );
  t.match(
    await s.metrics(),
    'meshlock_mutations_total{mutation="ns-injection-label",mode="dry-run",applied="false"} 1',
  );
  const enforced = await startTestServer(t);
  await enforced.post('/mutate', reviewOf(ns, { uid: 'enforced-ns' }));
  const applied = enforced.logs.lines.find((l) => l['uid'] === 'enforced-ns');
  t.equal(applied?.['wouldPatch'], undefined, 'an applied patch is in the response, not the log');
});

t.test(
  'metrics: requests and latency by webhook and decision, violations by rule and mode, no namespace label by default',
  async (t) => {
    const s = await startTestServer(t);
    await s.post('/validate', reviewOf(permissivePa));
    await s.post('/validate', reviewOf(permissivePa, { namespace: 'other' }));
    await s.post('/mutate', reviewOf(ns));
    await s.post('/validate', 'not json');
    const text = await s.metrics();
    t.match(text, 'meshlock_admission_requests_total{webhook="validate",decision="denied"} 2');
    t.match(text, 'meshlock_admission_requests_total{webhook="mutate",decision="patched"} 1');
    t.match(text, 'meshlock_admission_requests_total{webhook="validate",decision="invalid"} 1');
    t.match(
      text,
      /meshlock_admission_request_duration_seconds_bucket\{le="0\.005",webhook="validate",decision="denied"\} \d/,
    );
    t.match(text, 'meshlock_admission_request_duration_seconds_count{webhook="validate",decision="denied"} 2');
    t.match(text, 'meshlock_violations_total{rule="pa-mode",mode="enforce"} 2');
    t.match(text, 'meshlock_mutations_total{mutation="ns-injection-label",mode="enforce",applied="true"} 1');
    t.notMatch(text, /namespace="/, 'no namespace label');
    t.match(text, /# TYPE meshlock_config_reloads_total counter/);
    t.match(text, /# TYPE meshlock_cert_reloads_total counter/);
    t.match(text, /process_resident_memory_bytes/);

    const withNs = await startTestServer(t, { metricsNamespaceLabel: true });
    await withNs.post('/validate', reviewOf(permissivePa));
    t.match(
      await withNs.metrics(),
      'meshlock_violations_total{rule="pa-mode",mode="enforce",namespace="shop"} 1',
      'namespace label when opted in',
    );
  },
);

t.test(
  'metrics: the latency histogram is cumulative with +Inf, sum and count; counters add up; a scrape does not change them',
  async (t) => {
    const m = new Metrics({ defaultMetrics: false });
    const record = (decision: string, findings: DecisionRecord['findings'] = []): DecisionRecord => ({
      webhook: 'validate',
      uid: 'u',
      kind: 'Pod',
      namespace: 'shop',
      name: 'p',
      operation: 'CREATE',
      decision,
      rules: [],
      modes: [],
      dryRun: false,
      findings,
      mutations: [],
    });
    m.decision(record('allowed'), 0.0007);
    m.decision(record('allowed'), 0.003);
    m.decision(record('allowed'), 2);
    m.decision(record('allowed'), 0.001); // on a bound: counted in that bucket (le is "less or equal")
    m.decision(
      record('denied', [
        { rule: 'pa-mode', mode: 'enforce' },
        { rule: 'pa-mode', mode: 'enforce' },
      ]),
      0.0001,
    );
    m.rejected('mutate');
    const scrape = () => m.registry.metrics();
    const text = await scrape();
    const line = (l: string) => t.ok(text.split('\n').includes(l), l);
    const series = 'webhook="validate",decision="allowed"';
    line(`meshlock_admission_request_duration_seconds_bucket{le="0.0005",${series}} 0`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="0.001",${series}} 2`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="0.0025",${series}} 2`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="0.005",${series}} 3`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="1",${series}} 3`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="+Inf",${series}} 4`);
    line(`meshlock_admission_request_duration_seconds_count{${series}} 4`);
    line(`meshlock_admission_request_duration_seconds_bucket{le="0.0005",webhook="validate",decision="denied"} 1`);
    const sum = new RegExp(`meshlock_admission_request_duration_seconds_sum\\{${series}\\} ([0-9.]+)`).exec(text)?.[1];
    t.ok(Math.abs(Number(sum) - 2.0047) < 1e-9, `sum of the observations (${sum})`);
    line('# TYPE meshlock_admission_request_duration_seconds histogram');
    line(`meshlock_admission_requests_total{${series}} 4`);
    line('meshlock_admission_requests_total{webhook="mutate",decision="invalid"} 1');
    line('meshlock_violations_total{rule="pa-mode",mode="enforce"} 2');
    t.equal(await scrape(), text, 'a second scrape reads the same totals');
    m.decision(record('allowed'), 0.0007);
    t.match(await scrape(), `meshlock_admission_requests_total{${series}} 5`, 'and later requests add to them');
    const json = await m.registry.getMetricsAsJSON();
    t.ok(
      json.some((x) => x.name === 'meshlock_admission_request_duration_seconds' && String(x.type) === 'histogram'),
      'JSON export lists the histogram',
    );
  },
);

t.test(
  'log destination: lines keep their order, go out in batches by size and by time, and all of them on flushSync',
  async (t) => {
    const writes: string[] = [];
    let syncFlushes = 0;
    const sink = { write: (text: string) => (writes.push(text), true), flushSync: () => void syncFlushes++ };
    const d = new BatchedDestination(sink, { batchChars: 30, intervalMs: 50 });
    t.teardown(() => d.close());
    d.write('{"n":1}\n');
    d.write('{"n":2}\n');
    t.same(writes, [], 'held while the batch is small');
    d.write('{"n":3}\n{"n":4}\n');
    t.same(writes, ['{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n'], 'one write once the batch reaches its size');
    d.write('{"n":5}\n');
    await new Promise((r) => setTimeout(r, 120));
    t.same(writes.slice(1), ['{"n":5}\n'], 'a lone line goes out within the interval');
    d.write('{"n":6}\n');
    d.flushSync();
    t.same(writes.slice(2), ['{"n":6}\n'], 'flushSync hands over what is held');
    t.equal(syncFlushes, 1, '...and makes the sink write synchronously');
    d.flush();
    t.equal(writes.length, 3, 'nothing held: no empty write');
  },
);

t.test('meshlock serve refuses to start without a certificate, naming the flags', async (t) => {
  const p = spawnCli(['serve', '--port', '0', '--metrics-port', '0']);
  const { code } = await p.exited;
  t.equal(code, 2);
  t.match(p.stderr, /--tls-cert and --tls-key are required/);
  const bad = spawnCli(['serve', '--port', '0', '--tls-cert', 'nope.crt', '--tls-key', 'nope.key']);
  t.equal((await bad.exited).code, 2);
  t.match(bad.stderr, /cannot read the serving certificate/);
});

t.test(
  'SIGTERM: /readyz fails at once, serving goes on for the delay, in-flight requests are answered with Connection: close, idle keep-alive connections do not hold the exit',
  async (t) => {
    const pki = makePki(t);
    // Long enough for the two requests below to be made within it on a busy machine.
    const delayS = 3;
    const p = spawnCli([
      'serve',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--host',
      '127.0.0.1',
      '--tls-cert',
      pki.certFile,
      '--tls-key',
      pki.keyFile,
      '--log-decisions',
      'all',
      '--shutdown-delay',
      String(delayS),
      '--drain-timeout',
      '10',
    ]);
    t.teardown(() => p.child.kill('SIGKILL'));
    const listening = await p.waitForLog('meshlock listening');
    const port = Number(listening['port']);
    const url = `https://127.0.0.1:${port}`;
    // 20 pooled keep-alive connections, idle when the signal comes (the server keeps them 120 s).
    const pool = new Agent({ keepAlive: true, ca: pki.ca.certPem, maxSockets: 20 });
    t.teardown(() => pool.destroy());
    await Promise.all(Array.from({ length: 20 }, () => send({ url: `${url}/healthz`, method: 'GET', agent: pool })));
    const body = JSON.stringify(reviewOf(permissivePa, { uid: 'in-flight' }));
    // Three requests whose bodies are only half sent when SIGTERM arrives.
    const inFlight = Array.from({ length: 3 }, (_, i) => {
      let finish!: () => void;
      const sent = new Promise<void>((resolve) => (finish = resolve));
      const done = new Promise<{ status: number; text: string; connection: string | undefined }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: i === 1 ? '/mutate' : '/validate',
            method: 'POST',
            ca: pki.ca.certPem,
            headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.write(body.slice(0, 50));
        req.on('socket', (sock) => sock.once('secureConnect', () => setImmediate(finishLater)));
        const finishLater = (): void => void sent.then(() => req.end(body.slice(50)));
      });
      return { finish, done };
    });
    // Wait until the server has all three connections (its requests are in flight), then signal.
    await new Promise((r) => setTimeout(r, 300));
    const signalled = performance.now();
    p.child.kill('SIGTERM');
    await p.waitForLog('shutting down: draining requests in flight');
    const ready = await send({ url: `${url}/readyz`, method: 'GET', ca: pki.ca.certPem });
    t.equal(ready.status, 503, '/readyz fails at once');
    t.same(ready.json(), { status: 'draining' });
    const during = await send({
      url: `${url}/validate`,
      method: 'POST',
      body: reviewOf(permissivePa, { uid: 'during-delay' }),
      agent: pool,
    });
    t.equal(during.status, 200, 'a request on a pooled connection during the delay is answered');
    t.equal(during.headers['connection'], 'close', '...and its connection closed, so the client reconnects elsewhere');
    await new Promise((r) => setTimeout(r, delayS * 1000 + 200));
    for (const f of inFlight) f.finish();
    const results = await Promise.all(inFlight.map((f) => f.done));
    for (const r of results) {
      t.equal(r.status, 200, 'a request in flight is answered');
      t.match(JSON.parse(r.text), { response: { uid: 'in-flight' } });
      t.equal(r.connection, 'close', 'with Connection: close');
    }
    const exit = await p.exited;
    const tookS = (performance.now() - signalled) / 1000;
    t.equal(exit.code, 0, 'exit code 0 after draining');
    // The bound is the drain deadline, not a performance figure: without closing idle connections the
    // exit waited for their 120 s keep-alive.
    t.ok(
      tookS < delayS + 10,
      `exited ${tookS.toFixed(1)} s after SIGTERM, idle keep-alive connections notwithstanding`,
    );
    if (!p.child.stdout!.closed) await new Promise((r) => p.child.stdout!.once('close', r));
    const logged = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.equal(
      logged.filter((l) => l['msg'] === 'admission decision' && l['uid'] === 'in-flight').length,
      3,
      'the batched decision lines are all written at exit',
    );
    t.notOk(
      logged.some((l) => l['msg'] === 'drain deadline reached, closing the remaining connections'),
      'no connection had to be cut',
    );
    // 'shut down' is the last line logged, but a batch handed to stdout asynchronously just before
    // exit may land after the synchronous final flush, so only its presence is asserted.
    t.ok(
      logged.some((l) => l['msg'] === 'shut down'),
      'the shut down line is written',
    );
    const refused = await send({ url: `${url}/healthz`, method: 'GET', ca: pki.ca.certPem }).catch((e: Error) => e);
    t.ok(refused instanceof Error, 'nothing listens any more');
  },
);
