import type { Command } from 'commander';

// Placeholder until the command lands: it says so and fails, it does not pretend to work.
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('not implemented yet')
    .action(() => {
      process.stderr.write('meshlock check: not implemented yet\n');
      process.exitCode = 2;
    });
}
