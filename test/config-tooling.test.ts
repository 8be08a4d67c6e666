// The config file's tooling: the JSON Schema editors read (generated from the one TypeBox definition,
// checked in, referenced by examples/config.yaml), `meshlock config validate`, and shell completion
// scripts run by the real bash.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import t from 'tap';
import { parse } from 'yaml';
import { configJsonSchemaText } from '../src/config/index.js';
import { repoRoot, runCli } from './lib/cli.js';
import { skipUnless } from './lib/needs.js';

const addFormats = addFormatsModule.default as unknown as (ajv: Ajv, formats: string[]) => Ajv;
const SCHEMA_FILE = join(repoRoot, 'schema/config.schema.json');
const checkedIn = readFileSync(SCHEMA_FILE, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'meshlock-config-tooling-'));

function editorValidator(): ReturnType<Ajv['compile']> {
  // What an editor does: the checked-in file, read as plain JSON Schema draft-07, nothing of ours.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv, ['date', 'date-time']);
  const schema = JSON.parse(checkedIn) as Record<string, unknown>;
  delete schema['$schema'];
  return ajv.compile(schema);
}

t.test('schema/config.schema.json is what `meshlock config schema` prints now', async (t) => {
  t.equal(
    checkedIn,
    configJsonSchemaText(),
    'schema/config.schema.json is stale: regenerate it with `npm run schema` and commit it',
  );
  const printed = runCli('main', ['config', 'schema']);
  t.equal(printed.code, 0);
  t.equal(printed.stdout, checkedIn);
});

t.test('examples/config.yaml names the schema for yaml-language-server, and the schema accepts it', async (t) => {
  const text = readFileSync(join(repoRoot, 'examples/config.yaml'), 'utf8');
  const ref = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
  t.equal(ref, '../schema/config.schema.json');
  t.equal(join(repoRoot, 'examples', ref ?? ''), SCHEMA_FILE, 'the reference resolves to the checked-in file');
  const validate = editorValidator();
  t.ok(validate(parse(text)), JSON.stringify(validate.errors));
});

t.test(
  'the schema refuses what meshlock refuses: an unknown key, a bad mode, an exemption without a reason',
  async (t) => {
    const validate = editorValidator();
    for (const bad of [
      { mdoe: 'enforce' },
      { mode: 'block' },
      { exemptions: [{ namespace: 'x' }] },
      { rules: { 'no-such-rule': 'warn' } },
    ]) {
      t.notOk(validate(bad), JSON.stringify(bad));
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, JSON.stringify(bad));
      t.equal(
        runCli('main', ['config', 'validate', f]).code,
        1,
        `meshlock config validate refuses ${JSON.stringify(bad)} too`,
      );
    }
  },
);

t.test(
  'config validate: 0 for a valid file, 1 with every problem for an invalid one, 2 when unreadable or not named',
  async (t) => {
    const good = runCli('main', ['config', 'validate', join(repoRoot, 'examples/config.yaml')]);
    t.equal(good.code, 0, good.stderr);
    t.match(good.stdout, /examples\/config\.yaml: valid/);
    const f = join(dir, 'two.yaml');
    writeFileSync(f, 'mode: block\nnamesapces: {}\n');
    const bad = runCli('main', ['config', 'validate', f]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, '/mode');
    t.match(bad.stderr, 'unknown key "namesapces"');
    const json = runCli('main', ['config', 'validate', '-c', f, '-o', 'json']);
    t.equal(json.code, 1);
    t.equal((JSON.parse(json.stdout) as { issues: unknown[] }).issues.length, 2);
    t.equal(runCli('main', ['config', 'validate', join(dir, 'missing.yaml')]).code, 2);
    t.equal(runCli('main', ['config', 'validate']).code, 2);
  },
);

t.test('bash completion completes commands, subcommands, flags and flag values', async (t) => {
  const script = runCli('main', ['completion', 'bash']);
  t.equal(script.code, 0, script.stderr);
  const file = join(dir, 'meshlock.bash');
  writeFileSync(file, script.stdout);
  const complete = (line: string): string[] => {
    const words = line.split(' ');
    const r = spawnSync(
      'bash',
      [
        '-c',
        `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _meshlock; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8' },
    );
    t.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  t.same(complete('meshlock ch'), ['check']);
  t.same(complete('meshlock certs i'), ['init', 'inject']);
  t.same(complete('meshlock check -o s'), ['sarif']);
  t.same(complete('meshlock audit --output j').sort(), ['json', 'junit']);
  t.ok(complete('meshlock check --').includes('--no-render'));
  t.same(complete('meshlock completion z'), ['zsh']);
});

t.test(
  'fish completes commands, flags and flag values through the generated script',
  { skip: skipUnless('fish') },
  async (t) => {
    const file = join(dir, 'meshlock-real.fish');
    writeFileSync(file, runCli('main', ['completion', 'fish']).stdout);
    // `complete -C LINE` asks fish for the completions of LINE, as pressing Tab would.
    const complete = (line: string): string[] => {
      const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C${JSON.stringify(line)}`], {
        encoding: 'utf8',
      });
      t.equal(r.status, 0, `fish: ${r.stderr}`);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0] ?? '');
    };
    t.same(complete('meshlock che'), ['check']);
    t.ok(complete('meshlock check --ou').includes('--output'), 'flags of the command');
    t.same(complete('meshlock audit -o ').sort(), [
      'html',
      'json',
      'junit',
      'markdown',
      'policyreport',
      'sarif',
      'text',
    ]);
    t.same(complete('meshlock completion ').sort(), ['bash', 'fish', 'zsh']);
  },
);

t.test('zsh registers the completion and completes flag values through it', { skip: skipUnless('zsh') }, async (t) => {
  const file = join(dir, '_meshlock-real');
  writeFileSync(file, runCli('main', ['completion', 'zsh']).stdout);
  const script = [
    `autoload -Uz compinit && compinit -u -d ${join(dir, 'zcompdump')}`,
    `source ${file}`,
    'print -r -- "registered: ${_comps[meshlock]}"',
    // What zsh's bash-completion bridge hands the function when Tab is pressed after `meshlock audit -o `
    // (zsh's compadd then keeps the replies that match what is typed).
    'setopt ksharrays; COMP_WORDS=(meshlock audit -o ""); COMP_CWORD=3; _meshlock; print -r -- "reply: ${COMPREPLY[*]}"',
  ].join('\n');
  const r = spawnSync('zsh', ['-f', '-c', script], { encoding: 'utf8', env: { ...process.env, HOME: dir } });
  t.equal(r.status, 0, `zsh: ${r.stderr}`);
  t.match(r.stdout, /^registered: .*-F _meshlock$/m, 'compdef registered _meshlock for meshlock');
  t.match(
    r.stdout,
    /^reply: text json markdown html sarif junit policyreport$/m,
    'meshlock audit -o <Tab> offers the formats',
  );
});

t.test('zsh and fish completion scripts are produced (and parse, where the shell is installed)', async (t) => {
  for (const shell of ['zsh', 'fish'] as const) {
    const r = runCli('main', ['completion', shell]);
    t.equal(r.code, 0);
    t.match(r.stdout, shell === 'zsh' ? /^#compdef meshlock/ : /complete -c meshlock .*-l output/);
    const file = join(dir, `meshlock.${shell}`);
    writeFileSync(file, r.stdout);
    const which = spawnSync('sh', ['-c', `command -v ${shell}`]);
    if (which.status !== 0) continue;
    const syntax = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
    t.equal(syntax.status, 0, `${shell} -n: ${syntax.stderr}`);
  }
  t.equal(runCli('main', ['completion', 'powershell']).code, 2, 'an unknown shell is bad usage');
});
