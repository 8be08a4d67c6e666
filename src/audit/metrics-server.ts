// The watching audit's plain-HTTP endpoint: /metrics (Prometheus text), /healthz (the process and
// its audit loop are alive) and /readyz (a first audit of the whole cluster has completed).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Probe {
  readonly ok: boolean;
  readonly detail: string;
}

export interface MetricsServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly healthz: () => Probe;
  readonly readyz: () => Probe;
}

export async function startMetricsServer(
  opts: MetricsServerOptions,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(text),
        (err: unknown) =>
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const p = path === '/healthz' ? opts.healthz() : opts.readyz();
      res.writeHead(p.ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${p.detail}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: /metrics, /healthz, /readyz\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
