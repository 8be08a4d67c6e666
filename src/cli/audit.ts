import type { Command } from 'commander';

// Placeholder until the command lands: it says so and fails, it does not pretend to work.
export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('not implemented yet')
    .action(() => {
      process.stderr.write('meshlock audit: not implemented yet\n');
      process.exitCode = 2;
    });
}
