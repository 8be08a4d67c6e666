// Replays the faults of the hardening issue against a running meshlock under a paced load of the
// realistic mix, and prints per phase the load's requests answered correctly (the decision the
// engine gives in-process), answered wrongly, refused busy (503), and lost (no answer), with the
// server's peak RSS. Run: npm run build && node bench/faults.mjs [--rate 200] [--idle 2000]
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkedMix,
  flags,
  once,
  percentile,
  root,
  rssMiB,
  sampleRss,
  sleep,
  startLoad,
  startMeshlock,
} from './hardening-lib.mjs';

const opt = flags({ rate: 200, idle: 2000, stalled: 30, big: 20, phases: 'all' });
// --phases baseline,stalled,big,idle,slow,config,certs,sigterm runs a subset.
const wanted = (key) => opt.phases === 'all' || opt.phases.split(',').includes(key);
const dir = mkdtempSync(path.join(tmpdir(), 'meshlock-faults-'));
// A CA of its own, so the rotation phase can issue new serving certificates the clients trust.
const { createCertificateAuthority, issueServingCertificate } = await import(path.join(root, 'dist/tls/index.js'));
const ca = createCertificateAuthority({ days: 2 });
const issue = () =>
  issueServingCertificate(ca, { commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], days: 2 });
const configFile = path.join(dir, 'config.yaml');
// shop in warn: a PERMISSIVE PeerAuthentication there is allowed; were the config lost (all
// defaults), it would be denied and counted wrong.
const CONFIG = 'mode: enforce\nnamespaces:\n  shop: warn\n';
writeFileSync(configFile, CONFIG);
const tlsDir = path.join(dir, 'tls');
mkdirSync(tlsDir);
const first = issue();
const served = { ca: ca.certPem, certFile: path.join(tlsDir, 'tls.crt'), keyFile: path.join(tlsDir, 'tls.key') };
writeFileSync(served.certFile, first.certPem);
writeFileSync(served.keyFile, first.keyPem);
const certs = served;

// Room for the idle phase's connections besides the load's.
const server = await startMeshlock(served, [
  '--config',
  configFile,
  '--shutdown-delay',
  '3',
  '--max-connections',
  String(opt.idle + 100),
]);
const mix = await checkedMix(CONFIG);
const load = startLoad(server.port, certs.ca, mix, { rate: opt.rate, connections: 16 });
const rows = [];
const sockets = new Set();

function rawTls() {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, ca: certs.ca, servername: 'localhost' });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
    s.on('error', () => undefined);
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
}

async function phase(key, name, fn) {
  if (!wanted(key)) return;
  load.take();
  const rss = sampleRss(server.pid);
  const t0 = performance.now();
  const note = (await fn()) ?? '';
  const t = load.take();
  const peak = rss.stop();
  rows.push({
    phase: name,
    seconds: ((performance.now() - t0) / 1000).toFixed(1),
    t,
    peakRssMiB: peak.toFixed(0),
    note,
  });
  process.stderr.write(`${name}: ${note} (peak RSS ${peak.toFixed(0)} MiB)\n`);
}

await phase('baseline', 'baseline', () => sleep(5000));

await phase('stalled', `${opt.stalled} stalled 8 MiB bodies`, async () => {
  // Each announces 8 MiB and sends all but the last byte, then stalls.
  const body = Buffer.alloc(8 * 1024 * 1024 - 1, 0x20);
  const outcomes = { held: 0, refused503: 0, closed: 0 };
  await Promise.all(
    Array.from({ length: opt.stalled }, async () => {
      const s = await rawTls().catch(() => undefined);
      if (!s) return void outcomes.closed++;
      let text = '';
      s.on('data', (c) => (text += c));
      s.write(
        `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
      );
      s.write(body);
      await sleep(4000);
      if (text.startsWith('HTTP/1.1 503')) outcomes.refused503++;
      else if (s.destroyed) outcomes.closed++;
      else outcomes.held++;
      if (text && !text.startsWith('HTTP/1.1 503')) outcomes.other = text.split('\r\n')[0];
    }),
  );
  await sleep(4000);
  for (const s of sockets) s.destroy();
  return `stalled clients: ${outcomes.held} held, ${outcomes.refused503} refused 503, ${outcomes.closed} closed${outcomes.other ? ` (${outcomes.other})` : ''}`;
});

await phase('big', `${opt.big} concurrent 7 MiB reviews`, async () => {
  const pad = (n) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'big',
      namespace: 'shop',
      labels: { 'sidecar.istio.io/inject': 'true' },
      annotations: { blob: 'x'.repeat(n) },
    },
    spec: { containers: [{ name: 'a', image: 'a' }] },
  });
  const half = 3.5 * 1024 * 1024;
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'big',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'UPDATE',
      userInfo: { username: 'x' },
      object: pad(half),
      oldObject: pad(half),
    },
  });
  let first503 = 0;
  let answered = 0;
  let failed = 0;
  // Each retries after Retry-After until answered, as the apiserver's next call would.
  await Promise.all(
    Array.from({ length: opt.big }, async () => {
      for (let attempt = 0; attempt < 30; attempt++) {
        const r = await once(server.port, certs.ca, { path: '/validate', body }).catch(() => ({ status: 0 }));
        if (r.status === 200) return void answered++;
        if (r.status === 503 && attempt === 0) first503++;
        await sleep(1000 * Number(r.headers?.['retry-after'] ?? 1));
      }
      failed++;
    }),
  );
  return `${(body.length / 1048576).toFixed(1)} MiB each: ${answered} answered 200, ${first503} got 503 first and were answered on retry, ${failed} never`;
});

await phase('idle', `${opt.idle} idle TLS connections`, async () => {
  const opened = [];
  for (let i = 0; i < opt.idle; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, opt.idle - i) }, () =>
        rawTls().then(
          (s) => (s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), s),
          () => undefined,
        ),
      ),
    );
    opened.push(...batch.filter(Boolean));
  }
  await sleep(5000);
  const open = opened.filter((s) => !s.destroyed).length;
  const rss = rssMiB(server.pid).rss.toFixed(0);
  for (const s of opened) s.destroy();
  return `${open} of ${opt.idle} connections open and idle after 5 s; RSS ${rss} MiB with them`;
});

await phase('slow', 'slow clients: 100 slowloris, 20 bodies at 20 KiB/s, 20 endless chunked', async () => {
  const cut = { loris: [], slow: [], chunked: [] };
  const timers = [];
  const start = async (kind, head, tick) => {
    const s = await rawTls().catch(() => undefined);
    if (!s) return;
    const t0 = performance.now();
    s.once('close', () => cut[kind].push((performance.now() - t0) / 1000));
    s.write(head);
    timers.push(setInterval(() => s.writable && s.write(tick), 1000));
  };
  const jobs = [];
  for (let i = 0; i < 100; i++) jobs.push(start('loris', 'POST /validate HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n'));
  for (let i = 0; i < 20; i++)
    jobs.push(
      start(
        'slow',
        'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n',
        ' '.repeat(20 * 1024),
      ),
    );
  for (let i = 0; i < 20; i++)
    jobs.push(
      start(
        'chunked',
        'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        `${(1024).toString(16)}\r\n${' '.repeat(1024)}\r\n`,
      ),
    );
  await Promise.all(jobs);
  const until = performance.now() + 40_000;
  while (performance.now() < until && cut.loris.length + cut.slow.length + cut.chunked.length < 140) await sleep(250);
  timers.forEach(clearInterval);
  for (const s of sockets) s.destroy();
  const range = (xs) => (xs.length ? `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)} s` : 'none cut');
  return `cut after: slowloris ${range(cut.loris)} (headers 10 s), slow bodies ${range(cut.slow)} (request 30 s), endless chunked ${range(cut.chunked)} (request 30 s)`;
});

await phase('config', 'config reloads: empty, truncated, unparsable, then valid (same content)', async () => {
  for (const text of [
    '',
    'mode: enforce\nnamespaces:\n  shop: wa',
    '{"mode": "enforce", "namespaces": {',
    '# nothing\n',
  ]) {
    writeFileSync(configFile, text);
    await sleep(1500);
  }
  writeFileSync(configFile, `${CONFIG}# touched\n`);
  await sleep(1500);
  return 'every bad file refused; shop stays in warn throughout';
});

await phase('certs', 'certificate rotation under load x3 (key, then certificate, renamed into place)', async () => {
  for (let i = 0; i < 3; i++) {
    const next = issue();
    // Key first: for a moment the pair does not match, which the watcher refuses until the certificate follows.
    writeFileSync(`${served.keyFile}.new`, next.keyPem);
    renameSync(`${served.keyFile}.new`, served.keyFile);
    await sleep(300);
    writeFileSync(`${served.certFile}.new`, next.certPem);
    renameSync(`${served.certFile}.new`, served.certFile);
    await sleep(2000);
  }
  return 'new connections get each new certificate; pooled ones keep theirs';
});

let exitNote = '';
await phase('sigterm', 'SIGTERM under load (3 s delay, then drain)', async () => {
  const t0 = performance.now();
  server.child.kill('SIGTERM');
  const readyDuring = await once(server.port, certs.ca, { path: '/readyz', method: 'GET' }).then(
    (r) => r.status,
    () => 0,
  );
  // The load goes on for most of the delay, then stops: by then the EndpointSlice update has taken
  // the pod out of the Service and clients open their connections to other replicas.
  await sleep(2000);
  await load.stop({ dropQueued: true });
  const exit = await server.exited;
  exitNote = `readyz ${readyDuring} at once; exit ${exit.code} after ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  return `${exitNote} (the load stops 1 s before the delay ends, as the Service stops routing here)`;
});

await load.stop();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  '\n| phase | s | sent | correct | wrong | 503 | lost | refused | p50 / p99 ms | peak RSS MiB | notes |\n|---|---|---|---|---|---|---|---|---|---|---|\n',
);
for (const { phase: name, seconds, t, peakRssMiB, note } of rows) {
  const lat = `${percentile(t.latencies, 50).toFixed(0)} / ${percentile(t.latencies, 99).toFixed(0)}`;
  process.stdout.write(
    `| ${name} | ${seconds} | ${t.sent} | ${t.ok} | ${t.wrong} | ${t.busy} | ${t.lost} | ${t.refused} | ${lat} | ${peakRssMiB} | ${note} |\n`,
  );
  if (Object.keys(t.errors).length > 0) process.stdout.write(`|  | errors: ${JSON.stringify(t.errors)} |||||||||| \n`);
}
const bad = rows.reduce((n, r) => n + r.t.wrong + r.t.lost, 0);
process.stdout.write(`\n${bad === 0 ? 'no wrong or lost answer' : `${bad} wrong or lost answers`}\n`);
process.exitCode = bad === 0 ? 0 : 1;
