// The HTTPS application: routes, body limits, timeouts and error mapping. It only translates: the
// decision comes from admit() (src/admission), which calls the engine.
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { admit, MeshlockHttpError, parseJsonBody, type DecisionRecord, type Webhook } from '../admission/index.js';
import type { ResolvedConfig } from '../config/index.js';
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

/** What the routes read on every request. Replaced as a whole on reload, never mutated in place. */
export interface ServerState {
  config: ResolvedConfig;
  ready: boolean;
  draining: boolean;
}

export interface AppOptions {
  readonly tls: ServingPair;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServerState;
  readonly bodyLimit?: number;
  /** The clock exemptions are judged against; tests fix it. Default: the system clock. */
  readonly clock?: () => Date;
}

const systemClock = (): Date => new Date();

function logDecision(logger: Logger, r: DecisionRecord, ms: number): void {
  // Identity and outcome only: object contents can hold secrets (env values, config maps).
  logger.info(
    {
      webhook: r.webhook,
      uid: r.uid,
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      operation: r.operation,
      decision: r.decision,
      rules: r.rules,
      mode: r.modes,
      dryRun: r.dryRun,
      durationMs: Math.round(ms * 1000) / 1000,
      // Only in dry-run; label operations meshlock itself writes, no contents of the object.
      ...(r.wouldPatch !== undefined ? { wouldPatch: r.wouldPatch } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
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
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new MeshlockHttpError('INVALID_JSON', err.message);
  const status = (err as FastifyError).statusCode;
  if (status === 408) return new MeshlockHttpError('TIMEOUT');
  return new MeshlockHttpError('INTERNAL', err.message);
}

export type App = ReturnType<typeof buildApp>;

export function buildApp(opts: AppOptions) {
  const { logger, metrics, state } = opts;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const clock = opts.clock ?? systemClock;
  const app = Fastify({
    https: { ...TLS_OPTIONS, cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
    // No logger for fastify itself: meshlock logs one line per decision and every error from its own
    // handlers. A fastify logger costs a child logger per request even with request logging off,
    // which bench/admission.mjs showed among the largest per-request costs.
    logger: false,
    bodyLimit,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Requests that arrive on a pooled connection while draining are still answered (with
    // Connection: close) rather than refused with 503, which the apiserver would count as a
    // webhook failure.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;

  // The apiserver always sends application/json; curl and other tools often send no or another
  // type. Every body is read as JSON whatever its type, by the parser `meshlock review` uses too.
  // It is registered for application/json by name as well: fastify caches the parser found for a
  // content type, but not the catch-all, so a catch-all alone re-parses the Content-Type header of
  // every request.
  const jsonBody = (_request: unknown, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, jsonBody);
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, jsonBody);

  const decide = (webhook: Webhook, body: unknown, reply: FastifyReply) => {
    const { review, record } = admit(webhook, body, { config: state.config, now: clock() });
    const ms = reply.elapsedTime;
    metrics.decision(record, ms / 1000);
    logDecision(logger, record, ms);
    return reply.send(review);
  };
  app.post('/validate', (request, reply) => decide('validate', request.body, reply));
  app.post('/mutate', (request, reply) => decide('mutate', request.body, reply));

  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', (_req, reply) => {
    if (state.ready && !state.draining) return reply.send({ status: 'ready' });
    return reply.code(503).send({ status: state.draining ? 'draining' : 'starting' });
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new MeshlockHttpError('NOT_FOUND', `${request.method} ${request.url.slice(0, 100)}`);
    return reply.code(e.statusCode).send(e.toJSON());
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toHttpError(err, bodyLimit);
    const webhook = webhookOf(request.routeOptions.url);
    if (webhook) metrics.rejected(webhook);
    if (e.statusCode >= 500) logger.error({ err, url: request.url }, 'request failed');
    else logger.warn({ code: e.code, url: request.routeOptions.url, reason: e.message.slice(0, 300) }, 'request refused');
    return reply.code(e.statusCode).send(e.toJSON());
  });
  return app;
}
