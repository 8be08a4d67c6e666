// `check` hands the annotations of a Namespace in its input to the engine, as it does its labels:
// Linkerd's injector copies the namespace's config annotations onto every pod it injects
// (docs/POLICY-LINKERD.md), so a template inherits e.g. config.linkerd.io/proxy-uid offline too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from './lib/cli.js';

t.setTimeout(300_000);

const dir = mkdtempSync(join(tmpdir(), 'meshlock-check-nsann-'));
const config = join(dir, 'linkerd.yaml');
writeFileSync(config, 'mesh: linkerd\n');

const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    linkerd.io/inject: enabled
    config.linkerd.io/proxy-uid: "1000"
`;
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx
          securityContext: {runAsUser: 1000}
`;

interface Out {
  results: { kind: string; name: string; decision: string; rules: string[] }[];
}
function check(input: string): Out['results'][number] {
  const r = runCli('main', ['check', '--output', 'json', '--config', config, '-f', '-'], { input });
  const out = JSON.parse(r.stdout) as Out;
  const web = out.results.find((x) => x.kind === 'Deployment' && x.name === 'web');
  if (!web) throw new Error(`no result for web (exit ${r.code}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
  return web;
}

t.test(
  "a template runs as the proxy's UID the namespace sets: denied only when the Namespace is in the input",
  async (t) => {
    const withNs = check(`${NAMESPACE}---\n${DEPLOYMENT}`);
    t.equal(withNs.decision, 'deny');
    t.ok(
      withNs.rules.includes('ld-proxy-uid'),
      `the namespace's proxy-uid 1000 is inherited: ${withNs.rules.join(', ')}`,
    );
    const alone = check(DEPLOYMENT);
    t.notOk(
      alone.rules.includes('ld-proxy-uid'),
      `without the Namespace the default proxy UID (2102) applies: ${alone.rules.join(', ')}`,
    );
  },
);
