// Every audit format, produced by the spawned CLI from a kubectl-made dump and read back the way its
// consumer reads it: JSON parsed, SARIF's required shape, JUnit XML parsed, PolicyReports against
// their CRD's shape, and the HTML opened in headless Chromium with the network watched.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import type { AuditReport } from '../src/audit/model.js';
import { launchChromium } from './lib/chromium.js';
import { runCli } from './lib/cli.js';
import { asList, deployment, destinationRule, namespace, peerAuthentication as pa } from './lib/dump.js';
import { corpusDir, skipFileUnless, skipUnless } from './lib/needs.js';

// The dump is made with kubectl; the PolicyReport CRD comes from the corpus, the HTML check needs Chromium.
skipFileUnless(t, 'kubectl');

t.setTimeout(900_000);

const dir = mkdtempSync(join(tmpdir(), 'meshlock-report-'));
const dumpFile = join(dir, 'cluster.yaml');
writeFileSync(
  dumpFile,
  asList([
    namespace('istio-system'),
    pa({ namespace: 'istio-system', name: 'default', mode: 'STRICT' }),
    namespace('shop', { 'istio-injection': 'enabled' }),
    ...deployment({ namespace: 'shop', name: 'web', injected: true, replicas: 2, port: 8080 }),
    ...deployment({ namespace: 'shop', name: 'cart', injected: true, port: 8080 }),
    pa({
      namespace: 'shop',
      name: 'cart-ports',
      mode: 'STRICT',
      selector: { app: 'cart' },
      ports: { '8080': 'PERMISSIVE' },
    }),
    namespace('legacy'),
    ...deployment({ namespace: 'legacy', name: 'old<script>', port: 80 }),
    namespace('pay', { 'istio-injection': 'enabled' }),
    ...deployment({ namespace: 'pay', name: 'api', injected: true }),
    destinationRule('pay', 'plain', 'api.pay.svc.cluster.local', 'DISABLE'),
  ]),
);
const configFile = join(dir, 'config.yaml');
writeFileSync(
  configFile,
  'exemptions:\n  - {namespace: legacy, reason: "being retired", expires: 2099-01-01, owner: team-legacy}\n',
);

function audit(format: string, extra: string[] = []): string {
  const out = join(dir, `report.${format}`);
  const r = runCli('main', [
    'audit',
    '-f',
    dumpFile,
    '--config',
    configFile,
    '--format',
    format,
    '--out',
    out,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`audit --format ${format} exited ${r.code}: ${r.stderr}`);
  return readFileSync(out, 'utf8');
}

const json = JSON.parse(audit('json')) as AuditReport;
const CONTROL_IDS = [
  'PCI-DSS-4.0-4.2.1',
  'HIPAA-164.312(e)(1)',
  'NIST-800-53-SC-8',
  'NIST-800-53-SC-8(1)',
  'NIST-800-204A',
];

t.test('the JSON report has the summary, workloads and findings fields, and names its source and time', async (t) => {
  t.same([json.summary.workloads, json.summary.meshed, json.summary.strict], [4, 3, 2]);
  t.equal(json.summary.coveragePercent, 50);
  t.same(json.source, { type: 'file', name: dumpFile });
  t.ok(Date.parse(json.generatedAt) > 0);
  const web = json.workloads.find((w) => w.name === 'web');
  t.same(web && [web.namespace, web.kind, web.meshed, web.effectiveMtls, web.ports, web.pods], [
    'shop',
    'Deployment',
    true,
    'STRICT',
    {},
    2,
  ]);
  const cart = json.workloads.find((w) => w.name === 'cart');
  t.same(cart && [cart.effectiveMtls, cart.ports], ['PERMISSIVE', { '8080': 'PERMISSIVE' }]);
  for (const f of json.findings)
    for (const k of ['rule', 'severity', 'namespace', 'kind', 'name', 'message']) t.ok(k in f, `finding has ${k}`);
  t.same(
    json.controls.map((c) => c.id),
    CONTROL_IDS,
    'every control is in the mapping',
  );
});

t.test('the text and Markdown reports show the summary, the tables and the control mapping', async (t) => {
  const text = audit('text');
  t.match(text, `workloads 4, meshed 3, strict 2, coverage 50%`);
  t.match(text, dumpFile);
  const md = audit('markdown');
  t.match(md, '| 4 | 3 | 2 | 50% |');
  for (const id of CONTROL_IDS) {
    t.match(text, id);
    t.match(md, id);
  }
  // Every port's mode in full; an unmeshed workload has no mTLS at all, not a DISABLE policy.
  t.match(
    md,
    '| shop | Deployment | cart | 1 | yes (sidecar) | injection: namespace-label, capture: sidecar-status | port 8080: PERMISSIVE; STRICT on every other port | no |',
  );
  t.match(md, /\| legacy \| Deployment \| old<script> \| 1 \| no \| [^|]+ \| no mTLS: not meshed \(/);
  t.match(text, /^verdict: FAIL: \d+ error findings? \(\d+ warnings?, 1 exempted\)$/m);
  t.match(md, /^\*\*Verdict: FAIL\*\*/m);
  t.match(
    text,
    /Exempted findings \(not counted in the verdict\)\n {2}\[exempted ns-injection-missing\] Namespace legacy: .*\n {6}by exemptions\[0\], owner team-legacy, until 2099-01-01: being retired\n {6}causes \[workload-not-meshed\] Deployment legacy\/old<script>/,
  );
});

t.test('the SARIF report has the required 2.1.0 shape with a location per finding', async (t) => {
  const sarif = JSON.parse(audit('sarif')) as {
    version: string;
    runs: {
      tool: { driver: { name: string; rules: { id: string; properties: { controls: string[] } }[] } };
      results: {
        ruleId: string;
        level: string;
        message: { text: string };
        locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
        properties: { controls: string[] };
      }[];
    }[];
  };
  t.equal(sarif.version, '2.1.0');
  t.equal(sarif.runs.length, 1);
  const run = sarif.runs[0]!;
  t.equal(run.tool.driver.name, 'meshlock');
  t.equal(
    run.results.length,
    json.findings.length + json.exempted.length,
    'one result per finding, exempted ones included',
  );
  const suppressed = (run.results as { suppressions?: { kind: string; justification: string }[] }[]).filter(
    (r) => r.suppressions,
  );
  t.equal(suppressed.length, json.exempted.length, 'exempted findings are suppressed results');
  t.match(suppressed[0]?.suppressions?.[0], {
    kind: 'external',
    justification: /owner team-legacy, until 2099-01-01: being retired/,
  });
  const ruleIds = new Set(run.tool.driver.rules.map((r) => r.id));
  for (const r of run.results) {
    t.ok(ruleIds.has(r.ruleId), `${r.ruleId} is described`);
    t.ok(['error', 'warning', 'note'].includes(r.level));
    t.type(r.message.text, 'string');
    t.equal(r.locations.length, 1);
    t.ok(r.locations[0]!.physicalLocation.region.startLine >= 1);
    t.ok(r.properties.controls.length > 0, 'controls in properties');
  }
  const dr = run.results.find((r) => r.ruleId === 'dr-tls-disable');
  t.equal(
    dr?.locations[0]?.physicalLocation.artifactLocation.uri,
    dumpFile.replace(/^\//, '/'),
    'the dump file is the location',
  );
  t.ok((dr?.locations[0]?.physicalLocation.region.startLine ?? 0) > 1, 'the line of the object inside the dump');
});

/** A small XML reader, enough to prove the JUnit output is well-formed and to read its elements. */
function parseXml(xml: string): { name: string; attrs: Record<string, string>; children: unknown[] } {
  const stack: { name: string; attrs: Record<string, string>; children: unknown[] }[] = [
    { name: '#root', attrs: {}, children: [] },
  ];
  const re = /<\?xml[^>]*\?>|<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(xml))) {
    if (m.index !== consumed) throw new Error(`malformed XML at ${consumed}: ${xml.slice(consumed, consumed + 40)}`);
    consumed = re.lastIndex;
    if (m[0].startsWith('<?xml')) continue;
    if (m[5] !== undefined) {
      if (/[<>]/.test(m[5]) || /&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) throw new Error(`unescaped text: ${m[5]}`);
      continue;
    }
    const [, close, name, attrText, self] = m;
    if (close) {
      const top = stack.pop();
      if (top?.name !== name) throw new Error(`</${name}> closes <${top?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? '').matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    const el = { name: name!, attrs, children: [] };
    stack[stack.length - 1]!.children.push(el);
    if (!self) stack.push(el);
  }
  if (consumed !== xml.length || stack.length !== 1) throw new Error('unclosed XML');
  return stack[0]!;
}

t.test('the JUnit report is well-formed XML with a test case per workload and a failure per error', async (t) => {
  const root = parseXml(audit('junit'));
  const suites = root.children[0] as ReturnType<typeof parseXml>;
  t.equal(suites.name, 'testsuites');
  const suite = suites.children[0] as ReturnType<typeof parseXml>;
  t.equal(suite.name, 'testsuite');
  const cases = suite.children as ReturnType<typeof parseXml>[];
  t.equal(Number(suite.attrs['tests']), cases.length);
  const failing = cases.filter((c) => (c.children as ReturnType<typeof parseXml>[]).some((x) => x.name === 'failure'));
  t.equal(Number(suite.attrs['failures']), failing.length);
  const web = cases.find((c) => c.attrs['name'] === 'Deployment/web is effectively STRICT');
  t.ok(web, 'a case per workload');
  t.same(web?.children, [], 'a STRICT workload passes');
  t.ok(failing.some((c) => c.attrs['name'] === 'Deployment/cart is effectively STRICT'));
  t.ok(
    cases.some((c) => c.attrs['name']?.includes('old&lt;script&gt;')),
    'names are escaped',
  );
});

t.test(
  'the policyreport output is a PolicyReport per namespace and a ClusterPolicyReport, ready for kubectl apply',
  { skip: skipUnless('corpus') },
  async (t) => {
    const crd = parseAllDocuments(
      readFileSync(join(corpusDir, 'policyreport/wgpolicyk8s.io_policyreports.yaml'), 'utf8'),
    )[0]!.toJS() as {
      spec: {
        versions: {
          name: string;
          schema: {
            openAPIV3Schema: {
              properties: {
                results: { items: { properties: Record<string, { enum?: string[] }>; required: string[] } };
              };
            };
          };
        }[];
      };
    };
    const v1a2 = crd.spec.versions.find((v) => v.name === 'v1alpha2')!;
    const resultSchema = v1a2.schema.openAPIV3Schema.properties.results.items;
    for (const api of ['wgpolicyk8s', 'openreports']) {
      const docs = parseAllDocuments(audit('policyreport', ['--report-api', api])).map(
        (d) =>
          d.toJS() as {
            apiVersion: string;
            kind: string;
            metadata: { name: string; namespace?: string };
            summary: Record<string, number>;
            results: Record<string, unknown>[];
          },
      );
      const ns = docs.filter((d) => d.metadata.namespace);
      const cluster = docs.filter((d) => !d.metadata.namespace);
      t.same(ns.map((d) => d.metadata.namespace).sort(), ['legacy', 'pay', 'shop'], `${api}: one report per namespace`);
      t.equal(cluster.length, 1, `${api}: one cluster report`);
      t.same(
        [...new Set(docs.map((d) => d.apiVersion))],
        [api === 'openreports' ? 'openreports.io/v1alpha1' : 'wgpolicyk8s.io/v1alpha2'],
      );
      t.same([...new Set(ns.map((d) => d.kind))], [api === 'openreports' ? 'Report' : 'PolicyReport']);
      t.equal(cluster[0]?.kind, api === 'openreports' ? 'ClusterReport' : 'ClusterPolicyReport');
      for (const d of docs) {
        t.match(d.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a valid object name');
        for (const r of d.results) {
          for (const key of Object.keys(r))
            t.ok(key in resultSchema.properties, `${api}: result field ${key} is in the CRD`);
          for (const req of resultSchema.required) t.ok(req in r, `${api}: result has ${req}`);
          t.ok(resultSchema.properties['result']!.enum!.includes(r['result'] as string));
          t.ok(resultSchema.properties['severity']!.enum!.includes(r['severity'] as string));
          const props = r['properties'] as Record<string, unknown>;
          t.ok(
            Object.values(props).every((v) => typeof v === 'string'),
            'properties are strings',
          );
          t.ok(
            String(props['controls'])
              .split(',')
              .every((c) => CONTROL_IDS.includes(c)),
            'control ids in properties',
          );
        }
        const counted = Object.values(d.summary).reduce((a, b) => a + b, 0);
        t.equal(counted, d.results.length, 'the summary counts every result');
      }
      const shop = ns.find((d) => d.metadata.namespace === 'shop')!;
      t.same(shop.results.filter((r) => r['result'] === 'pass').length, 1, 'web passes');
      t.ok(
        shop.results.some(
          (r) =>
            r['result'] === 'fail' &&
            r['rule'] === 'pa-port-mode' &&
            /causes workload-not-strict on Deployment shop\/cart/.test(String(r['message'])),
        ),
        'cart fails, under its root cause',
      );
      const legacy = ns.find((d) => d.metadata.namespace === 'legacy');
      t.notOk(
        legacy?.results.some((r) => r['result'] === 'fail'),
        'the exempted namespace has no failing result',
      );
    }
  },
);

t.test(
  'the HTML report renders in Chromium, shows the JSON numbers, and no request leaves the page',
  { skip: skipUnless('chromium') },
  async (t) => {
    const html = audit('html');
    t.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
    t.equal(html.match(/<script/gi)?.length, 1, 'one script, inline');
    t.notMatch(html, /<script[^>]*\bsrc=/i, 'no script from elsewhere');
    t.match(
      html,
      /script-src 'sha256-[A-Za-z0-9+/=]+'; img-src data:; connect-src 'none'/,
      'allowed only by its hash; nothing may be fetched',
    );
    t.notMatch(html, /(src|href)="(https?:)?\/\//, 'no external asset');
    const file = join(dir, 'report.html');
    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const page = await browser.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => {
      if (r.url() !== pathToFileURL(file).href) requests.push(r.url());
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/.test(m.text())) violations.push(m.text());
    });
    await page.route('**/*', (route) =>
      route.request().url() === pathToFileURL(file).href ? route.continue() : route.abort(),
    );
    await page.goto(pathToFileURL(file).href);
    const text = async (sel: string): Promise<string> => ((await page.textContent(sel)) ?? '').trim();
    t.equal(await text('#summary-workloads'), String(json.summary.workloads));
    t.equal(await text('#summary-meshed'), String(json.summary.meshed));
    t.equal(await text('#summary-strict'), String(json.summary.strict));
    t.equal(await text('#summary-coverage'), `${json.summary.coveragePercent}%`);
    t.equal(await text('#summary-errors'), String(json.summary.findings.error));
    t.equal(await page.locator('#workloads tbody tr').count(), json.workloads.length);
    t.equal(await page.locator('#findings tbody tr').count(), json.findings.length);
    t.equal(await page.locator('#controls tbody tr').count(), 5);
    t.match(await text('#source'), dumpFile);
    const bars = await page
      .locator('#coverage-chart g[data-namespace]')
      .evaluateAll((gs) =>
        gs.map((g) => [
          g.getAttribute('data-namespace'),
          Number(g.getAttribute('data-coverage')),
          Number(g.querySelector('rect.bar')?.getAttribute('width')),
        ]),
      );
    t.same(
      bars.map((b) => [b[0], b[1]]).sort(),
      json.namespaces.map((n) => [n.namespace, n.coveragePercent]).sort(),
      'a bar per namespace with its coverage',
    );
    const shopBar = bars.find((b) => b[0] === 'shop');
    t.ok(shopBar && (shopBar[2] as number) > 0, 'the chart is drawn');
    // Runs in the page; the DOM types are not in this project's lib.
    const styled = await page
      .locator('table')
      .first()
      .evaluate(
        (el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { borderCollapse: string } }).getComputedStyle(el)
            .borderCollapse,
      );
    t.equal(styled, 'collapse', 'the inline stylesheet is allowed by the CSP');
    t.same(requests, [], 'no request leaves the page');
    t.same(violations, [], 'no CSP violation');
    t.equal(await page.locator('script').count(), 1, 'nothing injected: the workload name with <script> stays text');
  },
);
