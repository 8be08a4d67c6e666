// Benchmark of `meshlock audit` and `meshlock check` on a large generated cluster dump:
// 5,000 namespaces, 50,000 pods with their Deployments and ReplicaSets, PeerAuthentications and
// DestinationRules. Reports the audit's wall time and peak RSS (target: < 10 s, < 1 GiB on 2 cores)
// and check's objects per second. Run with `npm run bench:audit` (builds first).
// Options (env): BENCH_NAMESPACES (5000), BENCH_PODS (50000), BENCH_FORMAT (json|yaml, default json).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const root = resolve(import.meta.dirname, '..');
const NS = Number(process.env.BENCH_NAMESPACES ?? 5000);
const PODS = Number(process.env.BENCH_PODS ?? 50000);
const FORMAT = process.env.BENCH_FORMAT ?? 'json';
const PODS_PER_DEPLOY = 5;

function hash(i) {
  return (i * 2654435761 >>> 0).toString(16).padStart(8, '0').slice(0, 8) + 'xy';
}

function generate() {
  const items = [];
  const perNs = Math.ceil(PODS / NS);
  items.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { mtls: { mode: 'STRICT' } } });
  let pod = 0;
  for (let n = 0; n < NS; n++) {
    const ns = `team-${n}`;
    const labels = n % 10 === 0 ? {} : n % 10 === 1 ? { 'istio.io/dataplane-mode': 'ambient' } : { 'istio-injection': 'enabled' };
    items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, ...labels } } });
    if (n % 7 === 0) items.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'ns', namespace: ns, creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { mtls: { mode: n % 14 === 0 ? 'PERMISSIVE' : 'STRICT' } } });
    if (n % 11 === 0) items.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'app-0', namespace: ns, creationTimestamp: '2025-02-01T00:00:00Z' }, spec: { selector: { matchLabels: { app: 'app-0' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } } });
    if (n % 13 === 0) items.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'plain', namespace: ns }, spec: { host: `app-0.${ns}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'DISABLE' } } } });
    items.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'mutual', namespace: ns }, spec: { host: `*.${ns}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } });
    for (let d = 0; d * PODS_PER_DEPLOY < perNs && pod < PODS; d++) {
      const app = `app-${d}`;
      const h = hash(n * 1000 + d);
      const tpl = { metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }] } };
      items.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: app, namespace: ns, uid: `d-${n}-${d}`, labels: { app } }, spec: { replicas: PODS_PER_DEPLOY, selector: { matchLabels: { app } }, template: tpl } });
      items.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${app}-${h}`, namespace: ns, labels: { app, 'pod-template-hash': h }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: `d-${n}-${d}`, controller: true }] }, spec: { replicas: PODS_PER_DEPLOY, selector: { matchLabels: { app } }, template: tpl } });
      for (let p = 0; p < PODS_PER_DEPLOY && pod < PODS; p++, pod++) {
        const injected = labels['istio-injection'] === 'enabled' && !(n % 17 === 0 && d === 0);
        const containers = [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }];
        if (injected) containers.push({ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0', args: ['proxy', 'sidecar'], securityContext: { runAsUser: 1337 } });
        items.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `${app}-${h}-${p.toString(36).padStart(5, 'a')}`,
            namespace: ns,
            labels: { app, 'pod-template-hash': h, ...(injected ? { 'security.istio.io/tlsMode': 'istio' } : {}) },
            annotations: injected ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : {},
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${h}`, controller: true }],
          },
          spec: { containers, ...(injected ? { initContainers: [{ name: 'istio-init', image: 'docker.io/istio/proxyv2:1.28.0', securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } }] } : {}) },
          status: { phase: 'Running' },
        });
      }
    }
  }
  return items;
}

function run(args) {
  const node = resolve(root, 'node_modules/.bin/node');
  const t0 = performance.now();
  const r = spawnSync(node, ['--import', resolve(root, 'bench/audit-rss.mjs'), resolve(root, 'dist/cli/main.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = (performance.now() - t0) / 1000;
  const kb = Number(/MESHLOCK_BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
  if (r.status !== 0 && r.status !== 1) throw new Error(`meshlock ${args[0]} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return { wall, rssMiB: kb / 1024, stdout: r.stdout };
}

const dir = mkdtempSync(join(tmpdir(), 'meshlock-bench-audit-'));
try {
  const tGen = performance.now();
  const items = generate();
  const dump = join(dir, `cluster.${FORMAT}`);
  writeFileSync(dump, FORMAT === 'yaml' ? stringify({ apiVersion: 'v1', kind: 'List', items }) : JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const genS = (performance.now() - tGen) / 1000;
  const size = statSync(dump).size / (1 << 20);
  const pods = items.filter((i) => i.kind === 'Pod').length;
  console.log(`dump: ${NS} namespaces, ${pods} pods, ${items.length} objects, ${size.toFixed(1)} MiB ${FORMAT} (generated in ${genS.toFixed(1)} s); ${cpus().length} CPUs`);

  const out = join(dir, 'report.json');
  const a = run(['audit', '-f', dump, '--format', 'json', '--out', out]);
  const report = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8'));
  console.log(`audit: ${a.wall.toFixed(2)} s wall, peak RSS ${a.rssMiB.toFixed(0)} MiB (targets < 10 s, < 1024 MiB) -> ${report.summary.workloads} workloads, ${report.summary.meshed} meshed, ${report.summary.strict} strict, ${report.summary.coveragePercent}% coverage, ${report.summary.findings.total} findings`);

  // check: the same objects, as manifests (mutate + validate each as a CREATE).
  const c = run(['check', '-f', dump, '--output', 'json', '--out', join(dir, 'check.json')]);
  const baseline = run(['check', '-f', '-']);
  const objs = items.length;
  const net = Math.max(0.001, c.wall - baseline.wall);
  console.log(`check: ${objs} objects in ${c.wall.toFixed(2)} s wall (${(objs / c.wall).toFixed(0)} objects/s end to end; ${(objs / net).toFixed(0)} objects/s without the ${baseline.wall.toFixed(2)} s start-up), peak RSS ${c.rssMiB.toFixed(0)} MiB`);
  const ok = a.wall < 10 && a.rssMiB < 1024;
  console.log(ok ? 'audit within target' : 'audit OVER target');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
