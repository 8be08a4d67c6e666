// Where meshlock's server spends its CPU under the realistic mix: runs `meshlock serve` with
// --cpu-prof at a fixed request rate (the load generator in its own process), then prints self time
// by function and by where the code lives (meshlock's own modules, fastify, pino, Node's HTTP/TLS,
// garbage collection...). The .cpuprofile can be opened in Chrome DevTools with --keep.
// Usage (after `npm run build`): node bench/admission-profile.mjs [--rate 1500] [--seconds 20] [--top 30]
//   [--log-decisions findings|all|none] [--server meshlock|bare] [--keep]
// --server bare profiles the floor (bench/admission-bare-server.mjs) the same way, for comparison.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchCertificates, freePort, load, root, SERVERS } from './admission-lib.mjs';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '20' },
    top: { type: 'string', default: '30' },
    'log-decisions': { type: 'string' },
    server: { type: 'string', default: 'meshlock' },
    keep: { type: 'boolean', default: false },
  },
});

const certs = await benchCertificates();
const dir = mkdtempSync(path.join(tmpdir(), 'meshlock-profile-'));
const port = await freePort();
const extra = args['log-decisions'] ? ['--log-decisions', args['log-decisions']] : [];
if (!SERVERS[args.server]) throw new Error(`--server: one of ${Object.keys(SERVERS).join(', ')}`);
const child = spawn(
  process.execPath,
  [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
    ...SERVERS[args.server].argv(port, certs),
    ...(args.server === 'meshlock' ? extra : []),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const exited = new Promise((r) => child.once('exit', r));
for (let i = 0; ; i++) {
  try {
    await load(port, certs.caFile, { mode: 'rate', rate: 10, seconds: 1, connections: 1 });
    break;
  } catch {
    if (i > 100) throw new Error('meshlock did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const result = await load(port, certs.caFile, {
  mode: 'rate',
  rate: Number(args.rate),
  seconds: Number(args.seconds),
  connections: 32,
});
child.kill('SIGTERM');
await exited;
certs.cleanup();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

// Self time per node from the sample intervals.
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++)
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i + 1] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function area(url, name) {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'native (program)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes('/dist/')) return `meshlock ${url.split('/dist/')[1]?.split('/')[0] ?? ''}`;
  if (url.startsWith('node:'))
    return `node ${url
      .slice(5)
      .split('/')[0]
      .replace(/^internal$/, 'internal')}`;
  return url ? 'other' : 'native';
}

const byFn = new Map();
const byArea = new Map();
for (const n of profile.nodes) {
  const t = self.get(n.id) ?? 0;
  if (!t) continue;
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  const where = url ? `${url.replace(/^file:\/\//, '').replace(root, '')}:${lineNumber + 1}` : '';
  const key = `${name} ${where}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
  const a = area(url, name);
  byArea.set(a, (byArea.get(a) ?? 0) + t);
}
const busy = total - (byArea.get('idle') ?? 0);
const answered = result.ok;
const us = (t) => (t / answered).toFixed(2);
const pct = (t) => ((t / busy) * 100).toFixed(1);
const rows = (m, n) =>
  [...m.entries()]
    .filter(([k]) => k !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);
process.stdout.write(
  [
    `${args.server} under ${args.rate} req/s for ${args.seconds} s: ${answered} answered, ${result.errors} errors, p99 ${result.p99.toFixed(2)} ms`,
    `main-thread busy time ${(busy / 1e3).toFixed(0)} ms = ${us(busy)} us per request (the profile sees the main thread only)`,
    '',
    '| where | us/request | % of busy |',
    '|---|---|---|',
    ...rows(byArea, 40).map(([k, t]) => `| ${k} | ${us(t)} | ${pct(t)} |`),
    '',
    '| function (self time) | us/request | % of busy |',
    '|---|---|---|',
    ...rows(byFn, Number(args.top)).map(([k, t]) => `| ${k} | ${us(t)} | ${pct(t)} |`),
    '',
    args.keep ? `profile kept: ${path.join(dir, file)}` : '',
  ].join('\n'),
);
if (!args.keep) rmSync(dir, { recursive: true, force: true });
