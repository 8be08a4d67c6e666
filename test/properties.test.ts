// Properties the engine holds for every input, checked with fast-check: mutation is idempotent,
// no object (however malformed) throws out of validate or mutate, and no object passes where a
// rule of POLICY.md says it must be denied.
import t from 'tap';
import fc from 'fast-check';
import { parseConfigText, resolveConfig, type ResolvedConfig } from '../src/config/index.js';
import {
  applyPatch,
  mutate,
  validate,
  violationsOf,
  WARNING_MAX,
  type EngineInput,
  type Operation,
  type ValidationResult,
} from '../src/policy/index.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const RUNS = { numRuns: 300 };

const config = (text = ''): ResolvedConfig => resolveConfig(parseConfigText(text), 'meshlock');
const DEFAULT = config();
const CONFIGS = [
  DEFAULT,
  config('revision: canary\n'),
  config('dataplane: ambient\n'),
  config('mode: warn\n'),
  config('mode: dry-run\n'),
  config('clusterDomain: corp.internal\nrootNamespace: mesh-root\n'),
];

const json = fc.jsonValue({ maxDepth: 3 });
/** A value for a field: usually plausible, often arbitrary JSON, sometimes absent. */
const anyOr = <T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: plausible },
    { weight: 2, arbitrary: json },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
const namespaceName = fc.constantFrom(
  'shop',
  'team-a',
  'istio-system',
  'kube-system',
  'meshlock',
  'mesh-root',
  'default',
);
const operation = fc.constantFrom<Operation>('CREATE', 'UPDATE', 'DELETE', 'CONNECT');
const labelKey = fc.constantFrom(
  'app',
  'istio-injection',
  'istio.io/rev',
  'istio.io/dataplane-mode',
  'sidecar.istio.io/inject',
  'a/b~c',
  'team',
);
const labelValue = fc.oneof(
  fc.constantFrom('enabled', 'disabled', 'Enabled', 'true', 'false', '', 'ambient', 'none', 'canary'),
  fc.string({ maxLength: 8 }),
);
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 4 });
const annotationKey = fc.constantFrom(
  'sidecar.istio.io/inject',
  'sidecar.istio.io/status',
  'traffic.sidecar.istio.io/excludeInboundPorts',
  'traffic.sidecar.istio.io/includeInboundPorts',
  'traffic.sidecar.istio.io/excludeOutboundPorts',
  'sidecar.istio.io/interceptionMode',
  'proxy.istio.io/config',
  'note',
);
const annotations = fc.dictionary(
  annotationKey,
  fc.oneof(labelValue, fc.constantFrom('{"interceptionMode":"NONE"}', 'interceptionMode: NONE', '{', '*')),
  { maxKeys: 4 },
);

const container = fc.record(
  {
    name: anyOr(fc.constantFrom('app', 'istio-proxy', 'istio-init', 'sidecar')),
    image: fc.constant('registry.example/app:1'),
    securityContext: anyOr(
      fc.record(
        {
          runAsUser: anyOr(fc.constantFrom(0, 1000, 1337)),
          privileged: anyOr(fc.boolean()),
          capabilities: anyOr(
            fc.record(
              { add: anyOr(fc.array(fc.constantFrom('NET_ADMIN', 'NET_RAW', 'SYS_TIME', 'ALL'))) },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: ['name'] },
);
const podSpec = fc.record(
  {
    containers: anyOr(fc.array(anyOr(container), { maxLength: 3 })),
    initContainers: anyOr(fc.array(container, { maxLength: 2 })),
    hostNetwork: anyOr(fc.boolean()),
    securityContext: anyOr(fc.record({ runAsUser: anyOr(fc.constantFrom(1000, 1337)) }, { requiredKeys: [] })),
  },
  { requiredKeys: [] },
);
const podMeta = fc.record(
  { name: fc.constant('web'), labels: anyOr(labels), annotations: anyOr(annotations) },
  { requiredKeys: [] },
);
const template = fc.record({ metadata: anyOr(podMeta), spec: anyOr(podSpec) }, { requiredKeys: [] });

const WORKLOADS: Record<string, { apiVersion: string; wrap: (t: unknown) => unknown }> = {
  Deployment: { apiVersion: 'apps/v1', wrap: (t) => ({ template: t }) },
  StatefulSet: { apiVersion: 'apps/v1', wrap: (t) => ({ template: t }) },
  DaemonSet: { apiVersion: 'apps/v1', wrap: (t) => ({ template: t }) },
  ReplicaSet: { apiVersion: 'apps/v1', wrap: (t) => ({ template: t }) },
  ReplicationController: { apiVersion: 'v1', wrap: (t) => ({ template: t }) },
  Job: { apiVersion: 'batch/v1', wrap: (t) => ({ template: t }) },
  CronJob: { apiVersion: 'batch/v1', wrap: (t) => ({ jobTemplate: { spec: { template: t } } }) },
};

const podObject = fc
  .record({ metadata: anyOr(podMeta), spec: anyOr(podSpec) }, { requiredKeys: [] })
  .map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...p }));
const workloadObject = fc
  .tuple(fc.constantFrom(...Object.keys(WORKLOADS)), anyOr(template), fc.boolean())
  .map(([kind, tpl, wellFormed]) => {
    const w = WORKLOADS[kind]!;
    return { apiVersion: w.apiVersion, kind, metadata: { name: 'web' }, spec: wellFormed ? w.wrap(tpl) : tpl };
  });
const namespaceObject = fc
  .record({ name: fc.constant('ns'), labels: anyOr(labels) }, { requiredKeys: ['name'] })
  .map((metadata) => ({ apiVersion: 'v1', kind: 'Namespace', metadata }));
const paObject = fc
  .record(
    {
      selector: anyOr(
        fc.record(
          {
            matchLabels: anyOr(fc.dictionary(fc.constantFrom('app', 'x'), fc.string({ maxLength: 4 }), { maxKeys: 2 })),
          },
          { requiredKeys: [] },
        ),
      ),
      mtls: anyOr(
        fc.record({ mode: anyOr(fc.constantFrom('STRICT', 'UNSET', 'PERMISSIVE', 'DISABLE')) }, { requiredKeys: [] }),
      ),
      portLevelMtls: anyOr(
        fc.dictionary(
          fc.constantFrom('80', '080', '0', 'acd', '65536', '8080'),
          anyOr(fc.record({ mode: anyOr(fc.constantFrom('STRICT', 'PERMISSIVE')) })),
          { maxKeys: 3 },
        ),
      ),
    },
    { requiredKeys: [] },
  )
  .chain((spec) => fc.tuple(fc.constantFrom('v1', 'v1beta1'), anyOr(fc.constant(spec))))
  .map(([v, spec]) => ({
    apiVersion: `security.istio.io/${v}`,
    kind: 'PeerAuthentication',
    metadata: { name: 'p' },
    spec,
  }));
const tlsBlock = anyOr(
  fc.record(
    { mode: anyOr(fc.constantFrom('DISABLE', 'ISTIO_MUTUAL', 'SIMPLE', 'MUTUAL')), sni: fc.constant('x') },
    { requiredKeys: [] },
  ),
);
const trafficPolicy = anyOr(
  fc.record(
    { tls: tlsBlock, portLevelSettings: anyOr(fc.array(anyOr(fc.record({ tls: tlsBlock })), { maxLength: 2 })) },
    { requiredKeys: [] },
  ),
);
const drObject = fc
  .record(
    {
      host: anyOr(fc.constantFrom('ratings', 'ratings.prod.svc.cluster.local', '*', '*.local', 'api.example.com', '')),
      trafficPolicy,
      subsets: anyOr(fc.array(anyOr(fc.record({ name: fc.constant('v1'), trafficPolicy })), { maxLength: 2 })),
    },
    { requiredKeys: [] },
  )
  .chain((spec) => anyOr(fc.constant(spec)))
  .map((spec) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r' }, spec }));

/** Any object of a family meshlock checks, well-formed or not, sometimes replaced wholesale by arbitrary JSON. */
const anyObject = fc.oneof(podObject, workloadObject, namespaceObject, paObject, drObject);
const groupOf = (apiVersion: string): string =>
  apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';

function inputOf(
  obj: { apiVersion: string; kind: string },
  namespace: string,
  op: Operation,
  replaceWith?: unknown,
): EngineInput {
  const object = replaceWith === undefined ? obj : replaceWith;
  return {
    operation: op,
    kind: obj.kind,
    group: groupOf(obj.apiVersion),
    namespace,
    name: 'x',
    object: op === 'DELETE' ? null : object,
    ...(op === 'CREATE' ? {} : { oldObject: object }),
  };
}

function wellFormed(v: ValidationResult): boolean {
  if (v.allowed !== (v.findings.filter((f) => f.denies).length === 0)) return false;
  if (v.warnings.some((w) => w.length > WARNING_MAX || !/^[a-z-]+( \(pre-existing\))?: /.test(w))) return false;
  if (!v.allowed && !(v.message ?? '').startsWith('meshlock denied ')) return false;
  return v.findings.every((f) => f.severity === 'error' || !f.denies);
}

t.test('mutation is idempotent: applying the patch and mutating again yields no patch', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(podObject, workloadObject, namespaceObject),
      namespaceName,
      fc.constantFrom<Operation>('CREATE', 'UPDATE'),
      fc.constantFrom(...CONFIGS),
      (obj, ns, op, cfg) => {
        const ctx = { config: cfg, now: NOW };
        const input = inputOf(obj, ns, op);
        const first = mutate(input, ctx);
        if (first.patch.length === 0) return true;
        const patched = applyPatch(obj, first.patch);
        return mutate({ ...input, object: patched }, ctx).patch.length === 0;
      },
    ),
    RUNS,
  );
  t.pass('held for every generated namespace, pod and template');
});

t.test('random or malformed objects never throw out of validate or mutate', async (t) => {
  fc.assert(
    fc.property(
      anyObject,
      namespaceName,
      operation,
      fc.constantFrom(...CONFIGS),
      fc.option(fc.anything(), { freq: 5 }),
      (obj, ns, op, cfg, wholesale) => {
        const ctx = { config: cfg, now: NOW };
        const input = inputOf(obj, ns, op, wholesale ?? undefined);
        const v = validate(input, ctx);
        const m = mutate(input, ctx);
        if (!wellFormed(v)) return false;
        if (m.patch.length > 0) applyPatch(input.object, m.patch);
        return true;
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('no input made the engine throw, and every decision was well formed');
});

const deniedBy = (v: ValidationResult, rule: string): boolean =>
  !v.allowed && v.findings.some((f) => f.rule === rule && f.denies);
const notNull = (v: unknown): boolean => v !== null;

t.test('a PeerAuthentication whose mode is anything but STRICT, UNSET or absent is always denied', async (t) => {
  fc.assert(
    fc.property(
      json.filter((m) => m !== 'STRICT' && m !== 'UNSET' && notNull(m)),
      namespaceName,
      fc.constantFrom('v1', 'v1beta1'),
      fc.boolean(),
      (mode, ns, v, withSelector) => {
        const obj = {
          apiVersion: `security.istio.io/${v}`,
          kind: 'PeerAuthentication',
          metadata: { name: 'p', namespace: ns },
          spec: { ...(withSelector ? { selector: { matchLabels: { app: 'web' } } } : {}), mtls: { mode } },
        };
        return deniedBy(validate(inputOf(obj, ns, 'CREATE'), { config: DEFAULT, now: NOW }), 'pa-mode');
      },
    ),
    RUNS,
  );
  t.pass('always denied by pa-mode');
});

t.test('a port-level mode that is anything but STRICT or UNSET is always denied', async (t) => {
  fc.assert(
    fc.property(
      json.filter((m) => m !== 'STRICT' && m !== 'UNSET' && notNull(m)),
      fc.integer({ min: 1, max: 65535 }),
      namespaceName,
      (mode, port, ns) => {
        const obj = {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'p' },
          spec: {
            selector: { matchLabels: { app: 'web' } },
            mtls: { mode: 'STRICT' },
            portLevelMtls: { [String(port)]: { mode } },
          },
        };
        return deniedBy(validate(inputOf(obj, ns, 'CREATE'), { config: DEFAULT, now: NOW }), 'pa-port-mode');
      },
    ),
    RUNS,
  );
  t.pass('always denied by pa-port-mode');
});

t.test('any DestinationRule tls mode but ISTIO_MUTUAL towards an in-mesh host is always denied', async (t) => {
  const inMeshHost = fc.oneof(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\.[a-z][a-z0-9-]{0,8}\.svc$/),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\.[a-z][a-z0-9-]{0,8}\.svc\.cluster\.local$/),
    fc.constantFrom('*', '*.local', '*.cluster.local', '*.svc.cluster.local', 'x.cluster.local'),
  );
  const where = fc.constantFrom('trafficPolicy', 'portLevelSettings', 'subset', 'subsetPortLevelSettings');
  fc.assert(
    fc.property(
      fc.option(
        json.filter((m) => m !== 'ISTIO_MUTUAL'),
        { nil: undefined },
      ),
      inMeshHost,
      where,
      namespaceName,
      (mode, host, at, ns) => {
        const tls = mode === undefined || mode === null ? {} : { mode };
        const policy =
          at === 'trafficPolicy' || at === 'subset' ? { tls } : { portLevelSettings: [{ port: { number: 80 }, tls }] };
        const spec = at.startsWith('subset')
          ? { host, subsets: [{ name: 'v1', trafficPolicy: policy }] }
          : { host, trafficPolicy: policy };
        const obj = {
          apiVersion: 'networking.istio.io/v1beta1',
          kind: 'DestinationRule',
          metadata: { name: 'r' },
          spec,
        };
        const v = validate(inputOf(obj, ns, 'CREATE'), { config: DEFAULT, now: NOW });
        return deniedBy(v, 'dr-tls-disable') || deniedBy(v, 'dr-tls-origination');
      },
    ),
    RUNS,
  );
  t.pass('always denied by dr-tls-disable or dr-tls-origination');
});

t.test('any pod inject value but "true" or empty is always denied, on a pod or any template', async (t) => {
  const kinds = ['Pod', ...Object.keys(WORKLOADS)];
  fc.assert(
    fc.property(
      json.filter((v) => v !== 'true' && v !== '' && notNull(v)),
      fc.constantFrom('labels', 'annotations'),
      fc.constantFrom(...kinds),
      fc.constantFrom('shop', 'team-a', 'default'),
      (value, where, kind, ns) => {
        const tpl = {
          metadata: { [where]: { 'sidecar.istio.io/inject': value } },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        };
        const obj =
          kind === 'Pod'
            ? { apiVersion: 'v1', kind, ...tpl }
            : {
                apiVersion: WORKLOADS[kind]!.apiVersion,
                kind,
                metadata: { name: 'w' },
                spec: WORKLOADS[kind]!.wrap(tpl),
              };
        return deniedBy(validate(inputOf(obj, ns, 'CREATE'), { config: DEFAULT, now: NOW }), 'pod-injection-disabled');
      },
    ),
    RUNS,
  );
  t.pass('always denied by pod-injection-disabled');
});

t.test(
  'a namespace whose istio-injection is anything but enabled, without rev or ambient, is always denied',
  async (t) => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12 }).filter((v) => v !== 'enabled'),
        fc.constantFrom('shop', 'team-a', 'payments'),
        (value, name) => {
          const obj = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio-injection': value } } };
          const input = inputOf(obj, name, 'CREATE');
          const ctx = { config: DEFAULT, now: NOW };
          return deniedBy(validate(input, ctx), 'ns-injection-disabled') && mutate(input, ctx).patch.length === 0;
        },
      ),
      RUNS,
    );
    t.pass('always denied by ns-injection-disabled and never overwritten');
  },
);

/**
 * An UPDATE's new object made of old's fields and another object's, chosen key by key at every
 * depth: most pairs share most fields, as real updates do, and some change exactly one.
 */
function mix(a: unknown, b: unknown, picks: readonly boolean[], at = { i: 0 }): unknown {
  const pick = (): boolean => picks[at.i++ % picks.length] ?? false;
  const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isRec(a) && isRec(b)) {
    const out: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const v = mix(a[k], b[k], picks, at);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return pick() ? b : a;
}

const sameFamily = fc.oneof(
  fc.tuple(podObject, podObject),
  fc.tuple(workloadObject, workloadObject).filter(([a, b]) => a.kind === b.kind),
  fc.tuple(namespaceObject, namespaceObject),
  fc.tuple(paObject, paObject),
  fc.tuple(drObject, drObject),
);

t.test('ratcheting never allows an UPDATE that introduces a violation absent from oldObject', async (t) => {
  let introduced = 0;
  let kept = 0;
  fc.assert(
    fc.property(
      sameFamily,
      fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
      fc.constantFrom('shop', 'team-a', 'istio-system'),
      ([old, other], picks, ns) => {
        const object = mix(old, other, picks) as { apiVersion: string; kind: string };
        const ctx = { config: DEFAULT, now: NOW };
        const input: EngineInput = { ...inputOf(old, ns, 'UPDATE'), object, oldObject: old };
        const before = violationsOf({ ...inputOf(old, ns, 'CREATE') }, ctx);
        const v = validate(input, ctx);
        if (!wellFormed(v)) return false;
        for (const f of v.findings) {
          if (f.preExisting) {
            kept++;
            // Allowed only because oldObject had this very violation.
            if (!before.some((b) => b.rule === f.rule && b.path === f.path && b.message === f.message)) return false;
          }
          const fresh = !before.some((b) => b.rule === f.rule && b.path === f.path);
          if (fresh && f.severity === 'error') {
            introduced++;
            if (!f.denies || v.allowed) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 1500 },
  );
  t.ok(introduced > 50, `generated updates introduced violations (${introduced}), each denied`);
  t.ok(kept > 50, `generated updates kept violations (${kept}), each one oldObject had`);
});
