// `npm start` and `npm test` build first; this skips the TypeScript compiler (seconds even when
// incremental) when no source changed since the last build: no file under src/, no tsconfig and no
// package.json is newer than dist/.tsbuildinfo, which the build writes.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const stamp = join(root, 'dist', '.tsbuildinfo');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((e) => newest(join(path, e))));
}

const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json']
  .map((p) => join(root, p))
  .filter(existsSync);
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built > 0 && Math.max(...inputs.map(newest)) <= built) {
  process.stdout.write('dist/ is up to date with src/ (npm run build forces a build)\n');
  process.exit(0);
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// tsc leaves the stamp as it was when nothing needed emitting; mark this build as the newest.
const now = new Date();
utimesSync(stamp, now, now);
