// Start-up time of the CLI as a user meets it: `meshlock --help`, `--version` (target: under 300 ms;
// they load no command module) and a command's own help. Median and minimum wall time of N runs
// each, interleaved, on the project's Node. Run on a quiet machine: npm run bench:cli [-- N]
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const runs = Number(process.argv[2] ?? 15);
const cases = [['--help'], ['--version'], ['check', '--help'], ['audit', '--help']];
const times = new Map(cases.map((c) => [c.join(' '), []]));

spawnSync(process.execPath, [cli, '--version']); // warm the file cache
for (let i = 0; i < runs; i++) {
  for (const args of cases) {
    const start = performance.now();
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const ms = performance.now() - start;
    if (r.status !== 0) throw new Error(`meshlock ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.get(args.join(' ')).push(ms);
  }
}
const base = [];
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  base.push(performance.now() - start);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${runs} runs each, Node ${process.version}`);
console.log(
  `  node -e 0 (the floor)            median ${median(base).toFixed(0)} ms, min ${Math.min(...base).toFixed(0)} ms`,
);
for (const [name, xs] of times)
  console.log(`  meshlock ${name.padEnd(24)} median ${median(xs).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)} ms`);
