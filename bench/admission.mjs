// Admission benchmark: meshlock's /validate and /mutate over HTTPS against the floor of its stack (a
// bare fastify HTTPS server answering a fixed allowed review). Each server runs in its own process and
// the load generator in another, so none shares an event loop. Two runs per server: a fixed rate
// (latency at a realistic load) and a closed loop (capacity).
// The machine is a small VM whose speed drifts from minute to minute, so the servers are measured in
// alternating rounds and each figure is the median over the rounds.
// Usage (after `npm run build`): node bench/admission.mjs [--rate 1000] [--seconds 20] [--closed-seconds 10] [--connections 32] [--rounds 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    'closed-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const closedSeconds = Number(args['closed-seconds']);
const connections = Number(args.connections);
const rounds = Number(args.rounds);

const { ensureDevCertificates } = await import(path.join(root, 'dist/tls/index.js')).catch(() => {
  process.stderr.write('bench/admission.mjs: run `npm run build` first (dist/ is missing)\n');
  process.exit(2);
});
const dir = mkdtempSync(path.join(tmpdir(), 'meshlock-bench-'));
const { certFile, keyFile, caFile } = await ensureDevCertificates(dir);
const ca = readFileSync(caFile, 'utf8');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(port, p) {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port, path: p, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    })
      .on('error', () => resolve(0))
      .end();
  });
}

async function startChild(argv, port) {
  // Logs go where a container's stdout would: written, not read (meshlock logs one line per decision).
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  while ((await get(port, '/readyz')) !== 200) {
    if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

/** Peak resident set size of a process (Linux VmHWM), in MiB. */
function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function load(port, mode, secs) {
  const opts = { url: `https://127.0.0.1:${port}`, ca: caFile, mode, rate, seconds: secs, connections };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'admission-load.mjs'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

async function measure(name, argvFor) {
  const port = await freePort();
  const child = await startChild(argvFor(port), port);
  try {
    const atRate = await load(port, 'rate', seconds);
    const closed = await load(port, 'closed', closedSeconds);
    return { name, atRate, closed, peakRssMiB: peakRssMiB(child.pid) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Per-field median over rounds of {atRate: {...}, closed: {...}, peakRssMiB}. */
function combine(name, results) {
  const pick = (part) => Object.fromEntries(Object.keys(results[0][part]).map((k) => [k, median(results.map((r) => r[part][k]))]));
  return { name, atRate: pick('atRate'), closed: pick('closed'), peakRssMiB: Math.max(...results.map((r) => r.peakRssMiB)), rounds: results.length };
}
const bareRuns = [];
const meshlockRuns = [];
for (let i = 0; i < rounds; i++) {
  bareRuns.push(await measure('bare fastify (floor)', (port) => [path.join(here, 'admission-bare-server.mjs'), String(port), certFile, keyFile]));
  meshlockRuns.push(await measure('meshlock', (port) => [path.join(root, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0', '--tls-cert', certFile, '--tls-key', keyFile]));
}
const bare = combine('bare fastify (floor)', bareRuns);
const meshlock = combine('meshlock', meshlockRuns);
rmSync(dir, { recursive: true, force: true });

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const ratio = meshlock.closed.throughput / bare.closed.throughput;
const lines = [
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
  `${rounds} alternating round(s) per server, medians shown; peak RSS is the highest`,
  `load: ${rate} req/s for ${seconds} s (open loop), then closed loop with ${connections} keep-alive connections for ${closedSeconds} s; mix: pod validate, pod mutate, PeerAuthentication STRICT and PERMISSIVE validate`,
  '',
  `| server | at ${rate} req/s: throughput | p50 ms | p99 ms | errors | max throughput (closed loop) | p50 ms | p99 ms | peak RSS MiB |`,
  '|---|---|---|---|---|---|---|---|---|',
  ...[bare, meshlock].map((r) => `| ${r.name} | ${f(r.atRate.throughput, 0)} | ${f(r.atRate.p50)} | ${f(r.atRate.p99)} | ${r.atRate.errors + r.closed.errors} | ${f(r.closed.throughput, 0)} | ${f(r.closed.p50)} | ${f(r.closed.p99)} | ${f(r.peakRssMiB, 0)} |`),
  '',
  `meshlock max throughput = ${f(ratio * 100, 1)}% of the bare server (target >= 90%; per round: ${meshlockRuns.map((m, i) => f((m.closed.throughput / bareRuns[i].closed.throughput) * 100, 0)).join('%, ')}%); p99 at ${rate} req/s = ${f(meshlock.atRate.p99)} ms (target < 5 ms)`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (args.json) process.stdout.write(`${JSON.stringify({ bare, meshlock, ratio })}\n`);
