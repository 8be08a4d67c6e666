// Shared by the hardening scripts (fuzz, soak, faults): meshlock as a child process with dev
// certificates, a paced load of the realistic review mix whose every answer is checked against the
// decision the engine gives in-process, and the server's RSS from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { benchCertificates, freePort, root } from './admission-lib.mjs';
import { reviews } from './admission-reviews.mjs';

export { benchCertificates, root };

/** Flags as `--name value` or `--name=value`; numbers where the default is a number. */
export function flags(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in defaults)) {
      process.stderr.write(
        `unknown argument ${argv[i]}; flags: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(' ')}\n`,
      );
      process.exit(2);
    }
    const raw = m[2] ?? argv[++i];
    out[m[1]] = typeof defaults[m[1]] === 'number' ? Number(raw) : raw;
  }
  return out;
}

/** Current and peak resident set size of a process, in MiB (Linux VmRSS, VmHWM). */
export function rssMiB(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/** Samples a process's RSS every 50 ms; `stop()` returns the highest seen, in MiB. */
export function sampleRss(pid) {
  let peak = rssMiB(pid).rss;
  const timer = setInterval(() => {
    const r = rssMiB(pid).rss;
    if (r > peak) peak = r;
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** meshlock serve as a child; resolves once /readyz answers. */
export async function startMeshlock(certs, extraArgs = [], opts = {}) {
  const port = await freePort();
  const args = [
    path.join(root, 'dist/cli/main.js'),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--metrics-port',
    '0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    stdio: ['ignore', opts.captureLog ? 'pipe' : 'ignore', 'pipe'],
  });
  let log = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  for (;;) {
    const status = await once(port, certs.ca, { path: '/readyz', method: 'GET' }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (child.exitCode !== null) throw new Error(`meshlock exited ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, pid: child.pid, child, exited, log: () => log, stderr: () => stderr };
}

/** One request on its own connection (or an agent's); resolves { status, headers, text } or rejects on a connection error. */
export function once(port, ca, { path: p, method = 'POST', body, agent, headers = {}, timeoutMs = 60_000 }) {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        method,
        ...(agent ? { agent } : { ca, agent: false }),
        headers:
          payload === undefined
            ? headers
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The realistic mix with the answer the engine gives each in-process: allowed, and whether a patch comes back. */
export async function checkedMix(configText) {
  const { admit } = await import(path.join(root, 'dist/admission/index.js'));
  const { resolveConfig, parseConfigText, defaultConfig } = await import(path.join(root, 'dist/config/index.js'));
  const config = configText ? resolveConfig(parseConfigText(configText)) : defaultConfig();
  return reviews().map((r) => {
    const { review } = admit(r.path.slice(1), r.review, { config, now: new Date() });
    return {
      ...r,
      body: JSON.stringify(r.review),
      expect: { allowed: review.response.allowed, patched: review.response.patch !== undefined },
    };
  });
}

/**
 * A paced load: `rate` requests per second over `connections` keep-alive connections, cycling the
 * checked mix. Tallies answers that match the expected decision (ok), other answers (wrong, by
 * status), and requests that got no answer (lost).
 */
export function startLoad(port, ca, mix, { rate = 200, connections = 16 } = {}) {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: connections });
  const fresh = () => ({
    sent: 0,
    ok: 0,
    wrong: 0,
    busy: 0,
    lost: 0,
    refused: 0,
    statuses: {},
    errors: {},
    latencies: [],
  });
  // Each answer counts in the tally of the phase its request was sent in.
  let tally = fresh();
  let i = 0;
  let stopped = false;
  const inFlight = new Set();
  const fire = () => {
    const r = mix[i++ % mix.length];
    const t = tally;
    t.sent++;
    const t0 = performance.now();
    const p = once(port, ca, { path: r.path, body: r.body, agent, timeoutMs: 35_000 }).then(
      (res) => {
        t.latencies.push(performance.now() - t0);
        t.statuses[res.status] = (t.statuses[res.status] ?? 0) + 1;
        if (res.status === 503) return void t.busy++;
        let good = false;
        if (res.status === 200) {
          const resp = JSON.parse(res.text).response;
          good = resp.allowed === r.expect.allowed && (resp.patch !== undefined) === r.expect.patched;
        }
        if (good) t.ok++;
        else t.wrong++;
      },
      (err) => {
        // Refused: nothing listened, so the request never reached a server (a client behind a
        // Service goes to another replica). Lost: a server had it and gave no answer.
        if (err.code === 'ECONNREFUSED' || err.code === 'UNSENT') t.refused++;
        else t.lost++;
        const k = err.code ?? err.message;
        t.errors[k] = (t.errors[k] ?? 0) + 1;
      },
    );
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
  };
  const start = performance.now();
  let fired = 0;
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (fired < due) {
      fired++;
      fire();
    }
  }, 5);
  return {
    /** The tally of requests sent so far (still filling in as their answers come), and a new one for the next. */
    take() {
      const done = tally;
      tally = fresh();
      return done;
    },
    /**
     * Stops sending. With `dropQueued`, requests still queued in the client for a free connection
     * (they never left it) are dropped and counted as refused, not lost, as a client stops using an
     * endpoint it was told is gone; otherwise they are sent and awaited.
     */
    async stop({ dropQueued = false } = {}) {
      stopped = true;
      clearInterval(timer);
      if (dropQueued) {
        for (const queue of Object.values(agent.requests)) {
          for (const req of [...(queue ?? [])]) req.destroy(Object.assign(new Error('not sent'), { code: 'UNSENT' }));
        }
      }
      await Promise.allSettled([...inFlight]);
      agent.destroy();
    },
  };
}

export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
