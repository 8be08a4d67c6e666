// Server CPU per request: meshlock against the bare fastify floor at the same fixed request rate.
// Capacity on a 2-core machine also depends on how the load generator and the server share the cores
// and on the VM's speed of the minute; CPU time per request is the server's own cost, so this is the
// figure to follow when working on the hot path. Both servers run for the whole benchmark and receive
// the same load at the same time in slices; figures are medians over the slices.
// Target (issue 15): the floor's CPU per request >= 85% of meshlock's.
// Usage (after `npm run build`): node bench/admission-cpu.mjs [--rate 1500] [--seconds 5] [--rounds 6] [--connections 32]
//   [--log-decisions findings|all|none]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchCertificates, cpuSeconds, load, median, startServer } from './admission-lib.mjs';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '6' },
    connections: { type: 'string', default: '32' },
    'log-decisions': { type: 'string' },
  },
});
const opts = {
  mode: 'rate',
  rate: Number(args.rate),
  seconds: Number(args.seconds),
  connections: Number(args.connections),
};
const rounds = Number(args.rounds);

const certs = await benchCertificates();
const servers = {
  bare: await startServer('bare', certs),
  meshlock: await startServer(
    'meshlock',
    certs,
    args['log-decisions'] ? ['--log-decisions', args['log-decisions']] : [],
  ),
};
const perRequest = { bare: [], meshlock: [] };
const errors = { bare: 0, meshlock: 0 };
try {
  // A first slice warms up the JIT; it is not counted.
  await Promise.all(Object.values(servers).map((s) => load(s.port, certs.caFile, { ...opts, seconds: 2 })));
  for (let i = 0; i < rounds; i++) {
    // Both servers take the same load at the same time, each from its own load generator, so the
    // VM's speed of the moment applies to both alike.
    const before = Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, cpuSeconds(s.pid)]));
    const results = await Promise.all(Object.values(servers).map((s) => load(s.port, certs.caFile, opts)));
    Object.keys(servers).forEach((which, j) => {
      const used = cpuSeconds(servers[which].pid) - before[which];
      perRequest[which].push((used / results[j].ok) * 1e6);
      errors[which] += results[j].errors;
    });
  }
} finally {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  certs.cleanup();
}

const bare = median(perRequest.bare);
const mesh = median(perRequest.meshlock);
const f = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
process.stdout.write(
  [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
    `load: ${opts.rate} req/s, ${opts.connections} keep-alive connections, ${rounds} slices of ${opts.seconds} s, both servers loaded at once`,
    '',
    '| server | CPU us per request (median) | slices | errors |',
    '|---|---|---|---|',
    `| bare fastify (floor) | ${bare.toFixed(1)} | ${f(perRequest.bare)} | ${errors.bare} |`,
    `| meshlock | ${mesh.toFixed(1)} | ${f(perRequest.meshlock)} | ${errors.meshlock} |`,
    '',
    `meshlock's own cost: ${(mesh - bare).toFixed(1)} us per request over the floor (bare / meshlock = ${((bare / mesh) * 100).toFixed(1)}%; per slice: ${perRequest.bare.map((b, i) => ((b / perRequest.meshlock[i]) * 100).toFixed(0)).join('%, ')}%; target >= 85%: ${bare / mesh >= 0.85 ? 'met' : 'NOT met'})`,
    `meshlock decision logging: ${args['log-decisions'] ?? 'default'}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end`,
    '',
  ].join('\n'),
);
