// The HTTPS application: routes, body limits, timeouts and error mapping. It only translates: the
// decision comes from admit() (src/admission), which calls the engine.
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { admit, MeshlockHttpError, type DecisionRecord, type Webhook } from '../admission/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { BodyBudget, budgetedJsonParser } from './body.js';
import { TLS_OPTIONS, type ServingPair } from './certs.js';
import type { Metrics } from './metrics.js';

/** The apiserver may send an UPDATE of an object near etcd's 1.5 MiB limit as object and oldObject, JSON-escaped: up to ~7 MiB. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * The apiserver pools webhook connections and drops idle ones after 90 s (net/http IdleConnTimeout).
 * A server that closes first races a request being written on the connection it is closing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** The apiserver gives a webhook at most 30 s; a request still unread by then is a stuck client. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 10_000;
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * How often Node looks for connections past the header and request timeouts. Its default, 30 s,
 * let a 10 s header timeout fire after up to 40 s; each check walks the list of open connections
 * with a request in progress, which is cheap.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 500;
/**
 * Bytes of request bodies read at once, across connections: six of the largest reviews together (the
 * apiserver sends a few large ones at most), and a quarter kept for everyday reviews (body.ts). The
 * measured peaks (README, "Limits") stay under the Deployment's memory limit.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Connections open at once; more are closed as they arrive. The apiserver pools a few per replica
 * and per webhook; 2,000 idle TLS connections cost about 130 MiB (README, "Limits").
 */
export const DEFAULT_MAX_CONNECTIONS = 2_000;
/** Retry-After on a 503, in seconds. */
export const BUSY_RETRY_AFTER_S = 1;

/** Limits and timeouts of the server; tests shorten them. */
export interface ServerLimits {
  readonly bodyLimit: number;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly timeoutCheckIntervalMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  bodyLimit: DEFAULT_BODY_LIMIT,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  timeoutCheckIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
});

/** Which decisions get a log line: `findings` (default) all but clean allows; metrics count every request regardless. */
export type LogDecisions = 'findings' | 'all' | 'none';
export const LOG_DECISIONS: readonly LogDecisions[] = ['findings', 'all', 'none'];

/** What the routes read on every request. Replaced as a whole on reload, never mutated in place. */
export interface ServerState {
  config: ResolvedConfig;
  ready: boolean;
  /** Set on SIGTERM: /readyz fails, and every response closes its connection. */
  draining: boolean;
}

export interface AppOptions {
  readonly tls: ServingPair;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServerState;
  readonly bodyLimit?: number;
  readonly limits?: Partial<ServerLimits>;
  readonly logDecisions?: LogDecisions;
  /** The clock exemptions are judged against; tests fix it. Default: the system clock. */
  readonly clock?: () => Date;
}

const systemClock = (): Date => new Date();

/** Kubernetes names are at most 253 characters; anything longer in a log line is cut there. */
export const NAME_LOG_MAX = 253;
/** Free text (reasons, errors) in a log line or an error response. */
export const TEXT_LOG_MAX = 300;

/** `s` cut to `max` characters, marked as cut. Strings from a request are untrusted in length. */
export function bounded(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}...(${s.length - max} more)`;
}

/** A decision worth a line in `findings` mode: anything but a clean allow. */
function needsAttention(r: DecisionRecord): boolean {
  return r.decision !== 'allowed' || r.findings.length > 0 || r.mutations.length > 0 || r.error !== undefined;
}

function logDecision(logger: Logger, r: DecisionRecord, ms: number): void {
  // Identity and outcome only: object contents can hold secrets (env values, config maps). Names
  // come from the request and are bounded; rule ids and modes are meshlock's own.
  logger.info(
    {
      webhook: r.webhook,
      uid: bounded(r.uid, NAME_LOG_MAX),
      kind: bounded(r.kind, NAME_LOG_MAX),
      namespace: bounded(r.namespace, NAME_LOG_MAX),
      name: bounded(r.name, NAME_LOG_MAX),
      operation: bounded(r.operation, 32),
      decision: r.decision,
      rules: r.rules,
      mode: r.modes,
      // Rules an UPDATE kept from oldObject (ratcheting): allowed with a warning, never denied.
      ...(r.findings.some((f) => f.preExisting === true)
        ? { preExisting: r.findings.filter((f) => f.preExisting === true).map((f) => f.rule) }
        : {}),
      dryRun: r.dryRun,
      durationMs: Math.round(ms * 1000) / 1000,
      // Only in dry-run; label operations meshlock itself writes, no contents of the object.
      ...(r.wouldPatch !== undefined ? { wouldPatch: r.wouldPatch } : {}),
      ...(r.error !== undefined ? { error: bounded(r.error, TEXT_LOG_MAX) } : {}),
    },
    'admission decision',
  );
}

function webhookOf(url: string | undefined): Webhook | undefined {
  if (url === undefined) return undefined;
  if (url.startsWith('/validate')) return 'validate';
  if (url.startsWith('/mutate')) return 'mutate';
  return undefined;
}

/** Maps whatever went wrong before or outside a decision onto meshlock's error codes. */
export function toHttpError(err: FastifyError | Error, bodyLimit: number): MeshlockHttpError {
  if (err instanceof MeshlockHttpError) return err;
  const code = (err as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MeshlockHttpError('BODY_TOO_LARGE', String(bodyLimit));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MeshlockHttpError('EMPTY_BODY');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MeshlockHttpError('INVALID_JSON', 'the Content-Length does not match the body');
    default:
      break;
  }
  // Never the parser's message: it quotes the body.
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return new MeshlockHttpError('INVALID_JSON', 'syntax error');
  const status = (err as FastifyError).statusCode;
  if (status === 408) return new MeshlockHttpError('TIMEOUT');
  return new MeshlockHttpError('INTERNAL', bounded(err.message, TEXT_LOG_MAX));
}

/** When the request's headers were read: the start of its measured latency. */
const ARRIVED = Symbol('meshlock.arrived');
type Stamped = IncomingMessage & { [ARRIVED]?: number };

export type App = ReturnType<typeof buildApp>;

export function buildApp(opts: AppOptions) {
  const { logger, metrics, state } = opts;
  const limits: ServerLimits = {
    ...DEFAULT_LIMITS,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...opts.limits,
  };
  const bodyLimit = limits.bodyLimit;
  const budget = new BodyBudget(limits.maxBodyBytes);
  const clock = opts.clock ?? systemClock;
  const logAll = opts.logDecisions === 'all';
  const logNone = opts.logDecisions === 'none';
  const app = Fastify<HttpsServer>({
    // The server is made here rather than by fastify, to stamp each request's arrival before fastify
    // sees it (a property write: reply.elapsedTime would need an onResponse hook per request) and to
    // pass the options fastify does not: the timeout check interval and the connection cap.
    serverFactory: (handler: RequestListener) => {
      const server = createHttpsServer(
        {
          ...TLS_OPTIONS,
          cert: opts.tls.cert,
          key: opts.tls.key,
          handshakeTimeout: limits.handshakeTimeoutMs,
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
        },
        (req: IncomingMessage, res: ServerResponse) => {
          (req as Stamped)[ARRIVED] = performance.now();
          handler(req, res);
        },
      );
      server.maxConnections = limits.maxConnections;
      return server;
    },
    // Read by fastify only to name the protocol of its addresses; the server above holds the TLS options.
    https: {},
    // No logger for fastify itself: meshlock logs one line per decision and every error from its own
    // handlers. A fastify logger costs a child logger per request even with request logging off,
    // which bench/admission.mjs showed among the largest per-request costs.
    logger: false,
    bodyLimit,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Requests that arrive on a pooled connection while draining are still answered (with
    // Connection: close) rather than refused with 503, which the apiserver would count as a
    // webhook failure.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  // The apiserver always sends application/json; curl and other tools often send no or another
  // type. Every body is read as JSON whatever its type, by the parser `meshlock review` uses too,
  // within the body limit and the shared budget of body bytes (src/server/body.ts). It is
  // registered for application/json by name as well: fastify caches the parser found for a content
  // type, but not the catch-all, so a catch-all alone re-parses the Content-Type header of every
  // request.
  const jsonBody = budgetedJsonParser(bodyLimit, budget);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', jsonBody);
  app.addContentTypeParser('*', jsonBody);

  const decide = (webhook: Webhook, body: unknown, reply: FastifyReply) => {
    const { review, record } = admit(webhook, body, { config: state.config, now: clock() });
    // While draining, every answer closes its connection, so pooled clients reconnect to a replica
    // that stays (the Service no longer routes new connections here).
    if (state.draining) reply.header('connection', 'close');
    // send() serializes and writes synchronously: the time measured covers reading the body,
    // deciding and writing the answer.
    reply.send(review);
    const arrived = (reply.request.raw as Stamped)[ARRIVED];
    const ms = arrived === undefined ? 0 : performance.now() - arrived;
    metrics.decision(record, ms / 1000);
    if (!logNone && (logAll || needsAttention(record))) logDecision(logger, record, ms);
    return reply;
  };
  app.post('/validate', (request, reply) => decide('validate', request.body, reply));
  app.post('/mutate', (request, reply) => decide('mutate', request.body, reply));

  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_req, reply) => {
    if (state.ready && !state.draining) return reply.send({ status: 'ready' });
    return reply
      .code(503)
      .header('connection', 'close')
      .send({ status: state.draining ? 'draining' : 'starting' });
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new MeshlockHttpError('NOT_FOUND', `${request.method} ${request.url.slice(0, 100)}`);
    return reply.code(e.statusCode).send(e.toJSON());
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toHttpError(err, bodyLimit);
    const webhook = webhookOf(request.routeOptions.url);
    if (webhook) metrics.rejected(webhook, e.statusCode === 503 ? 'busy' : 'invalid');
    const url = bounded(request.url, NAME_LOG_MAX);
    if (e.statusCode === 503) {
      // The rest of the body is read and dropped (nothing is held) rather than the connection closed
      // under a client still writing it, which would see a reset instead of the 503 (fastify asks
      // for the close on every parser error).
      reply.removeHeader('connection').header('retry-after', String(BUSY_RETRY_AFTER_S));
      logger.warn({ code: e.code, url, bodyBytesInUse: budget.inUse }, 'request refused: body budget in use');
    } else if (e.statusCode >= 500) {
      // The message and the first frames of the stack: an error's message may quote its input.
      const stack = bounded((err.stack ?? '').split('\n').slice(1, 8).join('\n'), 2000);
      logger.error({ code: e.code, url, reason: bounded(err.message, TEXT_LOG_MAX), stack }, 'request failed');
    } else
      logger.warn(
        {
          code: e.code,
          url: bounded(request.routeOptions.url ?? url, NAME_LOG_MAX),
          reason: bounded(e.message, TEXT_LOG_MAX),
        },
        'request refused',
      );
    if (state.draining) reply.header('connection', 'close');
    return reply.code(e.statusCode).send(e.toJSON());
  });
  return app;
}
