// A public clone has no ../shared beside it and may have nothing but Node and npm: `npm test` there
// must pass, every test that needs the corpus or a tool reported as skipped with its reason. This
// clones the committed tree into a temporary folder (no ../shared), links node_modules, hides every
// tool but node and npm, and runs the unit suite exactly as a newcomer would.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { inCi, repoRoot } from './lib/needs.js';

const INSIDE = 'MESHLOCK_FRESH_CLONE';

// The inner run is the whole unit suite again: worth its minutes in CI, on demand elsewhere.
const skip =
  process.env[INSIDE] === 'inside'
    ? 'already running inside the fresh clone'
    : !inCi && process.env[INSIDE] !== '1'
      ? `runs the whole unit suite again in a clone; runs with CI=true or ${INSIDE}=1`
      : existsSync(join(repoRoot, '.git'))
        ? false
        : 'not a git checkout';

t.setTimeout(1_200_000);

t.test(
  'a clone without ../shared and without kubectl, Chromium, Helm, zsh or fish passes npm test, skipping with reasons',
  { skip },
  async (t) => {
    const top = mkdtempSync(join(tmpdir(), 'meshlock-clone-'));
    t.teardown(() => rmSync(top, { recursive: true, force: true }));
    const clone = join(top, 'meshlock');
    const git = spawnSync('git', ['clone', '--quiet', '--shared', repoRoot, clone], { encoding: 'utf8' });
    t.equal(git.status, 0, `git clone: ${git.stderr}`);
    t.notOk(existsSync(join(top, 'shared')), 'no ../shared beside the clone');
    symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'));

    // PATH as on a machine that has the usual system commands, Node and npm, but none of the tools the
    // full suite uses; HOME without the tool cache; no tool overrides, CI unset.
    const bin = join(top, 'bin');
    mkdirSync(bin);
    const HIDDEN =
      /^(kubectl|kubectl-.*|helm|chromium.*|google-chrome.*|openssl|go|gofmt|node|nodejs|npm|npx|zsh|fish|promtool)$/;
    for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
      if (!existsSync(dir) || dir.includes('node_modules')) continue;
      for (const name of readdirSync(dir)) {
        if (!HIDDEN.test(name) && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
      }
    }
    symlinkSync(join(repoRoot, 'node_modules/.bin/node'), join(bin, 'node'));
    const npmPrefix = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' }).stdout.trim();
    const npmJs = join(npmPrefix, 'lib/node_modules/npm/bin/npm-cli.js');
    t.ok(existsSync(npmJs), `npm found at ${npmJs}`);
    symlinkSync(npmJs, join(bin, 'npm'));
    const home = join(top, 'home');
    mkdirSync(home);
    const env: NodeJS.ProcessEnv = { PATH: bin, HOME: home, [INSIDE]: 'inside', TMPDIR: tmpdir(), LANG: 'C.UTF-8' };

    const r = spawnSync(join(bin, 'npm'), ['test', '--', '--disable-coverage', '--reporter=tap'], {
      cwd: clone,
      env,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    t.equal(r.status, 0, `npm test in the clone exits 0; its tail:\n${out.slice(-3000)}`);
    t.match(out, /# SKIP needs the external conformance corpus/, 'corpus tests say they are skipped and why');
    t.match(out, /# SKIP needs kubectl/, 'kubectl tests say they are skipped and why');
    t.match(out, /# SKIP needs fish/, 'the fish completion test says it is skipped and why');
    t.notMatch(out, /^not ok/m, 'no failing test');
  },
);
