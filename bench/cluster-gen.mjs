// A large generated cluster for the audit benchmarks: NS namespaces (one in ten not enrolled, one in
// ten ambient, the rest sidecar-injected), PODS pods in Deployments of five with their ReplicaSets,
// namespace and workload PeerAuthentications (some PERMISSIVE, some with a PERMISSIVE port), and
// DestinationRules (some DISABLE). Objects as `kubectl get -o json` lists them.
const PODS_PER_DEPLOY = 5;

function hash(i) {
  return ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 8) + 'xy';
}

export function generateCluster(NS, PODS) {
  const items = [];
  const perNs = Math.ceil(PODS / NS);
  items.push({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { mtls: { mode: 'STRICT' } },
  });
  let pod = 0;
  for (let n = 0; n < NS; n++) {
    const ns = `team-${n}`;
    const labels =
      n % 10 === 0 ? {} : n % 10 === 1 ? { 'istio.io/dataplane-mode': 'ambient' } : { 'istio-injection': 'enabled' };
    items.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, ...labels } },
    });
    if (n % 7 === 0)
      items.push({
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'ns', namespace: ns, creationTimestamp: '2025-01-01T00:00:00Z' },
        spec: { mtls: { mode: n % 14 === 0 ? 'PERMISSIVE' : 'STRICT' } },
      });
    if (n % 11 === 0)
      items.push({
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'app-0', namespace: ns, creationTimestamp: '2025-02-01T00:00:00Z' },
        spec: {
          selector: { matchLabels: { app: 'app-0' } },
          mtls: { mode: 'STRICT' },
          portLevelMtls: { 8080: { mode: 'PERMISSIVE' } },
        },
      });
    if (n % 13 === 0)
      items.push({
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'plain', namespace: ns },
        spec: { host: `app-0.${ns}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'DISABLE' } } },
      });
    items.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'mutual', namespace: ns },
      spec: { host: `*.${ns}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
    });
    for (let d = 0; d * PODS_PER_DEPLOY < perNs && pod < PODS; d++) {
      const app = `app-${d}`;
      const h = hash(n * 1000 + d);
      const tpl = {
        metadata: { labels: { app } },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }] },
      };
      items.push({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app, namespace: ns, uid: `d-${n}-${d}`, labels: { app } },
        spec: { replicas: PODS_PER_DEPLOY, selector: { matchLabels: { app } }, template: tpl },
      });
      items.push({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${app}-${h}`,
          namespace: ns,
          labels: { app, 'pod-template-hash': h },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: `d-${n}-${d}`, controller: true },
          ],
        },
        spec: { replicas: PODS_PER_DEPLOY, selector: { matchLabels: { app } }, template: tpl },
      });
      for (let p = 0; p < PODS_PER_DEPLOY && pod < PODS; p++, pod++) {
        const injected = labels['istio-injection'] === 'enabled' && !(n % 17 === 0 && d === 0);
        const containers = [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }];
        if (injected)
          containers.push({
            name: 'istio-proxy',
            image: 'docker.io/istio/proxyv2:1.28.0',
            args: ['proxy', 'sidecar'],
            securityContext: { runAsUser: 1337 },
          });
        items.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `${app}-${h}-${p.toString(36).padStart(5, 'a')}`,
            namespace: ns,
            labels: { app, 'pod-template-hash': h, ...(injected ? { 'security.istio.io/tlsMode': 'istio' } : {}) },
            annotations: injected ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : {},
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${h}`, controller: true }],
          },
          spec: {
            containers,
            ...(injected
              ? {
                  initContainers: [
                    {
                      name: 'istio-init',
                      image: 'docker.io/istio/proxyv2:1.28.0',
                      securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
                    },
                  ],
                }
              : {}),
          },
          status: { phase: 'Running' },
        });
      }
    }
  }
  return items;
}
