// Side-by-side benchmark: `meshlock check` against the Kyverno CLI (`kyverno apply`) with the Istio
// policies of the Kyverno policy library, on the same generated manifests, in the same run.
//
// Reports objects per second of each (wall time of the whole process, start-up included, on a small
// set; and on a larger set where start-up is amortised), and every object on which the two disagree,
// grouped by the kind of case and explained. Target: check at least 10x Kyverno's rate.
//
//   node bench/compare-kyverno.mjs [--small N] [--large N] [--runs N] [--kyverno PATH] [--meshlock CLI.js]
//                                  [--json FILE] [--keep]
//
// N for --small/--large is a number of generated namespaces (12 objects each, plus 6 system
// objects). The Kyverno CLI is built by bench/kyverno/build.sh into a cache outside the repository
// (first run: 10-25 minutes), unless --kyverno names a binary; --meshlock names another build of
// meshlock's CLI entry (default dist/cli/main.js).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { generate, writeSet } from './compare-gen.mjs';
import {
  compareDecisions,
  EXPLANATIONS,
  mutateRuleNames,
  parseCheckOutput,
  parseKyvernoReport,
} from './compare-lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const policyDir = path.resolve(repoRoot, '../shared/conformance/kyverno-istio/policies');

const USAGE =
  'usage: node bench/compare-kyverno.mjs [--small N] [--large N] [--runs N] [--kyverno PATH] [--meshlock CLI.js] [--json FILE] [--keep]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      small: { type: 'string', default: '40' },
      large: { type: 'string', default: '4000' },
      runs: { type: 'string', default: '3' },
      kyverno: { type: 'string' },
      meshlock: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  process.stderr.write(`compare-kyverno: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const opts = parsed.values;
const small = positiveInt('--small', opts.small);
const large = positiveInt('--large', opts.large);
const runs = positiveInt('--runs', opts.runs);
const meshlockCli = path.resolve(opts.meshlock ?? path.join(repoRoot, 'dist/cli/main.js'));

function positiveInt(flag, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function fail(msg) {
  process.stderr.write(`compare-kyverno: ${msg}\n`);
  process.exit(2);
}

function kyvernoBinary() {
  if (opts.kyverno) {
    if (!existsSync(opts.kyverno)) fail(`--kyverno ${opts.kyverno}: no such file`);
    return opts.kyverno;
  }
  process.stderr.write('compare-kyverno: making sure the Kyverno CLI is built (bench/kyverno/build.sh)\n');
  const r = spawnSync('bash', [path.join(here, 'kyverno/build.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`bench/kyverno/build.sh failed (exit ${r.status}); see its output above`);
  return r.stdout.trim().split('\n').pop();
}

// GNU time reports the child's CPU time and peak memory; CPU time stays meaningful when other work
// on the machine stretches the wall time. Without it only wall time is shown.
const GNU_TIME = ['/usr/bin/time', '/bin/time'].find(
  (p) => existsSync(p) && spawnSync(p, ['-f', '%U', 'true'], { stdio: 'ignore' }).status === 0,
);

/** Runs a process to completion: exit code, stdout, stderr, wall ms, and (with GNU time) CPU ms and peak RSS in MiB. */
function timed(cmd, args, scratch) {
  const statsFile = path.join(scratch, 'time.txt');
  const [file, argv] = GNU_TIME ? [GNU_TIME, ['-o', statsFile, '-f', '%U %S %M', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      let cpuMs = NaN;
      let rssMiB = NaN;
      if (GNU_TIME && existsSync(statsFile)) {
        // The last line: GNU time puts "Command exited with non-zero status N" before it.
        const [u, sy, kb] = readFileSync(statsFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        cpuMs = (u + sy) * 1000;
        rssMiB = kb / 1024;
        rmSync(statsFile);
      }
      resolve({
        code,
        signal,
        ms,
        cpuMs,
        rssMiB,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const policies = readdirSync(policyDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => path.join(policyDir, f));
if (policies.length === 0) fail(`no policies in ${policyDir}`);
const mutateRules = mutateRuleNames(
  policies.flatMap((p) => parseAllDocuments(readFileSync(p, 'utf8')).map((d) => d.toJS())),
);
if (!existsSync(meshlockCli)) fail(`${meshlockCli} is missing${opts.meshlock ? '' : ': run npm run build first'}`);
const kyverno = kyvernoBinary();
const kyvernoVersion =
  spawnSync(kyverno, ['version'], { encoding: 'utf8' }).stdout.match(/Version: (\S+)/)?.[1] ?? 'unknown';

async function runKyverno(dir, scratch) {
  const r = await timed(
    kyverno,
    ['apply', ...policies, '--resource', dir, '--policy-report', '--output-format', 'json', '--remove-color'],
    scratch,
  );
  // Exit 1 means "some resource failed a policy", which is the point of half the set.
  if (r.code !== 0 && r.code !== 1)
    throw new Error(`kyverno apply exited ${r.code ?? r.signal}: ${r.stderr.slice(0, 2000)}`);
  return { ...r, decisions: parseKyvernoReport(r.stdout, mutateRules) };
}

async function runCheck(dir, scratch) {
  const r = await timed(process.execPath, [meshlockCli, 'check', '-f', dir, '--output', 'json'], scratch);
  // Exit 1 means "something would be denied"; 2 is bad usage or unreadable input.
  if (r.code !== 0 && r.code !== 1)
    throw new Error(`meshlock check exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).slice(0, 2000)}`);
  return { ...r, decisions: parseCheckOutput(r.stdout) };
}

async function measure(label, namespaces, runCount) {
  const set = generate({ namespaces });
  const scratch = mkdtempSync(path.join(os.tmpdir(), `meshlock-compare-${label}-`));
  const dir = path.join(scratch, 'manifests');
  writeSet(dir, set);
  try {
    const k = [];
    const m = [];
    // Interleaved, so load from elsewhere on the machine falls on both alike.
    for (let i = 0; i < runCount; i++) {
      k.push(await runKyverno(dir, scratch));
      m.push(await runCheck(dir, scratch));
    }
    const figures = (rs) => {
      const ms = median(rs.map((r) => r.ms));
      const cpuMs = median(rs.map((r) => r.cpuMs));
      return {
        ms,
        perSecond: set.count / (ms / 1000),
        cpuMs,
        perCpuSecond: set.count / (cpuMs / 1000),
        rssMiB: Math.max(...rs.map((r) => r.rssMiB)),
        wallRuns: rs.map((r) => Math.round(r.ms)),
      };
    };
    return {
      label,
      namespaces,
      objects: set.count,
      runs: runCount,
      dir: opts.keep ? dir : undefined,
      kyverno: figures(k),
      meshlock: figures(m),
      comparison: compareDecisions(set, k[0].decisions, m[0].decisions),
    };
  } finally {
    if (!opts.keep) rmSync(scratch, { recursive: true, force: true });
  }
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '))
    .join('\n');
}

const results = [];
for (const [label, ns, n] of [
  ['small', small, runs],
  ['large', large, 1],
]) {
  process.stderr.write(`compare-kyverno: ${label} set (${ns} namespaces), ${n} run(s) of each tool...\n`);
  results.push(await measure(label, ns, n));
}

const load = os.loadavg()[0];
console.log(
  `\nmeshlock check vs Kyverno CLI ${kyvernoVersion} (kyverno apply, ${policies.length} policies from the Kyverno library's Istio set)`,
);
console.log(
  `node ${process.version}, ${os.cpus().length} CPU(s), load average ${fmt(load, 1)} at the end; whole process per run, start-up included; median of the runs`,
);
if (load > os.cpus().length)
  console.log('the machine was busy with other work: wall times are stretched, CPU times are the steadier comparison');
console.log('');
const cpu = (f, d) => (Number.isNaN(f) ? '-' : fmt(f, d));
console.log(
  table([
    ['set', 'tool', 'objects', 'wall s', 'obj/s', 'CPU s', 'obj/CPU s', 'peak MiB'],
    ...results.flatMap((r) =>
      [
        ['kyverno', r.kyverno],
        ['meshlock check', r.meshlock],
      ].map(([tool, f]) => [
        `${r.label} (${r.runs} run${r.runs > 1 ? 's' : ''})`,
        tool,
        fmt(r.objects),
        fmt(f.ms / 1000, 2),
        fmt(f.perSecond),
        cpu(f.cpuMs / 1000, 2),
        cpu(f.perCpuSecond),
        cpu(f.rssMiB),
      ]),
    ),
  ]),
);
console.log('');
let met = true;
for (const r of results) {
  const wall = r.meshlock.perSecond / r.kyverno.perSecond;
  const perCpu = r.meshlock.perCpuSecond / r.kyverno.perCpuSecond;
  met &&= wall >= 10;
  console.log(
    `${r.label}: check is ${fmt(wall, 1)}x Kyverno's rate in wall time${Number.isNaN(perCpu) ? '' : `, ${fmt(perCpu, 1)}x per CPU second`}`,
  );
}
console.log(`target (check >= 10x Kyverno's rate, wall time, both sets): ${met ? 'met' : 'NOT met'}`);

// Decisions do not depend on the set's size; the large set has every case the small one has.
const cmp = results.at(-1).comparison;
console.log(
  `\ndecisions on the large set (${fmt(cmp.total)} objects): agree ${fmt(cmp.agree)}, disagree ${fmt(cmp.disagree)}` +
    ` (meshlock stricter ${fmt(cmp.meshlockStricter)}, Kyverno stricter ${fmt(cmp.kyvernoStricter)})`,
);
if (cmp.missing.length > 0)
  console.log(`objects one tool did not report: ${cmp.missing.length}, e.g. ${cmp.missing.slice(0, 3).join(', ')}`);
console.log('');
console.log(
  table([
    ['stricter', 'case', 'objects', 'meshlock rules', 'kyverno rules', 'example'],
    ...cmp.groups.map((g) => [
      g.stricter,
      g.variant,
      fmt(g.count),
      g.meshlockRules.join(',') || '-',
      g.kyvernoRules.join(',') || '-',
      g.example,
    ]),
  ]),
);
console.log('\nwhy:');
for (const g of cmp.groups)
  console.log(`  ${g.variant}: ${EXPLANATIONS[g.variant] ?? 'not explained yet: look at the example object'}`);
if (cmp.mutationOnly.length > 0) {
  console.log(
    "\nNamespaces with the same decision but a different patch (Kyverno's mutate-only policy add-sidecar-injection-namespace):",
  );
  console.log(
    table([
      ['case', 'objects', 'kyverno patches', 'meshlock patches', 'example'],
      ...cmp.mutationOnly.map((g) => [g.variant, fmt(g.count), g.kyvernoPatched, g.meshlockPatched, g.example]),
    ]),
  );
  for (const g of cmp.mutationOnly) console.log(`  ${g.variant}: ${EXPLANATIONS[`patch:${g.variant}`] ?? ''}`);
}
console.log(
  `\nmeshlock also labels ${fmt(cmp.meshlockPatchedWorkloads)} pods and pod templates with sidecar.istio.io/inject: "true" (pod-injection-label); no Kyverno policy here mutates workloads.`,
);

if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify(
      { kyvernoVersion, node: process.version, results: results.map((r) => ({ ...r, dir: undefined })) },
      null,
      2,
    ),
  );
  console.log(`\nwritten: ${opts.json}`);
}
