// Hot reload of the config file and of the serving certificate, without a restart.
import t from 'tap';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { readSettled } from '../src/config/watch.js';
import { eventually, makePki, reviewOf, spawnCli, startTestServer, tempDir } from './lib/server.js';

const permissivePa = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'PERMISSIVE' } },
};

t.test('a running server reloads a changed config, and keeps the old one when the new one is invalid', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'mode: enforce\n');
  const s = await startTestServer(t, { configFile: file });
  const allowed = async () =>
    (await s.post('/validate', reviewOf(permissivePa))).json<{ response: { allowed: boolean } }>().response.allowed;
  t.equal(await allowed(), false, 'enforce denies');

  writeFileSync(file, 'mode: warn\n');
  await eventually(allowed);
  t.pass('after the change to warn the same request is allowed');
  t.match(await s.metrics(), 'meshlock_config_reloads_total{result="success"} 1');

  writeFileSync(file, 'mode: block\nrules:\n  no-such-rule: warn\n');
  await eventually(() => s.logs.lines.some((l) => l['msg'] === 'config reload refused, keeping the previous config'));
  const issues = s.logs.lines.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('config error at '));
  t.ok(
    issues.some((l) => l['path'] === '/mode'),
    'the bad mode is logged with its path',
  );
  t.ok(
    issues.some((l) => l['path'] === '/rules'),
    'the unknown rule is logged with its path',
  );
  t.equal(await allowed(), true, 'the previous config (warn) still applies');
  t.match(await s.metrics(), 'meshlock_config_reloads_total{result="failure"} 1');
  t.equal((await s.get('/readyz')).status, 200, 'still ready');
});

t.test('a config mounted from a ConfigMap is reloaded when its ..data symlink is swapped', async (t) => {
  const dir = tempDir(t);
  const v1 = path.join(dir, '..v1');
  const v2 = path.join(dir, '..v2');
  mkdirSync(v1);
  mkdirSync(v2);
  writeFileSync(path.join(v1, 'config.yaml'), 'mode: enforce\n');
  writeFileSync(path.join(v2, 'config.yaml'), 'mode: warn\n');
  symlinkSync('..v1', path.join(dir, '..data'));
  symlinkSync('..data/config.yaml', path.join(dir, 'config.yaml'));
  const s = await startTestServer(t, { configFile: path.join(dir, 'config.yaml') });
  t.equal(s.server.state.config.mode, 'enforce');
  // What the kubelet does: a new symlink renamed over ..data in one step.
  symlinkSync('..v2', path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  rmSync(v1, { recursive: true });
  await eventually(() => s.server.state.config.mode === 'warn');
  t.pass('the new config is in effect');
});

function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // A fresh connection (no agent): it shakes hands with whatever certificate is current.
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca, agent: false }, (res) => {
      const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve(fp));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('a renewed certificate is served without a restart and without failing a request', async (t) => {
  const pki = makePki(t);
  const s = await startTestServer(t, {}, pki);
  const before = await peerFingerprint(s.server.port, pki.ca.certPem);
  t.equal(
    before,
    new X509Certificate(await import('node:fs').then((f) => f.readFileSync(pki.certFile, 'utf8'))).fingerprint256,
  );

  // Continuous load on pooled and on fresh connections while the certificate is swapped.
  const pooled = new Agent({ keepAlive: true, maxSockets: 4, ca: pki.ca.certPem });
  t.teardown(() => pooled.destroy());
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (fresh: boolean) => {
    while (!stop) {
      const r = await new Promise<number>((resolve) => {
        const body = JSON.stringify(reviewOf(permissivePa));
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: s.server.port,
            path: '/validate',
            method: 'POST',
            ca: pki.ca.certPem,
            agent: fresh ? false : pooled,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', (e) => {
          failures.push(e.message);
          resolve(0);
        });
        req.end(body);
      });
      if (r === 200) ok++;
      else if (r !== 0) failures.push(`status ${r}`);
    }
  };
  const workers = [worker(false), worker(false), worker(false), worker(true)];
  await eventually(() => ok > 50);

  // cert-manager / kubelet style: the pair lands in a new directory swapped in through ..data.
  const renewed = pki.issue();
  writeFileSync(`${pki.keyFile}.new`, renewed.keyPem);
  writeFileSync(`${pki.certFile}.new`, renewed.certPem);
  renameSync(`${pki.keyFile}.new`, pki.keyFile);
  renameSync(`${pki.certFile}.new`, pki.certFile);
  const expected = new X509Certificate(renewed.certPem).fingerprint256;
  t.not(expected, before);
  await eventually(async () => (await peerFingerprint(s.server.port, pki.ca.certPem)) === expected);
  const atSwap = ok;
  await eventually(() => ok > atSwap + 50);
  stop = true;
  await Promise.all(workers);
  t.same(failures, [], 'zero failed requests during the swap');
  t.pass('new connections see the new certificate');
  t.match(await s.metrics(), /meshlock_cert_reloads_total\{result="success"\} [1-9]/);
});

t.test('a half-written certificate is not served; the previous one stays until the pair is whole', async (t) => {
  const pki = makePki(t);
  const s = await startTestServer(t, {}, pki);
  const before = await peerFingerprint(s.server.port, pki.ca.certPem);
  writeFileSync(pki.certFile, '-----BEGIN CERTIFICATE-----\nMIIB');
  await eventually(() =>
    s.logs.lines.some((l) => l['msg'] === 'serving certificate not reloaded, keeping the previous one'),
  );
  t.equal(await peerFingerprint(s.server.port, pki.ca.certPem), before);
  t.match(await s.metrics(), /meshlock_cert_reloads_total\{result="failure"\} [1-9]/);
});

t.test(
  'an empty, comment-only or truncated config is refused at start and on reload; the old config stays',
  async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'config.yaml');
    for (const text of ['', '   \n', '# all defaults?\n']) {
      writeFileSync(file, text);
      const started = await startTestServer(t, { configFile: file }).then(
        () => 'started',
        (err: Error) => err.message,
      );
      t.match(started, /holds no YAML document/, `${JSON.stringify(text)} is refused at start`);
    }
    const cli = spawnCli([
      'serve',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--config',
      file,
      '--dev',
      '--certs-dir',
      path.join(dir, 'certs'),
    ]);
    t.equal((await cli.exited).code, 2, 'meshlock serve exits 2 on an empty config');
    t.match(cli.stderr, /holds no YAML document/);

    writeFileSync(file, 'mode: enforce\nnamespaces:\n  shop: warn\n');
    const s = await startTestServer(t, { configFile: file });
    const allowed = async () =>
      (await s.post('/validate', reviewOf(permissivePa))).json<{ response: { allowed: boolean } }>().response.allowed;
    t.equal(await allowed(), true, 'shop is in warn');
    let refusals = 0;
    for (const text of [
      '',
      '# emptied\n',
      'mode: enforce\nnamespaces:\n  shop: wa',
      '{"mode": "enforce", "namespaces": {"shop": ',
    ]) {
      writeFileSync(file, text);
      refusals++;
      await eventually(async () =>
        (await s.metrics()).includes(`meshlock_config_reloads_total{result="failure"} ${refusals}`),
      );
      t.equal(await allowed(), true, `${JSON.stringify(text.slice(0, 30))}: refused, shop stays in warn`);
    }
    t.notMatch(await s.metrics(), /meshlock_config_reloads_total\{result="success"\}\s+[1-9]/, 'nothing was applied');
  },
);

t.test('a changing file is read until two reads agree, and only then applied', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'mode: enforce\n');
  const pieces = ['mode: warn\n', 'namespaces:\n', '  shop: enf', 'orce\n'];
  let written = '';
  const writer = setInterval(() => {
    const next = pieces.shift();
    if (next === undefined) return clearInterval(writer);
    written += next;
    writeFileSync(file, written);
  }, 60);
  t.teardown(() => clearInterval(writer));
  writeFileSync(file, (written = pieces.shift()!));
  const { text, reads } = await readSettled(file, { settleMs: 150 });
  t.equal(text, 'mode: warn\nnamespaces:\n  shop: enforce\n', 'the whole file, not a piece of it');
  t.ok(reads >= 2, `read ${reads} times`);
  const changing = setInterval(() => writeFileSync(file, `mode: warn\n# ${Math.random()}\n`), 20);
  const gaveUp = await readSettled(file, { settleMs: 50, maxReads: 5 }).then(
    () => 'settled',
    (err: Error) => err.message,
  );
  clearInterval(changing);
  t.match(gaveUp, /kept changing/, 'a file that never settles is not applied');
});
