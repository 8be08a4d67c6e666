// `meshlock check`: manifests on disk (or stdin) through the engine as admission would see them.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { checkAll, checkExitCode } from '../audit/check.js';
import { CHECK_FORMATS, renderCheck, type CheckFormat } from '../audit/render/check.js';
import { readManifests } from '../audit/sources.js';
import { ConfigError, defaultConfig, loadConfigFile, type ResolvedConfig } from '../config/index.js';

export interface CheckFlags {
  file: string[];
  config?: string;
  output: CheckFormat;
  namespace: string;
  mutate: boolean;
  out?: string;
  color?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function loadConfigOrExit(file: string | undefined): ResolvedConfig | undefined {
  if (!file) return defaultConfig();
  try {
    return loadConfigFile(file);
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : `cannot load config ${file}: ${(err as Error).message}`}\n`);
    process.exitCode = 2;
    return undefined;
  }
}

export function runCheck(flags: CheckFlags): number {
  if (flags.file.length === 0) {
    process.stderr.write('meshlock check: no input; pass -f FILE, -f DIR or -f - (stdin)\n');
    return 2;
  }
  const config = loadConfigOrExit(flags.config);
  if (!config) return 2;
  const now = new Date();
  const sources = readManifests(flags.file, { fast: true });
  const report = checkAll(sources.objects, sources.errors, { config, now }, { namespace: flags.namespace, noMutate: !flags.mutate });
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderCheck(report, flags.output, { colour, now });
  if (toFile) writeFileSync(flags.out as string, text);
  else process.stdout.write(text);
  // Errors always reach stderr too, so a JSON or SARIF consumer on stdout still sees the file and line.
  if (flags.output !== 'text' || toFile) for (const e of report.errors) process.stderr.write(`meshlock check: ${e.file}:${e.line}: ${e.message}\n`);
  return checkExitCode(report);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check manifests as admission would: mutations applied, then every rule (exit 0 allowed, 1 denied, 2 unreadable)')
    .option('-f, --file <path>', 'file, folder (recursive .yaml/.yml/.json) or - for stdin; repeatable', collect, [])
    .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(CHECK_FORMATS as string[]).default('text'))
    .option('-n, --namespace <ns>', 'namespace for objects that name none', 'default')
    .option('--no-mutate', 'validate objects as written, without the mutating webhook')
    .option('--out <file>', 'write the output to a file instead of stdout')
    .option('--no-color', 'never colour the text output')
    .action((opts: CheckFlags & { color: boolean }) => {
      // commander sets color=true by default for --no-color; only an explicit flag forces it off.
      const flags: CheckFlags = { ...opts, color: opts.color === false ? false : undefined } as CheckFlags;
      process.exitCode = runCheck(flags);
    });
}
