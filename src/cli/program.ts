// The command table and exit-code contract shared by `meshlock` and the `kubectl meshlock` plugin.
//
// Exit codes, as CI pipelines rely on them (same as Kyverno's and conftest's CLIs):
//   0  nothing would be denied (or help / version was asked for)
//   1  something would be denied (or, with --fail-on warning, warned)
//   2  usage error: unknown command or flag, bad flag value, unreadable input, input with no
//      Kubernetes objects, unusable config or kubeconfig
//
// Command modules are imported only when their command runs: `--help` and `--version` load no
// command at all (a static table gives the descriptions), and `serve` never pays for the Kubernetes
// client and report renderers of `audit`.
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './exit.js';
import { VERSION } from './version.js';

type Register = (program: Command) => void;

export interface CommandEntry {
  readonly description: string;
  readonly load: () => Promise<Register>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  check: {
    description: 'check manifests as admission would: mutations applied, then every rule',
    load: async () => (await import('./check.js')).registerCheck,
  },
  audit: {
    description: "report the mesh's mTLS posture from a live cluster or a dump",
    load: async () => (await import('./audit.js')).registerAudit,
  },
  serve: {
    description: 'run the admission webhook server (HTTPS) with metrics',
    load: async () => (await import('./serve.js')).registerServe,
  },
  review: {
    description: 'read one AdmissionReview on stdin and write the response the webhook would give',
    load: async () => (await import('./review.js')).registerReview,
  },
  certs: {
    description: 'serving certificates for the webhook: init, inject, renew',
    load: async () => (await import('./certs.js')).registerCerts,
  },
  config: {
    description: 'the config file: print its JSON Schema, validate a file',
    load: async () => (await import('./config.js')).registerConfig,
  },
  completion: {
    description: 'print a shell completion script (bash, zsh, fish)',
    load: async () => (await import('./completion.js')).registerCompletion,
  },
};

/** The command the arguments name (`meshlock help check` names check), if any. */
function named(args: readonly string[], table: Record<string, CommandEntry>): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const first = words[0] === 'help' ? words[1] : words[0];
  return first !== undefined && first in table ? first : undefined;
}

export async function buildProgram(
  argv: readonly string[],
  name: string,
  description: string,
  table: Record<string, CommandEntry> = COMMANDS,
): Promise<Command> {
  const program = new Command(name)
    .description(description)
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError()
    // Commander exits 1 on its own errors, which CI would read as "denied": thrown instead, and
    // turned into exit 2 by run(). Inherited by every subcommand made with .command().
    .exitOverride();
  const wanted = named(argv.slice(2), table);
  for (const [cmd, entry] of Object.entries(table)) {
    if (cmd === wanted) (await entry.load())(program);
    else program.command(cmd).description(entry.description).allowUnknownOption().helpOption(false);
  }
  return program;
}

/** Parses and runs; sets process.exitCode per the contract above. */
export async function run(
  argv: readonly string[],
  name: string,
  description: string,
  table: Record<string, CommandEntry> = COMMANDS,
): Promise<void> {
  const program = await buildProgram(argv, name, description, table);
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (!(err instanceof CommanderError)) {
      // Never exit 1 on a failure of our own: CI reads 1 as "would deny".
      const e = err as Error;
      process.stderr.write(
        `${name}: ${process.env['MESHLOCK_DEBUG'] ? (e.stack ?? e.message) : (e.message ?? String(err))}\n`,
      );
      process.exitCode = EXIT_USAGE;
      return;
    }
    // Help asked for (--help, `help`, --version) is a success; help shown for a missing command is not.
    const asked =
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      (err.code === 'commander.help' && err.exitCode === 0);
    process.exitCode = asked ? 0 : EXIT_USAGE;
  }
}
