import type { Command } from 'commander';

// Placeholder until the command lands: it says so and fails, it does not pretend to work.
export function registerReview(program: Command): void {
  program
    .command('review')
    .description('not implemented yet')
    .action(() => {
      process.stderr.write('meshlock review: not implemented yet\n');
      process.exitCode = 2;
    });
}
