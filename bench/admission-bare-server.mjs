// The floor of the stack: fastify over HTTPS that reads the JSON body and answers a fixed allowed
// AdmissionReview. Same TLS, same body parsing, no policy. Usage: node admission-bare-server.mjs PORT CERT KEY
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [port, cert, key] = process.argv.slice(2);
const app = Fastify({
  https: { cert: readFileSync(cert), key: readFileSync(key) },
  keepAliveTimeout: 120_000,
  bodyLimit: 8 * 1024 * 1024,
});
const fixed = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'fixed', allowed: true } };
app.post('/validate', (_req, reply) => reply.send(fixed));
app.post('/mutate', (_req, reply) => reply.send(fixed));
app.get('/readyz', (_req, reply) => reply.send({ status: 'ready' }));
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
