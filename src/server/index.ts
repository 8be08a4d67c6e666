export { buildApp, DEFAULT_BODY_LIMIT, KEEP_ALIVE_TIMEOUT_MS, type App, type ServerState } from './app.js';
export { CertificateError, readServingPair, watchServingPair, type ServingPair } from './certs.js';
export { Metrics, METRIC_NAMES, startMetricsServer } from './metrics.js';
export { startServer, exitOnSignals, type RunningServer, type ServeOptions } from './run.js';
export { BatchedDestination, stdoutDestination, type LogSink } from './log-destination.js';
