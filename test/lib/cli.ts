// Runs the built CLI as a user would: a child process on the project's Node, with exit code and streams.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const corpus = resolve(repoRoot, '../shared/conformance');
const nodeBin = resolve(repoRoot, 'node_modules/.bin/node');
export const node = existsSync(nodeBin) ? nodeBin : process.execPath;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  bin: 'main' | 'kubectl-meshlock',
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliRun {
  const script = resolve(repoRoot, 'dist/cli', `${bin}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  const r = spawnSync(node, [script, ...args], {
    cwd: opts.cwd ?? repoRoot,
    input: opts.input ?? '',
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, NO_COLOR: '1', ...(opts.env ?? {}) },
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
