// meshlock as an operator runs it next to the cluster: `meshlock certs init` for a
// 127.0.0.1 certificate, `meshlock serve` on the host, and the webhook configurations
// rendered from deploy/ pointed at it with clientConfig.url + the real caBundle (the way
// envtest, cert-manager and Kyverno wire an out-of-cluster webhook).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT, clusterEnv } from './cluster.js';
import { apply, describeRun, kubectl, run, sleep, uniqueName, type Manifest } from './kubectl.js';

// MESHLOCK_E2E_CLI: another build of the CLI (e.g. an installed package) instead of dist/.
export const CLI = process.env.MESHLOCK_E2E_CLI ?? join(REPO_ROOT, 'dist', 'cli', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export function meshlockCli(args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const env = { ...process.env, KUBECONFIG: clusterEnv().kubeconfig };
  return run(process.execPath, [CLI, ...args], { ...opts, env });
}

export interface Certs {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
}

// The file names `meshlock certs init` writes are its own business; accept the usual ones
// and fail with the listing when none fits.
const CA_NAMES = ['ca.crt', 'ca.pem', 'ca-cert.pem', 'ca.cert.pem'];
const CERT_NAMES = ['tls.crt', 'server.crt', 'cert.pem', 'server.pem', 'tls.pem', 'serving.crt'];
const KEY_NAMES = ['tls.key', 'server.key', 'key.pem', 'server-key.pem', 'serving.key'];

let certsOnce: Promise<Certs> | undefined;

/** One certificate set for the whole file: `meshlock certs init --ip 127.0.0.1 --out DIR`. */
export function certs(): Promise<Certs> {
  certsOnce ??= (async () => {
    const dir = mkdtempSync(join(clusterEnv().dir, 'certs-'));
    const r = await meshlockCli(['certs', 'init', '--ip', '127.0.0.1', '--out', dir]);
    if (r.code !== 0) throw new Error(`meshlock certs init failed: ${describeRun(r)}`);
    const files = readdirSync(dir);
    const pick = (names: string[], what: string): string => {
      const f = names.find((n) => files.includes(n));
      if (!f)
        throw new Error(
          `meshlock certs init wrote no ${what} (looked for ${names.join(', ')}; got ${files.join(', ')})`,
        );
      return join(dir, f);
    };
    const caFile = pick(CA_NAMES, 'CA certificate');
    return {
      dir,
      caFile,
      certFile: pick(CERT_NAMES, 'serving certificate'),
      keyFile: pick(KEY_NAMES, 'serving key'),
      caPem: readFileSync(caFile, 'utf8'),
    };
  })();
  return certsOnce;
}

export interface Server {
  port: number;
  metricsPort: number;
  configFile: string;
  /** everything the server printed so far (pino JSON lines on stdout, plus stderr) */
  log(): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
  child: ChildProcess;
}

/** `meshlock serve` with the given config; resolves once /readyz answers 200 over TLS. */
export async function serve(config: Manifest, opts: { port?: number; namespace?: string } = {}): Promise<Server> {
  const c = await certs();
  const port = opts.port ?? (await freePort());
  const metricsPort = await freePort();
  const configFile = join(mkdtempSync(join(clusterEnv().dir, 'config-')), 'meshlock.yaml');
  writeFileSync(configFile, stringify(config));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const args = [
    CLI,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--tls-cert',
    c.certFile,
    '--tls-key',
    c.keyFile,
    '--config',
    configFile,
    '--metrics-port',
    String(metricsPort),
  ];
  // POD_NAMESPACE as the Deployment sets it in a cluster: meshlock's own namespace.
  const env = { ...process.env, ...(opts.namespace ? { POD_NAMESPACE: opts.namespace } : {}) };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  // Never outlive the test process, whatever way it ends.
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`meshlock serve ${exited} before it was ready:\n${out}`);
    const status = await httpsStatus(port, '/readyz', c.caPem).catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`meshlock serve not ready on :${port} after 30 s (last /readyz status ${status}):\n${out}`);
    }
    await sleep(200);
  }
  return {
    port,
    metricsPort,
    configFile,
    child,
    log: () => out,
    metrics: () => httpGet(metricsPort, '/metrics'),
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (exited) return resolveStop();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolveStop();
        });
        child.kill('SIGTERM');
      }),
  };
}

function httpsStatus(port: number, path: string, ca: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolveBody(body));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------
// deploy/ -> webhook configurations aimed at the host

export interface Deploy {
  objects: Manifest[];
  namespace: string;
  mutating: Manifest[];
  validating: Manifest[];
}

let deployOnce: Promise<Deploy> | undefined;

/** `kubectl kustomize deploy/` (kubectl's built-in kustomize), parsed. */
export function renderDeploy(): Promise<Deploy> {
  deployOnce ??= (async () => {
    const dir = join(REPO_ROOT, 'deploy');
    if (!existsSync(join(dir, 'kustomization.yaml')) && !existsSync(join(dir, 'kustomization.yml'))) {
      throw new Error(
        `${dir}/kustomization.yaml is missing: the e2e installs meshlock's webhook configurations from deploy/`,
      );
    }
    const r = await kubectl(['kustomize', dir]);
    if (r.code !== 0) throw new Error(`kubectl kustomize deploy failed: ${describeRun(r)}`);
    const objects = parseAllDocuments(r.stdout)
      .map((d) => d.toJSON() as Manifest | null)
      .filter((o): o is Manifest => o !== null && typeof o === 'object');
    const mutating = objects.filter((o) => o.kind === 'MutatingWebhookConfiguration');
    const validating = objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration');
    if (mutating.length === 0) throw new Error('deploy/ renders no MutatingWebhookConfiguration');
    if (validating.length === 0) throw new Error('deploy/ renders no ValidatingWebhookConfiguration');
    const ns = objects.find((o) => o.kind === 'Namespace');
    const namespace = (ns?.metadata as { name?: string } | undefined)?.name;
    if (!namespace) throw new Error('deploy/ renders no Namespace for meshlock');
    return { objects, namespace, mutating, validating };
  })();
  return deployOnce;
}

interface WebhookEntry {
  name: string;
  clientConfig: { url?: string; caBundle?: string; service?: { path?: string; port?: number } };
  failurePolicy?: string;
  [k: string]: unknown;
}

/** The deploy/ configurations with each webhook's service replaced by https://127.0.0.1:port<path>. */
export function aimAt(configs: Manifest[], port: number, caPem: string): Manifest[] {
  return configs.map((cfg) => {
    const copy = structuredClone(cfg);
    const meta = copy.metadata as Record<string, unknown>;
    delete meta.annotations; // e.g. a cert-manager inject-ca-from annotation: nothing here reads it
    for (const wh of (copy.webhooks as WebhookEntry[] | undefined) ?? []) {
      const path = wh.clientConfig.service?.path ?? '';
      if (!path) throw new Error(`webhook ${wh.name} in ${String(meta.name)} has no clientConfig.service.path`);
      wh.clientConfig = {
        url: `https://127.0.0.1:${port}${path}`,
        caBundle: Buffer.from(caPem).toString('base64'),
      };
    }
    return copy;
  });
}

export interface Installed {
  server: Server;
  deploy: Deploy;
  certs: Certs;
  /** (re)apply deploy/'s configurations of the given kinds aimed at this server */
  applyConfigs(kinds?: ('MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration')[]): Promise<void>;
  /** stop the server and remove the webhook configurations */
  uninstall(): Promise<void>;
}

/** Starts `meshlock serve` with config, installs deploy/'s webhook configurations aimed at
 * it, and waits until the apiserver actually calls it. */
export async function install(config: Manifest): Promise<Installed> {
  const deploy = await renderDeploy();
  const c = await certs();
  await ensureNamespace(deploy.namespace);
  await ensureNamespace(String(config.rootNamespace ?? 'istio-system'));
  const server = await serve(config, { namespace: deploy.namespace });
  const applyConfigs: Installed['applyConfigs'] = async (
    kinds = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'],
  ) => {
    const chosen = [...deploy.mutating, ...deploy.validating].filter((o) =>
      kinds.includes(o.kind as (typeof kinds)[number]),
    );
    const r = await apply(aimAt(chosen, server.port, c.caPem));
    if (r.code !== 0) throw new Error(`applying the webhook configurations failed: ${describeRun(r)}`);
  };
  try {
    await applyConfigs();
    await waitUntilCalled(server);
  } catch (err) {
    // Configurations left aimed at a stopped server would fail every later request they match.
    await removeWebhooks(deploy);
    await server.stop();
    throw err;
  }
  return {
    server,
    deploy,
    certs: c,
    applyConfigs,
    uninstall: async () => {
      await removeWebhooks(deploy);
      await server.stop();
    },
  };
}

export async function removeWebhooks(deploy: Deploy): Promise<void> {
  for (const cfg of [...deploy.mutating, ...deploy.validating]) {
    const name = String((cfg.metadata as { name: string }).name);
    await kubectl(['delete', String(cfg.kind).toLowerCase(), name, '--ignore-not-found']);
  }
}

export async function ensureNamespace(name: string): Promise<void> {
  const r = await kubectl(['get', 'namespace', name]);
  if (r.code === 0) return;
  const c = await kubectl(['create', 'namespace', name]);
  if (c.code !== 0 && !/AlreadyExists/.test(c.stderr)) throw new Error(`creating namespace ${name}: ${describeRun(c)}`);
}

/**
 * The apiserver picks up new webhook configurations asynchronously; send marker requests
 * until meshlock answers them (as Kubernetes' own e2e does with waitWebhookConfigurationReady).
 * The marker is a PERMISSIVE PeerAuthentication sent as a server-side dry run, so nothing is
 * stored: in enforce mode kubectl prints meshlock's denial, in warn mode its warning, and in
 * dry-run mode only the server's log names it.
 */
async function waitUntilCalled(server: Server): Promise<void> {
  const deadline = Date.now() + 30_000;
  // meshlock writes its log in batches (at least every 250 ms), so a marker's line may appear only
  // after the next marker was sent: any marker of this wait in the log proves the apiserver calls it.
  const start = server.log().length;
  const prefix = `e2e-marker-${process.pid}-`;
  for (let i = 0; ; i++) {
    const name = `${prefix}${i}`;
    const r = await apply(
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name, namespace: 'default' },
        spec: { mtls: { mode: 'PERMISSIVE' } },
      },
      ['--dry-run=server'],
    );
    // Not just /meshlock/: the apiserver's own "failed calling webhook ...meshlock.dev" would match.
    if (/meshlock denied|Warning: pa-mode/.test(r.output) || server.log().slice(start).includes(prefix)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `the apiserver did not call meshlock within 30 s (marker ${name}: ${describeRun(r)})\n` +
          `server log tail:\n${server.log().slice(-3000)}`,
      );
    }
    await sleep(500);
  }
}

export { uniqueName };
