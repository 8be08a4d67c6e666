// JSON can carry objects whose own `toString` or `valueOf` is not a function ({"toString": ""}), and
// String(), Number() and template literals throw on them. No such value may crash the engine, the
// audit or `meshlock check`: each object gets a decision (a property test found a pod that did).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildReport } from '../src/audit/build.js';
import { inventoryOf } from '../src/audit/inventory.js';
import { defaultConfig, parseConfigText, resolveConfig } from '../src/config/index.js';
import { inputFromObject, mutate, validate } from '../src/policy/index.js';
import { CLI, NODE, tempDir } from './lib/server.js';

const H = '{"toString": "", "valueOf": ""}';
const OBJECTS: [string, string][] = [
  [
    'pod runAsUser',
    `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},"spec":{"securityContext":{"runAsUser":${H},"runAsGroup":${H}},"containers":[{"name":"app","securityContext":{"runAsUser":${H}}}]}}`,
  ],
  [
    'pod label and annotation values',
    `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop","labels":{"sidecar.istio.io/inject":${H}},"annotations":{"traffic.sidecar.istio.io/excludeInboundPorts":${H}}},"spec":{"containers":[{"name":"app","ports":[{"containerPort":${H}}]}]}}`,
  ],
  [
    'pod name',
    `{"apiVersion":"v1","kind":"Pod","metadata":{"name":${H},"namespace":"shop"},"spec":{"containers":[{"name":${H}}]}}`,
  ],
  [
    'PeerAuthentication selector and modes',
    `{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"pa","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":${H}}},"mtls":{"mode":${H}},"portLevelMtls":{"8080":{"mode":${H}}}}}`,
  ],
  [
    'DestinationRule host and mode',
    `{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"dr","namespace":"shop"},"spec":{"host":${H},"trafficPolicy":{"tls":{"mode":${H}}}}}`,
  ],
  [
    'Namespace labels',
    `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"istio-injection":${H},"istio.io/rev":${H}}}}`,
  ],
  [
    'Deployment template',
    `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"shop"},"spec":{"template":{"metadata":{"labels":${H}},"spec":{"hostNetwork":${H},"containers":[{"name":"app","securityContext":{"capabilities":{"add":[${H}]}}}]}}}}`,
  ],
  [
    'Linkerd Server',
    `{"apiVersion":"policy.linkerd.io/v1beta3","kind":"Server","metadata":{"name":${H},"namespace":"shop"},"spec":{"podSelector":{"matchLabels":{"app":${H}}},"port":${H},"accessPolicy":${H}}}`,
  ],
];

const ISTIO = defaultConfig();
const LINKERD = resolveConfig(parseConfigText('mesh: linkerd\n'));
const NOW = new Date('2026-06-01T00:00:00Z');

t.test('the engine decides every such object, under both meshes, for CREATE and UPDATE', async (t) => {
  for (const [what, json] of OBJECTS) {
    for (const config of [ISTIO, LINKERD]) {
      const ctx = { config, now: NOW };
      const object = JSON.parse(json) as unknown;
      for (const op of ['CREATE', 'UPDATE'] as const) {
        const input = {
          ...inputFromObject(object, 'shop', op),
          ...(op === 'UPDATE' ? { oldObject: JSON.parse(json) as unknown } : {}),
        };
        let outcome = '';
        t.doesNotThrow(() => {
          const v = validate(input, ctx);
          const m = mutate(input, ctx);
          outcome = `${v.allowed ? 'allowed' : 'denied'}, ${m.patch.length} patch ops`;
        }, `${what} (${config.mesh}, ${op}): ${outcome}`);
      }
    }
  }
});

t.test('the audit reports on an inventory of them', async (t) => {
  for (const config of [ISTIO, LINKERD]) {
    const inv = inventoryOf(OBJECTS.map(([, json]) => JSON.parse(json) as unknown));
    let report: ReturnType<typeof buildReport> | undefined;
    t.doesNotThrow(() => {
      report = buildReport(inv, { config, now: NOW }, { source: { type: 'file', name: 'hostile.json' } });
    }, `audit (${config.mesh})`);
    // Fail closed: objects whose metadata the audit cannot read are error findings, not skipped.
    const unreadable = report?.findings.filter((f) => f.rule === 'malformed-object').map((f) => `${f.kind} ${f.name}`);
    t.same(
      unreadable?.sort(),
      ['Namespace shop', 'Pod ?', 'Pod p', 'Server ?'],
      `unreadable metadata reported (${config.mesh})`,
    );
  }
});

t.test('a rule that cannot read an object fails closed: malformed-object, denied', async (t) => {
  // A value that throws when read (not from JSON: a getter) stands for any input no rule expected.
  const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' } } as Record<
    string,
    unknown
  >;
  Object.defineProperty(object, 'spec', {
    enumerable: true,
    get: () => {
      throw new TypeError('unreadable spec');
    },
  });
  const v = validate(inputFromObject(object, 'shop', 'CREATE'), { config: ISTIO, now: NOW });
  t.equal(v.allowed, false, 'denied');
  t.same(
    v.findings.map((f) => f.rule),
    ['malformed-object'],
  );
  t.match(v.findings[0]?.message, /cannot read this Pod: unreadable spec/);
  t.same(mutate(inputFromObject(object, 'shop', 'CREATE'), { config: ISTIO, now: NOW }).patch, [], 'not patched');
});

t.test('meshlock check answers on a file of them with a decision per object, not a crash', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'hostile.json');
  writeFileSync(file, `{"apiVersion":"v1","kind":"List","items":[${OBJECTS.map(([, j]) => j).join(',')}]}`);
  const r = spawnSync(NODE, [CLI, 'check', '-f', file, '-o', 'json'], { encoding: 'utf8' });
  t.not(r.status, 2, `not a usage error: ${r.stderr}`);
  t.notMatch(r.stderr, /TypeError|at .*\.js:\d+/, 'no stack trace');
  const out = JSON.parse(r.stdout) as { results: unknown[] };
  t.equal(out.results.length, OBJECTS.length, 'a result for every object');
});
