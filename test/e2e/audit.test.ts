// `meshlock audit` and `meshlock certs inject` against the real apiserver.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { apply, describeRun, getJson, kubectl, uniqueName, type Manifest, type Run } from './lib/kubectl.js';
import { aimAt, install, meshlockCli } from './lib/meshlock.js';
import { assertDenied, namespace, peerAuth, pod } from './lib/objects.js';
import { clusterEnv } from './lib/cluster.js';

// Objects created while meshlock only watches (dry-run): stored, but findings for the audit.
const ns = uniqueName('audited');
{
  const ml = await install({ mode: 'dry-run' });
  try {
    const made = [
      await apply(namespace(ns)),
      await apply(peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } })),
      await apply(pod(ns, 'hostnet', { spec: { hostNetwork: true } })),
    ];
    for (const r of made) if (r.code !== 0) throw new Error(`creating audit fixtures: ${describeRun(r)}`);
  } finally {
    await ml.uninstall();
  }
}

/** `meshlock audit` exits 0 (nothing would be denied) or 1 (something would be); anything
 * else, or a usage error on stderr, means the command is missing or broken. */
function assertAuditRan(t: Test, r: Run, what: string): void {
  t.ok(r.code === 0 || r.code === 1, `${what} exits 0 or 1`, { output: describeRun(r) });
  t.notMatch(r.stderr, /not implemented|unknown option|unknown command|^error:/im, `${what}: no usage error`, {
    output: describeRun(r),
  });
}

function parseJson<T>(t: Test, text: string, what: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    t.fail(`${what} is JSON`, { error: String(err), text: text.slice(0, 2000) });
    return undefined;
  }
}

interface Finding {
  rule: string;
  namespace: string;
  kind: string;
  name: string;
}

t.test('meshlock audit reports the objects created while meshlock was in dry-run', async (t) => {
  const r = await meshlockCli(['audit', '--kubeconfig', clusterEnv().kubeconfig, '--format', 'json'], {
    timeoutMs: 120_000,
  });
  assertAuditRan(t, r, 'meshlock audit --format json');
  const report = parseJson<{ findings: Finding[]; summary: Record<string, unknown> }>(t, r.stdout, 'the report');
  if (!report) return;
  const mine = report.findings.filter((f) => f.namespace === ns);
  t.ok(
    mine.some((f) => f.rule === 'pa-mode' && f.kind === 'PeerAuthentication' && f.name === 'permissive'),
    'pa-mode finding',
    { mine },
  );
  t.ok(
    mine.some((f) => f.rule === 'pod-host-network' && f.name === 'hostnet'),
    'pod-host-network finding',
    { mine },
  );
  t.ok(
    mine.some((f) => f.rule === 'ns-injection-missing'),
    'ns-injection-missing finding (no mutation in dry-run)',
    { mine },
  );
  t.type(report.summary.workloads, 'number', 'summary.workloads');
});

t.test('meshlock audit --apply-reports writes PolicyReports that kubectl get returns', async (t) => {
  const r = await meshlockCli(
    ['audit', '--kubeconfig', clusterEnv().kubeconfig, '--format', 'policyreport', '--apply-reports'],
    {
      timeoutMs: 120_000,
    },
  );
  assertAuditRan(t, r, 'meshlock audit --apply-reports');
  const got = await kubectl(['get', 'policyreports.wgpolicyk8s.io', '-n', ns, '-o', 'json']);
  t.equal(got.code, 0, 'kubectl get policyreports', { output: describeRun(got) });
  const items = parseJson<{ items: Manifest[] }>(t, got.stdout, 'kubectl get -o json')?.items ?? [];
  t.ok(items.length > 0, `a PolicyReport in ${ns}`);
  const results = items.flatMap(
    (i) => (i.results as { policy?: string; rule?: string; result?: string }[] | undefined) ?? [],
  );
  t.ok(
    results.some((x) => (x.rule === 'pa-mode' || x.policy === 'pa-mode') && x.result === 'fail'),
    'the report has a failing pa-mode result',
    { results },
  );
  const cluster = await kubectl(['get', 'clusterpolicyreports.wgpolicyk8s.io', '-o', 'name']);
  t.equal(cluster.code, 0, 'kubectl get clusterpolicyreports', { output: describeRun(cluster) });
  t.not(cluster.stdout.trim(), '', 'a ClusterPolicyReport exists');
});

t.test('meshlock certs inject patches the caBundle of the installed configurations', async (t) => {
  const ml = await install({ mode: 'enforce' });
  t.teardown(() => ml.uninstall());
  // Re-install the configurations with another CA's bundle: the apiserver cannot verify
  // meshlock's certificate any more, so calls fail (failurePolicy Fail).
  // The cluster's own CA: a valid bundle, but not the one that signed meshlock's certificate.
  const wrongPem = readFileSync(clusterEnv().caFile, 'utf8');
  const stale = await apply(aimAt([...ml.deploy.mutating, ...ml.deploy.validating], ml.server.port, wrongPem));
  t.equal(stale.code, 0, 'configurations re-applied with a wrong caBundle', { output: describeRun(stale) });

  const r = await meshlockCli(['certs', 'inject', '--ca', ml.certs.caFile, '--kubeconfig', clusterEnv().kubeconfig]);
  t.equal(r.code, 0, 'meshlock certs inject', { output: describeRun(r) });
  const want = Buffer.from(ml.certs.caPem).toString('base64');
  for (const cfg of [...ml.deploy.mutating, ...ml.deploy.validating]) {
    const name = String((cfg.metadata as { name: string }).name);
    const live = await getJson([String(cfg.kind).toLowerCase(), name]);
    for (const wh of (live.webhooks as { name: string; clientConfig: { caBundle?: string } }[]) ?? []) {
      t.ok(
        Buffer.from(wh.clientConfig.caBundle ?? '', 'base64')
          .toString('utf8')
          .includes(ml.certs.caPem.trim()) || wh.clientConfig.caBundle === want,
        `${name}: ${wh.name} caBundle holds meshlock's CA`,
      );
    }
  }
  // And the apiserver trusts meshlock again ("default" exists already: creating a namespace
  // goes through the mutating webhook, which fails until the bundle is right).
  const deadline = Date.now() + 30_000;
  const probe = () =>
    apply(peerAuth('default', 'after-inject', { mtls: { mode: 'PERMISSIVE' } }), ['--dry-run=server']);
  let last = await probe();
  while (!/meshlock denied/.test(last.stderr) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 500));
    last = await probe();
  }
  assertDenied(t, last, 'PeerAuthentication', 'after-inject', ['pa-mode'], 'after certs inject');
});
