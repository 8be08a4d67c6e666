// `meshlock check`: manifests on disk (or stdin) through the engine as admission would see them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { checkAll, checkExitCode, indexOld } from '../audit/check.js';
import { CHECK_FORMATS, renderCheck, type CheckFormat } from '../audit/render/check.js';
import { readManifests, type SourceSet } from '../audit/sources.js';
import { ConfigError, defaultConfig, loadConfigFile, type ResolvedConfig } from '../config/index.js';
import { renderKustomization } from '../manifests/kustomize.js';
import { EXIT_USAGE } from './exit.js';

export interface CheckFlags {
  file: string[];
  old: string[];
  config?: string;
  output: CheckFormat;
  namespace: string;
  mutate: boolean;
  out?: string;
  color?: boolean;
  /** false with --no-render: a kustomization folder is read file by file. */
  render?: boolean;
  /** Input without Kubernetes objects is fine (a pre-commit hook given only other YAML files). */
  allowEmpty?: boolean;
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
    process.exitCode = EXIT_USAGE;
    return undefined;
  }
}

/**
 * Notes on stderr for what was read but not checked, one line each; stdout keeps the chosen format.
 * Repeated reasons (every template of one chart) are said once.
 */
export function printSkipped(command: string, sources: SourceSet): void {
  const said = new Set<string>();
  for (const s of sources.skipped ?? []) {
    const key = s.reason.includes('helm template') ? 'helm' : `${s.file}\0${s.reason}`;
    if (said.has(key)) continue;
    said.add(key);
    process.stderr.write(`meshlock ${command}: note: ${s.file}${s.line ? `:${s.line}` : ''}: skipped, ${s.reason}\n`);
  }
}

export function runCheck(flags: CheckFlags): number {
  if (flags.file.length === 0) {
    process.stderr.write('meshlock check: no input; pass -f FILE, -f DIR or -f - (stdin)\n');
    return EXIT_USAGE;
  }
  const config = loadConfigOrExit(flags.config);
  if (!config) return EXIT_USAGE;
  const now = new Date();
  const sources = readManifests(flags.file, { fast: true, ...(flags.render === false ? {} : { render: (dir: string) => renderKustomization(dir) }) });
  printSkipped('check', sources);
  if (sources.objects.length === 0 && sources.errors.length === 0 && !flags.allowEmpty) {
    process.stderr.write(`meshlock check: no Kubernetes objects in ${flags.file.join(', ')}: nothing was checked\n`);
    return EXIT_USAGE;
  }
  const current = flags.old.length > 0 ? readManifests(flags.old, { fast: true }) : undefined;
  const errors = [...sources.errors, ...(current?.errors ?? [])];
  const old = current ? indexOld(current.objects, flags.namespace) : undefined;
  const report = checkAll(sources.objects, errors, { config, now }, { namespace: flags.namespace, noMutate: !flags.mutate, ...(old ? { old } : {}) });
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderCheck(report, flags.output, { colour, now });
  if (toFile) {
    mkdirSync(dirname(flags.out as string), { recursive: true });
    writeFileSync(flags.out as string, text);
  }
  else process.stdout.write(text);
  // Errors always reach stderr too, so a JSON or SARIF consumer on stdout still sees the file and line.
  if (flags.output !== 'text' || toFile) for (const e of report.errors) process.stderr.write(`meshlock check: ${e.file}:${e.line}: ${e.message}\n`);
  return checkExitCode(report);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check manifests as admission would: mutations applied, then every rule (exit 0 allowed, 1 denied, 2 unreadable or no objects)')
    .option('-f, --file <path>', 'file, folder (recursive .yaml/.yml/.json; a kustomization is rendered) or - for stdin; repeatable', collect, [])
    .option('--old <path>', 'the objects as they are now (kubectl get -o yaml); a manifest naming one is checked as an UPDATE of it, with ratcheting; repeatable', collect, [])
    .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(CHECK_FORMATS as string[]).default('text'))
    .option('-n, --namespace <ns>', 'namespace for objects that name none', 'default')
    .option('--no-mutate', 'validate objects as written, without the mutating webhook')
    .option('--out <file>', 'write the output to a file instead of stdout')
    .argument('[paths...]', 'the same as -f for each: files or folders (as pre-commit passes them)')
    .option('--allow-empty', 'exit 0 when the input holds no Kubernetes objects (default: exit 2, nothing was checked)')
    .option('--no-render', 'read a folder with a kustomization file by file instead of rendering it with kubectl kustomize')
    .option('--no-color', 'never colour the text output')
    .action((paths: string[], opts: CheckFlags & { color: boolean }) => {
      // commander sets color=true by default for --no-color; only an explicit flag forces it off.
      const flags: CheckFlags = { ...opts, file: [...opts.file, ...paths], color: opts.color === false ? false : undefined } as CheckFlags;
      process.exitCode = runCheck(flags);
    });
}
