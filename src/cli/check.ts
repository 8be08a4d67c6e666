// `meshlock check`: manifests on disk (or stdin) through the engine as admission would see them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { checkExitCode, checkManifests } from '../check/check.js';
import { CHECK_FORMATS, renderCheck, type CheckFormat } from '../report/check.js';
import { readManifests, skipNotes, type SourceObject, type SourceSet } from '../manifests/sources.js';
import { ConfigError, defaultConfig, loadConfigFile, type ResolvedConfig } from '../config/index.js';
import { renderKustomization } from '../manifests/kustomize.js';
import { EXIT_USAGE } from './exit.js';
import { VERSION } from './version.js';

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
  /** Take namespace labels and existing policies from the live cluster. */
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
}

/**
 * With --cluster, what the cluster holds now, as istioctl analyze mixes files and cluster: its
 * Namespaces (their labels decide enrolment; a manifest of one is an UPDATE of it) and its
 * PeerAuthentications and DestinationRules (a manifest of one is an UPDATE, ratcheted).
 */
async function fromCluster(flags: CheckFlags): Promise<{ objects: SourceObject[]; source: string }> {
  const { loadKubeConfig } = await import('../kube/client.js');
  const { listAll } = await import('../kube/list.js');
  const { NAMESPACES, PEER_AUTHENTICATIONS, DESTINATION_RULES } = await import('../audit/collect.js');
  const kc = loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  const source = `cluster:${kc.getCurrentContext()}`;
  const types = [NAMESPACES, PEER_AUTHENTICATIONS, DESTINATION_RULES];
  const objects: SourceObject[] = [];
  for (const type of types) {
    const items = (await listAll(kc, type, { limit: 500 })) ?? [];
    items.forEach((object, index) => objects.push({ file: `${source}/${type.resource}`, index, line: 0, object }));
  }
  return { objects, source };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function loadConfigOrExit(file: string | undefined): ResolvedConfig | undefined {
  if (!file) return defaultConfig();
  try {
    return loadConfigFile(file);
  } catch (err) {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : `cannot load config ${file}: ${(err as Error).message}`}\n`,
    );
    process.exitCode = EXIT_USAGE;
    return undefined;
  }
}

/** Notes on stderr for what was read but not checked; stdout keeps the chosen format. */
export function printSkipped(command: string, sources: SourceSet): void {
  for (const line of skipNotes(sources.skipped ?? [])) process.stderr.write(`meshlock ${command}: ${line}\n`);
}

export async function runCheck(flags: CheckFlags): Promise<number> {
  if (flags.file.length === 0) {
    process.stderr.write('meshlock check: no input; pass -f FILE, -f DIR or -f - (stdin)\n');
    return EXIT_USAGE;
  }
  const config = loadConfigOrExit(flags.config);
  if (!config) return EXIT_USAGE;
  const now = new Date();
  const sources = readManifests(flags.file, {
    fast: true,
    ...(flags.render === false ? {} : { render: (dir: string) => renderKustomization(dir) }),
  });
  printSkipped('check', sources);
  if (sources.objects.length === 0 && sources.errors.length === 0 && !flags.allowEmpty) {
    process.stderr.write(`meshlock check: no Kubernetes objects in ${flags.file.join(', ')}: nothing was checked\n`);
    return EXIT_USAGE;
  }
  const current = flags.old.length > 0 ? readManifests(flags.old, { fast: true }) : undefined;
  const errors = [...sources.errors, ...(current?.errors ?? [])];
  let live: SourceObject[] = [];
  if (flags.cluster) {
    try {
      live = (await fromCluster(flags)).objects;
    } catch (err) {
      process.stderr.write(`meshlock check: --cluster: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
  } else if (flags.context || flags.kubeconfig) {
    process.stderr.write('meshlock check: --context and --kubeconfig go with --cluster\n');
    return EXIT_USAGE;
  }
  const report = checkManifests(
    { objects: sources.objects, errors, ...(current ? { current: current.objects } : {}), live },
    { config, now },
    { namespace: flags.namespace, noMutate: !flags.mutate },
  );
  const toFile = flags.out !== undefined;
  const colour = flags.color ?? (!toFile && process.stdout.isTTY === true && !process.env['NO_COLOR']);
  const text = renderCheck(report, flags.output, { colour, now, version: VERSION });
  if (toFile) {
    mkdirSync(dirname(flags.out as string), { recursive: true });
    writeFileSync(flags.out as string, text);
  } else process.stdout.write(text);
  // Errors always reach stderr too, so a JSON or SARIF consumer on stdout still sees the file and line.
  if (flags.output !== 'text' || toFile)
    for (const e of report.errors) process.stderr.write(`meshlock check: ${e.file}:${e.line}: ${e.message}\n`);
  return checkExitCode(report);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'check manifests as admission would: mutations applied, then every rule (exit 0 allowed, 1 denied, 2 unreadable or no objects)',
    )
    .option(
      '-f, --file <path>',
      'file, folder (recursive .yaml/.yml/.json; a kustomization is rendered) or - for stdin; repeatable',
      collect,
      [],
    )
    .option(
      '--old <path>',
      'the objects as they are now (kubectl get -o yaml); a manifest naming one is checked as an UPDATE of it, with ratcheting; repeatable',
      collect,
      [],
    )
    .option('-c, --config <file>', 'meshlock config file (YAML or JSON)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(CHECK_FORMATS as string[]).default('text'))
    .option('-n, --namespace <ns>', 'namespace for objects that name none', 'default')
    .option('--no-mutate', 'validate objects as written, without the mutating webhook')
    .option('--out <file>', 'write the output to a file instead of stdout')
    .argument('[paths...]', 'the same as -f for each: files or folders (as pre-commit passes them)')
    .option(
      '--cluster',
      'take namespace labels and existing PeerAuthentications and DestinationRules from the live cluster (a manifest of an existing object is checked as an update)',
    )
    .option('--kubeconfig <file>', 'kubeconfig for --cluster (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context for --cluster')
    .option('--allow-empty', 'exit 0 when the input holds no Kubernetes objects (default: exit 2, nothing was checked)')
    .option(
      '--no-render',
      'read a folder with a kustomization file by file instead of rendering it with kubectl kustomize',
    )
    .option('--no-color', 'never colour the text output')
    .action(async (paths: string[], opts: CheckFlags & { color: boolean }) => {
      // commander sets color=true by default for --no-color; only an explicit flag forces it off.
      const flags: CheckFlags = {
        ...opts,
        file: [...opts.file, ...paths],
        color: opts.color === false ? false : undefined,
      } as CheckFlags;
      process.exitCode = await runCheck(flags);
    });
}
