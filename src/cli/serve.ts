import type { Command } from 'commander';

// Placeholder until the command lands: it says so and fails, it does not pretend to work.
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('not implemented yet')
    .action(() => {
      process.stderr.write('meshlock serve: not implemented yet\n');
      process.exitCode = 2;
    });
}
