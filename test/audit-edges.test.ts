// The audit and edges (POLICY.md "Edges"): a port an edge permits shows as PERMISSIVE (edge: ...)
// and does not fail strictness; apiserver-backend-strict names every webhook configuration and
// APIService whose Service's meshed pods are STRICT on the called port, until a PeerAuthentication
// (or a capture exclusion) really relaxes it; and what an exemption lifts is shown as exempted.
import t from 'tap';
import { buildReport } from '../src/audit/build.js';
import { inventoryOf } from '../src/audit/inventory.js';
import type { AuditReport } from '../src/audit/model.js';
import { renderAuditMarkdown, renderAuditText } from '../src/report/audit-text.js';
import { renderAuditHtml } from '../src/report/html.js';
import { parseConfigText, resolveConfig } from '../src/config/index.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2026-06-01T12:00:00Z');
const NS = 'ingress-nginx';
const COMPONENT = { 'app.kubernetes.io/component': 'controller' };
const EDGE = `edges:\n  - namespace: ${NS}\n    selector: {matchLabels: {app.kubernetes.io/component: controller}}\n    ports: [8443]\n    reason: apiserver calls the admission webhook\n`;

function audit(objects: Obj[], configText = ''): AuditReport {
  const config = resolveConfig(parseConfigText(configText), 'meshlock');
  return buildReport(
    inventoryOf(structuredClone(objects)),
    { config, now: NOW },
    { source: { type: 'file', name: 'test' } },
  );
}

const ns = (name: string, labels: Record<string, string> = { 'istio-injection': 'enabled' }): Obj => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});
const pa = (namespace: string, name: string, spec: Obj, created = '2026-01-01T00:00:00Z'): Obj => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace, creationTimestamp: created },
  spec,
});
const MESH_STRICT = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });

function controllerPod(
  name: string,
  opts: {
    meshed?: boolean;
    annotations?: Record<string, string>;
    namespace?: string;
    labels?: Record<string, string>;
  } = {},
): Obj {
  const containers: Obj[] = [
    {
      name: 'controller',
      image: 'registry.example/ingress-nginx:1.11',
      ports: [
        { name: 'webhook', containerPort: 8443 },
        { name: 'metrics', containerPort: 10254 },
      ],
    },
  ];
  if (opts.meshed !== false) containers.push({ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.27.0' });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? NS,
      labels: {
        'app.kubernetes.io/name': 'ingress-nginx',
        ...COMPONENT,
        'sidecar.istio.io/inject': 'true',
        'pod-template-hash': '5d8f7c9b4',
        ...(opts.labels ?? {}),
      },
      annotations: {
        ...(opts.meshed !== false ? { 'sidecar.istio.io/status': '{"revision":"default"}' } : {}),
        ...(opts.annotations ?? {}),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'ingress-nginx-controller-5d8f7c9b4',
          uid: 'u1',
          controller: true,
        },
      ],
    },
    spec: { containers },
    status: { phase: 'Running' },
  };
}

const SERVICE: Obj = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'ingress-nginx-controller-admission', namespace: NS },
  spec: { selector: { ...COMPONENT }, ports: [{ name: 'https-webhook', port: 443, targetPort: 'webhook' }] },
};
const WEBHOOK: Obj = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'ingress-nginx-admission' },
  webhooks: [
    {
      name: 'validate.nginx.ingress.kubernetes.io',
      clientConfig: {
        service: { namespace: NS, name: 'ingress-nginx-controller-admission', path: '/networking/v1/ingresses' },
      },
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
    },
  ],
};
const METRICS_SERVICE: Obj = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'custom-metrics-apiserver', namespace: 'custom-metrics' },
  spec: { selector: { app: 'custom-metrics' }, ports: [{ port: 443, targetPort: 6443 }] },
};
const API_SERVICE: Obj = {
  apiVersion: 'apiregistration.k8s.io/v1',
  kind: 'APIService',
  metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
  spec: {
    group: 'custom.metrics.k8s.io',
    version: 'v1beta1',
    service: { namespace: 'custom-metrics', name: 'custom-metrics-apiserver' },
    groupPriorityMinimum: 100,
    versionPriority: 100,
  },
};
const metricsPod: Obj = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'custom-metrics-0',
    namespace: 'custom-metrics',
    labels: { app: 'custom-metrics' },
    annotations: { 'sidecar.istio.io/status': '{}' },
  },
  spec: {
    containers: [
      { name: 'adapter', image: 'registry.example/adapter:1' },
      { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.27.0' },
    ],
  },
  status: { phase: 'Running' },
};

const BASE: Obj[] = [
  ns('istio-system', {}),
  MESH_STRICT,
  ns(NS),
  controllerPod('c-1'),
  controllerPod('c-2'),
  SERVICE,
  WEBHOOK,
  ns('custom-metrics'),
  metricsPod,
  METRICS_SERVICE,
  API_SERVICE,
];
const backend = (r: AuditReport) => r.findings.filter((f) => f.rule === 'apiserver-backend-strict');

t.test(
  'a webhook and an APIService whose meshed pods are STRICT on the called port are apiserver-backend-strict errors',
  async (t) => {
    const r = audit(BASE);
    const found = backend(r);
    t.same(found.map((f) => [f.kind, f.name, f.severity]).sort(), [
      ['APIService', 'v1beta1.custom.metrics.k8s.io', 'error'],
      ['ValidatingWebhookConfiguration', 'ingress-nginx-admission', 'error'],
    ]);
    const hook = found.find((f) => f.kind === 'ValidatingWebhookConfiguration')!;
    t.match(
      hook.message,
      /port 443, whose pods \(Deployment ingress-nginx-controller\) are meshed with port 8443 effectively STRICT/,
      'the named target port is resolved to the container port',
    );
    t.match(
      hook.fix,
      /add an edges entry \{namespace: ingress-nginx, selector: \{matchLabels: \{app\.kubernetes\.io\/component: controller\}\}, ports: \[8443\]/,
    );
    t.match(hook.fix, /portLevelMtls \{8443: \{mode: PERMISSIVE\}\}/);
    t.match(found.find((f) => f.kind === 'APIService')!.message, /port 6443 effectively STRICT/);
  },
);

t.test(
  'an edge alone does not lift the finding; its fix names the edge and the PeerAuthentication to write',
  async (t) => {
    const hook = backend(audit(BASE, EDGE)).find((f) => f.kind === 'ValidatingWebhookConfiguration');
    t.ok(hook, 'still reported');
    t.match(
      hook?.fix,
      /^edges\[0\] \("apiserver calls the admission webhook"\) permits it: apply a PeerAuthentication in ingress-nginx with selector\.matchLabels \{app\.kubernetes\.io\/component: controller\}/,
    );
  },
);

t.test(
  'with the edge and a PeerAuthentication relaxing exactly that port: no finding, and the port shows as PERMISSIVE (edge: ...)',
  async (t) => {
    const relax = pa(NS, 'controller-webhook', {
      selector: { matchLabels: COMPONENT },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8443: { mode: 'PERMISSIVE' } },
    });
    const r = audit([...BASE, relax], EDGE);
    t.same(
      backend(r).map((f) => f.kind),
      ['APIService'],
      'only the APIService is left',
    );
    t.notOk(
      r.findings.some((f) => f.rule === 'pa-port-mode'),
      'the PeerAuthentication passes pa-port-mode',
    );
    const w = r.workloads.find((x) => x.name === 'ingress-nginx-controller')!;
    t.same(w.ports, { 8443: 'PERMISSIVE' });
    t.same(w.edges, { 8443: 'apiserver calls the admission webhook' });
    t.equal(w.strict, true, 'an edge port is not a strictness failure');
    t.equal(w.effectiveMtls, 'STRICT');
    t.notOk(r.findings.some((f) => f.rule === 'workload-not-strict' && f.name === 'ingress-nginx-controller'));
    t.match(renderAuditText(r, false), '8443=PERMISSIVE (edge: apiserver calls the admission webhook)');
    t.match(renderAuditMarkdown(r), 'port 8443: PERMISSIVE (edge: apiserver calls the admission webhook)');

    // Without the edge the same PeerAuthentication is a violation and the port a strictness failure.
    const bare = audit([...BASE, relax]);
    t.ok(
      bare.findings.some((f) => f.rule === 'pa-port-mode'),
      'pa-port-mode without the edge',
    );
    // One finding per root cause: the workload's strictness failure is listed under the port's PeerAuthentication.
    t.ok(
      bare.findings.some(
        (f) =>
          f.rule === 'pa-port-mode' &&
          f.effects?.some((e) => e.rule === 'workload-not-strict' && e.name === 'ingress-nginx-controller'),
      ),
      'workload-not-strict without the edge',
    );
    t.same(
      backend(bare).map((f) => f.kind),
      ['APIService'],
      'the port is relaxed, so the apiserver can call it',
    );
  },
);

t.test('an expired edge shows nothing as an edge', async (t) => {
  const relax = pa(NS, 'controller-webhook', {
    selector: { matchLabels: COMPONENT },
    mtls: { mode: 'STRICT' },
    portLevelMtls: { 8443: { mode: 'PERMISSIVE' } },
  });
  const r = audit([...BASE, relax], `${EDGE}    expires: 2026-05-01\n`);
  const w = r.workloads.find((x) => x.name === 'ingress-nginx-controller')!;
  t.equal(w.edges, undefined);
  t.equal(w.strict, false);
});

t.test('pods outside the mesh, or with the port excluded from capture, are reachable: no finding', async (t) => {
  const unmeshed = audit([
    ns('istio-system', {}),
    MESH_STRICT,
    ns(NS, {}),
    controllerPod('c-1', { meshed: false }),
    SERVICE,
    WEBHOOK,
  ]);
  t.same(backend(unmeshed), [], 'not meshed');
  const excluded = audit(
    [
      ns('istio-system', {}),
      MESH_STRICT,
      ns(NS),
      controllerPod('c-1', { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '8443' } }),
      SERVICE,
      WEBHOOK,
    ],
    EDGE,
  );
  t.same(backend(excluded), [], 'excludeInboundPorts names the port');
  const otherPort = audit([
    ns('istio-system', {}),
    MESH_STRICT,
    ns(NS),
    controllerPod('c-1', { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '10254' } }),
    SERVICE,
    WEBHOOK,
  ]);
  t.equal(backend(otherPort).length, 1, 'excluding another port changes nothing');
  const noMeshPolicy = audit([ns('istio-system', {}), ns(NS), controllerPod('c-1'), SERVICE, WEBHOOK]);
  t.same(backend(noMeshPolicy), [], 'no PeerAuthentication: Istio defaults to PERMISSIVE');
});

t.test(
  'a workload exemption is shown as exempted, never as an error beside an exemption the report calls used',
  async (t) => {
    const exporter: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'node-exporter-x1',
        namespace: 'monitoring',
        labels: { app: 'node-exporter' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-exporter', uid: 'd1', controller: true },
        ],
      },
      spec: { hostNetwork: true, containers: [{ name: 'exporter', image: 'registry.example/node-exporter:1.8' }] },
      status: { phase: 'Running' },
    };
    const config =
      'exemptions:\n  - {namespace: monitoring, kind: DaemonSet, name: node-exporter, rules: [pod-host-network], reason: host metrics}\n';
    const r = audit([ns('istio-system', {}), MESH_STRICT, ns('monitoring'), exporter], config);
    const about = (rule: string) => r.findings.filter((f) => f.name === 'node-exporter' && f.rule === rule);
    t.same(about('workload-not-meshed'), [], 'no workload-not-meshed error');
    t.same(about('pod-host-network'), [], 'no pod-host-network error');
    // One finding per root cause: not meshed because of hostNetwork, listed under it.
    t.same(
      (r.exempted ?? [])
        .map((f) => [f.rule, f.kind, f.name, f.exemption.index, (f.effects ?? []).map((e) => e.rule)])
        .sort(),
      [['pod-host-network', 'DaemonSet', 'node-exporter', 0, ['workload-not-meshed']]],
    );
    t.ok((r.exemptions[0]?.used ?? 0) > 0, 'the exemption is reported as used');
    t.equal(r.summary.findings.error, 0, 'nothing counted as an error');
    t.match(
      renderAuditText(r, false),
      /Exempted findings \(not counted in the verdict\)\n {2}\[exempted pod-host-network\] Deployment|DaemonSet monitoring\/node-exporter: .*\n {6}by exemptions\[0\].*: host metrics/,
    );
    t.match(
      renderAuditMarkdown(r),
      /## Exempted findings\n\n\| rule \| severity \| object \| message \| exemption \| owner \| expires \| reason \|/,
    );
    t.match(renderAuditHtml(r), /<h2>Exempted findings<\/h2>/);
    t.equal(r.verdict.result, 'PASS', 'the verdict passes: the only error is exempted');
    // Without the exemption the root cause is an error, the workload out of the mesh its effect.
    const bare = audit([ns('istio-system', {}), MESH_STRICT, ns('monitoring'), exporter]);
    t.ok(
      bare.findings.some(
        (f) =>
          f.rule === 'pod-host-network' &&
          f.name === 'node-exporter' &&
          f.severity === 'error' &&
          f.effects?.some((e) => e.rule === 'workload-not-meshed'),
      ),
    );
    t.equal(bare.verdict.result, 'FAIL');
  },
);
