// Peer comparison of the webhooks: meshlock against the admission controllers a platform team would
// pick instead. Kyverno runs the Istio policies of the Kyverno library
// (../shared/conformance/kyverno-istio/policies/) switched to Enforce; Gatekeeper runs the same checks
// written as constraints (bench/gatekeeper/policies.yaml). Both are built from their Go modules
// (Kyverno at the version bench/compare-kyverno.mjs uses) by bench/kyverno/build.sh and
// bench/gatekeeper/build.sh into a cache outside the repository, and run out of cluster against the
// e2e control plane (test/e2e/cluster/up.sh) the way their development guides describe; meshlock
// runs the way the e2e suite runs it.
//
// 1. Straight to each webhook over HTTPS, the realistic mix of bench/admission-reviews.mjs (pod
//    validate, pod mutate, PeerAuthentication STRICT and PERMISSIVE): the decision on each review;
//    latency at a fixed rate, server CPU per request at that rate, capacity in a closed loop, peak
//    RSS, CPU while idle. All servers run throughout and are loaded one at a time, in an order that
//    rotates from round to round; medians.
// 2. Through the apiserver: the same objects created over the API one after another on a keep-alive
//    connection (as `kubectl create -f` sends them), with no webhook and with only one of them
//    registered at a time; then the same with one `kubectl create -f` per set.
//
// Usage (after `npm run build`): node bench/peers.mjs [--peers kyverno,gatekeeper] [--rate 500]
//   [--seconds 10] [--closed-seconds 10] [--connections 32] [--rounds 3] [--objects 1000]
//   [--e2e-rounds 2] [--kyverno PATH] [--gatekeeper PATH] [--admission-reports] [--json FILE]
// --kyverno/--gatekeeper name prebuilt binaries (default: the build scripts' cached builds, 10-25
// minutes each the first time). --admission-reports keeps Kyverno's default of writing an
// EphemeralReport per admission request (off here, so Kyverno is measured at its fastest).
// MESHLOCK_E2E_ENV=<dir>/env uses a control plane that is already up instead of starting one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, load, median, peakRssMiB, root } from './admission-lib.mjs';
import { reviews } from './admission-reviews.mjs';
import {
  cluster,
  createAll,
  enforcedPolicies,
  gatekeeper,
  gatekeeperModuleDir,
  kubectlCreate,
  kyverno,
  kyvernoModuleDir,
  log,
  meshlock,
  objectSet,
  postReview,
  sleep,
} from './peers-lib.mjs';

const USAGE =
  'usage: node bench/peers.mjs [--peers kyverno,gatekeeper] [--rate N] [--seconds N] [--closed-seconds N] [--connections N] [--rounds N] [--objects N] [--e2e-rounds N] [--kyverno PATH] [--gatekeeper PATH] [--admission-reports] [--json FILE]';
let args;
try {
  args = parseArgs({
    options: {
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '10' },
      'closed-seconds': { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '3' },
      objects: { type: 'string', default: '1000' },
      'e2e-rounds': { type: 'string', default: '2' },
      peers: { type: 'string', default: 'kyverno,gatekeeper' },
      kyverno: { type: 'string' },
      gatekeeper: { type: 'string' },
      'admission-reports': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  }).values;
} catch (err) {
  process.stderr.write(`peers: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const int = (flag) => {
  const n = Number(args[flag]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`peers: --${flag} must be a positive integer, got ${JSON.stringify(args[flag])}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};
const opts = {
  rate: int('rate'),
  seconds: int('seconds'),
  closedSeconds: int('closed-seconds'),
  connections: int('connections'),
  rounds: int('rounds'),
  objects: int('objects'),
  e2eRounds: int('e2e-rounds'),
};

const PEERS = ['kyverno', 'gatekeeper'];
const peers = args.peers
  .split(',')
  .map((p) => p.trim())
  .filter(Boolean);
if (peers.length === 0 || peers.some((p) => !PEERS.includes(p))) {
  process.stderr.write(
    `peers: --peers takes a comma-separated list of ${PEERS.join(', ')}, got ${JSON.stringify(args.peers)}\n${USAGE}\n`,
  );
  process.exit(2);
}

const policyDir = path.resolve(root, '../shared/conformance/kyverno-istio/policies');
if (!existsSync(policyDir)) {
  process.stderr.write(
    `peers: the Kyverno Istio policies are not at ${policyDir} (shared/ must sit beside the repository)\n`,
  );
  process.exit(2);
}
if (!existsSync(path.join(root, 'dist/cli/main.js'))) {
  process.stderr.write('peers: run `npm run build` first (dist/ is missing)\n');
  process.exit(2);
}

/** A peer's binary: the one given on the command line, or the cached build of its build script. */
function builtBinary(name, given, script, scriptArgs) {
  if (given) {
    if (!existsSync(given)) throw new Error(`--${name} ${given}: no such file`);
    return given;
  }
  log(`making sure ${name} is built (${[script, ...scriptArgs].join(' ')}; 10-25 minutes the first time)`);
  const r = spawnSync('bash', [path.join(root, script), ...scriptArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status})`);
  return r.stdout.trim().split('\n').pop();
}

// --- 1. straight to the webhooks ----------------------------------------------------------------

const DESCRIBE = [
  'pod validate (inject label)',
  'pod mutate',
  'PeerAuthentication STRICT',
  'PeerAuthentication PERMISSIVE',
];

/** Each review of the mix once: what each server answers. */
async function decisions(server) {
  const out = [];
  for (const [i, r] of reviews().entries()) {
    const a = await postReview(server.port, server.paths[r.path], server.ca, r.review);
    const resp = a.body?.response;
    out.push({
      review: DESCRIBE[i],
      http: a.status,
      allowed: resp?.allowed,
      patch: resp?.patch ? Buffer.from(resp.patch, 'base64').toString('utf8') : undefined,
      message: resp?.status?.message?.replace(/\s+/g, ' ').slice(0, 160),
      warnings: resp?.warnings?.length ?? 0,
    });
  }
  return out;
}

async function measureDirect(server) {
  const base = { connections: opts.connections, paths: server.paths };
  const cpu0 = cpuSeconds(server.pid);
  const atRate = await load(server.port, server.caFile, {
    ...base,
    mode: 'rate',
    rate: opts.rate,
    seconds: opts.seconds,
  });
  const cpuPerRequestUs = ((cpuSeconds(server.pid) - cpu0) / atRate.ok) * 1e6;
  const closed = await load(server.port, server.caFile, { ...base, mode: 'closed', seconds: opts.closedSeconds });
  return { atRate, closed, cpuPerRequestUs };
}

/** Server CPU while idle (informers, leader election, timers), in ms per second. */
async function idleCpu(server, seconds = 10) {
  const c0 = cpuSeconds(server.pid);
  await sleep(seconds * 1000);
  return ((cpuSeconds(server.pid) - c0) / seconds) * 1000;
}

// --- the run -------------------------------------------------------------------------------------

const f = (n, d = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a';
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '),
    )
    .join('\n');
}

const work = mkdtempSync(path.join(os.tmpdir(), 'meshlock-peers-'));
const versions = {};
const setups = [];
if (peers.includes('kyverno')) {
  const bin = builtBinary('kyverno', args.kyverno, 'bench/kyverno/build.sh', ['admission-controller']);
  const moduleDir = kyvernoModuleDir();
  versions.kyverno = /@(v[^/]+)$/.exec(moduleDir)?.[1] ?? 'unknown';
  setups.push([
    'kyverno',
    (c) =>
      kyverno(c, work, {
        bin,
        moduleDir,
        policies: enforcedPolicies(policyDir),
        admissionReports: args['admission-reports'],
      }),
  ]);
}
if (peers.includes('gatekeeper')) {
  const bin = builtBinary('gatekeeper', args.gatekeeper, 'bench/gatekeeper/build.sh', []);
  const moduleDir = gatekeeperModuleDir();
  versions.gatekeeper = /@(v[^/]+)$/.exec(moduleDir)?.[1] ?? 'unknown';
  setups.push(['gatekeeper', (c) => gatekeeper(c, work, { bin, moduleDir })]);
}
const c = cluster();
const servers = {};
const running = new Set();
const out = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  versions,
  k8s: c.version,
  opts,
  admissionReports: args['admission-reports'],
  loadAtStart: os.loadavg()[0],
};
const keys = ['meshlock', ...peers];
try {
  // Namespaces for the apiserver phase exist before any webhook does (each peer would label them its own way).
  const runs = [];
  for (let r = 0; r < opts.e2eRounds; r++)
    for (const who of ['none', ...keys])
      runs.push({ who, round: r, ns: `peers-${who}-${r}`, kns: `peers-kubectl-${who}-${r}` });
  // With the ServiceAccount they name: the apiserver's ServiceAccount admission refuses pods without it.
  const podSa = reviews()[0].review.request.object.spec.serviceAccountName;
  for (const x of runs)
    for (const ns of [x.ns, x.kns]) c.ensureNamespace(ns, { 'istio-injection': 'enabled' }, [podSa]);
  // The namespace of the reviews sent straight to the webhooks: Gatekeeper looks it up to match constraints.
  c.ensureNamespace(reviews()[0].review.request.namespace, { 'istio-injection': 'enabled' });

  servers.meshlock = await meshlock(c, work);
  for (const [key, setup] of setups) servers[key] = await setup(c);
  for (const key of keys) {
    log(`starting ${servers[key].name}`);
    await servers[key].start();
    running.add(key);
  }

  out.decisions = {};
  for (const key of keys) out.decisions[key] = await decisions(servers[key]);
  log('idle CPU (10 s each)');
  out.idleCpuMsPerS = {};
  for (const key of keys) out.idleCpuMsPerS[key] = await idleCpu(servers[key]);

  const direct = Object.fromEntries(keys.map((k) => [k, []]));
  for (let r = 0; r < opts.rounds; r++) {
    // The order rotates from round to round, so no server always runs first or last.
    const order = keys.map((_, i) => keys[(i + r) % keys.length]);
    for (const key of order) {
      log(
        `round ${r + 1}/${opts.rounds}: ${servers[key].name} straight over HTTPS (load ${os.loadavg()[0].toFixed(1)})`,
      );
      direct[key].push(await measureDirect(servers[key]));
    }
  }
  out.direct = {};
  for (const key of keys) {
    const rs = direct[key];
    out.direct[key] = {
      rate: {
        throughput: median(rs.map((x) => x.atRate.throughput)),
        p50: median(rs.map((x) => x.atRate.p50)),
        p99: median(rs.map((x) => x.atRate.p99)),
      },
      cpuPerRequestUs: median(rs.map((x) => x.cpuPerRequestUs)),
      capacity: median(rs.map((x) => x.closed.throughput)),
      closedP99: median(rs.map((x) => x.closed.p99)),
      errors: rs.reduce((a, x) => a + x.atRate.errors + x.closed.errors, 0),
      perRound: rs.map((x) => Math.round(x.closed.throughput)),
      peakRssMiB: peakRssMiB(servers[key].pid),
    };
  }
  out.loadAfterDirect = os.loadavg()[0];

  // Through the apiserver, one webhook registered at a time. Kyverno registers its webhooks itself
  // and re-registers them while it runs, so a peer that is not the one measured is stopped and its
  // configurations deleted.
  log('through the apiserver');
  const e2e = Object.fromEntries(['none', ...keys].map((k) => [k, []]));
  const only = async (who) => {
    for (const key of peers) {
      if (key !== who && running.has(key)) {
        await servers[key].stop();
        running.delete(key);
      }
    }
    for (const key of keys) servers[key].unregister();
    if (who === 'none') return;
    if (!running.has(who)) {
      await servers[who].start();
      running.add(who);
    }
    await servers[who].register();
  };
  for (let r = 0; r < opts.e2eRounds; r++) {
    const all = ['none', ...keys];
    const order = all.map((_, i) => all[(i + r) % all.length]);
    for (const who of order) {
      const x = runs.find((y) => y.who === who && y.round === r);
      await only(who);
      log(
        `round ${r + 1}/${opts.e2eRounds}: ${opts.objects} objects through the apiserver, webhook: ${who} (load ${os.loadavg()[0].toFixed(1)})`,
      );
      const api = await createAll(c, objectSet(x.ns, opts.objects));
      const kc = kubectlCreate(c, objectSet(x.kns, opts.objects), work);
      e2e[who].push({ api, kubectl: kc });
    }
  }
  await only('none');
  out.e2e = Object.fromEntries(
    Object.entries(e2e).map(([who, rs]) => [
      who,
      {
        p50: median(rs.map((x) => x.api.p50)),
        p99: median(rs.map((x) => x.api.p99)),
        mean: median(rs.map((x) => x.api.mean)),
        seconds: median(rs.map((x) => x.api.seconds)),
        statuses: rs[0].api.statuses,
        kubectlSeconds: median(rs.map((x) => x.kubectl.seconds)),
        kubectlCreated: rs[0].kubectl.created,
      },
    ]),
  );
  out.loadAtEnd = os.loadavg()[0];
} finally {
  for (const key of Object.keys(servers)) await servers[key].stop();
  c.stop();
  rmSync(work, { recursive: true, force: true });
}

// --- report -------------------------------------------------------------------------------------
const label = (key) => (key === 'meshlock' ? 'meshlock' : `${servers[key].name} ${versions[key]}`);
const d = out.direct;
const patchOps = (p) => {
  try {
    return JSON.parse(p)
      .map((o) => `${o.op} ${o.path}`)
      .join(', ');
  } catch {
    return p;
  }
};
const show = (z) =>
  `${z.http} ${z.allowed ? 'allowed' : 'denied'}${z.patch ? ` + patch (${patchOps(z.patch)})` : ''}${z.warnings ? ` ${z.warnings} warning(s)` : ''}`;
const lines = [
  `meshlock vs ${peers.map((k) => label(k)).join(' and ')}: the Istio policies of the Kyverno library in Enforce${peers.includes('gatekeeper') ? ' (Gatekeeper: the same checks as constraints, bench/gatekeeper/policies.yaml)' : ''}; Kyverno admission reports ${out.admissionReports ? 'on' : 'off'}`,
  `machine: ${out.machine.cpus} cores (${out.machine.model}), Node ${out.machine.node}, kube-apiserver ${out.k8s}; load average ${f(out.loadAtStart)} at the start, ${f(out.loadAfterDirect)} after the direct rounds, ${f(out.loadAtEnd)} at the end`,
  '',
  'Decisions on the mix (straight to each webhook):',
  table([
    ['review', ...keys.map(label)],
    ...out.decisions.meshlock.map((x, i) => [x.review, ...keys.map((k) => show(out.decisions[k][i]))]),
  ]),
  ...keys.flatMap((k) =>
    out.decisions[k]
      .filter((z) => !z.allowed)
      .map((z) => `  ${label(k)} on ${z.review}: ${z.message ?? '(no message)'}`),
  ),
  '',
  `Straight to each webhook over HTTPS (${opts.rounds} rounds in rotating order, medians; ${opts.connections} keep-alive connections):`,
  table([
    [
      'server',
      `p50 ms @${opts.rate}/s`,
      `p99 ms @${opts.rate}/s`,
      'CPU us/req',
      'capacity req/s',
      'closed p99 ms',
      'peak RSS MiB',
      'idle CPU ms/s',
      'errors',
    ],
    ...keys.map((k) => {
      const x = d[k];
      return [
        label(k),
        f(x.rate.p50, 2),
        f(x.rate.p99, 2),
        f(x.cpuPerRequestUs, 0),
        f(x.capacity, 0),
        f(x.closedP99, 1),
        f(x.peakRssMiB, 0),
        f(out.idleCpuMsPerS[k], 1),
        x.errors,
      ];
    }),
  ]),
  `capacity per round: ${keys.map((k) => `${label(k)} ${d[k].perRound.join(', ')}`).join('; ')}`,
  ...peers.map(
    (k) =>
      `meshlock vs ${label(k)}: capacity ${f(d.meshlock.capacity / d[k].capacity, 2)}x, CPU per request ${f(d[k].cpuPerRequestUs / d.meshlock.cpuPerRequestUs, 2)}x less, p99 at ${opts.rate}/s ${f(d[k].rate.p99 / d.meshlock.rate.p99, 2)}x lower`,
  ),
  '',
  `Through the apiserver: ${opts.objects} objects (pods and PeerAuthentications as in the mix), one after another, one webhook registered at a time, ${opts.e2eRounds} rounds, medians:`,
  table([
    [
      'webhook registered',
      'p50 ms',
      'p99 ms',
      'mean ms',
      'API total s',
      'HTTP statuses',
      'kubectl create -f s',
      'created',
    ],
    ...['none', ...keys].map((key) => {
      const x = out.e2e[key];
      return [
        key === 'none' ? 'none' : label(key),
        f(x.p50, 2),
        f(x.p99, 2),
        f(x.mean, 2),
        f(x.seconds, 2),
        Object.entries(x.statuses)
          .map(([s, n]) => `${s}:${n}`)
          .join(' '),
        f(x.kubectlSeconds, 2),
        x.kubectlCreated,
      ];
    }),
  ]),
  `added per object by the webhook (mean over no webhook): ${keys.map((k) => `${label(k)} ${f(out.e2e[k].mean - out.e2e.none.mean, 2)} ms`).join(', ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (args.json) {
  writeFileSync(args.json, JSON.stringify(out, null, 2));
  process.stdout.write(`written: ${args.json}\n`);
}
