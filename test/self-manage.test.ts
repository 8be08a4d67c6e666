// `meshlock serve --self-manage-certs` against a fake apiserver: a real HTTP server that implements
// the Secret and webhook-configuration endpoints the bootstrap uses, with the apiserver's
// resourceVersion semantics (create of an existing name: 409 AlreadyExists; update naming a stale
// resourceVersion: 409 Conflict). The real kube-apiserver runs in the e2e suite.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import {
  bootstrapCertificates,
  createCertificateAuthority,
  issueServingCertificate,
  selfManageCertificates,
  serviceNames,
} from '../src/tls/index.js';

interface Secret {
  metadata: { name: string; namespace: string; resourceVersion: string };
  type?: string;
  data: Record<string, string>;
}
interface Webhook {
  name: string;
  clientConfig: { caBundle?: string; service?: unknown };
}

class FakeApiserver {
  secrets = new Map<string, Secret>();
  webhookConfigs = new Map<string, { webhooks: Webhook[] }>();
  rv = 100;
  writes = { create: 0, update: 0, conflicts: 0 };
  /** Holds the first `n` Secret reads until all `n` arrived, so racing callers all see the same state. */
  barrier?: { n: number; waiting: (() => void)[] };
  url = '';
  private server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  stop(): void {
    this.server.close();
  }
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'x' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }
  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', this.url);
    const sec = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/);
    const wh = url.pathname.match(
      /^\/apis\/admissionregistration\.k8s\.io\/v1\/(validating|mutating)webhookconfigurations\/([^/]+)$/,
    );
    if (sec) {
      const [, ns, name] = sec;
      if (req.method === 'GET' && name) {
        if (this.barrier && this.barrier.n > 0) {
          this.barrier.n--;
          await new Promise<void>((r) => {
            this.barrier!.waiting.push(r);
            if (this.barrier!.n === 0) for (const w of this.barrier!.waiting) w();
          });
        }
        const s = this.secrets.get(`${ns}/${name}`);
        return s ? this.send(res, 200, s) : this.status(res, 404, 'NotFound', `secrets "${name}" not found`);
      }
      const body = JSON.parse(raw) as Secret;
      if (req.method === 'POST' && !name) {
        const key = `${ns}/${body.metadata.name}`;
        if (this.secrets.has(key)) {
          this.writes.conflicts++;
          return this.status(res, 409, 'AlreadyExists', `secrets "${body.metadata.name}" already exists`);
        }
        const s = { ...body, metadata: { ...body.metadata, namespace: ns!, resourceVersion: String(++this.rv) } };
        this.secrets.set(key, s);
        this.writes.create++;
        return this.send(res, 201, s);
      }
      if (req.method === 'PUT' && name) {
        const cur = this.secrets.get(`${ns}/${name}`);
        if (!cur) return this.status(res, 404, 'NotFound', `secrets "${name}" not found`);
        if (body.metadata.resourceVersion !== cur.metadata.resourceVersion) {
          this.writes.conflicts++;
          return this.status(
            res,
            409,
            'Conflict',
            'the object has been modified; please apply your changes to the latest version and try again',
          );
        }
        const s = { ...body, metadata: { ...body.metadata, namespace: ns!, resourceVersion: String(++this.rv) } };
        this.secrets.set(`${ns}/${name}`, s);
        this.writes.update++;
        return this.send(res, 200, s);
      }
    }
    if (wh) {
      const key = `${wh[1]}/${wh[2]}`;
      const cfg = this.webhookConfigs.get(key);
      const kind = wh[1] === 'validating' ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration';
      if (!cfg) return this.status(res, 404, 'NotFound', `${wh[1]}webhookconfigurations "${wh[2]}" not found`);
      const doc = {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind,
        metadata: { name: wh[2], resourceVersion: String(this.rv) },
        webhooks: cfg.webhooks,
      };
      if (req.method === 'GET') return this.send(res, 200, doc);
      if (req.method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/json-patch+json')
          return this.status(res, 415, 'UnsupportedMediaType', String(req.headers['content-type']));
        const ops = JSON.parse(raw) as { op: string; path: string; value: unknown }[];
        const next = structuredClone(cfg.webhooks);
        for (const op of ops) {
          const m = op.path.match(/^\/webhooks\/(\d+)\/(name|clientConfig\/caBundle)$/);
          const w = m ? next[Number(m[1])] : undefined;
          if (!m || !w) return this.status(res, 422, 'Invalid', `bad path ${op.path}`);
          if (op.op === 'test' && w.name !== op.value) return this.status(res, 422, 'Invalid', 'test failed');
          if (op.op === 'add' || op.op === 'replace') w.clientConfig.caBundle = op.value as string;
        }
        cfg.webhooks = next;
        return this.send(res, 200, { ...doc, webhooks: next });
      }
    }
    this.status(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
  }
}

const NS = 'meshlock';
const opts = (dir: string) => ({ namespace: NS, secretName: 'meshlock-tls', service: 'meshlock', dir });

async function setup(t: { teardown(fn: () => void): void }): Promise<{ api: FakeApiserver; dir: () => string }> {
  const api = new FakeApiserver();
  await api.start();
  api.webhookConfigs.set('validating/meshlock', {
    webhooks: [
      { name: 'mesh-policies.meshlock.dev', clientConfig: {} },
      { name: 'workloads.meshlock.dev', clientConfig: {} },
    ],
  });
  api.webhookConfigs.set('mutating/00-meshlock', { webhooks: [{ name: 'workloads.meshlock.dev', clientConfig: {} }] });
  const dirs: string[] = [];
  t.teardown(() => {
    api.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    api,
    dir: () => {
      const d = mkdtempSync(join(tmpdir(), 'meshlock-boot-'));
      dirs.push(d);
      return d;
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

t.test(
  'with no Secret, one replica issues a certificate for the service, stores it and injects the CA bundle',
  async (t) => {
    const { api, dir } = await setup(t);
    const d = dir();
    const r = await bootstrapCertificates(api.kubeConfig(), opts(d));
    t.equal(r.issued, true);
    const s = api.secrets.get(`${NS}/meshlock-tls`)!;
    t.equal(s.type, 'kubernetes.io/tls');
    t.same(Object.keys(s.data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    t.equal(readFileSync(r.certFile, 'utf8'), unb64(s.data['tls.crt']!));
    t.equal(statSync(r.keyFile).mode & 0o777, 0o600);
    const leaf = new X509Certificate(readFileSync(r.certFile));
    for (const n of serviceNames('meshlock', NS)) t.ok(leaf.checkHost(n), `valid for ${n}`);
    const bundle = s.data['ca.crt'];
    for (const cfg of api.webhookConfigs.values())
      for (const w of cfg.webhooks) t.equal(w.clientConfig.caBundle, bundle, `${w.name} has the CA bundle`);
  },
);

t.test('several replicas starting at once converge on one certificate', async (t) => {
  const { api, dir } = await setup(t);
  const N = 5;
  api.barrier = { n: N, waiting: [] };
  const results = await Promise.all(
    Array.from({ length: N }, () => bootstrapCertificates(api.kubeConfig(), opts(dir()))),
  );
  t.equal(new Set(results.map((r) => r.fingerprint)).size, 1, 'every replica serves the same certificate');
  t.equal(results.filter((r) => r.issued).length, 1, 'exactly one write won');
  t.equal(api.writes.create, 1);
  t.equal(api.writes.conflicts, N - 1, 'the others were refused and adopted the winner');
  const stored = unb64(api.secrets.get(`${NS}/meshlock-tls`)!.data['tls.crt']!);
  for (const r of results) t.equal(readFileSync(r.certFile, 'utf8'), stored);
});

t.test('replicas replacing an expired Secret at once converge through resourceVersion conflicts', async (t) => {
  const { api, dir } = await setup(t);
  const past = new Date(Date.now() - 400 * 24 * 3600 * 1000);
  const ca = createCertificateAuthority({ days: 3650, now: past });
  const old = issueServingCertificate(ca, {
    commonName: 'x',
    dns: serviceNames('meshlock', NS),
    ips: [],
    days: 30,
    now: past,
  });
  api.secrets.set(`${NS}/meshlock-tls`, {
    metadata: { name: 'meshlock-tls', namespace: NS, resourceVersion: '7' },
    data: {
      'tls.crt': b64(old.certPem),
      'tls.key': b64(old.keyPem),
      'ca.crt': b64(ca.certPem),
      'ca.key': b64(ca.keyPem),
    },
  });
  api.barrier = { n: 3, waiting: [] };
  const results = await Promise.all([0, 1, 2].map(() => bootstrapCertificates(api.kubeConfig(), opts(dir()))));
  t.equal(new Set(results.map((r) => r.fingerprint)).size, 1);
  t.equal(api.writes.update, 1);
  t.equal(api.writes.conflicts, 2);
  const s = api.secrets.get(`${NS}/meshlock-tls`)!;
  t.equal(unb64(s.data['ca.crt']!), ca.certPem, 'the CA, still valid for years, is kept');
  t.ok(
    new Date(new X509Certificate(unb64(s.data['tls.crt']!)).validTo).getTime() > Date.now() + 300 * 24 * 3600 * 1000,
  );
});

t.test('a valid Secret is adopted as is, and the bundle is injected again', async (t) => {
  const { api, dir } = await setup(t);
  await bootstrapCertificates(api.kubeConfig(), opts(dir()));
  const rv = api.secrets.get(`${NS}/meshlock-tls`)!.metadata.resourceVersion;
  // `kubectl apply -k deploy/` again resets the caBundle to empty.
  api.webhookConfigs.get('mutating/00-meshlock')!.webhooks[0]!.clientConfig = {};
  const r = await bootstrapCertificates(api.kubeConfig(), opts(dir()));
  t.equal(r.issued, false);
  t.equal(api.secrets.get(`${NS}/meshlock-tls`)!.metadata.resourceVersion, rv, 'no write');
  t.ok(api.webhookConfigs.get('mutating/00-meshlock')!.webhooks[0]!.clientConfig.caBundle);
});

t.test('a Secret for other names is replaced', async (t) => {
  const { api, dir } = await setup(t);
  await bootstrapCertificates(api.kubeConfig(), { ...opts(dir()), service: 'old-name' });
  const r = await bootstrapCertificates(api.kubeConfig(), opts(dir()));
  t.equal(r.issued, true);
  t.ok(new X509Certificate(readFileSync(r.certFile)).checkHost('meshlock.meshlock.svc'));
});

t.test('a CA near its end is rotated with the old CA kept in the bundle', async (t) => {
  const { api, dir } = await setup(t);
  const past = new Date(Date.now() - 360 * 24 * 3600 * 1000);
  const ca = createCertificateAuthority({ days: 365, now: past });
  const old = issueServingCertificate(ca, {
    commonName: 'x',
    dns: serviceNames('meshlock', NS),
    ips: [],
    days: 365,
    now: past,
  });
  api.secrets.set(`${NS}/meshlock-tls`, {
    metadata: { name: 'meshlock-tls', namespace: NS, resourceVersion: '7' },
    data: {
      'tls.crt': b64(old.certPem),
      'tls.key': b64(old.keyPem),
      'ca.crt': b64(ca.certPem),
      'ca.key': b64(ca.keyPem),
    },
  });
  const r = await bootstrapCertificates(api.kubeConfig(), opts(dir()));
  t.equal(r.issued, true);
  const bundle = readFileSync(r.caFile, 'utf8');
  const cas = bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
  t.equal(cas.length, 2, 'new and old CA both in the bundle');
  t.ok(bundle.includes(new X509Certificate(ca.certPem).toString()), 'the old CA is still trusted');
  const leaf = new X509Certificate(readFileSync(r.certFile));
  const newCa = new X509Certificate(bundle.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n');
  t.ok(leaf.verify(newCa.publicKey), 'the serving certificate is signed by the new CA');
});

t.test('missing webhook configurations fail with a clear message', async (t) => {
  const { api, dir } = await setup(t);
  api.webhookConfigs.delete('mutating/00-meshlock');
  await t.rejects(bootstrapCertificates(api.kubeConfig(), opts(dir())), {
    code: 'MESHLOCK_ERR_WEBHOOK_CONFIGURATION',
    message: /MutatingWebhookConfiguration "00-meshlock" not found: install meshlock's manifests first/,
  });
});

t.test(
  'serve --self-manage-certs: the files --tls-cert/--tls-key name are bootstrapped, and the renewal loop repairs a cleared caBundle',
  async (t) => {
    const { api, dir } = await setup(t);
    const d = dir();
    const managed = await selfManageCertificates({
      certFile: join(d, 'tls.crt'),
      keyFile: join(d, 'tls.key'),
      namespace: NS,
      secretName: 'meshlock-tls',
      service: 'meshlock',
      kubeConfig: api.kubeConfig(),
    });
    const s = api.secrets.get(`${NS}/meshlock-tls`)!;
    t.equal(readFileSync(join(d, 'tls.crt'), 'utf8'), unb64(s.data['tls.crt']!), "tls.crt is the Secret's");
    t.equal(readFileSync(join(d, 'tls.key'), 'utf8'), unb64(s.data['tls.key']!), "tls.key is the Secret's");
    // A re-apply of the manifests clears the bundle; the next round of the loop puts it back.
    const bundle = () => api.webhookConfigs.get('validating/meshlock')!.webhooks[0]!.clientConfig.caBundle;
    delete api.webhookConfigs.get('validating/meshlock')!.webhooks[0]!.clientConfig.caBundle;
    t.equal(bundle(), undefined, 'cleared');
    const errors: unknown[] = [];
    const stop = managed.startRenewal((err) => errors.push(err), 20);
    t.teardown(stop);
    for (let i = 0; i < 250 && bundle() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    t.equal(bundle(), s.data['ca.crt'], 'the caBundle is injected again');
    t.same(errors, [], 'no failed round');
    t.equal(api.writes.create, 1, 'the Secret was written once, then adopted');
  },
);

t.test(
  'serve --self-manage-certs refuses --tls-cert/--tls-key other than <dir>/tls.crt and <dir>/tls.key, before any cluster call',
  async (t) => {
    for (const [certFile, keyFile] of [
      ['/a/tls.crt', '/b/tls.key'],
      ['/a/cert.pem', '/a/tls.key'],
      ['/a/tls.crt', '/a/key.pem'],
    ] as const) {
      await t.rejects(
        selfManageCertificates({ certFile, keyFile, namespace: NS, secretName: 'meshlock-tls', service: 'meshlock' }),
        /writes <dir>\/tls\.crt and <dir>\/tls\.key/,
        `${certFile} ${keyFile}`,
      );
    }
  },
);
