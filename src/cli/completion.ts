// `meshlock completion bash|zsh|fish`: a completion script made from the command tree itself (every
// command, flag and choice as commander knows them), so it cannot fall behind the flags.
//   bash: source <(meshlock completion bash)
//   zsh:  source <(meshlock completion zsh)
//   fish: meshlock completion fish | source
import { Argument, Command, type Option } from 'commander';
import { COMMANDS } from './program.js';

interface Flag {
  readonly names: string[];
  readonly description: string;
  readonly takesValue: boolean;
  readonly choices: readonly string[];
  /** The value is a path: complete file names. */
  readonly path: boolean;
}

interface Node {
  readonly path: string[];
  readonly description: string;
  readonly flags: Flag[];
  readonly children: Node[];
  readonly argChoices: readonly string[];
}

function flagOf(o: Option): Flag {
  return {
    names: [o.short, o.long].filter((n): n is string => typeof n === 'string'),
    description: o.description,
    takesValue: o.required || o.optional,
    choices: o.argChoices ?? [],
    path: /<(file|path|dir)>/.test(o.flags),
  };
}

function tree(cmd: Command, path: string[]): Node {
  const args = (cmd as unknown as { registeredArguments?: readonly Argument[] }).registeredArguments ?? [];
  return {
    path,
    description: cmd.description(),
    flags: [
      ...cmd.options.filter((o) => !o.hidden).map(flagOf),
      { names: ['-h', '--help'], description: 'show help', takesValue: false, choices: [], path: false },
    ],
    children: cmd.commands.map((c) => tree(c, [...path, c.name()])),
    argChoices: args.flatMap((a) => a.argChoices ?? []),
  };
}

/** Every command registered for real (not the lazy stubs), as one tree. */
export async function commandTree(name = 'meshlock'): Promise<Node> {
  const program = new Command(name);
  for (const entry of Object.values(COMMANDS)) (await entry.load())(program);
  const root = tree(program, []);
  return {
    ...root,
    flags: [
      ...root.flags,
      { names: ['-V', '--version'], description: 'show the version', takesValue: false, choices: [], path: false },
    ],
  };
}

function all(node: Node): Node[] {
  return [node, ...node.children.flatMap(all)];
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(root: Node, name = 'meshlock'): string {
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
  const nodes = all(root);
  const steps = nodes.flatMap((n) =>
    n.children.map((c) => `    ${q(`${n.path.join(' ')}:${c.path.at(-1)}`)}) path=${q(c.path.join(' '))} ;;`),
  );
  const values = nodes.flatMap((n) =>
    n.flags
      .filter((f) => f.takesValue)
      .map((f) => {
        const pattern = f.names.map((x) => q(`${n.path.join(' ')}:${x}`)).join('|');
        const reply =
          f.choices.length > 0
            ? `COMPREPLY=($(compgen -W ${q(f.choices.join(' '))} -- "$cur"))`
            : f.path
              ? 'COMPREPLY=($(compgen -f -- "$cur"))'
              : 'COMPREPLY=()';
        return `    ${pattern}) ${reply}; return ;;`;
      }),
  );
  const words = nodes.map(
    (n) =>
      `    ${q(n.path.join(' '))}) words=${q([...n.children.map((c) => c.path.at(-1)), ...n.argChoices, ...n.flags.flatMap((f) => f.names)].join(' '))} ;;`,
  );
  return `# bash completion for ${name}; load with: source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" words="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$path:\${COMP_WORDS[i]}" in
${steps.join('\n')}
    esac
  done
  case "$path:$prev" in
${values.join('\n')}
  esac
  case "$path" in
${words.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`;
}

export function zshScript(root: Node, name = 'meshlock'): string {
  // zsh runs bash completion functions through bashcompinit; one script to keep right.
  return `#compdef ${name}
# zsh completion for ${name}; load with: source <(${name} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashScript(root, name).split('\n').slice(1).join('\n')}`;
}

export function fishScript(root: Node, name = 'meshlock'): string {
  const lines = [
    `# fish completion for ${name}; load with: ${name} completion fish | source`,
    `complete -c ${name} -f`,
  ];
  for (const n of all(root)) {
    // A command's words are offered once its parent path is on the line and none of its children is.
    const seen = n.path.map((p) => `__fish_seen_subcommand_from ${p}`);
    const notChild =
      n.children.length > 0
        ? [`not __fish_seen_subcommand_from ${n.children.map((c) => c.path.at(-1)).join(' ')}`]
        : [];
    const cond =
      n.path.length === 0 ? (n.children.length > 0 ? ['__fish_use_subcommand'] : []) : [...seen, ...notChild];
    const when = cond.length > 0 ? ` -n ${q(cond.join('; and '))}` : '';
    for (const c of n.children)
      lines.push(`complete -c ${name}${when} -a ${q(c.path.at(-1) ?? '')} -d ${q(c.description)}`);
    if (n.argChoices.length > 0) lines.push(`complete -c ${name}${when} -a ${q(n.argChoices.join(' '))}`);
    const flagWhen = n.path.length === 0 ? '' : ` -n ${q(seen.join('; and '))}`;
    for (const f of n.flags) {
      const short = f.names.find((x) => /^-[^-]$/.test(x));
      const long = f.names.find((x) => x.startsWith('--'));
      const value =
        f.choices.length > 0 ? ` -x -a ${q(f.choices.join(' '))}` : f.path ? ' -r -F' : f.takesValue ? ' -x' : '';
      lines.push(
        `complete -c ${name}${flagWhen}${short ? ` -s ${short.slice(1)}` : ''}${long ? ` -l ${long.slice(2)}` : ''}${value} -d ${q(f.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(meshlock completion bash)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const root = await commandTree(program.name());
      process.stdout.write(
        shell === 'bash'
          ? bashScript(root, program.name())
          : shell === 'zsh'
            ? zshScript(root, program.name())
            : fishScript(root, program.name()),
      );
    });
}
