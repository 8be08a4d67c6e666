// `meshlock serve`: the admission webhook over HTTPS, metrics over plain HTTP on another port.
import { relative } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import { ConfigError } from '../config/index.js';
import { CertificateError, exitOnSignals, startServer } from '../server/index.js';
import { ensureDevCertificates } from '../tls/index.js';

interface ServeFlags {
  port: number;
  host?: string;
  tlsCert?: string;
  tlsKey?: string;
  config?: string;
  metricsPort: number;
  metricsHost?: string;
  metricsNamespaceLabel?: boolean;
  dev?: boolean;
  certsDir: string;
  logLevel: string;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

function tryItText(caFile: string, port: number, host: string): string {
  const ca = relative(process.cwd(), caFile) || caFile;
  const base = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  return [
    '',
    `meshlock is serving with development certificates (CA: ${ca}). Try it:`,
    '',
    `  curl --cacert ${ca} -H 'Content-Type: application/json' --data @examples/review-pa-permissive.json ${base}/validate`,
    `  curl --cacert ${ca} -H 'Content-Type: application/json' --data @examples/review-pod-denied.json ${base}/validate`,
    `  curl --cacert ${ca} -H 'Content-Type: application/json' --data @examples/review-namespace-new.json ${base}/mutate`,
    `  curl --cacert ${ca} ${base}/readyz`,
    '',
    'More in examples/README.md. Ctrl-C stops it.',
    '',
  ].join('\n');
}

async function serve(flags: ServeFlags): Promise<void> {
  // `npm start` is a workstation: listen on loopback unless told otherwise. In a pod, all interfaces.
  const host = flags.host ?? (flags.dev ? '127.0.0.1' : '0.0.0.0');
  let certFile = flags.tlsCert;
  let keyFile = flags.tlsKey;
  let caFile: string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    process.stderr.write('meshlock serve: give both --tls-cert and --tls-key, or neither with --dev\n');
    process.exitCode = 2;
    return;
  }
  if (certFile === undefined) {
    if (!flags.dev) {
      process.stderr.write('meshlock serve: --tls-cert and --tls-key are required (the webhook serves HTTPS only); for a local try use --dev\n');
      process.exitCode = 2;
      return;
    }
    const dev = await ensureDevCertificates(flags.certsDir);
    certFile = dev.certFile;
    keyFile = dev.keyFile;
    caFile = dev.caFile;
  }
  const logger = pino({ name: 'meshlock', level: flags.logLevel });
  let server;
  try {
    server = await startServer({
      port: flags.port,
      host,
      certFile,
      keyFile: keyFile!,
      ...(flags.config !== undefined ? { configFile: flags.config } : {}),
      metricsPort: flags.metricsPort,
      metricsHost: flags.metricsHost ?? host,
      metricsNamespaceLabel: flags.metricsNamespaceLabel === true,
      logger,
    });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CertificateError) {
      process.stderr.write(`meshlock serve: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`meshlock serve: cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  exitOnSignals(server, logger);
  if (flags.dev && caFile !== undefined) process.stderr.write(tryItText(caFile, server.port, host));
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the admission webhook (POST /validate, POST /mutate, GET /healthz, GET /readyz) over HTTPS')
    .addOption(new Option('--port <port>', 'HTTPS port').default(8443).argParser(portNumber))
    .option('--host <address>', 'address to listen on (default 0.0.0.0; 127.0.0.1 with --dev)')
    .option('--tls-cert <file>', 'serving certificate (PEM); reloaded when the file changes')
    .option('--tls-key <file>', 'serving key (PEM); reloaded when the file changes')
    .option('--config <file>', 'meshlock config (YAML or JSON); reloaded when the file changes')
    .addOption(new Option('--metrics-port <port>', 'plain-HTTP Prometheus metrics port').default(9090).argParser(portNumber))
    .option('--metrics-host <address>', 'address for the metrics port (default: --host)')
    .option('--metrics-namespace-label', 'add a namespace label to meshlock_violations_total (unbounded cardinality)')
    .option('--dev', `without --tls-cert/--tls-key, use or create development certificates for 127.0.0.1/localhost in --certs-dir`)
    .option('--certs-dir <dir>', 'where --dev keeps its certificates', 'certs')
    .addOption(new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(serve);
}
