// `meshlock audit --watch` against the real apiserver, with meshlock's webhook not installed so a
// PERMISSIVE PeerAuthentication is stored: its finding and the namespace's PolicyReport appear and
// clear as the object comes and goes, the report of a deleted namespace goes, and the watch recovers
// when its connection to the apiserver is cut. meshlock reaches the apiserver through a TCP relay
// in this test, so the test can cut that connection (and refuse new ones) without stopping the
// apiserver the other files share.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { clusterEnv } from './lib/cluster.js';
import { apply, describeRun, kubectl, sleep, uniqueName } from './lib/kubectl.js';
import { CLI, freePort } from './lib/meshlock.js';
import { namespace, peerAuth } from './lib/objects.js';

// The bound for a change to show in the metrics and the report. The audit's own debounce
// is one second; the bound is a deadline to wait for, not a measurement.
const WITHIN_MS = 15_000;

/** A TCP relay to the apiserver that can drop every connection and stop accepting for a while. */
async function relay(
  target: URL,
): Promise<{ port: number; cut: (downMs: number) => Promise<void>; close: () => void }> {
  const sockets = new Set<Socket>();
  let server: Server;
  const port = await freePort();
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
        sockets.add(client).add(upstream);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen();
  return {
    port,
    cut: async (downMs) => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await sleep(downMs);
      await listen();
    },
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe();
    if (last !== undefined) return last;
    await sleep(250);
  }
  throw new Error(`${what}: not within ${ms / 1000} s`);
}

const env = clusterEnv();
const api = new URL(env.apiserverUrl);
const proxy = await relay(api);
// The e2e kubeconfig, pointed at the relay (the apiserver's certificate names 127.0.0.1, as the relay does).
const kubeconfig = parse(readFileSync(env.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
for (const c of kubeconfig.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
const relayed = join(env.dir, `kubeconfig-relay-${proxy.port}`);
writeFileSync(relayed, stringify(kubeconfig));

const metricsPort = await freePort();
let output = '';
const child: ChildProcess = spawn(
  process.execPath,
  [
    CLI,
    'audit',
    '--watch',
    '--interval',
    '10s',
    '--apply-reports',
    '--metrics-port',
    String(metricsPort),
    '--metrics-host',
    '127.0.0.1',
    '--kubeconfig',
    relayed,
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
t.teardown(() => {
  child.kill('SIGKILL');
  proxy.close();
});

async function paMode(): Promise<number | undefined> {
  const r = await httpGet(metricsPort, '/metrics');
  const m = /^meshlock_audit_findings\{rule="pa-mode",severity="error"\} (\d+)$/m.exec(r.body);
  return m ? Number(m[1]) : undefined;
}

async function reportOf(ns: string): Promise<{ results?: { rule: string; result: string }[] } | null> {
  const r = await kubectl(['get', 'policyreports.wgpolicyk8s.io', '-n', ns, `meshlock-${ns}`, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound/.test(r.stderr)) return null;
    throw new Error(describeRun(r));
  }
  return JSON.parse(r.stdout) as { results?: { rule: string; result: string }[] };
}

const hasPaMode = (rep: { results?: { rule: string }[] } | null): boolean =>
  (rep?.results ?? []).some((x) => x.rule === 'pa-mode');

t.test('the watching audit becomes ready and serves its metrics', async (t) => {
  await waitFor('/readyz 200', 60_000, async () =>
    (await httpGet(metricsPort, '/readyz')).status === 200 ? true : undefined,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${output.slice(-3000)}`);
  });
  t.equal((await httpGet(metricsPort, '/healthz')).status, 200, '/healthz');
  const metrics = (await httpGet(metricsPort, '/metrics')).body;
  for (const name of [
    'meshlock_audit_workloads',
    'meshlock_audit_findings',
    'meshlock_audit_exemptions',
    'meshlock_audit_last_run_timestamp_seconds',
    'meshlock_audit_run_duration_seconds',
  ]) {
    t.match(metrics, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name} is a gauge`);
  }
  t.match(metrics, /^meshlock_audit_exemptions\{state="expired"\} 0$/m);
  t.type(await paMode(), 'number', 'pa-mode has a series');
});

const ns = uniqueName('watched');

t.test(
  'a PERMISSIVE PeerAuthentication shows in the metrics and the PolicyReport, and clears when deleted',
  async (t) => {
    const before = (await paMode()) ?? 0;
    const made = await apply([namespace(ns), peerAuth(ns, 'loose', { mtls: { mode: 'PERMISSIVE' } })]);
    t.equal(made.code, 0, 'stored (no webhook installed)', { output: describeRun(made) });
    const started = Date.now();
    await waitFor('pa-mode finding counted', WITHIN_MS, async () =>
      (await paMode()) === before + 1 ? true : undefined,
    );
    await waitFor(
      `PolicyReport meshlock-${ns} with a pa-mode result`,
      Math.max(1000, WITHIN_MS - (Date.now() - started)),
      async () => (hasPaMode(await reportOf(ns)) ? true : undefined),
    );
    const rep = await reportOf(ns);
    t.ok(
      rep?.results?.some((x) => x.rule === 'pa-mode' && x.result === 'fail'),
      'the result fails',
      { rep },
    );

    const del = await kubectl(['delete', 'peerauthentications.security.istio.io', '-n', ns, 'loose']);
    t.equal(del.code, 0, describeRun(del));
    const t2 = Date.now();
    await waitFor('pa-mode finding cleared', WITHIN_MS, async () => ((await paMode()) === before ? true : undefined));
    await waitFor('PolicyReport without pa-mode', Math.max(1000, WITHIN_MS - (Date.now() - t2)), async () => {
      const r = await reportOf(ns);
      return r && !hasPaMode(r) ? true : undefined;
    });
    t.pass('cleared');
  },
);

t.test('the report of a deleted namespace goes', async (t) => {
  t.not(await reportOf(ns), null, 'the report exists');
  const del = await kubectl(['delete', 'namespace', ns, '--wait=false']);
  t.equal(del.code, 0, describeRun(del));
  await waitFor('report deleted', WITHIN_MS, async () => ((await reportOf(ns)) === null ? true : undefined));
  t.pass('gone');
});

t.test(
  'the watch recovers after its connection to the apiserver is cut, and catches up on what changed meanwhile',
  async (t) => {
    const before = (await paMode()) ?? 0;
    const errorsBefore = (await httpGet(metricsPort, '/metrics')).body;
    const ns2 = uniqueName('outage');
    // Cut every connection and refuse new ones for 4 s; the change happens while meshlock is cut off.
    const outage = proxy.cut(4000);
    await sleep(200);
    const made = await apply([namespace(ns2), peerAuth(ns2, 'loose', { mtls: { mode: 'PERMISSIVE' } })]);
    t.equal(made.code, 0, describeRun(made));
    await outage;
    await waitFor('the change made during the outage counted', 60_000, async () =>
      (await paMode()) === before + 1 ? true : undefined,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.slice(-3000)}`);
    });
    await waitFor('its PolicyReport written', 30_000, async () => (hasPaMode(await reportOf(ns2)) ? true : undefined));
    const after = (await httpGet(metricsPort, '/metrics')).body;
    const errs = (s: string): number =>
      [...s.matchAll(/^meshlock_audit_watch_errors_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    t.ok(errs(after) > errs(errorsBefore), 'the outage was noticed (watch errors counted)');
    t.match(output, /backing off/, 'and logged');
    await kubectl(['delete', 'peerauthentications.security.istio.io', '-n', ns2, 'loose']);
    await kubectl(['delete', 'namespace', ns2, '--wait=false']);
  },
);

t.test('SIGTERM stops it cleanly', async (t) => {
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0');
});
