// A soak: meshlock under a steady paced load of the realistic mix for minutes, every answer checked
// against the engine's decision, RSS printed over time. Fails when an answer is wrong or lost, or
// when RSS grows more than 5% from the end of the warm-up to the end of the run.
// Run: npm run soak [-- --minutes 10 --rate 300 --warmup 1 --every 30]
import {
  benchCertificates,
  checkedMix,
  flags,
  percentile,
  rssMiB,
  sleep,
  startLoad,
  startMeshlock,
} from './hardening-lib.mjs';

const opt = flags({ minutes: 10, rate: 300, warmup: 1, every: 30, connections: 16 });
const certs = await benchCertificates();
const server = await startMeshlock(certs, []);
const mix = await checkedMix('');
const load = startLoad(server.port, certs.ca, mix, { rate: opt.rate, connections: opt.connections });
const t0 = performance.now();
const end = t0 + opt.minutes * 60_000;
const warm = t0 + opt.warmup * 60_000;
let afterWarmup;
const samples = [];
const tallies = [];
process.stdout.write(`soak: ${opt.minutes} min at ${opt.rate} req/s; warm-up ${opt.warmup} min\n`);
while (performance.now() < end) {
  await sleep(Math.min(opt.every * 1000, end - performance.now()));
  const { rss } = rssMiB(server.pid);
  const t = load.take();
  tallies.push(t);
  const min = (performance.now() - t0) / 60_000;
  samples.push({ min, rss });
  if (afterWarmup === undefined && performance.now() >= warm) afterWarmup = rss;
  process.stdout.write(`${min.toFixed(1).padStart(5)} min  RSS ${rss.toFixed(1)} MiB  sent ${t.sent}\n`);
}
await load.stop();
const alive = server.child.exitCode === null;
server.child.kill('SIGTERM');
const exit = await server.exited;
certs.cleanup();
const sum = (k) => tallies.reduce((n, t) => n + t[k], 0);
const latencies = tallies.flatMap((t) => t.latencies);
const last = samples.at(-1).rss;
const base = afterWarmup ?? samples[0].rss;
const growth = (last - base) / base;
process.stdout.write(
  `sent ${sum('sent')}, answered correctly ${sum('ok')}, wrong ${sum('wrong')}, 503 ${sum('busy')}, lost ${sum('lost') + sum('refused')}; ` +
    `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
    `RSS after warm-up ${base.toFixed(1)} MiB, at the end ${last.toFixed(1)} MiB (${(growth * 100).toFixed(1)}%); server ${alive ? 'alive' : 'DEAD'}, exit ${exit.code} on SIGTERM\n`,
);
const errors = {};
for (const t of tallies) for (const [k, n] of Object.entries(t.errors)) errors[k] = (errors[k] ?? 0) + n;
if (Object.keys(errors).length > 0) process.stdout.write(`errors: ${JSON.stringify(errors)}\n`);
const ok =
  alive && exit.code === 0 && sum('wrong') + sum('lost') + sum('refused') + sum('busy') === 0 && growth <= 0.05;
process.stdout.write(ok ? 'soak passed\n' : 'soak FAILED\n');
process.exitCode = ok ? 0 : 1;
