// Runs every golden case of test/cases through the engine: the validating decision, the mutating
// patch, and the invariants POLICY.md states for every decision (warning length and prefix, denial
// message format, idempotent mutation). A new corner case is a new YAML file, not new test code.
import t, { type Test } from 'tap';
import { readdirSync } from 'node:fs';
import { MUTATION_IDS, RULE_IDS } from '../src/config/index.js';
import { applyPatch, mutate, validate, WARNING_MAX, type EngineContext } from '../src/policy/index.js';
import { CASES_DIR, loadCases, warningRule, type GoldenCase } from './lib/cases.js';

const cases = loadCases();
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
const ruleOfWarning = (w: string): string => warningRule(w).rule;

function run(t: Test, c: GoldenCase): void {
  const ctx: EngineContext = { config: c.config, now: c.now };
  const v = validate(c.input, ctx);
  const e = c.expect;
  t.equal(v.allowed, e.allowed, e.allowed ? 'allowed' : 'denied');
  t.same(sorted(v.findings.filter((f) => f.denies).map((f) => f.rule)), e.denied, 'rules that deny');
  t.same(sorted(v.warnings.map(ruleOfWarning)), e.warned, 'rules returned as warnings');
  t.same(
    sorted(v.findings.filter((f) => f.mode === 'dry-run').map((f) => f.rule)),
    e.dryRun,
    'rules only recorded (dry-run)',
  );
  t.same(sorted(v.exempted.map((x) => x.rule)), e.exempted, 'rules lifted by an exemption');
  t.same(
    sorted(v.findings.filter((f) => f.preExisting).map((f) => f.rule)),
    e.preExisting,
    'violations oldObject already had (ratcheting)',
  );
  t.same(
    sorted(v.warnings.filter((w) => warningRule(w).preExisting).map(ruleOfWarning)),
    sorted(v.findings.filter((f) => f.preExisting && f.mode !== 'dry-run').map((f) => f.rule)),
    'a pre-existing violation is warned as `<rule id> (pre-existing): ...`',
  );
  for (const f of v.findings) if (f.preExisting) t.notOk(f.denies, `pre-existing ${f.rule} never denies`);
  t.same(
    sorted(v.findings.filter((f) => f.expiredExemption).map((f) => f.rule)),
    e.expiredExemption,
    'findings naming an expired exemption',
  );
  for (const w of v.warnings) {
    t.ok(w.length <= WARNING_MAX, `warning within ${WARNING_MAX} characters: ${w}`);
    t.match(w, /^[a-z-]+( \(pre-existing\))?: /, 'a warning starts with the rule id');
    t.ok(
      v.findings.some((f) => f.rule === ruleOfWarning(w)),
      'a warning names a finding',
    );
  }
  for (const f of v.findings) {
    if (f.severity === 'warning') t.notOk(f.denies, `warning-severity rule ${f.rule} never denies`);
  }
  if (!v.allowed) {
    const lines = (v.message ?? '').split('\n');
    const n = e.denied.length === 0 ? 0 : v.findings.filter((f) => f.denies).length;
    t.equal(
      lines[0],
      `meshlock denied ${c.input.kind} ${c.input.namespace}/${c.input.name}: ${n} violation${n === 1 ? '' : 's'}`,
      'first line of the denial message',
    );
    t.equal(lines.length, n + 1, 'one line per violation');
    for (const line of lines.slice(1))
      t.match(
        line,
        /^- \[[a-z-]+\] .+\. Fix: .+$/,
        'violation line: - [<rule id>] <what is wrong>. Fix: <what to change>',
      );
    if (e.message !== undefined) t.equal(v.message, e.message, 'exact denial message');
  } else {
    t.equal(v.message, undefined, 'no denial message when allowed');
  }

  const m = mutate(c.input, ctx);
  t.same(m.patch, e.patch, 'exact patch');
  if (e.wouldPatch !== undefined) {
    t.same(
      m.mutations.filter((x) => !x.applied).flatMap((x) => x.ops),
      e.wouldPatch,
      'would-be patch recorded in dry-run',
    );
  }
  t.same(sorted(m.exempted.map((x) => x.id)), e.mutationExempted, 'mutations an exemption prevented');
  if (m.patch.length > 0) {
    const patched = applyPatch(c.input.object, m.patch);
    const again = mutate({ ...c.input, object: patched }, ctx);
    t.same(again.patch, [], 'mutation is idempotent: a second pass over the result yields no patch');
  }
}

t.test('every rule and mutation of POLICY.md has golden cases', async (t) => {
  const folders = new Set(readdirSync(CASES_DIR));
  for (const id of [...RULE_IDS, ...MUTATION_IDS]) {
    t.ok(folders.has(id) && cases.some((c) => c.folder === id), `test/cases/${id}/ holds at least one case`);
  }
});

t.test('golden cases', async (t) => {
  t.ok(cases.length > 0, 'cases were found');
  for (const c of cases) t.test(`${c.id}: ${c.name}`, async (t) => run(t, c));
});
