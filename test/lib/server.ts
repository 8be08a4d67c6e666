// Helpers for tests that talk to meshlock over real TLS: certificates made by src/tls in a temp
// directory, the server started in-process on ephemeral ports or spawned as the built CLI, and an
// HTTPS client that keeps its connections alive as the apiserver does.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Test } from 'tap';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/index.js';
import { createCertificateAuthority, issueServingCertificate, type KeyAndCertificate } from '../../src/tls/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
/** The Node the npm scripts run on (the node devDependency), not the machine's own. */
export const NODE = process.execPath;

export interface Pki {
  readonly dir: string;
  readonly ca: KeyAndCertificate;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Issues a new serving certificate from the same CA (a renewal). */
  issue(): KeyAndCertificate;
}

export function tempDir(t: Test, prefix = 'meshlock-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function makePki(t: Test): Pki {
  const dir = tempDir(t);
  const ca = createCertificateAuthority({ days: 2 });
  const issue = (): KeyAndCertificate =>
    issueServingCertificate(ca, { commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], days: 2 });
  const serving = issue();
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  const caFile = path.join(dir, 'ca.crt');
  writeFileSync(certFile, serving.certPem);
  writeFileSync(keyFile, serving.keyPem);
  writeFileSync(caFile, ca.certPem);
  return { dir, ca, certFile, keyFile, caFile, issue };
}

/** Log lines written by an in-process server, parsed. */
export class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  }
}

export interface TestServer {
  readonly server: RunningServer;
  readonly pki: Pki;
  readonly logs: LogSink;
  readonly url: string;
  readonly agent: Agent;
  post(pathname: string, body: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  get(pathname: string): Promise<HttpResult>;
  metrics(): Promise<string>;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function startTestServer(
  t: Test,
  opts: Partial<ServeOptions> = {},
  pki: Pki = makePki(t),
): Promise<TestServer> {
  const logs = new LogSink();
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    certFile: pki.certFile,
    keyFile: pki.keyFile,
    metricsPort: 0,
    logger: pino({ level: 'info' }, logs),
    watchIntervalMs: 200,
    ...opts,
  });
  const agent = new Agent({ keepAlive: true, ca: pki.ca.certPem, maxSockets: 8 });
  t.teardown(async () => {
    agent.destroy();
    await server.close();
  });
  const url = `https://127.0.0.1:${server.port}`;
  return {
    server,
    pki,
    logs,
    url,
    agent,
    post: (p, body, headers) => send({ url: url + p, method: 'POST', body, agent, ...(headers ? { headers } : {}) }),
    get: (p) => send({ url: url + p, method: 'GET', agent }),
    metrics: () => fetchMetrics(server.metricsPort!),
  };
}

export interface SendOptions {
  readonly url: string;
  readonly method: string;
  /** A string or Buffer is sent as is; anything else as JSON. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly agent?: Agent;
  readonly ca?: string;
}

export function send(o: SendOptions): Promise<HttpResult> {
  const payload =
    o.body === undefined
      ? undefined
      : typeof o.body === 'string' || Buffer.isBuffer(o.body)
        ? o.body
        : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      o.url,
      {
        method: o.method,
        ...(o.agent ? { agent: o.agent } : { ca: o.ca }),
        headers: {
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export function fetchMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    })
      .on('error', reject)
      .end();
  });
}

/** A v1 AdmissionReview for an object, as the apiserver sends it. */
export function reviewOf(
  object: Record<string, unknown> | null,
  opts: {
    uid?: string;
    apiVersion?: string;
    operation?: string;
    oldObject?: unknown;
    dryRun?: boolean;
    namespace?: string;
    name?: string;
  } = {},
): Record<string, unknown> {
  const subject = (object ?? opts.oldObject) as {
    apiVersion: string;
    kind: string;
    metadata?: { name?: string; namespace?: string };
  };
  const slash = subject.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : subject.apiVersion.slice(0, slash);
  const version = slash < 0 ? subject.apiVersion : subject.apiVersion.slice(slash + 1);
  const namespace =
    opts.namespace ?? (subject.kind === 'Namespace' ? undefined : (subject.metadata?.namespace ?? 'shop'));
  return {
    apiVersion: opts.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? 'c0ffee00-0000-4000-8000-000000000001',
      kind: { group, version, kind: subject.kind },
      resource: { group, version, resource: `${subject.kind.toLowerCase()}s` },
      name: opts.name ?? subject.metadata?.name ?? '',
      ...(namespace !== undefined ? { namespace } : {}),
      operation: opts.operation ?? (object === null ? 'DELETE' : 'CREATE'),
      userInfo: { username: 'test' },
      object,
      oldObject: opts.oldObject ?? null,
      dryRun: opts.dryRun ?? false,
    },
  };
}

export interface Spawned {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout JSON log line whose msg matches. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
}

export function spawnCli(args: readonly string[], opts: { input?: string; cwd?: string } = {}): Spawned {
  const child = spawn(NODE, [CLI, ...args], { cwd: opts.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  const s: Spawned = {
    child,
    stdout: '',
    stderr: '',
    // 'close', not 'exit': 'exit' can come before the last stdout chunk is read, and a caller that
    // parses stdout on exit would then see it cut short.
    exited: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
    waitForLog: (msg) =>
      new Promise((resolve, reject) => {
        for (const line of s.stdout.split('\n')) {
          const parsed = tryJson(line);
          if (parsed?.['msg'] === msg) return resolve(parsed);
        }
        waiters.push({ msg, resolve });
        void s.exited.then(({ code }) =>
          reject(new Error(`meshlock exited (${code}) before logging "${msg}": ${s.stderr}`)),
        );
      }),
  };
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    const text = c.toString('utf8');
    s.stdout += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = tryJson(line);
      if (!parsed) continue;
      for (const w of waiters.filter((x) => x.msg === parsed['msg'])) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (s.stderr += c.toString('utf8')));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  return s;
}

function tryJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns true (no timing assertion: the tap timeout bounds it). */
export async function eventually(check: () => boolean | Promise<boolean>, everyMs = 50): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, everyMs));
}
