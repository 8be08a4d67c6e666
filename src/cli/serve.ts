// `meshlock serve`: the admission webhook over HTTPS, metrics over plain HTTP on another port.
import { relative } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import { ConfigError } from '../config/index.js';
import {
  CertificateError,
  DEFAULT_LIMITS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_DELAY_MS,
  LOG_DECISIONS,
  exitOnSignals,
  startServer,
  stdoutDestination,
  type LogDecisions,
} from '../server/index.js';
import type { SelfManagedCertificates } from '../tls/index.js';

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
  selfManageCerts?: boolean;
  certSecret: string;
  service: string;
  logDecisions: LogDecisions;
  shutdownDelay: number;
  drainTimeout: number;
  maxConnections: number;
  maxBodyMemory: number;
}

const LOG_FLUSH_MS = 250;

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n > 3600) throw new InvalidArgumentError('must be a number of seconds, 0..3600');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1_000_000)
    throw new InvalidArgumentError('must be a whole number, 1..1000000');
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
  let selfManaged: SelfManagedCertificates | undefined;
  if (flags.selfManageCerts) {
    if (certFile === undefined || keyFile === undefined) {
      process.stderr.write(
        'meshlock serve: --self-manage-certs needs --tls-cert and --tls-key (where it writes the certificate)\n',
      );
      process.exitCode = 2;
      return;
    }
    try {
      // In-cluster bootstrap: the certificate Secret is the single source of truth for every replica.
      const { selfManageCertificates } = await import('../tls/index.js');
      selfManaged = await selfManageCertificates({
        certFile,
        keyFile,
        namespace: process.env['POD_NAMESPACE'] ?? 'meshlock',
        secretName: flags.certSecret,
        service: flags.service,
      });
    } catch (err) {
      process.stderr.write(`meshlock serve: certificate bootstrap failed: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
  }
  if (certFile === undefined) {
    if (!flags.dev) {
      process.stderr.write(
        'meshlock serve: --tls-cert and --tls-key are required (the webhook serves HTTPS only); for a local try use --dev\n',
      );
      process.exitCode = 2;
      return;
    }
    // Imported only here: node-forge is not needed on a production server.
    const { ensureDevCertificates } = await import('../tls/dev.js');
    const dev = await ensureDevCertificates(flags.certsDir);
    certFile = dev.certFile;
    keyFile = dev.keyFile;
    caFile = dev.caFile;
  }
  // Batched asynchronous stdout (see src/server/log-destination.ts): lines go out in batches, at
  // least every LOG_FLUSH_MS, and what is left is written when the process exits.
  const logger = pino({ name: 'meshlock', level: flags.logLevel }, stdoutDestination({ intervalMs: LOG_FLUSH_MS }));
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
      logDecisions: flags.logDecisions,
      shutdownDelayMs: flags.shutdownDelay * 1000,
      drainTimeoutMs: flags.drainTimeout * 1000,
      limits: { maxConnections: flags.maxConnections, maxBodyBytes: flags.maxBodyMemory * 1024 * 1024 },
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
  selfManaged?.startRenewal((err) => logger.error({ err }, 'certificate renewal failed'));
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
    .option('-c, --config <file>', 'meshlock config (YAML or JSON); reloaded when the file changes')
    .addOption(
      new Option('--metrics-port <port>', 'plain-HTTP Prometheus metrics port').default(9090).argParser(portNumber),
    )
    .option('--metrics-host <address>', 'address for the metrics port (default: --host)')
    .option('--metrics-namespace-label', 'add a namespace label to meshlock_violations_total (unbounded cardinality)')
    .option(
      '--dev',
      `without --tls-cert/--tls-key, use or create development certificates for 127.0.0.1/localhost in --certs-dir`,
    )
    .option('--certs-dir <dir>', 'where --dev keeps its certificates', 'certs')
    .option(
      '--self-manage-certs',
      'in a cluster: keep the serving certificate in a Secret, issue or renew it, and inject the CA into the webhook configurations',
    )
    .option('--cert-secret <name>', 'Secret holding the certificate with --self-manage-certs', 'meshlock-tls')
    .option('--service <name>', "meshlock's Service name, for the certificate's DNS names", 'meshlock')
    .addOption(
      new Option(
        '--log-decisions <which>',
        'decision log lines: findings (denials, warnings, dry-run findings, mutations, errors), all (adds clean allows), none; metrics count every request',
      )
        .choices([...LOG_DECISIONS])
        .default('findings'),
    )
    .addOption(
      new Option(
        '--shutdown-delay <seconds>',
        'on SIGTERM, keep serving this long with /readyz failing, so the Service stops routing here first',
      )
        .default(DEFAULT_SHUTDOWN_DELAY_MS / 1000)
        .argParser(seconds),
    )
    .addOption(
      new Option(
        '--drain-timeout <seconds>',
        'then, how long requests in flight get to finish before their connections are cut',
      )
        .default(DEFAULT_DRAIN_TIMEOUT_MS / 1000)
        .argParser(seconds),
    )
    .addOption(
      new Option('--max-connections <n>', 'connections open at once; more are closed on arrival')
        .default(DEFAULT_LIMITS.maxConnections)
        .argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--max-body-memory <MiB>',
        'MiB of request bodies read at once across connections; past it requests get 503 with Retry-After',
      )
        .default(DEFAULT_LIMITS.maxBodyBytes / (1024 * 1024))
        .argParser(positiveInt),
    )
    .addOption(
      new Option('--log-level <level>', 'pino log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(serve);
}
