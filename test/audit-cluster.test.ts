// `kubectl meshlock audit` against a live API: the real kubectl finds the plugin on PATH and the
// plugin lists a stand-in apiserver (a real HTTP server speaking the list API, with pages) through
// a kubeconfig. Covers paging with limit/continue, -n/-A/--kubeconfig/--context, the installation
// checks and --apply-reports.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import forge from 'node-forge';
import t from 'tap';
import type { AuditReport } from '../src/audit/model.js';
import { node, repoRoot } from './lib/cli.js';
import { deployment, namespace, peerAuthentication, type Obj } from './lib/dump.js';
import { locate, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'kubectl');

t.setTimeout(600_000);

function cert(
  cn: string,
  opts: {
    ca?: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
    days: number;
    dns?: string[];
    ip?: string;
  },
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey; pem: string } {
  // node:crypto makes the key pair (pure-JS RSA is slow); forge signs the certificate.
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const keys = {
    publicKey: forge.pki.publicKeyFromPem(pair.publicKey),
    privateKey: forge.pki.privateKeyFromPem(pair.privateKey) as forge.pki.rsa.PrivateKey,
  };
  const c = forge.pki.createCertificate();
  c.publicKey = keys.publicKey;
  c.serialNumber = String(Math.floor(Math.random() * 1e9));
  c.validity.notBefore = new Date(Date.now() - 3600_000);
  c.validity.notAfter = new Date(Date.now() + opts.days * 86_400_000);
  c.setSubject([{ name: 'commonName', value: cn }]);
  c.setIssuer(opts.ca ? opts.ca.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
  c.setExtensions(
    opts.ca
      ? [
          {
            name: 'subjectAltName',
            altNames: [
              ...(opts.dns ?? []).map((d) => ({ type: 2, value: d })),
              ...(opts.ip ? [{ type: 7, ip: opts.ip }] : []),
            ],
          },
        ]
      : [{ name: 'basicConstraints', cA: true }],
  );
  c.sign(opts.ca ? opts.ca.key : keys.privateKey, forge.md.sha256.create());
  return { cert: c, key: keys.privateKey, pem: forge.pki.certificateToPem(c) };
}

const ca = cert('meshlock-ca', { days: 365 });
const serving = cert('meshlock.meshlock.svc', { ca, days: 10, dns: ['meshlock.meshlock.svc'] });
const b64 = (s: string): string => Buffer.from(s).toString('base64');
// The stand-in apiserver serves real TLS, verified through the kubeconfig's CA, as a cluster would.
const apiCa = cert('stand-in-ca', { days: 30 });
const apiCert = cert('127.0.0.1', { ca: apiCa, days: 30, ip: '127.0.0.1' });
const SYSTEM = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage', 'istio-system', 'meshlock'];

function webhookConfig(kind: string, name: string, failurePolicy: string, selector: Obj): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name },
    webhooks: [
      {
        name: `pods.${name}.meshlock.dev`,
        failurePolicy,
        namespaceSelector: selector,
        clientConfig: {
          caBundle: b64(ca.pem),
          service: { name: 'meshlock', namespace: 'meshlock', path: '/validate' },
        },
        rules: [
          { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'namespaces'] },
        ],
      },
    ],
  };
}

const objects: Obj[] = [
  ...['shop', 'cart', 'legacy', ...SYSTEM].map((n) =>
    namespace(n, n === 'shop' || n === 'cart' ? { 'istio-injection': 'enabled' } : {}),
  ),
  peerAuthentication({ namespace: 'istio-system', name: 'default', mode: 'STRICT' }),
  ...deployment({ namespace: 'shop', name: 'web', replicas: 3, injected: true }),
  ...deployment({ namespace: 'shop', name: 'api', replicas: 2 }),
  ...deployment({ namespace: 'cart', name: 'cart', replicas: 2, injected: true }),
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'istiod-abc', namespace: 'istio-system', labels: { app: 'istiod' } },
    spec: { containers: [{ name: 'discovery' }] },
  },
  webhookConfig('ValidatingWebhookConfiguration', 'meshlock', 'Fail', {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: SYSTEM }],
  }),
  webhookConfig('MutatingWebhookConfiguration', 'meshlock', 'Ignore', {
    matchLabels: { 'istio-injection': 'enabled' },
  }),
  {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: 'meshlock-tls', namespace: 'meshlock' },
    data: { 'tls.crt': b64(serving.pem), 'tls.key': 'eA==' },
  },
];
const routes = new Map<string, Obj[]>([
  ['/api/v1/namespaces', objects.filter((o) => o['kind'] === 'Namespace')],
  [
    '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    objects.filter((o) => o['kind'] === 'MutatingWebhookConfiguration'),
  ],
  [
    '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
    objects.filter((o) => o['kind'] === 'ValidatingWebhookConfiguration'),
  ],
]);
const PLURAL: Record<string, string> = {
  Pod: 'v1/pods',
  ReplicaSet: 'apps/v1/replicasets',
  Deployment: 'apps/v1/deployments',
  Secret: 'v1/secrets',
  PeerAuthentication: 'security.istio.io/v1beta1/peerauthentications',
};
for (const o of objects) {
  const p = PLURAL[o['kind'] as string];
  if (!p) continue;
  const base = p.startsWith('v1/') ? `/api/${p.split('/')[0]}` : `/apis/${p.split('/').slice(0, 2).join('/')}`;
  const resource = p.split('/').pop();
  for (const path of [`${base}/${resource}`, `${base}/namespaces/${o['metadata'].namespace}/${resource}`])
    routes.set(path, [...(routes.get(path) ?? []), o]);
}

const requests: string[] = [];
const written: Obj[] = [];
const server = https.createServer({ cert: apiCert.pem, key: forge.pki.privateKeyToPem(apiCert.key) }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  requests.push(`${req.method} ${url.pathname}${url.search}`);
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.headers.authorization !== 'Bearer test-token') return send(401, { message: 'Unauthorized' });
  if (
    req.method === 'POST' ||
    req.method === 'PUT' ||
    (req.method === 'GET' && url.pathname.includes('policyreports/'))
  ) {
    if (req.method === 'GET') return send(200, { metadata: { resourceVersion: '7' } });
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const obj = JSON.parse(body) as Obj;
      const exists = written.some(
        (w) =>
          w['kind'] === obj['kind'] &&
          w['metadata'].name === obj['metadata'].name &&
          w['metadata'].namespace === obj['metadata'].namespace,
      );
      written.push(obj);
      if (req.method === 'POST' && exists) return send(409, { message: 'already exists' });
      send(201, obj);
    });
    return;
  }
  const items = routes.get(url.pathname);
  // Secrets are listed only with the TLS type selector: meshlock reads nothing else.
  if (url.pathname.endsWith('/secrets') && url.searchParams.get('fieldSelector') !== 'type=kubernetes.io/tls')
    return send(403, { message: 'forbidden' });
  if (!items) {
    // Istio's v1 API is not served by this stand-in: the client falls back to v1beta1.
    if (url.pathname.startsWith('/apis/')) return send(404, { message: 'not found' });
    return send(200, { kind: 'List', items: [], metadata: {} });
  }
  // Pages of at most 2 objects, whatever limit asks for: the client must follow `continue`.
  const limit = Math.min(2, Number(url.searchParams.get('limit') ?? 2));
  const offset = Number(url.searchParams.get('continue') ?? 0);
  const page = items.slice(offset, offset + limit).map((o) => {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  });
  send(200, {
    kind: 'List',
    items: page,
    metadata: offset + limit < items.length ? { continue: String(offset + limit) } : {},
  });
});

const dir = mkdtempSync(join(tmpdir(), 'meshlock-plugin-'));
const bin = join(dir, 'bin');
spawnSync('mkdir', ['-p', bin]);
// kubectl runs `kubectl-meshlock` from PATH; its `#!/usr/bin/env node` must find the project's Node.
symlinkSync(resolve(repoRoot, 'dist/cli/kubectl-meshlock.js'), join(bin, 'kubectl-meshlock'));
symlinkSync(node, join(bin, 'node'));
spawnSync('chmod', ['+x', resolve(repoRoot, 'dist/cli/kubectl-meshlock.js')]);

function kubeconfig(port: number): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: ${b64(apiCa.pem)}}
users:
- name: auditor
  user: {token: test-token}
contexts:
- name: other
  context: {cluster: stand-in, user: nobody}
- name: audit
  context: {cluster: stand-in, user: auditor}
current-context: other
`,
  );
  return file;
}

/** Asynchronous: the stand-in apiserver runs in this process and must keep answering. */
function kubectlMeshlock(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(locate('kubectl') as string, ['meshlock', ...args], {
      env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1', KUBECONFIG: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      ok({ code: code ?? -1, stdout, stderr });
    });
  });
}

await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
t.teardown(() => new Promise<void>((ok) => server.close(() => ok())));

t.test('kubectl meshlock audit -n shop lists the cluster page by page and reports the namespace', async (t) => {
  const port = (server.address() as AddressInfo).port;
  const kc = kubeconfig(port);

  const r = await kubectlMeshlock([
    'audit',
    '-n',
    'shop',
    '--kubeconfig',
    kc,
    '--context',
    'audit',
    '--format',
    'json',
  ]);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as AuditReport;
  t.equal(report.source.type, 'cluster');
  t.match(report.source.name, `audit (https://127.0.0.1:${port})`);
  t.same(report.source.namespaces, ['shop']);
  t.same(
    report.workloads.map((w) => [w.namespace, w.name, w.pods, w.meshed, w.effectiveMtls]),
    [
      ['shop', 'api', 2, false, 'DISABLE'],
      ['shop', 'web', 3, true, 'STRICT'],
    ],
  );
  t.same(
    [report.summary.workloads, report.summary.meshed, report.summary.strict, report.summary.coveragePercent],
    [2, 1, 1, 50],
  );
  t.ok(
    requests.some((q) => q.startsWith('GET /api/v1/namespaces/shop/pods?limit=500&continue=2')),
    'the second page was asked for with continue',
  );
  t.ok(
    requests.some((q) =>
      q.startsWith('GET /apis/security.istio.io/v1beta1/namespaces/istio-system/peerauthentications'),
    ),
    'the root namespace is read for the mesh policy, through the served version',
  );
  t.notOk(
    requests.some((q) => q.includes('/namespaces/cart/')),
    'other namespaces are not read',
  );

  // Installation checks.
  const rules = report.findings.filter((f) => f.rule.startsWith('install-')).map((f) => `${f.rule} ${f.kind}`);
  t.ok(rules.includes('install-failure-policy MutatingWebhookConfiguration'), 'failurePolicy Ignore is reported');
  t.ok(
    report.findings.some(
      (f) =>
        f.rule === 'install-ca-bundle' && f.severity === 'warning' && /expires on .* within 30 days/.test(f.message),
    ),
    'a serving certificate near expiry is reported',
  );
  t.ok(report.installation?.checked);
});

t.test('kubectl meshlock audit -A reads every namespace; an unknown context is bad usage', async (t) => {
  const kc = join(dir, 'kubeconfig');
  const r = await kubectlMeshlock(['audit', '-A', '--kubeconfig', kc, '--context', 'audit', '--format', 'json']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as AuditReport;
  t.same(
    report.workloads.map((w) => `${w.namespace}/${w.name}`),
    ['cart/cart', 'shop/api', 'shop/web'],
  );
  const uncovered = report.findings.filter((f) => f.rule === 'install-namespace-uncovered');
  t.same(
    uncovered.map((f) => f.kind),
    ['MutatingWebhookConfiguration'],
    'a label selector leaves namespaces uncovered; kubernetes.io/metadata.name NotIn the system namespaces covers the rest',
  );
  t.match(uncovered[0]?.message, /skips 1 non-system namespace: legacy/);
  const bad = await kubectlMeshlock(['audit', '--kubeconfig', kc, '--context', 'nope']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /context "nope" not found/);
});

t.test('--apply-reports creates the PolicyReports, and replaces them on the next run', async (t) => {
  const kc = join(dir, 'kubeconfig');
  const first = await kubectlMeshlock([
    'audit',
    '-A',
    '--kubeconfig',
    kc,
    '--context',
    'audit',
    '--format',
    'text',
    '--apply-reports',
  ]);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, 'PolicyReport shop/meshlock-shop created');
  t.match(first.stderr, 'ClusterPolicyReport meshlock created');
  t.ok(requests.includes('POST /apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports'));
  const second = await kubectlMeshlock([
    'audit',
    '-A',
    '--kubeconfig',
    kc,
    '--context',
    'audit',
    '--apply-reports',
    '--report-api',
    'openreports',
  ]);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stderr, 'Report shop/meshlock-shop created');
  const third = await kubectlMeshlock(['audit', '-A', '--kubeconfig', kc, '--context', 'audit', '--apply-reports']);
  t.match(third.stderr, 'PolicyReport shop/meshlock-shop replaced');
  t.ok(
    requests.some((q) => q.startsWith('PUT /apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/meshlock-shop')),
  );
  const put = written.filter((w) => w['kind'] === 'PolicyReport').pop();
  t.equal(put?.['metadata'].resourceVersion, '7', 'the replace carries the current resourceVersion');
});
