// What a test needs beyond Node and npm: the external conformance corpus (../shared/conformance,
// beside the repository, never in it) and tools (kubectl, Chromium, Helm, zsh, fish). On a developer's machine
// a test whose need is missing is skipped with the reason, so a fresh clone passes `npm test`; with
// CI=true (.ci/run installs everything) a missing need fails the file instead of hiding tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const corpusDir = resolve(repoRoot, '../shared/conformance');
export const inCi = process.env['CI'] === 'true';

export type Need = 'corpus' | 'kubectl' | 'chromium' | 'helm' | 'zsh' | 'fish' | 'promtool';

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** The newest build of `cmd` in the cache the build scripts fill ($HOME/.cache/meshlock/<prefix>*\/bin). */
function cached(prefix: string, cmd: string): string | undefined {
  const root = join(homedir(), '.cache', 'meshlock');
  const dirs = [root, join(root, 'e2e')].filter(existsSync);
  for (const d of dirs) {
    for (const e of readdirSync(d)
      .filter((n) => n.startsWith(prefix))
      .sort()
      .reverse()) {
      const p = join(d, e, 'bin', cmd);
      if (existsSync(p)) return p;
    }
  }
  return undefined;
}

const found = new Map<Need, string | undefined>();

/** Path of the tool (or the corpus folder), or undefined when this machine lacks it. */
export function locate(need: Need): string | undefined {
  if (found.has(need)) return found.get(need);
  let p: string | undefined;
  switch (need) {
    case 'corpus':
      p = existsSync(join(corpusDir, 'EXPECTATIONS.md')) ? corpusDir : undefined;
      break;
    case 'kubectl':
      p = process.env['KUBECTL'] ?? onPath('kubectl') ?? cached('k8s-', 'kubectl');
      break;
    case 'chromium':
      p = process.env['CHROMIUM_PATH'] ?? onPath('chromium') ?? onPath('chromium-browser');
      break;
    case 'helm':
      // The cached build is preferred: it is the pinned version test/helm/build.sh makes.
      p = process.env['HELM'] ?? cached('helm-', 'helm') ?? onPath('helm');
      if (p && spawnSync(p, ['version', '--short'], { encoding: 'utf8' }).status !== 0) p = undefined;
      break;
    case 'zsh':
    case 'fish':
      p = onPath(need);
      break;
    case 'promtool':
      // The cached build is preferred: it is the pinned version test/promtool/build.sh makes.
      p = process.env['PROMTOOL'] ?? cached('promtool-', 'promtool') ?? onPath('promtool');
      break;
  }
  found.set(need, p);
  return p;
}

const HOW: Record<Need, string> = {
  corpus: `the external conformance corpus at ${corpusDir} (it lives beside the repository, not in it)`,
  kubectl: 'kubectl on PATH (or bash test/e2e/cluster/build.sh, which builds it into ~/.cache/meshlock)',
  chromium: 'Chromium (apt-get install chromium, or set CHROMIUM_PATH)',
  helm: 'Helm (bash test/helm/build.sh builds it into ~/.cache/meshlock, or helm on PATH)',
  zsh: 'zsh (apt-get install zsh) to run the completion it is given',
  fish: 'fish (apt-get install fish) to run the completion it is given',
  promtool:
    "promtool (bash test/promtool/build.sh builds it from Prometheus's Go module into ~/.cache/meshlock, or $PROMTOOL)",
};

/**
 * `false` when every need is met, else the reason to pass as tap's `skip` option. With CI=true a
 * missing need throws instead: the run must not pass by skipping.
 */
export function skipUnless(...needs: Need[]): string | false {
  const lacking = needs.filter((n) => locate(n) === undefined);
  if (lacking.length === 0) return false;
  const reason = `needs ${lacking.map((n) => HOW[n]).join('; and ')}`;
  if (inCi) throw new Error(`CI=true and this test ${reason}`);
  return reason;
}

/**
 * For a file whose every test has these needs: when one is missing, the whole file is reported as
 * skipped with the reason and nothing after this call runs. Call it right after the imports.
 */
export function skipFileUnless(t: { plan(n: number, comment?: string): void }, ...needs: Need[]): void {
  const reason = skipUnless(...needs);
  if (!reason) return;
  t.plan(0, reason);
  // stdout is a pipe to tap's runner, written synchronously on Linux, so the skip line is out.
  process.exit(0);
}
