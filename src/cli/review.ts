// `meshlock review validate|mutate`: one AdmissionReview on stdin, the response on stdout, through
// the same admit() the server calls, so the answer is exactly the webhook's.
import { Argument, type Command } from 'commander';
import { admit, MeshlockHttpError, parseJsonBody, type Webhook } from '../admission/index.js';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function review(webhook: Webhook, flags: { config?: string }): Promise<void> {
  let config;
  try {
    config = flags.config !== undefined ? loadConfigFile(flags.config) : defaultConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`meshlock review: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (process.stdin.isTTY)
    process.stderr.write('meshlock review: reading an AdmissionReview from stdin (Ctrl-D to end)\n');
  const text = await readStdin();
  try {
    const { review } = admit(webhook, parseJsonBody(text), { config, now: new Date() });
    process.stdout.write(`${JSON.stringify(review)}\n`);
  } catch (err) {
    if (!(err instanceof MeshlockHttpError)) throw err;
    // The server would answer HTTP 400 with this code and message.
    process.stderr.write(`meshlock review: ${err.code}: ${err.message}\n`);
    process.exitCode = 2;
  }
}

export function registerReview(program: Command): void {
  program
    .command('review')
    .description('read one AdmissionReview on stdin and write the response the webhook would give')
    .addArgument(new Argument('<webhook>', 'which webhook answers').choices(['validate', 'mutate']))
    .option('-c, --config <file>', 'meshlock config (YAML or JSON)')
    .action(review);
}
