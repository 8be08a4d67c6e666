// Golden outputs of the audit in every format, from one fixed cluster and a fixed clock: any change
// to what a reader sees shows as a diff of test/golden/audit.*. After an intended change, rewrite
// them with `UPDATE_GOLDEN=1 npx tap test/report-golden.test.ts` and review the diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseConfigText, resolveConfig } from '../src/config/index.js';
import { evaluateInventory } from '../src/audit/evaluate.js';
import { inventoryOf } from '../src/audit/inventory.js';
import { AUDIT_FORMATS, renderAudit } from '../src/report/audit.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const golden = join(import.meta.dirname, 'golden');
const EXT: Record<string, string> = {
  text: 'txt',
  json: 'json',
  markdown: 'md',
  html: 'html',
  sarif: 'sarif',
  junit: 'junit.xml',
  policyreport: 'policyreport.yaml',
};

type Obj = Record<string, unknown>;
const ns = (name: string, labels: Record<string, string> = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});
const pa = (namespace: string, name: string, mode: string, extra: Obj = {}): Obj => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { mtls: { mode }, ...extra },
});
function workload(
  namespace: string,
  name: string,
  o: { proxy?: string; hostNetwork?: boolean; replicas?: number } = {},
): Obj[] {
  const hash = '5d8f7c9b4d';
  const labels = { app: name };
  const containers: Obj[] = [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }];
  if (o.proxy) containers.push({ name: 'istio-proxy', image: `docker.io/istio/proxyv2:${o.proxy}` });
  const spec = { containers, ...(o.hostNetwork ? { hostNetwork: true } : {}) };
  const out: Obj[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: o.replicas ?? 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [containers[0]], ...(o.hostNetwork ? { hostNetwork: true } : {}) },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        namespace,
        labels: { ...labels, 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, controller: true }],
      },
      spec: { template: { metadata: { labels }, spec: { containers: [containers[0]] } } },
    },
  ];
  for (let i = 0; i < (o.replicas ?? 1); i++) {
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-${hash}-p${i}`,
        namespace,
        labels: { ...labels, 'pod-template-hash': hash },
        annotations: o.proxy
          ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"],"revision":"default"}' }
          : {},
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-${hash}`, controller: true }],
      },
      spec,
      status: { phase: 'Running' },
    });
  }
  return out;
}

const objects: Obj[] = [
  ns('istio-system'),
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } },
    spec: { template: { spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.28.1' }] } } },
  },
  pa('istio-system', 'default', 'STRICT'),
  ns('shop', { 'istio-injection': 'enabled' }),
  ...workload('shop', 'web', { proxy: '1.28.0', replicas: 2 }),
  ...workload('shop', 'cart', { proxy: '1.28.0' }),
  pa('shop', 'cart-ports', 'STRICT', {
    selector: { matchLabels: { app: 'cart' } },
    portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
  }),
  ...workload('shop', 'search', { proxy: '1.26.2' }),
  ...workload('shop', 'node-agent', { hostNetwork: true }),
  ns('legacy'),
  ...workload('legacy', 'billing'),
  ns('pay', { 'istio-injection': 'enabled' }),
  ...workload('pay', 'api', { proxy: '1.28.0' }),
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'plain', namespace: 'pay' },
    spec: { host: 'api.pay.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } },
  },
];
const config = resolveConfig(
  parseConfigText(
    'exemptions:\n  - {namespace: legacy, reason: "being retired in Q3", expires: 2026-09-30, owner: team-legacy}\n',
  ),
  'meshlock',
);
const report = evaluateInventory(inventoryOf(structuredClone(objects)), config, NOW, {
  source: { type: 'cluster', name: 'prod-eu (https://10.0.0.1:6443)' },
  cluster: { context: 'prod-eu', server: 'https://10.0.0.1:6443' },
  live: false,
});

t.test('the fixture says what the goldens show', async (t) => {
  t.equal(report.verdict.result, 'FAIL');
  t.same(report.identity.istio, [{ revision: 'default', version: '1.28.1' }]);
  t.ok(
    report.findings.some(
      (f) => f.rule === 'pod-host-network' && f.effects?.some((e) => e.rule === 'workload-not-meshed'),
    ),
    'hostNetwork: one root cause',
  );
  t.ok(
    report.findings.some(
      (f) => f.rule === 'pa-port-mode' && f.effects?.some((e) => e.rule === 'workload-not-strict' && e.name === 'cart'),
    ),
    'port mode: one root cause',
  );
  t.ok(
    report.findings.some((f) => f.rule === 'dataplane-version-skew' && f.name === 'search'),
    'skew',
  );
  t.ok(
    report.exempted.some(
      (f) => f.namespace === 'legacy' && f.exemption.owner === 'team-legacy' && f.exemption.expires === '2026-09-30',
    ),
    'exempted with owner and expiry',
  );
  t.match(report.workloads.find((w) => w.name === 'billing')?.mtls, /^no mTLS: not meshed \(/);
  t.equal(report.workloads.find((w) => w.name === 'cart')?.mtls, 'port 8080: PERMISSIVE; STRICT on every other port');
  // An exempted workload is not listed as a bare failure: text, Markdown and HTML say it is exempted, and by what.
  t.match(
    renderAudit(report, 'text', { colour: false }),
    /legacy\/Deployment\/billing \(1 pod\): no mTLS.*\(exempted: exemptions\[0\], owner team-legacy, until 2026-09-30/,
  );
  t.match(renderAudit(report, 'markdown', { colour: false }), /\| billing \|.*\| no, exempted \(exemptions\[0\]\) \|/);
  t.match(
    renderAudit(report, 'html', { colour: false }),
    /<span class="exempted" title="exemptions\[0\], owner team-legacy[^"]*">no, exempted/,
  );
  t.notMatch(
    renderAudit(report, 'text', { colour: false }),
    /web \(\d pods?\):.*exempted/,
    'a workload no exemption covers is not marked',
  );
});

for (const format of AUDIT_FORMATS) {
  t.test(`golden: ${format}`, async (t) => {
    const file = join(golden, `audit.${EXT[format]}`);
    const text = renderAudit(report, format, { colour: false });
    if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
      writeFileSync(file, text);
      t.comment(`wrote ${file}`);
    }
    t.equal(text, readFileSync(file, 'utf8'), `test/golden/audit.${EXT[format]} matches`);
  });
}
