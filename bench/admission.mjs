// Admission benchmark: meshlock's /validate and /mutate over HTTPS against the floor of its stack (a
// bare fastify HTTPS server answering a fixed allowed review). Each server runs in its own process and
// the load generator in another, so none shares an event loop. Two runs per server: a fixed rate
// (latency at a realistic load) and a closed loop (capacity).
// The machine is a small VM whose speed drifts from minute to minute, so the servers are measured in
// alternating rounds and each figure is the median over the rounds.
// Targets (issue 15): capacity >= 90% of the floor (median of the per-round ratios), p99 at the fixed
// rate within 1.25 times the floor's p99 in the same run.
// Usage (after `npm run build`): node bench/admission.mjs [--rate 1000] [--seconds 20] [--closed-seconds 10] [--connections 32] [--rounds 3]
//   [--log-decisions findings|all|none]   (meshlock's decision logging; default: meshlock's default)
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchCertificates, load, median, peakRssMiB, SERVERS, startServer } from './admission-lib.mjs';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    'closed-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'log-decisions': { type: 'string' },
  },
});
const meshlockArgs = args['log-decisions'] ? ['--log-decisions', args['log-decisions']] : [];
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const closedSeconds = Number(args['closed-seconds']);
const connections = Number(args.connections);
const rounds = Number(args.rounds);

const certs = await benchCertificates();

async function measure(which) {
  const server = await startServer(which, certs, meshlockArgs);
  try {
    const atRate = await load(server.port, certs.caFile, { mode: 'rate', rate, seconds, connections });
    const closed = await load(server.port, certs.caFile, { mode: 'closed', rate, seconds: closedSeconds, connections });
    return { name: SERVERS[which].name, atRate, closed, peakRssMiB: peakRssMiB(server.pid) };
  } finally {
    await server.stop();
  }
}

/** Per-field median over rounds of {atRate: {...}, closed: {...}, peakRssMiB}. */
function combine(name, results) {
  const pick = (part) =>
    Object.fromEntries(Object.keys(results[0][part]).map((k) => [k, median(results.map((r) => r[part][k]))]));
  return {
    name,
    atRate: pick('atRate'),
    closed: pick('closed'),
    peakRssMiB: Math.max(...results.map((r) => r.peakRssMiB)),
    rounds: results.length,
  };
}
const bareRuns = [];
const meshlockRuns = [];
for (let i = 0; i < rounds; i++) {
  // Within a round the order alternates too, so neither server always runs second.
  for (const which of i % 2 === 0 ? ['bare', 'meshlock'] : ['meshlock', 'bare'])
    (which === 'bare' ? bareRuns : meshlockRuns).push(await measure(which));
}
const bare = combine('bare fastify (floor)', bareRuns);
const meshlock = combine('meshlock', meshlockRuns);
certs.cleanup();

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const ratio = meshlock.closed.throughput / bare.closed.throughput;
const perRound = meshlockRuns.map((m, i) => m.closed.throughput / bareRuns[i].closed.throughput);
const roundRatio = median(perRound);
const p99Ratio = meshlock.atRate.p99 / bare.atRate.p99;
const p99PerRound = meshlockRuns.map((m, i) => m.atRate.p99 / bareRuns[i].atRate.p99);
const lines = [
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
  `${rounds} alternating round(s) per server, medians shown; peak RSS is the highest`,
  `load: ${rate} req/s for ${seconds} s (open loop), then closed loop with ${connections} keep-alive connections for ${closedSeconds} s; mix: pod validate, pod mutate, PeerAuthentication STRICT and PERMISSIVE validate`,
  '',
  `| server | at ${rate} req/s: throughput | p50 ms | p99 ms | errors | max throughput (closed loop) | p50 ms | p99 ms | peak RSS MiB |`,
  '|---|---|---|---|---|---|---|---|---|',
  ...[bare, meshlock].map(
    (r) =>
      `| ${r.name} | ${f(r.atRate.throughput, 0)} | ${f(r.atRate.p50)} | ${f(r.atRate.p99)} | ${r.atRate.errors + r.closed.errors} | ${f(r.closed.throughput, 0)} | ${f(r.closed.p50)} | ${f(r.closed.p99)} | ${f(r.peakRssMiB, 0)} |`,
  ),
  '',
  `meshlock max throughput = ${f(ratio * 100, 1)}% of the bare server (ratio of the medians; median of the per-round ratios ${f(roundRatio * 100, 1)}%; per round: ${perRound.map((r) => f(r * 100, 0)).join('%, ')}%; target >= 90%: ${roundRatio >= 0.9 ? 'met' : 'NOT met'})`,
  `p99 at ${rate} req/s = ${f(meshlock.atRate.p99)} ms, ${f(p99Ratio)}x the bare server's ${f(bare.atRate.p99)} ms (medians; per round: ${p99PerRound.map((r) => f(r)).join('x, ')}x; target <= 1.25x: ${p99Ratio <= 1.25 ? 'met' : 'NOT met'})`,
  `meshlock decision logging: ${args['log-decisions'] ?? 'default'}; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at the end`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (args.json)
  process.stdout.write(
    `${JSON.stringify({ bare, meshlock, ratio, perRound, p99Ratio, p99PerRound, load: loadavg() })}\n`,
  );
