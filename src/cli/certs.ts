import type { Command } from 'commander';

// Placeholder until the command lands: it says so and fails, it does not pretend to work.
export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('not implemented yet')
    .action(() => {
      process.stderr.write('meshlock certs: not implemented yet\n');
      process.exitCode = 2;
    });
}
