// The properties test/properties.test.ts checks for Istio, checked for `mesh: linkerd` with
// fast-check: mutation is idempotent, no object (however malformed) throws out of validate or
// mutate, and no Linkerd bypass of docs/POLICY-LINKERD.md passes in enforce mode.
import t from 'tap';
import fc from 'fast-check';
import { parseConfigText, resolveConfig, type ResolvedConfig } from '../src/config/index.js';
import {
  applyPatch,
  mutate,
  validate,
  WARNING_MAX,
  type EngineInput,
  type Operation,
  type ValidationResult,
} from '../src/policy/index.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const RUNS = { numRuns: 300 };
const config = (text: string): ResolvedConfig => resolveConfig(parseConfigText(text), 'meshlock');
const LINKERD = config('mesh: linkerd\n');
const CONFIGS = [
  LINKERD,
  config('mesh: linkerd\nmode: warn\n'),
  config('mesh: linkerd\nmode: dry-run\n'),
  config('mesh: linkerd\nlinkerd:\n  controlPlaneNamespace: l5d\n  namespaceDefaultInboundPolicy: deny\n'),
];

const json = fc.jsonValue({ maxDepth: 3 });
const anyOr = <T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: plausible },
    { weight: 2, arbitrary: json },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
const namespaceName = fc.constantFrom('shop', 'team-a', 'linkerd', 'l5d', 'kube-system', 'meshlock', 'cert-manager');
const value = fc.oneof(
  fc.constantFrom(
    'enabled',
    'disabled',
    'ingress',
    'Enabled',
    'true',
    'false',
    '',
    'all-authenticated',
    'all-unauthenticated',
    'audit',
    'deny',
    '8080',
    '4191',
    '0.0.0.0/0',
    '2102',
  ),
  fc.string({ maxLength: 6 }),
);
const annotationKey = fc.constantFrom(
  'linkerd.io/inject',
  'linkerd.io/created-by',
  'config.linkerd.io/skip-inbound-ports',
  'config.linkerd.io/skip-outbound-ports',
  'config.linkerd.io/skip-subnets',
  'config.linkerd.io/admin-port',
  'config.linkerd.io/proxy-uid',
  'config.linkerd.io/default-inbound-policy',
  'config.linkerd.io/proxy-enable-native-sidecar',
  'config.alpha.linkerd.io/proxy-enable-native-sidecar',
  'note',
);
const labelKey = fc.constantFrom(
  'app',
  'linkerd.io/control-plane-ns',
  'linkerd.io/control-plane-component',
  'linkerd.io/cni-resource',
  'config.linkerd.io/admission-webhooks',
);
const annotations = fc.dictionary(annotationKey, value, { maxKeys: 4 });
const labels = fc.dictionary(labelKey, value, { maxKeys: 3 });
const container = fc.record(
  {
    name: anyOr(fc.constantFrom('app', 'linkerd-proxy', 'linkerd-init', 'istio-proxy', 'sidecar')),
    image: anyOr(
      fc.constantFrom(
        'registry.example/app:1',
        'cr.l5d.io/linkerd/proxy:edge-26.8.3',
        'cr.l5d.io/linkerd/proxy-init:v2',
      ),
    ),
    restartPolicy: anyOr(fc.constant('Always')),
    ports: anyOr(
      fc.array(
        fc.record(
          { containerPort: anyOr(fc.constantFrom(8080, 4191, 9090)), name: anyOr(fc.constantFrom('http', 'admin')) },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
    ),
    securityContext: anyOr(
      fc.record(
        {
          runAsUser: anyOr(fc.constantFrom(0, 1000, 2102)),
          privileged: anyOr(fc.boolean()),
          capabilities: anyOr(
            fc.record(
              { add: anyOr(fc.array(fc.constantFrom('NET_ADMIN', 'NET_RAW', 'SYS_TIME'))) },
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
  },
  { requiredKeys: [] },
);
const podMeta = fc.record(
  { name: fc.constant('web'), labels: anyOr(labels), annotations: anyOr(annotations) },
  { requiredKeys: [] },
);
const template = fc.record({ metadata: anyOr(podMeta), spec: anyOr(podSpec) }, { requiredKeys: [] });
const podObject = fc
  .record({ metadata: anyOr(podMeta), spec: anyOr(podSpec) }, { requiredKeys: [] })
  .map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...p }));
const workloadObject = fc
  .tuple(fc.constantFrom('Deployment', 'Job', 'CronJob'), anyOr(template))
  .map(([kind, tpl]) => ({
    apiVersion: kind === 'Deployment' ? 'apps/v1' : 'batch/v1',
    kind,
    metadata: { name: 'web' },
    spec: kind === 'CronJob' ? { jobTemplate: { spec: { template: tpl } } } : { template: tpl },
  }));
const namespaceObject = fc
  .record(
    { name: fc.constant('ns'), labels: anyOr(labels), annotations: anyOr(annotations) },
    { requiredKeys: ['name'] },
  )
  .map((metadata) => ({ apiVersion: 'v1', kind: 'Namespace', metadata }));
const policyObject = fc
  .tuple(
    fc.constantFrom('Server', 'ServerAuthorization', 'AuthorizationPolicy'),
    anyOr(
      fc.record(
        {
          accessPolicy: anyOr(value),
          podSelector: anyOr(
            fc.record(
              { matchLabels: anyOr(fc.dictionary(fc.constantFrom('app'), value, { maxKeys: 1 })) },
              { requiredKeys: [] },
            ),
          ),
          port: anyOr(fc.constantFrom(8080, 'http')),
          client: anyOr(
            fc.record(
              {
                unauthenticated: anyOr(fc.boolean()),
                meshTLS: anyOr(
                  fc.record(
                    {
                      unauthenticatedTLS: anyOr(fc.boolean()),
                      serviceAccounts: anyOr(fc.array(fc.record({ name: fc.constant('a') }), { maxLength: 1 })),
                    },
                    { requiredKeys: [] },
                  ),
                ),
              },
              { requiredKeys: [] },
            ),
          ),
          targetRef: anyOr(
            fc.record(
              {
                group: anyOr(fc.constantFrom('policy.linkerd.io', '')),
                kind: anyOr(fc.constantFrom('Server', 'Namespace', 'HTTPRoute')),
                name: anyOr(fc.constant('web')),
              },
              { requiredKeys: [] },
            ),
          ),
          requiredAuthenticationRefs: anyOr(
            fc.array(
              fc.record(
                {
                  group: anyOr(fc.constantFrom('policy.linkerd.io', '')),
                  kind: anyOr(
                    fc.constantFrom('MeshTLSAuthentication', 'NetworkAuthentication', 'ServiceAccount', 'Secret'),
                  ),
                  name: anyOr(fc.constant('x')),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 3 },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  )
  .map(([kind, spec]) => ({ apiVersion: 'policy.linkerd.io/v1beta3', kind, metadata: { name: 'p' }, spec }));
const anyObject = fc.oneof(podObject, workloadObject, namespaceObject, policyObject);
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

t.test('mesh linkerd: mutation is idempotent', async (t) => {
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
        return mutate({ ...input, object: applyPatch(obj, first.patch) }, ctx).patch.length === 0;
      },
    ),
    RUNS,
  );
  t.pass('held for every generated namespace, pod and template');
});

t.test('mesh linkerd: random or malformed objects never throw out of validate or mutate', async (t) => {
  fc.assert(
    fc.property(
      anyObject,
      namespaceName,
      fc.constantFrom<Operation>('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
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

t.test('mesh linkerd: every linkerd.io/inject value on a template but enabled and ingress is denied', async (t) => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 10 }).filter((v) => v !== 'enabled' && v !== 'ingress'),
      fc.constantFrom('shop', 'team-a'),
      (v, ns) => {
        const obj = {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web' },
          spec: {
            template: {
              metadata: { annotations: { 'linkerd.io/inject': v } },
              spec: { containers: [{ name: 'app' }] },
            },
          },
        };
        return deniedBy(validate(inputOf(obj, ns, 'CREATE'), { config: LINKERD, now: NOW }), 'ld-pod-inject');
      },
    ),
    RUNS,
  );
  t.pass('always denied by ld-pod-inject');
});

t.test('mesh linkerd: a default inbound policy that admits plaintext or is unknown is always denied', async (t) => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 24 }).filter((v) => !['all-authenticated', 'cluster-authenticated', 'deny'].includes(v)),
      fc.boolean(),
      (v, onNamespace) => {
        const ann = { 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': v };
        const obj = onNamespace
          ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', annotations: ann } }
          : {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'web' },
              spec: { template: { metadata: { annotations: ann }, spec: { containers: [{ name: 'app' }] } } },
            };
        return deniedBy(validate(inputOf(obj, 'shop', 'CREATE'), { config: LINKERD, now: NOW }), 'ld-inbound-policy');
      },
    ),
    RUNS,
  );
  t.pass('always denied by ld-inbound-policy');
});

t.test('mesh linkerd: a pod to be meshed that reaches validation without a proxy is always denied', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('app', 'worker', 'linkerd-init'), { maxLength: 3 }),
      fc.constantFrom('enabled', 'ingress'),
      (names, v) => {
        const obj = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web', annotations: { 'linkerd.io/inject': v } },
          spec: { containers: names.map((name) => ({ name })) },
        };
        return deniedBy(validate(inputOf(obj, 'shop', 'CREATE'), { config: LINKERD, now: NOW }), 'ld-pod-not-meshed');
      },
    ),
    RUNS,
  );
  t.pass('always denied by ld-pod-not-meshed');
});

t.test(
  'mesh linkerd: an AuthorizationPolicy without a MeshTLSAuthentication or ServiceAccount ref is always denied',
  async (t) => {
    const ref = fc.record({
      group: fc.constant('policy.linkerd.io'),
      kind: fc.constant('NetworkAuthentication'),
      name: fc.stringMatching(/^[a-z]{1,6}$/),
    });
    fc.assert(
      fc.property(fc.array(ref, { maxLength: 1 }), fc.constantFrom('Server', 'Namespace'), (refs, kind) => {
        const obj = {
          apiVersion: 'policy.linkerd.io/v1alpha1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'p' },
          spec: {
            targetRef: { group: kind === 'Server' ? 'policy.linkerd.io' : '', kind, name: 'web' },
            requiredAuthenticationRefs: refs,
          },
        };
        return deniedBy(validate(inputOf(obj, 'shop', 'CREATE'), { config: LINKERD, now: NOW }), 'ld-authz-unauth');
      }),
      RUNS,
    );
    t.pass('always denied by ld-authz-unauth');
  },
);
