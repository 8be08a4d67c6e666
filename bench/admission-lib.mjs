// Shared by the admission benchmarks: dev certificates, the two servers as child processes, the load
// generator as a third process, and what /proc says about a process.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

/** Development certificates in a temporary folder; `cleanup()` removes it. */
export async function benchCertificates() {
  const { ensureDevCertificates } = await import(path.join(root, 'dist/tls/index.js')).catch(() => {
    process.stderr.write('bench: run `npm run build` first (dist/ is missing)\n');
    process.exit(2);
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'meshlock-bench-'));
  const { certFile, keyFile, caFile } = await ensureDevCertificates(dir);
  return {
    certFile,
    keyFile,
    caFile,
    ca: readFileSync(caFile, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(port, p, ca) {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port, path: p, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    })
      .on('error', () => resolve(0))
      .end();
  });
}

/** The command line of each server under test, for a port and the certificates. */
export const SERVERS = Object.freeze({
  bare: {
    name: 'bare fastify (floor)',
    argv: (port, c) => [path.join(here, 'admission-bare-server.mjs'), String(port), c.certFile, c.keyFile],
  },
  meshlock: {
    name: 'meshlock',
    argv: (port, c) => [
      path.join(root, 'dist/cli/main.js'),
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      '0',
      '--tls-cert',
      c.certFile,
      '--tls-key',
      c.keyFile,
    ],
  },
});

/**
 * Starts a server and resolves once its /readyz answers 200. Its stdout (the decision log) is written
 * to /dev/null, as a container's would be written, not read. `extraArgs` go to meshlock only (e.g.
 * `--log-decisions all`).
 */
export async function startServer(which, certs, extraArgs = []) {
  const port = await freePort();
  const argv = [...SERVERS[which].argv(port, certs), ...(which === 'meshlock' ? extraArgs : [])];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  while ((await get(port, '/readyz', certs.ca)) !== 200) {
    if (child.exitCode !== null) throw new Error(`${which} server exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    pid: child.pid,
    stop: () => {
      child.kill('SIGTERM');
      return new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

/** Runs the load generator in its own process; resolves with its JSON result line. */
export function load(port, caFile, opts) {
  const o = { url: `https://127.0.0.1:${port}`, ca: caFile, ...opts };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'admission-load.mjs'), JSON.stringify(o)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`)),
    );
  });
}

/** Peak resident set size of a process (Linux VmHWM), in MiB. */
export function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in seconds (Linux /proc/PID/stat). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
