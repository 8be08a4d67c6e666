// Starting and stopping the webhook: load config and certificate, listen, watch both files for
// changes, and drain on shutdown.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { ConfigError } from '../config/index.js';
import { defaultConfig, loadConfigFile, type ResolvedConfig } from '../config/index.js';
import { watchConfig } from '../config/watch.js';
import type { Watcher } from '../watch/files.js';
import { buildApp, type App, type LogDecisions, type ServerLimits, type ServerState } from './app.js';
import { TLS_OPTIONS, readServingPair, watchServingPair } from './certs.js';
import { Metrics, startMetricsServer } from './metrics.js';

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly configFile?: string;
  /** Plain-HTTP metrics port; null for none. 0 picks a free port (tests). */
  readonly metricsPort: number | null;
  readonly metricsHost?: string;
  readonly metricsNamespaceLabel?: boolean;
  readonly logger?: Logger;
  /** Polling interval for config and certificate files (fallback to fs events). Default 10 s. */
  readonly watchIntervalMs?: number;
  readonly bodyLimit?: number;
  /** Caps and timeouts; each defaults to DEFAULT_LIMITS' value. */
  readonly limits?: Partial<ServerLimits>;
  /** Which decisions get a log line. Default `findings`. */
  readonly logDecisions?: LogDecisions;
  /**
   * On shutdown(): how long to keep serving after /readyz starts failing, while the endpoints
   * controller and every kube-proxy take the pod out of the Service. Default 5 s.
   */
  readonly shutdownDelayMs?: number;
  /** How long requests in flight get to finish once the listener is closed; then their connections are cut. Default 15 s. */
  readonly drainTimeoutMs?: number;
  /** The clock exemptions are judged against (tests). */
  readonly clock?: () => Date;
}

export const DEFAULT_SHUTDOWN_DELAY_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 15_000;
/** While draining, connections that became idle are closed this often. */
const IDLE_REAP_MS = 250;

export interface RunningServer {
  readonly app: App;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly metrics: Metrics;
  readonly state: ServerState;
  /** Stops accepting, finishes requests in flight, stops watching. Idempotent. */
  close(): Promise<void>;
  /**
   * The pod's way out: /readyz fails at once and every answer closes its connection; the server
   * keeps serving for the shutdown delay, then close(). Idempotent.
   */
  shutdown(): Promise<void>;
}

function logConfigError(logger: Logger, err: ConfigError, what: string): void {
  logger.error({ file: err.source, issues: err.issues.length }, what);
  for (const issue of err.issues)
    logger.error({ file: err.source, path: issue.path }, `config error at ${issue.path}: ${issue.message}`);
}

/** Throws ConfigError or CertificateError when the server cannot start; both name what to fix. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const logger = opts.logger ?? pino({ name: 'meshlock' });
  const config: ResolvedConfig = opts.configFile ? loadConfigFile(opts.configFile) : defaultConfig();
  const tls = readServingPair(opts.certFile, opts.keyFile);
  const metrics = new Metrics({ namespaceLabel: opts.metricsNamespaceLabel === true });
  const state: ServerState = { config, ready: false, draining: false };
  const shutdownDelayMs = opts.shutdownDelayMs ?? DEFAULT_SHUTDOWN_DELAY_MS;
  const drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const app = buildApp({
    tls,
    logger,
    metrics,
    state,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.logDecisions ? { logDecisions: opts.logDecisions } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  app.server.on('drop', () => metrics.connectionDropped());

  const watchOpts = opts.watchIntervalMs !== undefined ? { intervalMs: opts.watchIntervalMs } : {};
  const watchers: Watcher[] = [];
  if (opts.configFile) {
    watchers.push(
      watchConfig(
        opts.configFile,
        {
          onReload: (next) => {
            // Swapped as a whole: a request in flight keeps the config it started with.
            state.config = next;
            metrics.configReload(true);
            logger.info({ file: opts.configFile, mode: next.mode }, 'config reloaded');
          },
          onInvalid: (err) => {
            metrics.configReload(false);
            logConfigError(logger, err, 'config reload refused, keeping the previous config');
          },
        },
        watchOpts,
      ),
    );
  }
  watchers.push(
    watchServingPair(
      opts.certFile,
      opts.keyFile,
      {
        onReload: (pair) => {
          app.server.setSecureContext({ ...TLS_OPTIONS, cert: pair.cert, key: pair.key });
          metrics.certReload(true);
          logger.info({ certFile: opts.certFile }, 'serving certificate reloaded');
        },
        onInvalid: (err) => {
          metrics.certReload(false);
          logger.warn(
            { certFile: opts.certFile, reason: err.message },
            'serving certificate not reloaded, keeping the previous one',
          );
        },
      },
      watchOpts,
    ),
  );

  let metricsServer: Server | undefined;
  try {
    await app.listen({ port: opts.port, host: opts.host });
    if (opts.metricsPort !== null)
      metricsServer = await startMetricsServer(metrics, opts.metricsPort, opts.metricsHost ?? opts.host);
  } catch (err) {
    for (const w of watchers) w.close();
    await app.close();
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  state.ready = true;
  logger.info({ port, host: opts.host, metricsPort, config: opts.configFile ?? '(defaults)' }, 'meshlock listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state.draining = true;
      for (const w of watchers) w.close();
      const server = app.server;
      // fastify.close stops accepting, closes idle keep-alive connections and waits for requests in
      // flight; their answers carry Connection: close (state.draining). A connection that turns idle
      // afterwards without one (a probe, a 404) is closed by the reaper; whatever is still open at
      // the drain deadline (a client stalled mid-request) is cut.
      const reaper = setInterval(() => server.closeIdleConnections(), IDLE_REAP_MS);
      const deadline = setTimeout(() => {
        logger.warn({ afterMs: drainTimeoutMs }, 'drain deadline reached, closing the remaining connections');
        server.closeAllConnections();
      }, drainTimeoutMs);
      try {
        await app.close();
      } finally {
        clearInterval(reaper);
        clearTimeout(deadline);
      }
      if (metricsServer) {
        const s = metricsServer;
        await new Promise<void>((r) => s.close(() => r()));
        s.closeAllConnections();
      }
    })();
    return closing;
  };
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      state.draining = true;
      if (shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, shutdownDelayMs));
      await close();
    })();
    return shuttingDown;
  };
  return { app, port, metricsPort, metrics, state, close, shutdown };
}

/** SIGTERM (kubelet) and SIGINT (Ctrl-C): drain, then exit 0. A second signal exits at once. */
export function exitOnSignals(server: RunningServer, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting without draining');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests in flight');
    server.shutdown().then(
      () => {
        logger.info('shut down');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
