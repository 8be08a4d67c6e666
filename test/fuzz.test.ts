// `npm run fuzz` with a small count, so every CI run sends a few thousand random reviews at a real
// server: no 5xx, no lost connection, the server alive after, every well-formed review answered as
// the engine decides. The full run (100,000 requests) is `npm run fuzz`; its figures are in the README.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { NODE, REPO_ROOT } from './lib/server.js';

t.test('npm run fuzz: 2,000 random reviews, no 5xx, no crash, the engine decision for each', async (t) => {
  const r = spawnSync(
    NODE,
    [path.join(REPO_ROOT, 'bench/fuzz.mjs'), '--requests', '2000', '--concurrency', '8', '--seed', '20261130'],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 },
  );
  t.equal(r.status, 0, `fuzz exits 0\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  t.match(r.stdout, /fuzz: 2000 requests .* server alive/);
  t.notMatch(r.stdout, /FAIL/);
});
