// `meshlock certs` as a real process (the built CLI, dist/cli/main.js; `npm test` builds first).
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServingCertificate, serviceNames } from '../src/tls/index.js';

const repoRoot = resolve(import.meta.dirname, '..');
const NODE = join(repoRoot, 'node_modules/.bin/node');
const CLI = join(repoRoot, 'dist/cli/main.js');

function meshlock(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(NODE, [CLI, ...args], { cwd: repoRoot }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'meshlock-certs-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const DAY = 24 * 3600 * 1000;

// Each run is a whole CLI process generating RSA keys; on a busy machine the file needs more than
// the default two minutes.
t.setTimeout(600_000);

// One CA for the inject tests, made once.
let sharedCa: string | undefined;
async function caFile(_t: unknown): Promise<string> {
  if (!sharedCa) {
    const out = mkdtempSync(join(tmpdir(), 'meshlock-certs-ca-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    writeFileSync(join(out, 'ca.crt'), createCertificateAuthority({ days: 30 }).certPem);
    sharedCa = join(out, 'ca.crt');
  }
  return sharedCa;
}

t.test('certs init: a CA and a serving certificate with every name of the Service, keys 0600', async (t) => {
  const out = tmp(t);
  const r = await meshlock([
    'certs',
    'init',
    '--out',
    out,
    '--service',
    'ml',
    '--namespace',
    'sec',
    '--ip',
    '127.0.0.1',
    '--dns',
    'ml.example.test',
    '--days',
    '10',
  ]);
  t.equal(r.code, 0, r.stderr);
  for (const f of ['ca.key', 'tls.key']) t.equal(statSync(join(out, f)).mode & 0o777, 0o600, `${f} is 0600`);
  const leaf = new X509Certificate(readFileSync(join(out, 'tls.crt')));
  const ca = new X509Certificate(readFileSync(join(out, 'ca.crt')));
  for (const n of [...serviceNames('ml', 'sec'), 'ml.example.test']) t.ok(leaf.checkHost(n), n);
  t.ok(leaf.checkIP('127.0.0.1'));
  t.ok(leaf.verify(ca.publicKey) && leaf.checkIssued(ca));
  const days = (Date.parse(leaf.validTo) - Date.now()) / DAY;
  t.ok(days > 9.9 && days <= 10, '--days sets the lifetime');
});

t.test('certs init keeps valid files, and --force issues new ones', async (t) => {
  const out = tmp(t);
  await meshlock(['certs', 'init', '--out', out]);
  const first = readFileSync(join(out, 'tls.crt'), 'utf8');
  const again = await meshlock(['certs', 'init', '--out', out]);
  t.match(again.stdout, /nothing changed/);
  t.equal(readFileSync(join(out, 'tls.crt'), 'utf8'), first);
  await meshlock(['certs', 'init', '--out', out, '--force']);
  t.not(readFileSync(join(out, 'tls.crt'), 'utf8'), first);
});

t.test('certs init refuses a bad --ip with a clear message', async (t) => {
  const r = await meshlock(['certs', 'init', '--out', tmp(t), '--ip', '300.1.2.3']);
  t.not(r.code, 0);
  t.match(r.stderr, /not an IP address: 300\.1\.2\.3/);
});

t.test('certs renew: nothing to do far from expiry; re-issued within --before, keeping the CA', async (t) => {
  const out = tmp(t);
  await meshlock(['certs', 'init', '--out', out, '--days', '20']);
  const ca = readFileSync(join(out, 'ca.crt'), 'utf8');
  const cert = readFileSync(join(out, 'tls.crt'), 'utf8');
  const quiet = await meshlock(['certs', 'renew', '--dir', out, '--before', '10d']);
  t.match(quiet.stdout, /nothing to do/);
  t.equal(readFileSync(join(out, 'tls.crt'), 'utf8'), cert);
  const r = await meshlock(['certs', 'renew', '--dir', out, '--before', '30d']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /renewed/);
  const leaf = new X509Certificate(readFileSync(join(out, 'tls.crt')));
  t.not(leaf.toString(), new X509Certificate(cert).toString());
  t.equal(readFileSync(join(out, 'ca.crt'), 'utf8'), ca, 'the CA is kept');
  t.ok(leaf.checkHost('meshlock.meshlock.svc'), 'the names are kept');
  t.ok(Date.parse(leaf.validTo) > Date.now() + 300 * DAY);
});

t.test('certs renew rotates a CA near its end with old and new CA both in the bundle', async (t) => {
  const out = tmp(t);
  const past = new Date(Date.now() - 350 * DAY);
  const oldCa = createCertificateAuthority({ days: 365, now: past });
  const s = issueServingCertificate(oldCa, {
    commonName: 'x',
    dns: ['meshlock.meshlock.svc'],
    ips: [],
    days: 365,
    now: past,
  });
  writeFileSync(join(out, 'ca.crt'), oldCa.certPem);
  writeFileSync(join(out, 'ca.key'), oldCa.keyPem, { mode: 0o600 });
  writeFileSync(join(out, 'tls.crt'), s.certPem);
  writeFileSync(join(out, 'tls.key'), s.keyPem, { mode: 0o600 });
  const r = await meshlock(['certs', 'renew', '--dir', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /CA rotated/);
  const bundle = readFileSync(join(out, 'ca.crt'), 'utf8');
  const cas = bundle
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!
    .map((p) => new X509Certificate(p));
  t.equal(cas.length, 2);
  t.equal(cas[1]!.fingerprint256, new X509Certificate(oldCa.certPem).fingerprint256, 'the old CA stays trusted');
  const leaf = new X509Certificate(readFileSync(join(out, 'tls.crt')));
  t.ok(leaf.verify(cas[0]!.publicKey), 'signed by the new CA');
  t.equal(statSync(join(out, 'ca.key')).mode & 0o777, 0o600);
});

t.test('certs renew without certificates says to run init', async (t) => {
  const r = await meshlock(['certs', 'renew', '--dir', tmp(t)]);
  t.equal(r.code, 1);
  t.match(r.stderr, /run meshlock certs init first/);
});

// A fake apiserver serving the two webhook configurations over HTTP.
async function fakeApiserver(
  t: { teardown(fn: () => void): void },
  configs: Record<string, { name: string; clientConfig: Record<string, string> }[]>,
) {
  const patches: { path: string; type: string; body: unknown }[] = [];
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const m = /^\/apis\/admissionregistration\.k8s\.io\/v1\/(validating|mutating)webhookconfigurations\/(.+)$/.exec(
      req.url ?? '',
    );
    const webhooks = m ? configs[`${m[1]}/${m[2]}`] : undefined;
    if (!m || !webhooks) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    if (req.method === 'PATCH') {
      patches.push({ path: req.url!, type: String(req.headers['content-type']), body: JSON.parse(raw) });
      for (const op of JSON.parse(raw) as { op: string; path: string; value: string }[]) {
        const i = Number(/^\/webhooks\/(\d+)\/clientConfig\/caBundle$/.exec(op.path)?.[1] ?? NaN);
        if (op.op === 'add') webhooks[i]!.clientConfig['caBundle'] = op.value;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'X',
        metadata: { name: m[2] },
        webhooks,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-kc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${(server.address() as { port: number }).port}", insecure-skip-tls-verify: true}}]
users: [{name: fake, user: {token: x}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`,
  );
  return { kubeconfig, patches };
}

const hooks = (): Record<string, { name: string; clientConfig: Record<string, string> }[]> => ({
  'validating/meshlock': [
    { name: 'a.meshlock.dev', clientConfig: {} },
    { name: 'b.meshlock.dev', clientConfig: {} },
  ],
  'mutating/00-meshlock': [{ name: 'c.meshlock.dev', clientConfig: {} }],
});

t.test('certs inject writes the CA bundle into every webhook of both configurations', async (t) => {
  const ca = await caFile(t);
  const configs = hooks();
  const api = await fakeApiserver(t, configs);
  const r = await meshlock(['certs', 'inject', '--ca', ca, '--kubeconfig', api.kubeconfig]);
  t.equal(r.code, 0, r.stderr);
  const bundle = readFileSync(ca).toString('base64');
  for (const ws of Object.values(configs)) for (const w of ws) t.equal(w.clientConfig['caBundle'], bundle, w.name);
  t.ok(api.patches.every((p) => p.type === 'application/json-patch+json'));
  const again = await meshlock(['certs', 'inject', '--ca', ca, '--kubeconfig', api.kubeconfig]);
  t.match(again.stdout, /0 webhook\(s\) updated, 2 already up to date/);
});

t.test('certs inject --print shows the patch and changes nothing', async (t) => {
  const configs = hooks();
  const api = await fakeApiserver(t, configs);
  const r = await meshlock(['certs', 'inject', '--ca', await caFile(t), '--kubeconfig', api.kubeconfig, '--print']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /ValidatingWebhookConfiguration meshlock/);
  t.match(r.stdout, /"path": "\/webhooks\/1\/clientConfig\/caBundle"/);
  t.equal(api.patches.length, 0);
  t.equal(configs['validating/meshlock']![0]!.clientConfig['caBundle'], undefined);
});

t.test('certs inject fails with a clear message when the configurations are missing', async (t) => {
  const api = await fakeApiserver(t, { 'validating/meshlock': [{ name: 'a.meshlock.dev', clientConfig: {} }] });
  const r = await meshlock(['certs', 'inject', '--ca', await caFile(t), '--kubeconfig', api.kubeconfig]);
  t.equal(r.code, 1);
  t.match(r.stderr, /MutatingWebhookConfiguration "00-meshlock" not found: install meshlock's manifests first/);
  t.equal(api.patches.length, 0, 'nothing is patched when one configuration is missing');
});

t.test('certs inject without a CA file says to run init', async (t) => {
  const r = await meshlock(['certs', 'inject', '--ca', join(tmp(t), 'ca.crt')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot read the CA bundle .*run meshlock certs init first/);
});
