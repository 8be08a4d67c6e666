// `meshlock check --cluster`: manifests judged against what a cluster holds now, as istioctl analyze
// mixes files and cluster. The cluster is a plain HTTP server answering the apiserver's list calls
// (the same paths and paged list shape), reached through a real kubeconfig with two contexts
// (plain HTTP, which client-node allows only with insecure-skip-tls-verify).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { spawn } from 'node:child_process';
import { node, repoRoot } from './lib/cli.js';

const LISTS: Record<string, unknown[]> = {
  '/api/v1/namespaces': [
    { metadata: { name: 'amb', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { metadata: { name: 'shop', labels: { 'istio-injection': 'enabled' } } },
  ],
  '/apis/security.istio.io/v1/peerauthentications': [
    {
      metadata: { name: 'legacy', namespace: 'shop', creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { mtls: { mode: 'PERMISSIVE' } },
    },
  ],
  '/apis/networking.istio.io/v1/destinationrules': [],
};
const asked: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = (req.url ?? '').split('?')[0] ?? '';
  asked.push(path);
  const items = LISTS[path];
  res.setHeader('Content-Type', 'application/json');
  if (!items) {
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', message: `${path} not found` }));
    return;
  }
  res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '7' }, items }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => server.close());
const port = (server.address() as AddressInfo).port;

const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-cluster-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}
- name: gone
  cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: live
  context: {cluster: fake, user: u}
- name: dead
  context: {cluster: gone, user: u}
current-context: dead
`,
);
const POD =
  'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: amb\nspec:\n  containers: [{name: app, image: nginx}]\n';
const PA =
  'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: legacy\n  namespace: shop\nspec:\n  mtls:\n    mode: PERMISSIVE\n';

interface Out {
  results: { name: string; operation?: string; decision: string; patch: unknown[]; rules: string[] }[];
}
/** The CLI as a child process, asynchronously: this process must keep answering as the cluster. */
function runCli(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(node, [join(repoRoot, 'dist/cli/main.js'), ...args], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}
const check = async (args: string[], input: string): Promise<{ code: number; out: Out; stderr: string }> => {
  const r = await runCli(['check', '-o', 'json', '-f', '-', ...args], input);
  return { code: r.code, out: (r.stdout ? JSON.parse(r.stdout) : { results: [] }) as Out, stderr: r.stderr };
};

t.test('a pod in a namespace the cluster has in ambient mode gets no sidecar injection label', async (t) => {
  const offline = await check([], POD);
  t.not(
    offline.out.results[0]?.patch.length,
    0,
    'offline, the namespace is unknown: the pod is labelled for injection',
  );
  const live = await check(['--cluster', '--kubeconfig', kubeconfig, '--context', 'live'], POD);
  t.equal(live.code, 0, live.stderr);
  t.same(live.out.results[0]?.patch, [], "the cluster's ambient label is used");
  t.ok(asked.includes('/api/v1/namespaces'), 'the namespaces were listed');
});

t.test('a manifest of a policy the cluster already has is checked as an update of it, with ratcheting', async (t) => {
  const offline = await check([], PA);
  t.equal(offline.out.results[0]?.decision, 'deny', 'offline it is a new PERMISSIVE policy');
  const live = await check(['--cluster', '--kubeconfig', kubeconfig, '--context', 'live'], PA);
  t.equal(
    live.out.results[0]?.decision,
    'warn',
    'the live object is the old one: its violation is pre-existing, not denied',
  );
  t.same(live.out.results[0]?.rules, ['pa-mode']);
  const text = await runCli(['check', '-f', '-', '--cluster', '--kubeconfig', kubeconfig, '--context', 'live'], PA);
  t.match(text.stdout, /PeerAuthentication shop\/legacy \(update\)/);
  t.ok(asked.includes('/apis/security.istio.io/v1/peerauthentications'));
});

t.test('--cluster without a reachable cluster, or --context without --cluster, is bad usage', async (t) => {
  const dead = await runCli(['check', '-f', '-', '--cluster', '--kubeconfig', kubeconfig], POD);
  t.equal(dead.code, 2);
  t.match(dead.stderr, /--cluster:/);
  const unknown = await runCli(['check', '-f', '-', '--cluster', '--kubeconfig', kubeconfig, '--context', 'nope'], POD);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /context "nope" not found/);
  const stray = await runCli(['check', '-f', '-', '--context', 'live'], POD);
  t.equal(stray.code, 2);
  t.match(stray.stderr, /go with --cluster/);
});
