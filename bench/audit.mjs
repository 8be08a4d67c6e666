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
import { generateCluster } from './cluster-gen.mjs';

const root = resolve(import.meta.dirname, '..');
const NS = Number(process.env.BENCH_NAMESPACES ?? 5000);
const PODS = Number(process.env.BENCH_PODS ?? 50000);
const FORMAT = process.env.BENCH_FORMAT ?? 'json';

function run(args) {
  const node = resolve(root, 'node_modules/.bin/node');
  const t0 = performance.now();
  const r = spawnSync(
    node,
    ['--import', resolve(root, 'bench/audit-rss.mjs'), resolve(root, 'dist/cli/main.js'), ...args],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  const wall = (performance.now() - t0) / 1000;
  const kb = Number(/MESHLOCK_BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`meshlock ${args[0]} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return { wall, rssMiB: kb / 1024, stdout: r.stdout };
}

const dir = mkdtempSync(join(tmpdir(), 'meshlock-bench-audit-'));
try {
  const tGen = performance.now();
  const items = generateCluster(NS, PODS);
  const dump = join(dir, `cluster.${FORMAT}`);
  writeFileSync(
    dump,
    FORMAT === 'yaml'
      ? stringify({ apiVersion: 'v1', kind: 'List', items })
      : JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  );
  const genS = (performance.now() - tGen) / 1000;
  const size = statSync(dump).size / (1 << 20);
  const pods = items.filter((i) => i.kind === 'Pod').length;
  console.log(
    `dump: ${NS} namespaces, ${pods} pods, ${items.length} objects, ${size.toFixed(1)} MiB ${FORMAT} (generated in ${genS.toFixed(1)} s); ${cpus().length} CPUs`,
  );

  const out = join(dir, 'report.json');
  const a = run(['audit', '-f', dump, '--format', 'json', '--out', out]);
  const report = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8'));
  console.log(
    `audit: ${a.wall.toFixed(2)} s wall, peak RSS ${a.rssMiB.toFixed(0)} MiB (targets < 10 s, < 1024 MiB) -> ${report.summary.workloads} workloads, ${report.summary.meshed} meshed, ${report.summary.strict} strict, ${report.summary.coveragePercent}% coverage, ${report.summary.findings.total} findings`,
  );

  // check: the same objects, as manifests (mutate + validate each as a CREATE).
  const c = run(['check', '-f', dump, '--output', 'json', '--out', join(dir, 'check.json')]);
  const baseline = run(['check', '-f', '-']);
  const objs = items.length;
  const net = Math.max(0.001, c.wall - baseline.wall);
  console.log(
    `check: ${objs} objects in ${c.wall.toFixed(2)} s wall (${(objs / c.wall).toFixed(0)} objects/s end to end; ${(objs / net).toFixed(0)} objects/s without the ${baseline.wall.toFixed(2)} s start-up), peak RSS ${c.rssMiB.toFixed(0)} MiB`,
  );
  const ok = a.wall < 10 && a.rssMiB < 1024;
  console.log(ok ? 'audit within target' : 'audit OVER target');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
