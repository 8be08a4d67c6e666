// What bench/peers.mjs needs around the servers it compares: the e2e control plane, kubectl, and each
// webhook started out of cluster and registered with the apiserver (or removed again), one at a time.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePort, root } from './admission-lib.mjs';
import { reviews } from './admission-reviews.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(msg) {
  process.stderr.write(`peers: ${msg}\n`);
}

/** Runs a command to completion; throws with its output when it fails (unless `allowFail`). */
export function run(cmd, args, { input, env, allowFail = false, cwd } = {}) {
  const r = spawnSync(cmd, args, {
    input,
    env: env ?? process.env,
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && !allowFail)
    throw new Error(
      `${path.basename(cmd)} ${args.join(' ').slice(0, 200)} exited ${r.status}:\n${(r.stderr || r.stdout).slice(-2000)}`,
    );
  return r;
}

// --- the control plane ------------------------------------------------------------------------------

function parseEnvFile(file) {
  const vars = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/**
 * The e2e control plane: the one named by MESHLOCK_E2E_ENV when set (left running), otherwise a new
 * one from test/e2e/cluster/up.sh (stopped by `stop()`).
 */
export function cluster() {
  const given = process.env.MESHLOCK_E2E_ENV;
  let envFile = given;
  if (!envFile) {
    log(
      'starting the e2e control plane (test/e2e/cluster/up.sh; builds kube-apiserver, etcd and kubectl on first use)',
    );
    // No istiod: its injector would be a fourth webhook on every pod.
    const env = { ...process.env, MESHLOCK_E2E_ISTIO: process.env.MESHLOCK_E2E_ISTIO ?? '0' };
    const r = spawnSync('bash', [path.join(root, 'test/e2e/cluster/up.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      env,
    });
    if (r.status !== 0) throw new Error(`test/e2e/cluster/up.sh failed (exit ${r.status})`);
    envFile = r.stdout.trim().split('\n').pop();
  }
  const v = parseEnvFile(envFile);
  const env = { ...process.env, KUBECONFIG: v.KUBECONFIG };
  const kubectl = (args, opts = {}) => run(v.KUBECTL, args, { env, ...opts });
  return {
    kubeconfig: v.KUBECONFIG,
    kubectlPath: v.KUBECTL,
    apiserverUrl: v.E2E_APISERVER_URL,
    ca: readFileSync(v.E2E_CA_FILE, 'utf8'),
    token: v.E2E_TOKEN,
    dir: v.MESHLOCK_E2E_DIR,
    version: v.E2E_K8S_VERSION,
    env,
    kubectl,
    /** `kubectl apply -f -` of objects given as JS values. */
    apply: (objects, extra = []) =>
      kubectl(['apply', ...extra, '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') }),
    ensureNamespace(name, labels = {}, serviceAccounts = []) {
      if (kubectl(['get', 'namespace', name], { allowFail: true }).status === 0) return;
      const sas = serviceAccounts.map((sa) => ({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: sa, namespace: name },
      }));
      kubectl(['apply', '-f', '-'], {
        input: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }, ...sas]
          .map((o) => JSON.stringify(o))
          .join('\n'),
      });
    },
    stop() {
      if (given) return;
      spawnSync('bash', [path.join(root, 'test/e2e/cluster/down.sh'), v.MESHLOCK_E2E_DIR], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    },
  };
}

/** GET over HTTPS; resolves with the status code, 0 when the connection fails. */
export function httpsStatus(port, p, ca) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: p, ca, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** POSTs one AdmissionReview and returns the parsed answer. */
export function postReview(port, p, ca, review) {
  const body = Buffer.from(JSON.stringify(review));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        ca,
        agent: false,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d) => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode, body: null, text });
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A child process whose output goes to a file; `stop()` sends SIGTERM and waits (SIGKILL after 20 s). */
function child(cmd, args, { env, logFile }) {
  const fd = openSync(logFile, 'a');
  const p = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exit = null;
  p.on('exit', (code, signal) => (exit = { code, signal }));
  const killOnExit = () => exit === null && p.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    pid: p.pid,
    exited: () => exit,
    stop: () =>
      new Promise((resolve) => {
        process.removeListener('exit', killOnExit);
        if (exit !== null) return resolve();
        const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
        p.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        p.kill('SIGTERM');
      }),
  };
}

async function waitFor(what, deadlineMs, check, proc, logFile) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (proc?.exited())
      throw new Error(
        `${what}: the process exited (${JSON.stringify(proc.exited())}); log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`,
      );
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not after ${deadlineMs / 1000} s; log ${logFile}:\n${logFile ? readFileSync(logFile, 'utf8').slice(-3000) : ''}`,
      );
    await sleep(500);
  }
}

/** A PERMISSIVE PeerAuthentication sent as a server-side dry run: denied once the apiserver calls the webhook. */
function marker(c, name) {
  const pa = {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace: 'default' },
    spec: { mtls: { mode: 'PERMISSIVE' } },
  };
  const r = c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pa), allowFail: true });
  return `${r.stdout}${r.stderr}`;
}

// --- objects through the apiserver ---------------------------------------------------------------------

/** The objects of the mix, named: pods as in the reviews (managedFields dropped: the apiserver owns them), PeerAuthentications STRICT and PERMISSIVE. */
export function objectSet(namespace, n) {
  const sources = reviews().map((r) => r.review.request.object);
  return Array.from({ length: n }, (_, i) => {
    const o = JSON.parse(JSON.stringify(sources[i % sources.length]));
    delete o.metadata.generateName;
    delete o.metadata.managedFields;
    o.metadata.name = `${o.kind.toLowerCase()}-${i}`;
    o.metadata.namespace = namespace;
    return o;
  });
}

function collectionPath(o) {
  return o.kind === 'Pod'
    ? `/api/v1/namespaces/${o.metadata.namespace}/pods`
    : `/apis/security.istio.io/v1/namespaces/${o.metadata.namespace}/peerauthentications`;
}

/** Creates the objects one after another on one keep-alive connection: per-request latency and status counts. */
export async function createAll(c, objects) {
  const url = new URL(c.apiserverUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: c.ca });
  const latencies = [];
  const statuses = {};
  const started = performance.now();
  for (const o of objects) {
    const body = Buffer.from(JSON.stringify(o));
    const t0 = performance.now();
    const status = await new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: collectionPath(o),
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${c.token}`,
            'content-type': 'application/json',
            'content-length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
    latencies.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    seconds,
    p50: q(0.5),
    p99: q(0.99),
    mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    statuses,
  };
}

/** One `kubectl create -f` of the whole set (kubectl sends the objects one by one): wall seconds. */
export function kubectlCreate(c, objects, work) {
  const file = path.join(work, `objects-${objects[0].metadata.namespace}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  const t0 = performance.now();
  const r = c.kubectl(['create', '-f', file], { allowFail: true });
  const seconds = (performance.now() - t0) / 1000;
  const created = (r.stdout.match(/ created$/gm) ?? []).length;
  return { seconds, created, refused: objects.length - created };
}

// --- meshlock ----------------------------------------------------------------------------------

/** meshlock as the e2e suite runs it: `certs init --ip 127.0.0.1`, `serve`, deploy/'s configurations pointed at it by URL. */
export async function meshlock(c, work) {
  const cli = path.join(root, 'dist/cli/main.js');
  const certDir = path.join(work, 'meshlock-certs');
  run(process.execPath, [cli, 'certs', 'init', '--ip', '127.0.0.1', '--out', certDir]);
  const files = readdirSync(certDir);
  const pick = (names) => path.join(certDir, names.find((n) => files.includes(n)) ?? names[0]);
  const caFile = pick(['ca.crt', 'ca.pem']);
  const certFile = pick(['tls.crt', 'server.crt']);
  const keyFile = pick(['tls.key', 'server.key']);
  const ca = readFileSync(caFile, 'utf8');
  const rendered = parseAllDocuments(c.kubectl(['kustomize', path.join(root, 'deploy')]).stdout)
    .map((d) => d.toJSON())
    .filter(Boolean);
  const namespace = rendered.find((o) => o.kind === 'Namespace')?.metadata?.name ?? 'meshlock-system';
  const configs = rendered.filter(
    (o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration',
  );
  c.ensureNamespace(namespace);
  c.ensureNamespace('istio-system');
  const logFile = path.join(work, 'meshlock.log');
  let proc;
  let port;
  return {
    name: 'meshlock',
    paths: { '/validate': '/validate', '/mutate': '/mutate' },
    ca,
    caFile,
    logFile,
    get pid() {
      return proc.pid;
    },
    get port() {
      return port;
    },
    async start() {
      port = await freePort();
      const args = [
        cli,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-port',
        String(await freePort()),
        '--tls-cert',
        certFile,
        '--tls-key',
        keyFile,
      ];
      proc = child(process.execPath, args, { env: { ...process.env, POD_NAMESPACE: namespace }, logFile });
      await waitFor(
        'meshlock /readyz',
        30_000,
        async () => (await httpsStatus(port, '/readyz', ca)) === 200,
        proc,
        logFile,
      );
    },
    stop: () => proc?.stop(),
    async register() {
      const aimed = configs.map((cfg) => {
        const copy = JSON.parse(JSON.stringify(cfg));
        delete copy.metadata.annotations;
        for (const wh of copy.webhooks)
          wh.clientConfig = {
            url: `https://127.0.0.1:${port}${wh.clientConfig.service.path}`,
            caBundle: Buffer.from(ca).toString('base64'),
          };
        return copy;
      });
      c.apply(aimed);
      let i = 0;
      await waitFor(
        'the apiserver calling meshlock',
        60_000,
        () => /meshlock denied/.test(marker(c, `peers-marker-${i++}`)),
        proc,
        logFile,
      );
    },
    unregister() {
      for (const cfg of configs) c.kubectl(['delete', cfg.kind.toLowerCase(), cfg.metadata.name, '--ignore-not-found']);
    },
  };
}

// --- Kyverno -----------------------------------------------------------------------------------

const KYVERNO_NS = 'kyverno';
// The names Kyverno's Helm chart gives them (charts/kyverno/templates/admission-controller/deployment.yaml).
const CA_SECRET = 'kyverno-svc.kyverno.svc.kyverno-tls-ca';
const TLS_SECRET = 'kyverno-svc.kyverno.svc.kyverno-tls-pair';

/** The Kyverno module's source folder in the Go module cache (downloaded by the build), for its CRDs. */
export function kyvernoModuleDir() {
  const r = run('go', ['mod', 'download', '-json', 'github.com/kyverno/kyverno'], {
    cwd: path.join(root, 'bench/kyverno'),
    env: { ...process.env, GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local' },
  });
  return JSON.parse(r.stdout).Dir;
}

/** The Kyverno library's Istio policies, switched from Audit to Enforce. */
export function enforcedPolicies(policyDir) {
  return readdirSync(policyDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(policyDir, f), 'utf8')).map((d) => d.toJSON()))
    .filter(Boolean)
    .map((p) =>
      p.spec?.validationFailureAction ? { ...p, spec: { ...p.spec, validationFailureAction: 'Enforce' } } : p,
    );
}

/**
 * Kyverno's admission controller out of cluster, as its DEVELOPMENT.md describes (--kubeconfig,
 * --serverIP, the CA and TLS secret names), with the Helm chart's defaults otherwise: it issues its
 * own CA and serving certificate into Secrets and registers its webhooks itself, by URL.
 */
export async function kyverno(c, work, { bin, moduleDir, policies, admissionReports }) {
  c.ensureNamespace(KYVERNO_NS);
  const crds = ['kyverno', 'reports', 'policies.kyverno.io'].map((d) => path.join(moduleDir, 'config/crds', d));
  for (const d of crds) if (!existsSync(d)) throw new Error(`${d} is missing from the Kyverno module`);
  c.kubectl(['apply', '--server-side', '--force-conflicts', ...crds.flatMap((d) => ['-f', d])]);
  c.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  // The chart's ConfigMap defaults that apply here (charts/kyverno/values.yaml, config:): resource
  // filters for events and the system namespaces, webhooks not called for kube-system.
  c.apply([
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kyverno', namespace: KYVERNO_NS },
      data: {
        enableDefaultRegistryMutation: 'true',
        generateSuccessEvents: 'false',
        excludeGroups: 'system:nodes',
        resourceFilters:
          '[Event,*,*][*/*,kube-system,*][*/*,kube-public,*][*/*,kube-node-lease,*][Node,*,*][Node/?*,*,*][APIService,*,*][APIService/?*,*,*][TokenReview,*,*][SubjectAccessReview,*,*][SelfSubjectAccessReview,*,*][Binding,*,*][Pod/binding,*,*][ReplicaSet,*,*][ReplicaSet/?*,*,*][EphemeralReport,*,*][ClusterEphemeralReport,*,*]',
        webhooks: JSON.stringify({
          namespaceSelector: {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] },
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [KYVERNO_NS] },
            ],
          },
        }),
      },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kyverno-metrics', namespace: KYVERNO_NS }, data: {} },
  ]);
  c.apply(policies);
  const logFile = path.join(work, 'kyverno.log');
  const caFile = path.join(work, 'kyverno-ca.crt');
  let proc;
  let port;
  let ca;
  const env = {
    ...process.env,
    KYVERNO_NAMESPACE: KYVERNO_NS,
    KYVERNO_POD_NAME: 'kyverno-admission-controller-bench',
    KYVERNO_SERVICEACCOUNT_NAME: 'kyverno-admission-controller',
    KYVERNO_ROLE_NAME: 'kyverno:admission-controller',
    KYVERNO_DEPLOYMENT: 'kyverno-admission-controller',
    KYVERNO_SVC: 'kyverno-svc',
    INIT_CONFIG: 'kyverno',
    METRICS_CONFIG: 'kyverno-metrics',
  };
  const readCa = () => {
    const r = c.kubectl(['get', 'secret', '-n', KYVERNO_NS, CA_SECRET, '-o', 'jsonpath={.data.tls\\.crt}'], {
      allowFail: true,
    });
    return r.status === 0 && r.stdout ? Buffer.from(r.stdout, 'base64').toString('utf8') : undefined;
  };
  const self = {
    name: `Kyverno`,
    paths: { '/validate': '/validate/fail', '/mutate': '/mutate/fail' },
    get ca() {
      return ca;
    },
    caFile,
    logFile,
    get pid() {
      return proc.pid;
    },
    get port() {
      return port;
    },
    async start() {
      port = await freePort();
      const args = [
        `--kubeconfig=${c.kubeconfig}`,
        `--serverIP=127.0.0.1:${port}`,
        '--webhookServerHost=127.0.0.1',
        `--webhookServerPort=${port}`,
        `--caSecretName=${CA_SECRET}`,
        `--tlsSecretName=${TLS_SECRET}`,
        `--backgroundServiceAccountName=system:serviceaccount:${KYVERNO_NS}:kyverno-background-controller`,
        `--reportsServiceAccountName=system:serviceaccount:${KYVERNO_NS}:kyverno-reports-controller`,
        '--metricsHost=127.0.0.1',
        `--metricsPort=${await freePort()}`,
        '--controllerRuntimeMetricsAddress=0',
        '--omitEvents=PolicyApplied,PolicySkipped',
        `--admissionReports=${admissionReports}`,
        '--loggingFormat=text',
        '--v=2',
      ];
      proc = child(bin, args, { env, logFile });
      await waitFor('Kyverno issuing its CA', 120_000, () => (ca = readCa()) !== undefined, proc, logFile);
      writeFileSync(caFile, ca);
      await waitFor(
        'Kyverno /health/readiness',
        120_000,
        async () => (await httpsStatus(port, '/health/readiness', ca)) === 200,
        proc,
        logFile,
      );
    },
    stop: () => proc?.stop(),
    /** Kyverno registers its webhooks itself; this waits until the apiserver calls them. */
    async register() {
      let i = 0;
      await waitFor(
        'the apiserver calling Kyverno',
        180_000,
        () => /enforce-strict-mtls/.test(marker(c, `peers-marker-${i++}`)),
        proc,
        logFile,
      );
    },
    unregister() {
      for (const kind of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations']) {
        c.kubectl(['delete', kind, '-l', 'webhook.kyverno.io/managed-by', '--ignore-not-found']);
      }
    },
  };
  return self;
}

// --- Gatekeeper --------------------------------------------------------------------------------

const GATEKEEPER_NS = 'gatekeeper-system';

/** The Gatekeeper module's source folder in the Go module cache (downloaded by the build), for its install manifest. */
export function gatekeeperModuleDir() {
  const r = run('go', ['mod', 'download', '-json', 'github.com/open-policy-agent/gatekeeper/v3'], {
    cwd: path.join(root, 'bench/gatekeeper'),
    env: { ...process.env, GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local' },
  });
  return JSON.parse(r.stdout).Dir;
}

/**
 * Gatekeeper's controller manager out of cluster with its webhook operations, as its install
 * manifest runs the webhook pods (deploy/gatekeeper.yaml: --operation=webhook
 * --operation=mutation-webhook --disable-opa-builtin={http.send}), plus the audit pod's
 * --operation=generate (which creates the constraint CRDs) and --debug-use-fake-pod, its flag for
 * running outside Kubernetes. The manifest's CRDs are applied and its webhook
 * configurations pointed at the process by URL; everything else in it (Deployments, RBAC) is not
 * needed here. Policies: bench/gatekeeper/policies.yaml.
 */
export async function gatekeeper(c, work, { bin, moduleDir }) {
  const cli = path.join(root, 'dist/cli/main.js');
  const certDir = path.join(work, 'gatekeeper-certs');
  run(process.execPath, [cli, 'certs', 'init', '--ip', '127.0.0.1', '--out', certDir]);
  const ca = readFileSync(path.join(certDir, 'ca.crt'), 'utf8');
  const manifest = parseAllDocuments(readFileSync(path.join(moduleDir, 'deploy/gatekeeper.yaml'), 'utf8'))
    .map((d) => d.toJSON())
    .filter(Boolean);
  c.ensureNamespace(GATEKEEPER_NS, { 'admission.gatekeeper.sh/ignore': 'no-self-managing' });
  c.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
    input: manifest
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => JSON.stringify(o))
      .join('\n'),
  });
  c.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  const configs = manifest.filter(
    (o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration',
  );
  const policies = parseAllDocuments(readFileSync(path.join(root, 'bench/gatekeeper/policies.yaml'), 'utf8'))
    .map((d) => d.toJSON())
    .filter(Boolean);
  const logFile = path.join(work, 'gatekeeper.log');
  let proc;
  let port;
  let healthPort;
  const self = {
    name: 'Gatekeeper',
    paths: { '/validate': '/v1/admit', '/mutate': '/v1/mutate' },
    ca,
    caFile: path.join(certDir, 'ca.crt'),
    logFile,
    get pid() {
      return proc.pid;
    },
    get port() {
      return port;
    },
    async start() {
      port = await freePort();
      healthPort = await freePort();
      const args = [
        `--port=${port}`,
        '--host=127.0.0.1',
        `--cert-dir=${certDir}`,
        '--disable-cert-rotation',
        `--health-addr=127.0.0.1:${healthPort}`,
        '--metrics-addr=0',
        '--logtostderr',
        `--exempt-namespace=${GATEKEEPER_NS}`,
        '--operation=webhook',
        '--operation=mutation-webhook',
        // In a cluster the audit pod creates each template's constraint CRD (--operation=generate).
        '--operation=generate',
        '--disable-opa-builtin={http.send}',
        '--debug-use-fake-pod',
      ];
      proc = child(bin, args, {
        env: {
          ...process.env,
          KUBECONFIG: c.kubeconfig,
          POD_NAMESPACE: GATEKEEPER_NS,
          POD_NAME: 'gatekeeper-bench',
          NAMESPACE: GATEKEEPER_NS,
          CONTAINER_NAME: 'manager',
        },
        logFile,
      });
      const healthy = () =>
        new Promise((resolve) => {
          httpRequest({ host: '127.0.0.1', port: healthPort, path: '/readyz', timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          })
            .on('error', () => resolve(false))
            .end();
        });
      await waitFor('Gatekeeper /readyz', 120_000, healthy, proc, logFile);
      // Templates first: each makes Gatekeeper create its constraint kind as a CRD.
      c.apply(policies.filter((p) => p.kind === 'ConstraintTemplate'));
      await waitFor(
        'Gatekeeper creating the constraint CRDs',
        120_000,
        () =>
          policies
            .filter((p) => p.kind === 'ConstraintTemplate')
            .every(
              (t) =>
                c.kubectl(['get', 'crd', `${t.metadata.name}.constraints.gatekeeper.sh`], { allowFail: true })
                  .status === 0,
            ),
        proc,
        logFile,
      );
      await waitFor(
        'constraints accepted',
        60_000,
        () =>
          c.kubectl(['apply', '-f', '-'], {
            input: policies
              .filter((p) => p.kind !== 'ConstraintTemplate')
              .map((p) => JSON.stringify(p))
              .join('\n'),
            allowFail: true,
          }).status === 0,
        proc,
        logFile,
      );
      await waitFor(
        'Gatekeeper /v1/admit',
        60_000,
        async () => {
          const pa = reviews()[3];
          const a = await postReview(port, '/v1/admit', ca, pa.review).catch(() => undefined);
          return a?.body?.response?.allowed === false;
        },
        proc,
        logFile,
      );
    },
    stop: () => proc?.stop(),
    async register() {
      const aimed = configs.map((cfg) => {
        const copy = JSON.parse(JSON.stringify(cfg));
        for (const wh of copy.webhooks)
          wh.clientConfig = {
            url: `https://127.0.0.1:${port}${wh.clientConfig.service.path}`,
            caBundle: Buffer.from(ca).toString('base64'),
          };
        return copy;
      });
      c.apply(aimed);
      let i = 0;
      await waitFor(
        'the apiserver calling Gatekeeper',
        60_000,
        () => /enforce-strict-mtls/.test(marker(c, `peers-marker-${i++}`)),
        proc,
        logFile,
      );
    },
    unregister() {
      for (const cfg of configs) c.kubectl(['delete', cfg.kind.toLowerCase(), cfg.metadata.name, '--ignore-not-found']);
    },
  };
  return self;
}
