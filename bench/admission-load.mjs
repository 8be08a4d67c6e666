// Load generator, in its own process: HTTPS keep-alive pool (like the apiserver's), realistic
// reviews alternating /validate and /mutate. Prints one JSON line of results.
// Usage: node admission-load.mjs '{"url":..., "ca":..., "mode":"rate"|"closed", "rate":1000, "seconds":20, "connections":32}'
// Optional "paths": {"/validate": "/validate/fail", ...} sends each review to another server's path.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { reviews } from './admission-reviews.mjs';

const o = JSON.parse(process.argv[2]);
const ca = readFileSync(o.ca, 'utf8');
const agent = new Agent({ keepAlive: true, maxSockets: o.connections, ca });
const url = new URL(o.url);
const bodies = reviews().map((r) => ({
  path: o.paths?.[r.path] ?? r.path,
  body: Buffer.from(JSON.stringify(r.review)),
}));

function once(i) {
  const b = bodies[i % bodies.length];
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: b.path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': b.body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('error', () => resolve(false));
    req.end(b.body);
  });
}

const latencies = [];
let errors = 0;
let done = 0;

async function warmup() {
  await Promise.all(Array.from({ length: o.connections }, (_, i) => once(i)));
}

async function rate() {
  // Open loop: request k is due at start + k/rate; its latency counts from when it was due, so a
  // stalled server is not hidden by the generator waiting for it (coordinated omission).
  const start = performance.now();
  const total = Math.round(o.rate * o.seconds);
  const inflight = [];
  let k = 0;
  while (k < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * o.rate) + 1);
    for (; k < due; k++) {
      const dueAt = start + (k / o.rate) * 1000;
      const i = k;
      inflight.push(
        once(i).then((ok) => {
          if (ok) latencies.push(performance.now() - dueAt);
          else errors++;
          done++;
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  return (performance.now() - start) / 1000;
}

async function closed() {
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const ok = await once(i++);
        if (ok) latencies.push(performance.now() - t0);
        else errors++;
        done++;
      }
    }),
  );
  return (performance.now() - start) / 1000;
}

await warmup();
const seconds = o.mode === 'rate' ? await rate() : await closed();
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
process.stdout.write(
  `${JSON.stringify({ requests: done, ok: latencies.length, errors, seconds, throughput: latencies.length / seconds, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? NaN })}\n`,
);
agent.destroy();
