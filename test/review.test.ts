// `meshlock review` answers exactly as the server does, and every golden case of test/cases gets the
// engine's decision through both the spawned command and the HTTPS server.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { admissionReview, loadCases, warningRule, type GoldenCase } from './lib/cases.js';
import { makePki, REPO_ROOT, spawnCli, startTestServer, tempDir } from './lib/server.js';

interface Resp {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
  patch?: string;
  patchType?: string;
}

const example = (name: string) => readFileSync(path.join(REPO_ROOT, 'examples', name), 'utf8');
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

async function review(webhook: 'validate' | 'mutate', input: string, config?: string) {
  const p = spawnCli(['review', webhook, ...(config !== undefined ? ['--config', config] : [])], { input });
  const { code } = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

t.test('meshlock review writes exactly the response the server gives', async (t) => {
  const s = await startTestServer(t, { configFile: path.join(REPO_ROOT, 'examples/config.yaml') });
  for (const [file, webhook] of [
    ['review-pa-permissive.json', 'validate'],
    ['review-namespace-new.json', 'mutate'],
    ['review-pod-onboarding.json', 'validate'],
    ['review-pod-exempted.json', 'validate'],
  ] as const) {
    const body = example(file);
    const cli = await review(webhook, body, 'examples/config.yaml');
    t.equal(cli.code, 0, `${file}: exit 0 on a response`);
    const served = await s.post(`/${webhook}`, body);
    t.equal(cli.stdout.trim(), served.text, `${file}: byte for byte the server's answer`);
  }
});

t.test('meshlock review exits 2 with a clear message on unreadable input', async (t) => {
  const bad = await review('validate', '{"apiVersion": ');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /MESHLOCK_ERR_INVALID_JSON: the request body is not valid JSON/);
  t.equal(bad.stdout, '');
  const noUid = await review(
    'mutate',
    JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }),
  );
  t.equal(noUid.code, 2);
  t.match(noUid.stderr, /MESHLOCK_ERR_MISSING_UID/);
  const empty = await review('validate', '');
  t.equal(empty.code, 2);
  t.match(empty.stderr, /MESHLOCK_ERR_EMPTY_BODY/);
  const badConfig = await review('validate', example('review-pa-strict.json'), 'no-such-config.yaml');
  t.equal(badConfig.code, 2);
  t.match(badConfig.stderr, /cannot read/);
});

function check(t: Test, c: GoldenCase, v: Resp, m: Resp, via: string): void {
  const e = c.expect;
  t.equal(v.allowed, e.allowed, `${via}: ${e.allowed ? 'allowed' : 'denied'}`);
  if (!e.allowed) {
    t.equal(v.status?.code, 403, `${via}: status 403`);
    const denied = sorted([...(v.status?.message ?? '').matchAll(/^- \[([a-z-]+)\]/gm)].map((x) => x[1]!));
    t.same(denied, e.denied, `${via}: rules that deny`);
    if (e.message !== undefined) t.equal(v.status?.message, e.message, `${via}: exact denial message`);
  }
  t.same(sorted((v.warnings ?? []).map((w) => warningRule(w).rule)), e.warned, `${via}: warnings`);
  const pre = sorted((v.warnings ?? []).filter((w) => warningRule(w).preExisting).map((w) => warningRule(w).rule));
  if (e.dryRun.length === 0) t.same(pre, e.preExisting, `${via}: pre-existing violations warned as such`);
  const patch = m.patch === undefined ? [] : (JSON.parse(Buffer.from(m.patch, 'base64').toString('utf8')) as unknown[]);
  t.same(patch, e.patch, `${via}: patch`);
  t.equal(m.patchType, e.patch.length > 0 ? 'JSONPatch' : undefined, `${via}: patchType only with a patch`);
}

t.test(
  'every golden case gets the engine decision through the HTTPS server, and every rule through meshlock review',
  async (t) => {
    t.setTimeout(900_000);
    const cases = loadCases();
    t.ok(cases.length > 0, 'cases were found');
    const dir = tempDir(t);

    // Server: one per distinct config, its clock fixed to the case's.
    const servers = new Map<string, Awaited<ReturnType<typeof startTestServer>>>();
    let clockNow = new Date();
    const pki = makePki(t);
    for (const c of cases) {
      const key = c.configText;
      if (servers.has(key)) continue;
      const file = path.join(dir, `config-${servers.size}.yaml`);
      // A case without a config means every default: `{}` in a file (an empty file is refused).
      writeFileSync(file, c.configText.trim() === '' ? '{}\n' : c.configText);
      servers.set(key, await startTestServer(t, { configFile: file, metricsPort: null, clock: () => clockNow }, pki));
    }
    for (const c of cases) {
      const s = servers.get(c.configText)!;
      clockNow = c.now;
      for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
        const body = admissionReview(c, apiVersion);
        const v = (await s.post('/validate', body)).json<{ apiVersion: string; response: Resp }>();
        const m = (await s.post('/mutate', body)).json<{ response: Resp }>();
        t.equal(v.apiVersion, apiVersion);
        check(t, c, v.response, m.response, `${c.id} (server, ${apiVersion})`);
      }
    }

    // The command reads the system clock, so cases that fix the clock run through the server only.
    // A process per answer costs ~0.2 s, so the command runs the first case of every folder (every
    // rule and mutation); it shares admit() with the server, which ran every case above.
    const perFolder = new Map<string, number>();
    const clockFree = cases.filter((c) => {
      if (c.fixedClock) return false;
      const n = perFolder.get(c.folder) ?? 0;
      perFolder.set(c.folder, n + 1);
      return n < 1;
    });
    const configFiles = new Map<string, string>();
    for (const c of clockFree) {
      if (configFiles.has(c.configText)) continue;
      const file = path.join(dir, `cli-config-${configFiles.size}.yaml`);
      writeFileSync(file, c.configText.trim() === '' ? '{}\n' : c.configText);
      configFiles.set(c.configText, file);
    }
    let next = 0;
    const worker = async () => {
      while (next < clockFree.length) {
        const c = clockFree[next++]!;
        const body = JSON.stringify(admissionReview(c));
        const config = configFiles.get(c.configText)!;
        // One process per answer is slow, so /mutate runs through the command only where a case
        // mutates; the server above covers the empty patches of every case.
        const mutates = c.expect.patch.length > 0 || c.expect.wouldPatch !== undefined;
        const [v, m] = await Promise.all([
          review('validate', body, config),
          mutates ? review('mutate', body, config) : undefined,
        ]);
        t.equal(v.code, 0, `${c.id} (review): exit 0`);
        if (m) t.equal(m.code, 0, `${c.id} (review mutate): exit 0`);
        const mr = m ? (JSON.parse(m.stdout) as { response: Resp }).response : { uid: '', allowed: true };
        check(t, c, (JSON.parse(v.stdout) as { response: Resp }).response, mr, `${c.id} (review)`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  },
);
