export {
  buildApp,
  bounded,
  DEFAULT_BODY_LIMIT,
  DEFAULT_LIMITS,
  KEEP_ALIVE_TIMEOUT_MS,
  LOG_DECISIONS,
  NAME_LOG_MAX,
  TEXT_LOG_MAX,
  type App,
  type LogDecisions,
  type ServerLimits,
  type ServerState,
} from './app.js';
export { BodyBudget } from './body.js';
export {
  CertificateError,
  readServingPair,
  TLS_CIPHERS,
  TLS_OPTIONS,
  watchServingPair,
  type ServingPair,
} from './certs.js';
export { Metrics, METRIC_NAMES, startMetricsServer } from './metrics.js';
export {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_DELAY_MS,
  startServer,
  exitOnSignals,
  type RunningServer,
  type ServeOptions,
} from './run.js';
export { BatchedDestination, stdoutDestination, type LogSink } from './log-destination.js';
