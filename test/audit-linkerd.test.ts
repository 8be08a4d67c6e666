// The audit of a Linkerd 2 cluster (docs/POLICY-LINKERD.md (d)): meshed or not and why in the
// injector's own words, the effective inbound policy per workload and port with the authorizations
// that admit plaintext named, iptables-skipped ports, pods of enrolled namespaces without a proxy,
// proxy version skew, and every report format showing it.
import t from 'tap';
import { buildReport } from '../src/audit/build.js';
import { inventoryOf } from '../src/audit/inventory.js';
import type { AuditReport, WorkloadRow } from '../src/audit/model.js';
import { AUDIT_FORMATS, renderAudit } from '../src/report/audit.js';
import { parseConfigText, resolveConfig } from '../src/config/index.js';

type Obj = Record<string, unknown>;
const NOW = new Date('2026-06-01T12:00:00Z');
const VERSION = 'edge-26.8.3';

const ns = (name: string, annotations: Record<string, string> = {}, labels: Record<string, string> = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, annotations },
});

interface PodSpec {
  ns: string;
  app: string;
  injected?: boolean;
  annotations?: Record<string, string>;
  ports?: number[];
  hostNetwork?: boolean;
  version?: string;
  probe?: string;
}

/** A Deployment's ReplicaSet and one Pod, injected as Linkerd's proxy-injector would do it. */
function workload(p: PodSpec): Obj[] {
  const rs = `${p.app}-5d4f8`;
  const ports = (p.ports ?? [8080]).map((containerPort, i) => ({
    name: i === 0 ? 'http' : `p${containerPort}`,
    containerPort,
    protocol: 'TCP',
  }));
  const app: Obj = {
    name: p.app,
    image: 'nginx',
    ports,
    ...(p.probe ? { readinessProbe: { httpGet: { path: p.probe, port: 'http' } } } : {}),
  };
  const injected = p.injected ?? true;
  const annotations = {
    'linkerd.io/inject': 'enabled',
    ...(injected
      ? {
          'linkerd.io/created-by': `linkerd/proxy-injector ${p.version ?? VERSION}`,
          'linkerd.io/proxy-version': p.version ?? VERSION,
        }
      : {}),
    ...p.annotations,
  };
  const labels = {
    app: p.app,
    'pod-template-hash': '5d4f8',
    ...(injected ? { 'linkerd.io/control-plane-ns': 'linkerd' } : {}),
  };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: p.app, namespace: p.ns, uid: `d-${p.app}` },
      spec: {
        selector: { matchLabels: { app: p.app } },
        template: {
          metadata: { labels: { app: p.app }, annotations: { 'linkerd.io/inject': 'enabled' } },
          spec: { containers: [app] },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: rs,
        namespace: p.ns,
        uid: `r-${p.app}`,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: p.app, uid: `d-${p.app}`, controller: true },
        ],
      },
      spec: {},
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${rs}-x1`,
        namespace: p.ns,
        labels,
        annotations,
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `r-${p.app}`, controller: true }],
      },
      spec: {
        ...(p.hostNetwork ? { hostNetwork: true } : {}),
        ...(injected
          ? {
              initContainers: [
                { name: 'linkerd-init', image: `cr.l5d.io/linkerd/proxy:${VERSION}` },
                {
                  name: 'linkerd-proxy',
                  image: `cr.l5d.io/linkerd/proxy:${VERSION}`,
                  restartPolicy: 'Always',
                  ports: [
                    { name: 'linkerd-proxy', containerPort: 4143 },
                    { name: 'linkerd-admin', containerPort: 4191 },
                  ],
                },
              ],
            }
          : {}),
        containers: [app],
      },
      status: { phase: 'Running' },
    },
  ];
}

const linkerdConfig = (policy: string): Obj => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'linkerd-config', namespace: 'linkerd' },
  data: {
    values: `linkerdVersion: ${VERSION}\nproxy:\n  defaultInboundPolicy: ${policy}\n  image:\n    version: ${VERSION}\npolicyController:\n  probeNetworks:\n  - 0.0.0.0/0\n  - ::/0\n`,
  },
});
const policy = (kind: string, namespace: string, name: string, spec: Obj, version = 'v1beta3'): Obj => ({
  apiVersion: `policy.linkerd.io/${version}`,
  kind,
  metadata: { name, namespace },
  spec,
});
const ENROLLED = { 'linkerd.io/inject': 'enabled' };

const dump: Obj[] = [
  ns('linkerd', { 'linkerd.io/inject': 'disabled' }, { 'config.linkerd.io/admission-webhooks': 'disabled' }),
  linkerdConfig('all-unauthenticated'),
  ns('default-open', ENROLLED),
  ...workload({ ns: 'default-open', app: 'web', probe: '/ready' }),
  ns('strict', ENROLLED),
  ...workload({
    ns: 'strict',
    app: 'api',
    annotations: { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' },
  }),
  ns('servers', ENROLLED),
  ...workload({ ns: 'servers', app: 'shop', ports: [8080, 9090] }),
  policy('Server', 'servers', 'shop-http', {
    podSelector: { matchLabels: { app: 'shop' } },
    port: 'http',
    accessPolicy: 'deny',
  }),
  policy('Server', 'servers', 'shop-metrics', {
    podSelector: { matchLabels: { app: 'shop' } },
    port: 9090,
    accessPolicy: 'deny',
  }),
  policy(
    'AuthorizationPolicy',
    'servers',
    'lb',
    {
      targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'shop-http' },
      requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'nodes' }],
    },
    'v1alpha1',
  ),
  policy('NetworkAuthentication', 'servers', 'nodes', { networks: [{ cidr: '10.0.0.0/8' }] }, 'v1alpha1'),
  policy(
    'AuthorizationPolicy',
    'servers',
    'scrape',
    {
      targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'shop-metrics' },
      requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'prom' }],
    },
    'v1alpha1',
  ),
  policy(
    'MeshTLSAuthentication',
    'servers',
    'prom',
    { identities: ['prometheus.monitoring.serviceaccount.identity.linkerd.cluster.local'] },
    'v1alpha1',
  ),
  ns('skips', ENROLLED),
  ...workload({
    ns: 'skips',
    app: 'db',
    ports: [5432, 9000],
    annotations: {
      'config.linkerd.io/default-inbound-policy': 'all-authenticated',
      'config.linkerd.io/skip-inbound-ports': '9000',
    },
  }),
  ns('down', ENROLLED),
  ...workload({ ns: 'down', app: 'late', injected: false }),
  ...workload({ ns: 'down', app: 'node', injected: false, hostNetwork: true }),
  ns('old', ENROLLED),
  ...workload({
    ns: 'old',
    app: 'legacy',
    version: 'stable-2.14.10',
    annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' },
  }),
  ns('outside', { 'linkerd.io/inject': 'disabled' }),
  ...workload({ ns: 'outside', app: 'batch', injected: false, annotations: { 'linkerd.io/inject': 'disabled' } }),
];

function audit(objects: Obj[], configText = 'mesh: linkerd\n'): AuditReport {
  const config = resolveConfig(parseConfigText(configText));
  return buildReport(
    inventoryOf(structuredClone(objects)),
    { config, now: NOW },
    { source: { type: 'file', name: 'test' } },
  );
}
const r = audit(dump);
function row(namespace: string, name: string): WorkloadRow {
  const w = r.workloads.find((x) => x.namespace === namespace && x.name === name);
  if (!w)
    throw new Error(
      `no workload ${namespace}/${name}: ${r.workloads.map((x) => `${x.namespace}/${x.name}`).join(', ')}`,
    );
  return w;
}
const port = (w: WorkloadRow, p: number) => w.linkerd?.ports.find((x) => x.port === p);
const findings = (rule: string, namespace: string) =>
  r.findings.filter((f) => f.rule === rule && f.namespace === namespace);

t.test('the cluster default comes from linkerd-config and admits plaintext: all-unauthenticated, named', async (t) => {
  t.same(r.config.linkerd, {
    controlPlaneNamespace: 'linkerd',
    defaultInboundPolicy: 'all-unauthenticated',
    defaultFrom: 'linkerd-config',
    version: VERSION,
  });
  const w = row('default-open', 'web');
  t.equal(w.meshed, true);
  t.equal(w.strict, false);
  t.equal(w.effectiveMtls, 'PERMISSIVE');
  t.same(port(w, 8080), {
    port: 8080,
    source: 'cluster-default',
    policy: 'all-unauthenticated',
    plaintext: ['default/all-unauthenticated'],
    openProbePaths: ['/ready'],
    mode: 'PERMISSIVE',
  });
  t.match(
    findings('workload-not-strict', 'default-open')[0]?.message,
    /8080 admits plaintext through default\/all-unauthenticated/,
  );
  t.equal(findings('ld-probe-paths-open', 'default-open').length, 1, 'the open probe path is flagged');
});

t.test('the pod annotation all-authenticated makes every port STRICT', async (t) => {
  const w = row('strict', 'api');
  t.equal(w.strict, true);
  t.same(port(w, 8080)?.source, 'annotation');
  t.equal(findings('workload-not-strict', 'strict').length, 0);
});

t.test(
  'Servers decide per port; the AuthorizationPolicy admitting plaintext is named, the MeshTLS one is not',
  async (t) => {
    const w = row('servers', 'shop');
    t.same(port(w, 8080)?.plaintext, ['AuthorizationPolicy/lb']);
    t.equal(port(w, 8080)?.server, 'shop-http');
    t.equal(port(w, 9090)?.mode, 'STRICT');
    t.equal(port(w, 9090)?.server, 'shop-metrics');
    t.same(w.ports, { 8080: 'PERMISSIVE', 9090: 'STRICT' });
    t.ok(
      r.findings.some((f) => f.rule === 'ld-authz-unauth' && f.name === 'lb'),
      'the engine rule fires on the AuthorizationPolicy too',
    );
  },
);

t.test('a port iptables skips is outside the mesh', async (t) => {
  const w = row('skips', 'db');
  t.same(port(w, 9000), {
    port: 9000,
    source: 'iptables-skip',
    plaintext: [],
    skipped: 'skip-inbound-ports',
    openProbePaths: [],
    mode: 'DISABLE',
  });
  t.equal(port(w, 5432)?.mode, 'STRICT');
  t.equal(w.effectiveMtls, 'DISABLE');
  t.match(findings('workload-not-strict', 'skips')[0]?.message, /9000 skipped by iptables \(skip-inbound-ports\)/);
  t.ok(
    r.findings.some((f) => f.rule === 'ld-skip-inbound' && f.namespace === 'skips'),
    'and ld-skip-inbound on the pod',
  );
});

t.test('pods of enrolled namespaces without a proxy, with the reason', async (t) => {
  const late = row('down', 'late');
  t.equal(late.meshed, false);
  t.match(late.reason, /enrolled namespace, the injector would inject it but it runs no proxy/);
  const node = row('down', 'node');
  t.same(node.linkerd?.reasons, ['host_network_enabled']);
  t.match(node.reason, /hostNetwork is enabled/);
  t.equal(findings('workload-not-meshed', 'down').length, 2);
  const out = row('outside', 'batch');
  // pkg/inject/report.go disabledByAnnotation: a namespace that does not enable and a pod that does not enable.
  t.same(out.linkerd?.reasons, ['injection_enable_annotation_absent'], 'reasons are the injector codes');
  t.match(out.reason, /the injector skips it/);
});

t.test('a proxy older than the control plane is flagged', async (t) => {
  const f = findings('ld-proxy-version-skew', 'old');
  t.equal(f.length, 1);
  t.match(f[0]?.message, /stable-2\.14\.10 differs from the control plane's edge-26\.8\.3/);
  t.equal(findings('ld-proxy-version-skew', 'strict').length, 0);
});

t.test('namespaces show their Linkerd enrolment; the control plane is out of scope', async (t) => {
  t.equal(r.namespaces.find((n) => n.namespace === 'strict')?.enrolment, 'linkerd.io/inject=enabled');
  t.equal(r.namespaces.find((n) => n.namespace === 'outside')?.enrolment, 'not enrolled (linkerd.io/inject=disabled)');
  t.notOk(r.namespaces.some((n) => n.namespace === 'linkerd'));
  t.ok(r.findings.some((f) => f.rule === 'ld-ns-inject' && f.name === 'outside'));
});

t.test('without linkerd-config the configured cluster default is used, and said so', async (t) => {
  const r2 = audit(
    dump.filter((o) => o['kind'] !== 'ConfigMap'),
    'mesh: linkerd\nlinkerd:\n  clusterDefaultInboundPolicy: deny\n',
  );
  t.same(r2.config.linkerd, { controlPlaneNamespace: 'linkerd', defaultInboundPolicy: 'deny', defaultFrom: 'config' });
  t.equal(r2.workloads.find((w) => w.name === 'web')?.strict, true, 'deny admits no plaintext');
});

t.test('every report format shows the Linkerd findings', async (t) => {
  for (const format of AUDIT_FORMATS) {
    const text = renderAudit(r, format);
    t.match(text, /workload-not-strict/, `${format}: names the plaintext ports' finding`);
    t.match(text, /AuthorizationPolicy\/lb/, `${format}: names the authorization admitting plaintext`);
    t.match(text, /ld-proxy-version-skew/, `${format}: the version skew`);
  }
  for (const format of ['text', 'markdown', 'html'] as const) {
    t.match(renderAudit(r, format), /Linkerd inbound policy per workload and port/, `${format}: the per-port table`);
  }
  const json = JSON.parse(renderAudit(r, 'json')) as AuditReport;
  t.same(
    json.workloads.find((w) => w.name === 'db')?.linkerd?.ports.map((p) => p.mode),
    ['STRICT', 'DISABLE'],
    'JSON carries every port',
  );
});

t.test(
  'apiserver-backend-strict with mesh: linkerd: a webhook whose meshed backend port admits no unauthenticated traffic',
  async (t) => {
    const svc = (namespace: string, name: string, app: string, port: number, targetPort: number): Obj => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { selector: { app }, ports: [{ port, targetPort }] },
    });
    const hook = (namespace: string, service: string): Obj => ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: `${service}-cfg` },
      webhooks: [
        {
          name: `${service}.example.dev`,
          clientConfig: { service: { namespace, name: service, port: 443 } },
          failurePolicy: 'Fail',
        },
      ],
    });
    const base: Obj[] = [
      ns('linkerd', { 'linkerd.io/inject': 'disabled' }, { 'config.linkerd.io/admission-webhooks': 'disabled' }),
      linkerdConfig('all-unauthenticated'),
      ns('hooks', ENROLLED),
      // Strict by its pod annotation: the apiserver's plaintext TLS is refused on 8443.
      ...workload({
        ns: 'hooks',
        app: 'guard',
        ports: [8443],
        annotations: { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' },
      }),
      svc('hooks', 'guard', 'guard', 443, 8443),
      hook('hooks', 'guard'),
      // The cluster default (all-unauthenticated) admits the apiserver.
      ...workload({ ns: 'hooks', app: 'lenient', ports: [8443] }),
      svc('hooks', 'lenient', 'lenient', 443, 8443),
      hook('hooks', 'lenient'),
      // Strict, but port 8443 is skipped by iptables: the proxy never sees the call.
      ...workload({
        ns: 'hooks',
        app: 'skipper',
        ports: [8443],
        annotations: {
          'config.linkerd.io/default-inbound-policy': 'deny',
          'config.linkerd.io/skip-inbound-ports': '8443',
        },
      }),
      svc('hooks', 'skipper', 'skipper', 443, 8443),
      hook('hooks', 'skipper'),
      // Strict, unmeshed: nothing refuses plaintext.
      ...workload({
        ns: 'hooks',
        app: 'plain',
        injected: false,
        ports: [8443],
        annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' },
      }),
      svc('hooks', 'plain', 'plain', 443, 8443),
      hook('hooks', 'plain'),
    ];
    const found = audit(base).findings.filter((f) => f.rule === 'apiserver-backend-strict');
    t.same(
      found.map((f) => f.name),
      ['guard-cfg'],
      'only the webhook whose meshed backend port refuses unauthenticated traffic',
    );
    t.match(
      found[0]?.message,
      /port 8443 admitting no unauthenticated traffic \(from the pod annotation config\.linkerd\.io\/default-inbound-policy, policy all-authenticated\)/,
    );
    t.match(
      found[0]?.fix,
      /a Server in hooks with podSelector\.matchLabels \{app: guard\}, port 8443 and accessPolicy all-unauthenticated/,
    );
    // The fix applied: a Server admitting unauthenticated traffic on that port.
    const fixed = audit([
      ...base,
      policy('Server', 'hooks', 'guard-webhook', {
        podSelector: { matchLabels: { app: 'guard' } },
        port: 8443,
        accessPolicy: 'all-unauthenticated',
      }),
    ]);
    t.same(
      fixed.findings.filter((f) => f.rule === 'apiserver-backend-strict'),
      [],
      'a Server admitting plaintext on the port clears it',
    );
    // A Server denying on that port, under a lenient cluster default, is strict.
    const denied = audit([
      ...base,
      policy('Server', 'hooks', 'lenient-deny', {
        podSelector: { matchLabels: { app: 'lenient' } },
        port: 8443,
        accessPolicy: 'deny',
      }),
    ]);
    t.same(
      denied.findings
        .filter((f) => f.rule === 'apiserver-backend-strict')
        .map((f) => f.name)
        .sort(),
      ['guard-cfg', 'lenient-cfg'],
    );
    t.match(denied.findings.find((f) => f.name === 'lenient-cfg')?.message, /Server lenient-deny/);
  },
);
