// What can be checked of the image without a Docker engine: the stages, what each COPY takes (and
// that it exists and is not excluded by .dockerignore), the run-time user, and the start command.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..');
const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instrs: Instr[];
}
function parse(src: string): Stage[] {
  const stages: Stage[] = [];
  const lines = src
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), instrs: [] });
    } else {
      stages.at(-1)?.instrs.push({ op: upper, args });
    }
  }
  return stages;
}
const stages = parse(text);
const build = stages[0]!;
const run = stages.at(-1)!;
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

// .dockerignore semantics for the simple patterns used: last match wins, "!" re-includes.
function included(path: string): boolean {
  let inc = true;
  for (const p of dockerignore) {
    const neg = p.startsWith('!');
    const pat = (neg ? p.slice(1) : p).replace(/\/$/, '');
    if (pat === '*' || path === pat || path.startsWith(`${pat}/`)) inc = neg;
  }
  return inc;
}

t.test('multi-stage: built on Node 24 with the full toolchain, run on a minimal Node 24 image', async (t) => {
  t.ok(stages.length >= 2);
  t.match(build.from, /^node:24(-|$)/);
  t.match(run.from, /^gcr\.io\/distroless\/nodejs24-debian12(:|$)|^node:24-slim$/);
  const runs = build.instrs
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
  t.match(runs, /npm ci/);
  t.match(runs, /npm run build/);
  t.match(runs, /npm prune --omit=dev|npm ci --omit=dev/, 'only production dependencies reach the image');
});

t.test('every file the build stage copies from the context exists and is not ignored', async (t) => {
  for (const i of build.instrs.filter((x) => x.op === 'COPY' && !x.args.includes('--from'))) {
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const src of parts.slice(0, -1)) {
      t.ok(existsSync(join(repoRoot, src)), `${src} exists`);
      t.ok(included(src), `${src} is sent to the build`);
    }
  }
  t.notOk(included('node_modules'), 'the local node_modules is not sent');
  t.notOk(included('certs/tls.key'), 'local keys are not sent');
  t.notOk(included('.git'));
});

t.test(
  'the run stage takes only package.json, production node_modules and dist/ from the build, and runs nothing',
  async (t) => {
    const copies = run.instrs.filter((i) => i.op === 'COPY');
    t.ok(
      copies.every((c) => c.args.includes(`--from=${build.name}`)),
      'everything comes from the build stage',
    );
    const sources = copies.map((c) => c.args.split(/\s+/).filter((p) => !p.startsWith('--'))[0]);
    t.same(sources.sort(), ['/src/dist', '/src/node_modules', '/src/package.json']);
    t.equal(run.instrs.filter((i) => i.op === 'RUN').length, 0, 'no RUN: the image needs no shell');
  },
);

t.test('the image runs as a non-root numeric user', async (t) => {
  const user = run.instrs.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
  t.match(user, /^\d+(:\d+)?$/, 'numeric, so runAsNonRoot can verify it');
  t.not(Number(user.split(':')[0]), 0);
  const d = readFileSync(join(repoRoot, 'deploy/base/deployment.yaml'), 'utf8');
  t.match(d, new RegExp(`runAsUser: ${user.split(':')[0]}\\b`), 'the Deployment runs as the same user');
});

t.test('the entrypoint runs the built CLI with serve, in exec form', async (t) => {
  const entry = JSON.parse(run.instrs.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
  const cmd = JSON.parse(run.instrs.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
  const argv = [...entry, ...cmd];
  t.match(argv[0], /\/node$/);
  const workdir = run.instrs.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
  t.equal(argv[1], `${workdir}/dist/cli/main.js`);
  t.equal(argv[2], 'serve');
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  t.equal(pkg.bin['meshlock'], 'dist/cli/main.js', 'the same file as the meshlock bin');
  const tsbuild = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
    compilerOptions: { outDir: string; rootDir: string };
  };
  t.same(
    [tsbuild.compilerOptions.rootDir, tsbuild.compilerOptions.outDir],
    ['src', 'dist'],
    'src/cli/main.ts builds to dist/cli/main.js',
  );
  // The built file answers `serve --help` (npm test builds before running the tests).
  const help = execFileSync(
    join(repoRoot, 'node_modules/.bin/node'),
    [join(repoRoot, 'dist/cli/main.js'), 'serve', '--help'],
    { encoding: 'utf8' },
  );
  t.match(help, /--tls-cert/);
});
