// Exemption globs (POLICY.md "Exemptions"): `*` and `?` only, matched without backtracking. The work
// is asserted as a count of character comparisons, never as time: the worst globs the config schema
// allows, against names of 253 characters (the longest Kubernetes name), stay within a bound linear
// in the name's length.
import t from 'tap';
import fc from 'fast-check';
import { compileGlob, MAX_GLOB_STARS, type GlobCounter } from '../src/config/glob.js';
import type { ConfigError } from '../src/config/index.js';
import { parseConfigText } from '../src/config/index.js';

const NAME_MAX = 253;

/** The reference semantics, by dynamic programming: right by construction, quadratic, test only. */
function reference(glob: string, name: string): boolean {
  let row = new Array<boolean>(name.length + 1).fill(false);
  row[0] = true;
  for (const g of glob) {
    const next = new Array<boolean>(name.length + 1).fill(false);
    if (g === '*') {
      let any = false;
      for (let j = 0; j <= name.length; j++) {
        any = any || row[j]!;
        next[j] = any;
      }
    } else {
      for (let j = 1; j <= name.length; j++) next[j] = row[j - 1]! && (g === '?' || g === name[j - 1]);
    }
    row = next;
  }
  return row[name.length]!;
}

t.test('globs mean what the README says: * any run (also none), ? one character, the rest literally', async (t) => {
  const rows: [string, string, boolean][] = [
    ['node-exporter-*', 'node-exporter-abc12', true],
    ['node-exporter-*', 'node-exporter-', true],
    ['node-exporter-*', 'node-exporter', false],
    ['*', '', true],
    ['team-?', 'team-a', true],
    ['team-?', 'team-ab', false],
    ['*-prod', 'shop-prod', true],
    ['*-prod', 'shop-prod-2', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'acb', false],
    ['monitoring', 'monitoring', true],
    ['monitoring', 'monitoring2', false],
    ['*.*', 'a.b', true],
    ['[ab]', 'a', false],
    ['{a,b}', '{a,b}', true],
  ];
  for (const [glob, name, want] of rows)
    t.equal(compileGlob(glob).matches(name), want, `${glob} ${want ? 'matches' : 'does not match'} "${name}"`);
});

t.test('the matcher agrees with the reference on random globs and names', async (t) => {
  const alphabet = fc.constantFrom('a', 'b', '-', '*', '?');
  const nameChar = fc.constantFrom('a', 'b', '-');
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 12 }).map((a) => a.join('')),
      fc.array(nameChar, { maxLength: 20 }).map((a) => a.join('')),
      (glob, name) => compileGlob(glob).matches(name) === reference(glob, name),
    ),
    { numRuns: 5000 },
  );
  t.pass('same answer for every generated pair');
});

t.test(
  'the worst globs the schema allows stay linear in the name: comparisons counted against 253-character names',
  async (t) => {
    const worst = [
      '*-*-*-*-*-*-*-x',
      '*a*a*a*a*a*a*b',
      '*a*a*a*a*a*a*a*a',
      '*?*?*?*?*?*?*?*?x',
      'a*a*a*a*a*a*a*a*',
      '*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab',
    ];
    const names = [
      '-'.repeat(NAME_MAX),
      'a'.repeat(NAME_MAX),
      'a-'.repeat(126) + 'a',
      'a'.repeat(NAME_MAX - 1) + 'c',
      'ab'.repeat(126) + 'c',
    ];
    for (const glob of worst) {
      const g = compileGlob(glob);
      t.ok((glob.match(/\*/g) ?? []).length <= MAX_GLOB_STARS, `${glob} is a glob the schema allows`);
      // Every name position is compared against at most one segment: (n + 1) * (longest segment + 1),
      // plus the fixed prefix and suffix.
      const longest = Math.max(...glob.split('*').map((s) => s.length));
      for (const name of names) {
        const counter: GlobCounter = { steps: 0 };
        const got = g.matches(name, counter);
        t.equal(
          got,
          reference(glob, name),
          `${glob} against ${name.slice(0, 8)}... (${name.length}) decides as the reference`,
        );
        const bound = (name.length + 1) * (longest + 1) + glob.length;
        t.ok(counter.steps <= bound, `${glob}: ${counter.steps} comparisons <= ${bound}`);
      }
    }
    // For contrast: a backtracking matcher (what a regular expression does) on the first glob.
    const backtracking = (glob: string, name: string, c: GlobCounter): boolean => {
      const go = (i: number, j: number): boolean => {
        c.steps++;
        if (c.steps > 1e7) return false;
        if (i === glob.length) return j === name.length;
        if (glob[i] === '*') {
          for (let k = j; k <= name.length; k++) if (go(i + 1, k)) return true;
          return false;
        }
        return j < name.length && (glob[i] === '?' || glob[i] === name[j]) && go(i + 1, j + 1);
      };
      return go(0, 0);
    };
    const naive = { steps: 0 };
    backtracking('*-*-*-*-*-*-*-x', '-'.repeat(60), naive);
    const ours = { steps: 0 };
    compileGlob('*-*-*-*-*-*-*-x').matches('-'.repeat(NAME_MAX), ours);
    t.ok(
      naive.steps > 100 * ours.steps,
      `a backtracking matcher needs ${naive.steps} steps on a 60-character name; this one ${ours.steps} on 253`,
    );
  },
);

t.test('the config schema refuses a glob with more than 8 stars, with a clear message', async (t) => {
  const ok = 'exemptions:\n  - namespace: "*-*-*-*-*-*-*-*-x"\n    reason: r\n';
  t.doesNotThrow(() => parseConfigText(ok), 'eight stars are allowed');
  const nine = 'exemptions:\n  - namespace: shop\n    name: "*a*a*a*a*a*a*a*a*a"\n    reason: r\n';
  const err = t.throws(() => parseConfigText(nine)) as ConfigError;
  t.match(err.message, '/exemptions/0/name: a glob holds at most 8 "*"');
});
