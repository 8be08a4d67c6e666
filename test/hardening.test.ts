// The webhook under abuse, over real TLS: the memory caps (connections, body bytes held at once),
// the timeouts measured against their configured values, the TLS posture, latency that is not 0,
// log lines and errors without body text, and which decisions are logged.
import t, { type Test } from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { BodyBudget, DEFAULT_LIMITS, TLS_CIPHERS } from '../src/server/index.js';
import { eventually, reviewOf, startTestServer, type TestServer } from './lib/server.js';

const permissivePa = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'PERMISSIVE' } },
};
const strictPa = { ...permissivePa, spec: { mtls: { mode: 'STRICT' } } };

/** A review of `bytes` bytes or a little more, padded with an annotation. */
function paddedReview(bytes: number, uid = 'padded'): string {
  return JSON.stringify(
    reviewOf(
      { ...permissivePa, metadata: { ...permissivePa.metadata, annotations: { pad: 'x'.repeat(bytes) } } },
      { uid },
    ),
  );
}

function openTls(s: TestServer, extra: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({
      host: '127.0.0.1',
      port: s.server.port,
      ca: s.pki.ca.certPem,
      servername: 'localhost',
      ...extra,
    });
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Resolves with what the server wrote and when (ms after `since`) the connection ended. */
function untilClosed(sock: Socket, since: number): Promise<{ text: string; afterMs: number }> {
  let text = '';
  sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
  sock.on('error', () => undefined);
  return new Promise((resolve) => sock.once('close', () => resolve({ text, afterMs: performance.now() - since })));
}

t.test('the defaults are the documented ones', async (t) => {
  t.equal(DEFAULT_LIMITS.headersTimeoutMs, 10_000);
  t.equal(DEFAULT_LIMITS.requestTimeoutMs, 30_000);
  t.equal(DEFAULT_LIMITS.handshakeTimeoutMs, 10_000);
  t.equal(DEFAULT_LIMITS.keepAliveTimeoutMs, 120_000);
  t.ok(DEFAULT_LIMITS.timeoutCheckIntervalMs <= 1000, 'Node checks header and request timeouts at least every second');
  t.ok(DEFAULT_LIMITS.maxBodyBytes >= 2 * DEFAULT_LIMITS.bodyLimit, 'two of the largest bodies fit at once');
  const s = await startTestServer(t);
  const server = s.server.app.server;
  t.equal(server.headersTimeout, 10_000);
  t.equal(server.requestTimeout, 30_000);
  t.equal(server.keepAliveTimeout, 120_000);
  t.equal(server.maxConnections, DEFAULT_LIMITS.maxConnections);
});

// Each timeout shortened to a second or two; the cut is measured against the configured value. The
// upper bound is the "within 2 s" (Node's default check every 30 s would miss it by far).
const SHORT = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 1500, handshakeTimeoutMs: 1000 };
const SLACK_MS = 2000;

t.test(
  'timeouts hold within 2 s of their value: slowloris, slow body, endless chunked body, silent TLS client, idle keep-alive',
  async (t) => {
    const s = await startTestServer(t, { limits: SHORT });
    const within = (t: Test, what: string, afterMs: number, valueMs: number): void => {
      t.ok(
        afterMs >= valueMs - 100,
        `${what}: not cut before its ${valueMs} ms timeout (cut after ${Math.round(afterMs)} ms)`,
      );
      t.ok(
        afterMs <= valueMs + SLACK_MS,
        `${what}: cut within ${SLACK_MS} ms of ${valueMs} ms (after ${Math.round(afterMs)} ms)`,
      );
    };
    const timers: NodeJS.Timeout[] = [];
    t.teardown(() => timers.forEach((x) => clearInterval(x)));

    // Headers a byte at a time, forever.
    const loris = await openTls(s);
    const lorisStart = performance.now();
    const lorisDone = untilClosed(loris, lorisStart);
    loris.write('POST /validate HTTP/1.1\r\nHost: x\r\n');
    timers.push(setInterval(() => loris.writable && loris.write('X'), 100));

    // A body trickled far slower than it would need to finish within the request timeout.
    const slow = await openTls(s);
    const slowStart = performance.now();
    const slowDone = untilClosed(slow, slowStart);
    slow.write(
      'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{',
    );
    timers.push(setInterval(() => slow.writable && slow.write(' '.repeat(100)), 50));

    // A chunked body that never ends, each chunk on time.
    const endless = await openTls(s);
    const endlessStart = performance.now();
    const endlessDone = untilClosed(endless, endlessStart);
    endless.write(
      'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n',
    );
    timers.push(setInterval(() => endless.writable && endless.write('1\r\n \r\n'), 50));

    // TCP without a TLS handshake.
    const silent = netConnect({ host: '127.0.0.1', port: s.server.port });
    await new Promise((r) => silent.once('connect', r));
    const silentDone = untilClosed(silent, performance.now());

    // One request, then an idle keep-alive connection.
    const idle = await openTls(s);
    const body = JSON.stringify(reviewOf(permissivePa));
    let idleStart = 0;
    const idleDone = new Promise<{ afterMs: number }>((resolve) => {
      let text = '';
      idle.on('data', (c: Buffer) => {
        text += c.toString();
        if (idleStart === 0 && text.includes('"uid"')) idleStart = performance.now();
      });
      idle.once('close', () => resolve({ afterMs: performance.now() - idleStart }));
    });
    idle.write(
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );

    const [l, sl, e, si, id] = await Promise.all([lorisDone, slowDone, endlessDone, silentDone, idleDone]);
    within(t, 'slowloris headers', l.afterMs, SHORT.headersTimeoutMs);
    within(t, 'slow body', sl.afterMs, SHORT.requestTimeoutMs);
    t.match(sl.text, /^HTTP\/1\.1 408/, 'the slow body is answered 408');
    within(t, 'endless chunked body', e.afterMs, SHORT.requestTimeoutMs);
    within(t, 'silent TLS client', si.afterMs, SHORT.handshakeTimeoutMs);
    // Node keeps an idle connection its keepAliveTimeoutBuffer (1 s) past the advertised keep-alive.
    within(t, 'idle keep-alive', id.afterMs, SHORT.keepAliveTimeoutMs + 1000);
    t.equal((await s.post('/validate', reviewOf(permissivePa))).status, 200, 'and the server answers others');
  },
);

t.test(
  'bytes of bodies held at once are capped: past the budget a fast 503 with Retry-After; the bytes come back when the stalled client goes',
  async (t) => {
    const s = await startTestServer(t, { limits: { maxBodyBytes: 1024 * 1024 } });
    // A client announces 800 kB and stalls after a few bytes: its reservation is held.
    const stalled = await openTls(s);
    stalled.on('error', () => undefined);
    stalled.write(
      'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 800000\r\n\r\n{"a":',
    );
    await new Promise((r) => setTimeout(r, 100));
    const big = paddedReview(300_000);
    const busy = await s.post('/validate', big);
    t.equal(busy.status, 503, 'a body that does not fit the budget is refused');
    t.equal(busy.headers['retry-after'], '1', 'with Retry-After');
    t.equal(busy.json()['code'], 'MESHLOCK_ERR_BUSY');
    t.not(
      busy.headers['connection'],
      'close',
      'the rest of its body is read and dropped, so the client sees the answer, not a reset',
    );
    const small = await s.post('/validate', reviewOf(permissivePa, { uid: 'small' }));
    t.equal(small.status, 200, 'a small review still fits');
    t.match(await s.metrics(), 'meshlock_admission_requests_total{webhook="validate",decision="busy"} 1');

    // A chunked body reserves as it arrives.
    stalled.destroy();
    let ok = false;
    await eventually(async () => (ok = (await s.post('/validate', big)).status === 200));
    t.ok(ok, 'the stalled client gone, its reservation is given back');
    const chunked = await openTls(s);
    chunked.on('error', () => undefined);
    chunked.write(
      'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = ' '.repeat(64 * 1024);
    for (let i = 0; i < 14; i++) chunked.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await eventually(async () => (await s.post('/validate', big)).status === 503);
    t.pass('a stalled chunked body of 900 kB holds its bytes too');
    chunked.destroy();
    await eventually(async () => (await s.post('/validate', big)).status === 200);
    t.pass('and gives them back when it goes');
  },
);

t.test('the body budget keeps a quarter for everyday reviews: stalled large bodies cannot take it', async (t) => {
  const budget = new BodyBudget(64 * 1024 * 1024);
  const large = 8 * 1024 * 1024;
  let held = 0;
  while (budget.tryTake(large)) held++;
  t.equal(held, 6, 'six 8 MiB bodies fill the large share (48 MiB)');
  t.ok(budget.tryTake(4096), 'a 4 KiB review still fits');
  let small = 0;
  while (budget.tryTake(512 * 1024)) small++;
  t.equal(small, 31, 'the rest goes to bodies of 1 MiB or less');
  t.ok(budget.inUse <= budget.capacity, 'never more than the whole budget');
  budget.give(large);
  t.notOk(
    budget.tryTake(1024 * 1024 + 1, 1024 * 1024 + 1),
    'a large body does not take freed bytes while small ones fill past the large share',
  );
  t.ok(budget.tryTake(4096), 'a small one does');
});

t.test('connections are capped: past the cap a new connection is closed on arrival and counted', async (t) => {
  const s = await startTestServer(t, { limits: { maxConnections: 4 } });
  s.agent.destroy();
  const held = await Promise.all(Array.from({ length: 4 }, () => openTls(s)));
  t.teardown(() => held.forEach((h) => h.destroy()));
  const extra = await openTls(s).then(
    (sock) => (sock.destroy(), 'connected'),
    (err: Error) => err.message,
  );
  t.not(extra, 'connected', `the fifth connection is refused (${extra})`);
  t.match(await s.metrics(), 'meshlock_connections_dropped_total 1');
  held.pop()?.destroy();
  await eventually(
    async () =>
      await openTls(s).then(
        (x) => (x.destroy(), true),
        () => false,
      ),
  );
  t.pass('a freed slot takes a new connection');
});

t.test('TLS: 1.3, and 1.2 only with ECDHE and AEAD; no renegotiation', async (t) => {
  const s = await startTestServer(t);
  const version = async (extra: ConnectionOptions): Promise<string> => {
    const sock = await openTls(s, extra).catch((err: Error) => err);
    if (sock instanceof Error) return `refused: ${sock.message}`;
    const v = `${sock.getProtocol()} ${sock.getCipher().name}`;
    sock.destroy();
    return v;
  };
  t.match(await version({}), /^TLSv1\.3 /, 'TLS 1.3 by default');
  t.match(
    await version({ maxVersion: 'TLSv1.2' }),
    /^TLSv1\.2 ECDHE-(RSA|ECDSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/,
  );
  for (const cipher of [
    'AES128-GCM-SHA256',
    'AES256-SHA256',
    'ECDHE-RSA-AES128-SHA',
    'ECDHE-RSA-AES256-SHA384',
    'DHE-RSA-AES128-GCM-SHA256',
  ]) {
    t.match(await version({ maxVersion: 'TLSv1.2', ciphers: cipher }), /^refused/, `${cipher} is refused`);
  }
  for (const c of TLS_CIPHERS.split(':')) t.match(c, /^(TLS_|ECDHE-).*(GCM|POLY1305)/, `${c}: forward secret and AEAD`);
  t.match(
    await version({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    /^refused/,
    'TLS 1.1 is refused',
  );

  const sock = await openTls(s, { maxVersion: 'TLSv1.2' });
  const renegotiated = await new Promise<string>((resolve) => {
    sock.once('error', (err) => resolve(`error: ${err.message}`));
    sock.once('close', () => resolve('closed'));
    const ok = sock.renegotiate({}, (err) => resolve(err ? `error: ${err.message}` : 'renegotiated'));
    if (!ok) resolve('not started');
  });
  sock.destroy();
  t.not(renegotiated, 'renegotiated', `a client's renegotiation is refused (${renegotiated})`);
});

t.test('latency is measured from arrival: the histogram and durationMs cover a body sent in two parts', async (t) => {
  const s = await startTestServer(t);
  const body = JSON.stringify(reviewOf(permissivePa, { uid: 'slow-half' }));
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: s.server.port,
        path: '/validate',
        method: 'POST',
        ca: s.pki.ca.certPem,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    // Headers and the start of the body once TLS is up, the rest 300 ms later.
    req.on('socket', (sock) =>
      sock.once('secureConnect', () => {
        req.write(body.slice(0, 40));
        setTimeout(() => req.end(body.slice(40)), 300);
      }),
    );
  });
  t.equal(status, 200);
  const line = s.logs.lines.find((l) => l['uid'] === 'slow-half');
  // At least most of the 300 ms: the headers may reach the server a little after they are written.
  t.ok(
    Number(line?.['durationMs']) >= 150,
    `durationMs counts the time the body took (${String(line?.['durationMs'])})`,
  );
  const sum = Number(
    /meshlock_admission_request_duration_seconds_sum\{webhook="validate",decision="denied"\} ([0-9.e-]+)/.exec(
      await s.metrics(),
    )?.[1],
  );
  t.ok(sum >= 0.15, `the histogram's sum too (${sum})`);
  await s.post('/validate', reviewOf(permissivePa, { uid: 'fast' }));
  const fast = s.logs.lines.find((l) => l['uid'] === 'fast');
  t.ok(Number(fast?.['durationMs']) > 0, `a quick request reads more than 0 (${String(fast?.['durationMs'])})`);
});

t.test('logs and errors carry no body text, and every logged string is bounded', async (t) => {
  const s = await startTestServer(t);
  const long = 'n'.repeat(1024 * 1024);
  const review = reviewOf(
    { ...permissivePa, metadata: { name: long, namespace: 'shop' } },
    { uid: 'long-name', name: long },
  );
  const res = await s.post('/validate', review);
  t.equal(res.status, 200);
  const line = s.logs.lines.find((l) => l['uid'] === 'long-name');
  t.ok(line, 'the decision is logged');
  t.ok(String(line?.['name']).length < 300, `the name is cut (${String(line?.['name']).length} characters)`);
  t.ok(JSON.stringify(line).length < 2000, 'the line stays short');

  const secret = 'SECRET-TOKEN-d0-not-echo';
  for (const bad of [
    `{"apiVersion": "${secret}" `,
    `{"apiVersion": "${secret}", x}`,
    `${secret}`,
    `{"a":"${secret}"}]`,
  ]) {
    const r = await s.post('/validate', bad);
    t.equal(r.status, 400, `invalid JSON ${bad.length} bytes: 400`);
    t.equal(r.json()['code'], 'MESHLOCK_ERR_INVALID_JSON');
    t.notMatch(r.text, secret, 'the answer does not quote the body');
  }
  const notReview = await s.post('/validate', { kind: secret, apiVersion: secret });
  t.notMatch(notReview.text, secret, 'nor does a not-a-review answer');
  t.notMatch(JSON.stringify(s.logs.lines), secret, 'no log line quotes a body');
  const longest = Math.max(
    ...s.logs.lines.flatMap((l) => Object.values(l).map((v) => (typeof v === 'string' ? v.length : 0))),
  );
  t.ok(longest <= 300, `every logged string is bounded (longest ${longest} characters)`);
});

t.test('decision logging: findings by default, all, none; metrics count every request in each', async (t) => {
  for (const mode of ['findings', 'all', 'none'] as const) {
    const s = await startTestServer(t, mode === 'findings' ? {} : { logDecisions: mode });
    await s.post('/validate', reviewOf(strictPa, { uid: 'clean' }));
    await s.post('/validate', reviewOf(permissivePa, { uid: 'denied' }));
    await s.post(
      '/mutate',
      reviewOf({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } }, { uid: 'patched' }),
    );
    await s.post('/mutate', reviewOf(strictPa, { uid: 'nothing-to-patch' }));
    const logged = s.logs.lines.filter((l) => l['msg'] === 'admission decision').map((l) => l['uid']);
    const expected = {
      findings: ['denied', 'patched'],
      all: ['clean', 'denied', 'patched', 'nothing-to-patch'],
      none: [],
    }[mode];
    t.same(logged, expected, `${mode}: ${expected.join(', ') || 'nothing'} logged`);
    const text = await s.metrics();
    t.match(
      text,
      'meshlock_admission_requests_total{webhook="validate",decision="allowed"} 1',
      `${mode}: clean allows counted`,
    );
    t.match(text, 'meshlock_admission_requests_total{webhook="validate",decision="denied"} 1');
    t.match(text, 'meshlock_admission_requests_total{webhook="mutate",decision="allowed"} 1');
  }
});

t.test(
  'a review with 100,000 labels and annotations is decided without enumerating them (work does not grow with the map)',
  async (t) => {
    const { admit } = await import('../src/admission/index.js');
    const { defaultConfig } = await import('../src/config/index.js');
    let enumerations = 0;
    const huge = (): Record<string, string> => {
      const o = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`example.com/k${i}`, `v${i}`]));
      return new Proxy(o, {
        ownKeys: (target) => {
          enumerations++;
          return Reflect.ownKeys(target);
        },
      });
    };
    const objects = [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'shop', labels: huge(), annotations: huge() },
        spec: { containers: [{ name: 'a', image: 'a' }] },
      },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: huge(), annotations: huge() } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd', namespace: 'shop', labels: huge() },
        spec: {
          template: {
            metadata: { labels: huge(), annotations: huge() },
            spec: { containers: [{ name: 'a', image: 'a' }] },
          },
        },
      },
      { ...strictPa, metadata: { ...strictPa.metadata, labels: huge(), annotations: huge() } },
    ];
    for (const object of objects) {
      for (const webhook of ['validate', 'mutate'] as const) {
        const before = enumerations;
        const body = reviewOf(object, { operation: 'UPDATE', oldObject: object });
        const { review } = admit(webhook, body, { config: defaultConfig(), now: new Date() });
        t.ok(review.response, `${object.kind} ${webhook}: answered`);
        // The answer is a real decision, not a fallback: the namespace gets its injection label.
        if (object.kind === 'Namespace' && webhook === 'mutate')
          t.ok((review.response as { patch?: string }).patch, 'Namespace mutate: the injection label is patched in');
        t.equal(
          enumerations - before,
          0,
          `${object.kind} ${webhook}: labels and annotations looked up by key, never listed`,
        );
      }
    }
  },
);

t.test('a malformed proxy.istio.io/config annotation prints no warning quoting it', async (t) => {
  const { admit } = await import('../src/admission/index.js');
  const { defaultConfig } = await import('../src/config/index.js');
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const secret = '%SECRET-in-annotation';
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', annotations: { 'proxy.istio.io/config': secret } },
    spec: { containers: [{ name: 'a', image: 'a' }] },
  };
  const { review } = admit('validate', reviewOf(pod), { config: defaultConfig(), now: new Date() });
  t.equal(review.response.allowed, false, 'an unreadable proxy config fails closed');
  await new Promise((r) => setImmediate(r));
  t.same(
    warnings.filter((w) => w.includes('SECRET')),
    [],
    'no process warning carries the annotation',
  );
});
