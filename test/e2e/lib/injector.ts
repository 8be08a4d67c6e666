// A stand-in for Istio's sidecar injector, shaped as istiod installs it (configuration
// "istio-sidecar-injector", webhooks "namespace.sidecar-injector.istio.io" and
// "object.sidecar-injector.istio.io" with the same namespace/object selectors and
// reinvocationPolicy: Never, from Istio's istiod chart mutatingwebhook.yaml), served by a
// tiny HTTPS server in this process that adds an istio-proxy container the way the real one
// does. Only the webhook's registration has to be Istio's: what the ordering test proves
// is which objects the apiserver sends it.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Manifest } from './kubectl.js';
import type { Certs } from './meshlock.js';

export const INJECTOR_CONFIG = 'istio-sidecar-injector';

export interface Injector {
  port: number;
  calls: { webhook: string; namespace: string; name: string; labels: Record<string, string> }[];
  config(): Manifest;
  close(): Promise<void>;
}

interface Review {
  apiVersion: string;
  kind: string;
  request: {
    uid: string;
    namespace?: string;
    object: {
      metadata?: { name?: string; generateName?: string; labels?: Record<string, string> };
      spec?: { initContainers?: unknown[] };
    };
  };
}

export async function startInjector(certs: Certs): Promise<Injector> {
  const calls: Injector['calls'] = [];
  const server: Server = createServer(
    { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) },
    (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        const review = JSON.parse(body) as Review;
        const obj = review.request.object;
        calls.push({
          webhook: (req.url ?? '').split('?')[0] ?? '', // the apiserver appends ?timeout=10s
          namespace: review.request.namespace ?? '',
          name: obj.metadata?.name ?? obj.metadata?.generateName ?? '',
          labels: obj.metadata?.labels ?? {},
        });
        const patch: unknown[] = [
          {
            op: 'add',
            path: '/spec/containers/-',
            value: {
              name: 'istio-proxy',
              image: 'registry.invalid/istio/proxyv2:e2e',
              securityContext: { runAsUser: 1337, runAsGroup: 1337 },
            },
          },
        ];
        const init = {
          name: 'istio-init',
          image: 'registry.invalid/istio/proxyv2:e2e',
          securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        };
        patch.push(
          obj.spec?.initContainers
            ? { op: 'add', path: '/spec/initContainers/-', value: init }
            : { op: 'add', path: '/spec/initContainers', value: [init] },
        );
        patch.push({
          op: 'add',
          path: '/metadata/annotations',
          value: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' },
        });
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            // Answer in the version asked (the apiserver picks the first of admissionReviewVersions it speaks).
            apiVersion: review.apiVersion,
            kind: review.kind,
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            },
          }),
        );
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const caBundle = Buffer.from(certs.caPem).toString('base64');

  const common = (path: string) => ({
    admissionReviewVersions: ['v1beta1', 'v1'],
    clientConfig: { url: `https://127.0.0.1:${port}${path}`, caBundle },
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    reinvocationPolicy: 'Never',
    sideEffects: 'None',
    timeoutSeconds: 10,
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
  });

  return {
    port,
    calls,
    config: () => ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: INJECTOR_CONFIG, labels: { app: 'sidecar-injector', 'istio.io/rev': 'default' } },
      webhooks: [
        {
          name: 'namespace.sidecar-injector.istio.io',
          ...common('/inject/ns'),
          namespaceSelector: {
            matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }],
          },
          objectSelector: {
            matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }],
          },
        },
        {
          name: 'object.sidecar-injector.istio.io',
          ...common('/inject/object'),
          namespaceSelector: {
            matchExpressions: [
              { key: 'istio-injection', operator: 'DoesNotExist' },
              { key: 'istio.io/rev', operator: 'DoesNotExist' },
            ],
          },
          objectSelector: {
            matchExpressions: [
              { key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] },
              { key: 'istio.io/rev', operator: 'DoesNotExist' },
            ],
          },
        },
      ],
    }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
