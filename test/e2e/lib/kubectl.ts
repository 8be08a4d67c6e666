// kubectl as a user runs it: a child process against the e2e kubeconfig, with the exit
// status and both streams kept so tests can check exactly what a person would see.
// Asynchronous on purpose: test webhook servers run in this process and must keep
// answering the apiserver while kubectl waits.
import { spawn } from 'node:child_process';
import { clusterEnv } from './cluster.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for matching messages wherever kubectl printed them */
  output: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const c = code ?? (signal ? 128 : 1);
      resolvePromise({ code: c, stdout, stderr, output: stdout + stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function kubectl(args: string[], opts: RunOptions = {}): Promise<Run> {
  const env = clusterEnv();
  return run(env.kubectl, ['--kubeconfig', env.kubeconfig, ...args], opts);
}

export type Manifest = Record<string, unknown>;

/** `kubectl apply -f -` of one or more objects given as data. */
export function apply(objects: Manifest | Manifest[], extraArgs: string[] = []): Promise<Run> {
  return kubectl(['apply', '-f', '-', ...extraArgs], { input: toYaml(objects) });
}

export function create(objects: Manifest | Manifest[], extraArgs: string[] = []): Promise<Run> {
  return kubectl(['create', '-f', '-', ...extraArgs], { input: toYaml(objects) });
}

/** JSON documents (valid YAML): a YAML 1.2 writer leaves values such as `no` unquoted,
 * which kubectl's YAML 1.1 reader turns into booleans. */
export function toYaml(objects: Manifest | Manifest[]): string {
  const list = Array.isArray(objects) ? objects : [objects];
  return list.map((o) => JSON.stringify(o)).join('\n---\n') + '\n';
}

/** `kubectl get -o json` parsed; throws with kubectl's message when the object is absent. */
export async function getJson(args: string[]): Promise<Manifest> {
  const r = await kubectl(['get', ...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl get ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Manifest;
}

export function describeRun(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

let counter = 0;
/** Namespaces are never really deleted (no controller-manager): every test gets a fresh name. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter}`.slice(0, 63);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
