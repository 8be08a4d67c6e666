// `meshlock config schema|validate`: the config file's JSON Schema (for editors: the
// yaml-language-server line in examples/config.yaml), and a check of a file without running anything.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ConfigError, configJsonSchemaText, loadConfigFile } from '../config/index.js';
import { EXIT_DENY, EXIT_OK, EXIT_USAGE } from './exit.js';

export interface ValidateFlags {
  output: 'text' | 'json';
}

/** 0 valid, 1 invalid (every problem listed), 2 unreadable or no file named. */
export function runValidate(file: string | undefined, flags: ValidateFlags): number {
  if (!file) {
    process.stderr.write('meshlock config validate: name the file: meshlock config validate FILE (or -c FILE)\n');
    return EXIT_USAGE;
  }
  try {
    loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const unreadable = err.issues.some((i) => i.message.startsWith('cannot read'));
    if (flags.output === 'json')
      process.stdout.write(`${JSON.stringify({ file, valid: false, issues: err.issues })}\n`);
    else process.stderr.write(`${err.message}\n`);
    return unreadable ? EXIT_USAGE : EXIT_DENY;
  }
  if (flags.output === 'json') process.stdout.write(`${JSON.stringify({ file, valid: true, issues: [] })}\n`);
  else process.stdout.write(`${file}: valid\n`);
  return EXIT_OK;
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('the config file: print its JSON Schema, validate a file');
  config
    .command('schema')
    .description('print the JSON Schema of the config file (the same definition meshlock validates with)')
    .option('--out <file>', 'write it to a file instead of stdout')
    .action((opts: { out?: string }) => {
      if (opts.out) writeFileSync(opts.out, configJsonSchemaText());
      else process.stdout.write(configJsonSchemaText());
    });
  config
    .command('validate')
    .description('validate a config file (exit 0 valid, 1 invalid, 2 unreadable)')
    .argument('[file]', 'config file (YAML or JSON)')
    .option('-c, --config <file>', 'config file, as the other commands take it')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((file: string | undefined, opts: ValidateFlags & { config?: string }) => {
      process.exitCode = runValidate(file ?? opts.config, opts);
    });
}
