// The Linkerd model (src/policy/linkerd), one table per question, each row citing the line of
// Linkerd's source (linkerd/linkerd2 at edge-26.8.3, b24cd40) that decides it. With
// MESHLOCK_LINKERD_SRC naming a git directory of linkerd/linkerd2, the cited lines are checked to
// still say what the row relies on.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import {
  annotationsAtInjection,
  claimsMesh,
  disabledByAnnotation,
  existingSidecars,
  inboundPolicy,
  inboundSkip,
  inboundSkipped,
  injectedBy,
  injectionVerdict,
  meshed,
  namespaceEnrolled,
  nativeSidecarSetting,
  NO_POLICY_OBJECTS,
  outboundSkip,
  parseDefaultPolicy,
  parseGoBool,
  parsePortList,
  parsePortSet,
  plaintextAuthorizations,
  httpProbePaths,
  selectorMatches,
  webhookSelects,
  type ClusterPolicy,
  type PodView,
  type PolicyObjects,
} from '../src/policy/linkerd/index.js';

/** A cited line and a fragment it must contain. */
interface Src {
  readonly src: string;
  readonly says: string;
}
const cited: Src[] = [];
const cite = (src: string, says: string): string => {
  cited.push({ src, says });
  return src;
};

t.test('linkerd.io/inject: injector reasons (pkg/inject/report.go disabledByAnnotation)', async (t) => {
  const rows: { ns?: string; pod?: string; disabled: boolean; reason?: string; src: string }[] = [
    {
      ns: 'enabled',
      pod: 'enabled',
      disabled: false,
      src: cite('pkg/inject/report.go:188', 'webhook | enabled   | enabled  | yes'),
    },
    { ns: 'enabled', disabled: false, src: cite('pkg/inject/report.go:189', 'webhook | enabled   | ""       | yes') },
    {
      ns: 'enabled',
      pod: 'disabled',
      disabled: true,
      reason: 'injection_disable_annotation_present',
      src: cite('pkg/inject/report.go:218', 'injectDisableAnnotationPresent'),
    },
    {
      ns: 'disabled',
      pod: 'enabled',
      disabled: false,
      src: cite('pkg/inject/report.go:191', 'webhook | disabled  | enabled  | yes'),
    },
    { pod: 'enabled', disabled: false, src: cite('pkg/inject/report.go:192', 'webhook | ""        | enabled  | yes') },
    { pod: 'ingress', disabled: false, src: cite('pkg/inject/report.go:51', 'k8s.ProxyInjectIngress: {}') },
    {
      ns: 'ingress',
      disabled: false,
      src: cite('pkg/inject/report.go:216', 'doesAnnotationEnableInject(nsAnnotation)'),
    },
    {
      ns: 'disabled',
      disabled: true,
      reason: 'injection_enable_annotation_absent',
      src: cite('pkg/inject/report.go:195', 'webhook | disabled  | ""       | no'),
    },
    {
      disabled: true,
      reason: 'injection_enable_annotation_absent',
      src: cite('pkg/inject/report.go:224', 'injectEnableAnnotationAbsent'),
    },
    {
      ns: 'Enabled',
      pod: 'enabled',
      disabled: true,
      reason: 'invalid_inject_annotation_at_ns',
      src: cite('pkg/inject/report.go:209', 'invalidInjectAnnotationNamespace'),
    },
    {
      ns: 'true',
      disabled: true,
      reason: 'invalid_inject_annotation_at_ns',
      src: cite('pkg/inject/report.go:237', 'annotation != "" && !validValue'),
    },
    {
      ns: 'enabled',
      pod: 'true',
      disabled: true,
      reason: 'invalid_inject_annotation_at_workload',
      src: cite('pkg/inject/report.go:213', 'invalidInjectAnnotationWorkload'),
    },
    {
      ns: 'enabled',
      pod: 'Disabled',
      disabled: true,
      reason: 'invalid_inject_annotation_at_workload',
      src: cite('pkg/inject/report.go:44', 'k8s.ProxyInjectDisabled: {}'),
    },
    {
      ns: '',
      pod: '',
      disabled: true,
      reason: 'injection_enable_annotation_absent',
      src: cite('pkg/inject/report.go:236', '_, validValue := ValidInjectAnnotationValues[annotation]'),
    },
  ];
  for (const r of rows) {
    const ns = r.ns === undefined ? {} : { 'linkerd.io/inject': r.ns };
    const pod = r.pod === undefined ? {} : { 'linkerd.io/inject': r.pod };
    const d = disabledByAnnotation(ns, pod);
    t.equal(d.disabled, r.disabled, `ns=${r.ns ?? '-'} pod=${r.pod ?? '-'}: disabled ${r.disabled} (${r.src})`);
    t.equal(d.reason, r.reason, `reason ${r.reason ?? 'none'}`);
  }
});

t.test('a namespace is enrolled only by linkerd.io/inject exactly "enabled"', async (t) => {
  for (const [v, want] of [
    ['enabled', true],
    ['ingress', false],
    ['Enabled', false],
    ['disabled', false],
    [undefined, false],
  ] as const) {
    t.equal(namespaceEnrolled(v === undefined ? {} : { 'linkerd.io/inject': v }), want, `inject=${v ?? 'absent'}`);
  }
  t.equal(namespaceEnrolled(new Map([['linkerd.io/inject', 'enabled']])), true, 'a Map works as well as a record');
});

t.test('existing sidecars make the injector skip (pkg/healthcheck/sidecar.go HasExistingSidecars)', async (t) => {
  const rows: { spec: unknown; hits: number; src: string }[] = [
    {
      spec: { containers: [{ name: 'linkerd-proxy', image: 'busybox' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:17', 'container.Name == k8s.ProxyContainerName'),
    },
    {
      spec: { initContainers: [{ name: 'linkerd-proxy', image: 'busybox' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:13', 'append(podSpec.InitContainers, podSpec.Containers...)'),
    },
    {
      spec: { containers: [{ name: 'app', image: 'cr.l5d.io/linkerd/proxy:edge-26.8.3' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:15', '"cr.l5d.io/linkerd/proxy:"'),
    },
    {
      spec: { containers: [{ name: 'app', image: 'gcr.io/istio-release/proxyv2:1.27.0' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:16', '"gcr.io/istio-release/proxyv2:"'),
    },
    {
      spec: { containers: [{ name: 'istio-proxy', image: 'x' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:18', 'container.Name == "istio-proxy"'),
    },
    {
      spec: { initContainers: [{ name: 'linkerd-init', image: 'x' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:26', 'ic.Name == "linkerd-init"'),
    },
    {
      spec: { initContainers: [{ name: 'setup', image: 'cr.l5d.io/linkerd/proxy-init:v2.4.0' }] },
      hits: 1,
      src: cite('pkg/healthcheck/sidecar.go:24', '"cr.l5d.io/linkerd/proxy-init:"'),
    },
    {
      spec: { containers: [{ name: 'linkerd-init', image: 'x' }] },
      hits: 0,
      src: cite('pkg/healthcheck/sidecar.go:23', 'for _, ic := range podSpec.InitContainers'),
    },
    { spec: { containers: [{ name: 'app', image: 'nginx' }] }, hits: 0, src: 'pkg/healthcheck/sidecar.go:32' },
  ];
  for (const r of rows) t.equal(existingSidecars(r.spec).length, r.hits, `${JSON.stringify(r.spec)} (${r.src})`);
});

t.test('injection verdict lists every reason in the injector order (pkg/inject/report.go Injectable)', async (t) => {
  const ns = { 'linkerd.io/inject': 'enabled' };
  const v = injectionVerdict(ns, {}, { hostNetwork: true, containers: [{ name: 'linkerd-proxy' }] });
  cite('pkg/inject/report.go:140', 'if r.HostNetwork');
  t.same(v.reasons, ['host_network_enabled', 'sidecar_already_exists'], 'hostNetwork, then the sidecar');
  t.equal(v.inject, false);
  t.equal(
    injectionVerdict(ns, {}, { containers: [{ name: 'app' }] }).inject,
    true,
    'an enrolled namespace injects a plain pod',
  );
  const noToken = { automountServiceAccountToken: false, containers: [{ name: 'app' }] };
  cite('pkg/inject/report.go:107', 'conf.pod.spec.AutomountServiceAccountToken != nil');
  t.equal(
    injectionVerdict(ns, {}, noToken).inject,
    true,
    'automountServiceAccountToken false is fine with token projection (the default)',
  );
  t.same(
    injectionVerdict(ns, {}, noToken, { serviceAccountTokenProjection: false }).reasons,
    ['disabled_automount_service_account_token_account'],
    'without projection it is a reason',
  );
  cite('pkg/inject/report.go:265', 'if r.UDP');
  t.equal(
    injectionVerdict(ns, {}, { containers: [{ name: 'dns', ports: [{ containerPort: 53, protocol: 'UDP' }] }] }).inject,
    true,
    'UDP ports only fail linkerd inject, not the webhook',
  );
  t.equal(injectionVerdict({}, { 'linkerd.io/inject': 'ingress' }, {}).ingress, true, 'ingress mode still injects');
  cite('pkg/inject/inject.go:269', 'override == k8s.ProxyInjectIngress');
});

t.test("the injector's webhook selectors (charts/linkerd-control-plane/values.yaml)", async (t) => {
  cite('charts/linkerd-control-plane/values.yaml:525', 'key: config.linkerd.io/admission-webhooks');
  cite('charts/linkerd-control-plane/values.yaml:532', '- kube-system');
  cite('charts/linkerd-control-plane/values.yaml:538', 'key: linkerd.io/control-plane-component');
  cite('charts/linkerd-control-plane/values.yaml:540', 'key: linkerd.io/cni-resource');
  t.equal(webhookSelects('shop', {}, {}), undefined, 'an ordinary pod reaches the injector');
  t.equal(webhookSelects('kube-system', {}, {}), 'namespace_not_selected');
  t.equal(webhookSelects('cert-manager', {}, {}), 'namespace_not_selected');
  t.equal(
    webhookSelects('shop', { 'config.linkerd.io/admission-webhooks': 'disabled' }, {}),
    'namespace_not_selected',
    'the namespace LABEL',
  );
  t.equal(
    webhookSelects('shop', {}, { 'linkerd.io/control-plane-component': '' }),
    'object_not_selected',
    'any value, even empty',
  );
  t.equal(webhookSelects('shop', {}, { 'linkerd.io/cni-resource': 'x' }), 'object_not_selected');
});

t.test('meshed: the control-plane-ns label is the claim, the proxy container the fact', async (t) => {
  cite('pkg/k8s/labels.go:594', 'pod.Labels[ControllerNSLabel] == controllerNS');
  const labels = { 'linkerd.io/control-plane-ns': 'linkerd' };
  t.equal(claimsMesh(labels, 'linkerd'), true);
  t.equal(claimsMesh(labels, 'linkerd-prod'), false, 'another control plane');
  t.equal(
    meshed(labels, { containers: [{ name: 'app' }] }, 'linkerd'),
    false,
    'a label without a proxy is a forged claim',
  );
  t.equal(meshed(labels, { containers: [{ name: 'linkerd-proxy' }] }, 'linkerd'), true);
  t.equal(
    meshed(labels, { initContainers: [{ name: 'linkerd-proxy', restartPolicy: 'Always' }] }, 'linkerd'),
    true,
    'native sidecar',
  );
  t.equal(
    meshed(labels, { initContainers: [{ name: 'linkerd-proxy' }] }, 'linkerd'),
    false,
    'an init container that must exit proxies nothing',
  );
  cite('controller/proxy-injector/webhook.go:104', '"linkerd/proxy-injector %s"');
  t.equal(injectedBy({ 'linkerd.io/created-by': 'linkerd/proxy-injector edge-26.8.3' }), 'proxy-injector');
  t.equal(injectedBy({ 'linkerd.io/created-by': 'linkerd/cli edge-26.8.3' }), 'cli');
  t.equal(injectedBy({ 'linkerd.io/created-by': 'isim' }), 'other');
  t.equal(injectedBy({}), 'none');
});

t.test('native sidecar keys: stable, then beta, then alpha; ParseBool (pkg/inject/inject.go)', async (t) => {
  const S = 'config.linkerd.io/proxy-enable-native-sidecar';
  const B = 'config.beta.linkerd.io/proxy-enable-native-sidecar';
  const AL = 'config.alpha.linkerd.io/proxy-enable-native-sidecar';
  const rows: { ann: Record<string, string>; key?: string; value?: boolean; src: string }[] = [
    {
      ann: { [S]: 'false', [AL]: 'true' },
      key: S,
      value: false,
      src: cite('pkg/inject/inject.go:430', 'annotations[k8s.ProxyEnableNativeSidecarAnnotation]'),
    },
    {
      ann: { [B]: 'true', [AL]: 'false' },
      key: B,
      value: true,
      src: cite('pkg/inject/inject.go:435', 'ProxyEnableNativeSidecarAnnotationBeta'),
    },
    {
      ann: { [AL]: 'T' },
      key: AL,
      value: true,
      src: cite('pkg/inject/inject.go:440', 'ProxyEnableNativeSidecarAnnotationAlpha'),
    },
    { ann: { [S]: 'yes', [AL]: 'true' }, key: S, src: cite('pkg/inject/inject.go:432', 'if err == nil') },
    { ann: {}, src: 'pkg/inject/inject.go:429' },
  ];
  for (const r of rows) {
    const s = nativeSidecarSetting(r.ann);
    t.equal(s.key, r.key, `deciding key (${r.src})`);
    t.equal(s.value, r.value, 'value');
  }
  t.equal(parseGoBool('TRUE'), true);
  t.equal(parseGoBool('tRue'), undefined, 'Go rejects mixed case');
});

t.test(
  'namespace annotations reach a pod only at injection, and only Linkerd’s list (AppendNamespaceAnnotations)',
  async (t) => {
    cite('pkg/inject/inject.go:177', 'func AppendNamespaceAnnotations');
    cite('pkg/inject/inject.go:844', '_, ok := workloadAnn[annotationKey]');
    const ns = {
      'config.linkerd.io/default-inbound-policy': 'all-authenticated',
      'config.linkerd.io/skip-inbound-ports': '9000',
      'config.beta.linkerd.io/proxy-enable-native-sidecar': 'true',
      'config.linkerd.io/unknown': 'x',
      'linkerd.io/inject': 'enabled',
    };
    const got = annotationsAtInjection(ns, { 'config.linkerd.io/skip-inbound-ports': '' });
    t.equal(got.get('config.linkerd.io/default-inbound-policy'), 'all-authenticated', 'copied when the pod lacks it');
    t.equal(got.get('config.linkerd.io/skip-inbound-ports'), '', "the pod's own value wins, even empty");
    t.equal(got.has('config.beta.linkerd.io/proxy-enable-native-sidecar'), false, 'the beta key is not in the list');
    t.equal(got.has('config.linkerd.io/unknown'), false, 'unknown keys are not copied');
    t.equal(got.get('linkerd.io/inject'), 'enabled', 'the inject annotation is copied too');
  },
);

t.test('port lists as Linkerd parses them', async (t) => {
  cite('pkg/util/parsing.go:68', 'strings.Split(strings.TrimSuffix(override, ","), ",")');
  cite('pkg/util/portrange.go:36', '!isPort(lower)');
  t.same(parsePortList('8080, 9000-9002,').ranges, [
    { lo: 8080, hi: 8080 },
    { lo: 9000, hi: 9002 },
  ]);
  t.same(
    parsePortList('80,abc,9-1,1-2-3').invalid,
    ['abc', '9-1', '1-2-3'],
    'invalid entries are skipped, the rest apply',
  );
  t.same(parsePortList('').ranges, []);
  cite('policy-controller/k8s/index/src/ports.rs:66', 'spec.trim().parse().context("parsing port")?');
  t.same([...(parsePortSet('8080,9000-9001') ?? [])], [8080, 9000, 9001]);
  t.equal(parsePortSet('8080,x'), undefined, 'the controller drops the whole annotation on one bad entry');
  t.equal(parsePortSet('0'), undefined, 'port 0 is not a NonZeroU16');
  await t.test('parsePortList never throws and yields only valid ranges', async (t) => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) =>
        parsePortList(s).ranges.every((r) => r.lo >= 0 && r.hi <= 65535 && r.lo <= r.hi),
      ),
    );
    t.pass('property held');
  });
});

t.test(
  'iptables: what inbound redirection skips (proxy-init, charts/partials/templates/_proxy-init.tpl)',
  async (t) => {
    cite(
      'charts/partials/templates/_proxy-init.tpl:25',
      '{{.Values.proxy.ports.control}},{{.Values.proxy.ports.admin}}',
    );
    cite('charts/linkerd-control-plane/values.yaml:335', 'ignoreInboundPorts: "4567,4568"');
    cite('pkg/inject/inject.go:553', 'values.ProxyInit.IgnoreInboundPorts = override');
    const d = inboundSkip({});
    t.same(
      d.ports.map((p) => [p.range.lo, p.source]),
      [
        [4190, 'control-port'],
        [4191, 'admin-port'],
        [4567, 'default-ignore'],
        [4568, 'default-ignore'],
      ],
      'the defaults',
    );
    const own = inboundSkip({ 'config.linkerd.io/skip-inbound-ports': '9443', 'config.linkerd.io/admin-port': '8080' });
    t.equal(inboundSkipped(own, 9443), 'skip-inbound-ports');
    t.equal(inboundSkipped(own, 4567), undefined, 'the annotation REPLACES the installed list');
    t.equal(inboundSkipped(own, 8080), 'admin-port', 'admin-port moved onto an app port skips that port');
    t.equal(
      inboundSkipped(inboundSkip({ 'config.linkerd.io/admin-port': 'x' }), 4191),
      'admin-port',
      'an unparseable admin-port keeps 4191',
    );
    const subnets = inboundSkip({ 'config.linkerd.io/skip-subnets': '10.0.0.0/8, 0.0.0.0/0' });
    t.equal(subnets.allSources, true, '0.0.0.0/0 turns inbound capture off');
    t.equal(inboundSkipped(subnets, 8080), 'skip-subnets');
    t.equal(inboundSkip({ 'config.linkerd.io/skip-subnets': '10.0.0.0/8' }).allSources, false);
    t.equal(inboundSkip({ 'config.linkerd.io/skip-subnets': '::/0' }).allSources, true);
  },
);

t.test('iptables: outbound, proxy UID and GID', async (t) => {
  cite('charts/linkerd-control-plane/values.yaml:220', 'uid: 2102');
  cite('charts/linkerd-control-plane/values.yaml:222', 'gid: -1');
  cite('pkg/inject/inject.go:531', 'annotations[k8s.ProxyUIDAnnotation]');
  t.same(outboundSkip({}), {
    ports: [
      { lo: 4567, hi: 4567 },
      { lo: 4568, hi: 4568 },
    ],
    annotated: false,
    proxyUid: 2102,
  });
  const o = outboundSkip({
    'config.linkerd.io/proxy-uid': '1000',
    'config.linkerd.io/proxy-gid': '3000',
    'config.linkerd.io/skip-outbound-ports': '443',
  });
  t.equal(o.proxyUid, 1000);
  t.equal(o.proxyGid, 3000);
  t.same(o.ports, [{ lo: 443, hi: 443 }]);
  t.equal(
    outboundSkip({ 'config.linkerd.io/proxy-uid': 'root' }).proxyUid,
    2102,
    'an unparseable UID keeps the default',
  );
});

t.test('default policies (policy-controller/k8s/index/src/defaults.rs)', async (t) => {
  cite('policy-controller/k8s/index/src/defaults.rs:53', '"audit" => Ok(Self::Audit)');
  cite('policy-controller/k8s/index/src/defaults.rs:100', 'Self::default_client_authz(config, false, false)');
  for (const v of [
    'all-unauthenticated',
    'all-authenticated',
    'cluster-unauthenticated',
    'cluster-authenticated',
    'deny',
    'audit',
  ])
    t.equal(parseDefaultPolicy(v), v);
  for (const v of ['All-Authenticated', 'authenticated', '', 'allow'])
    t.equal(parseDefaultPolicy(v), undefined, `${JSON.stringify(v)} is not a policy`);
});

const CLUSTER: ClusterPolicy = { defaultPolicy: 'all-unauthenticated', probeNetworks: ['0.0.0.0/0', '::/0'] };
const POD: PodView = {
  namespace: 'shop',
  labels: { app: 'web' },
  annotations: {},
  spec: {
    containers: [
      {
        name: 'web',
        ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }],
        readinessProbe: { httpGet: { path: '/ready?x=1', port: 'HTTP' } },
      },
    ],
  },
};
const meta = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  namespace: 'shop',
  ...extra,
});
const server = (name: string, spec: Record<string, unknown>, ts?: string): unknown => ({
  kind: 'Server',
  metadata: meta(name, ts ? { creationTimestamp: ts, labels: { tier: 'front' } } : { labels: { tier: 'front' } }),
  spec,
});
const objs = (o: Partial<PolicyObjects>): PolicyObjects => ({ ...NO_POLICY_OBJECTS, ...o });

t.test('inbound policy per pod and port (policy-controller/k8s/index/src/inbound/index.rs)', async (t) => {
  const rows: {
    name: string;
    pod?: Partial<PodView>;
    port?: number;
    objects?: PolicyObjects;
    cluster?: ClusterPolicy;
    source: string;
    policy?: string;
    server?: string;
    strict: boolean;
    plaintext: string[];
    src: string;
  }[] = [
    {
      name: 'no Server, no annotation: the cluster default (all-unauthenticated) admits plaintext',
      source: 'cluster-default',
      policy: 'all-unauthenticated',
      strict: false,
      plaintext: ['default/all-unauthenticated'],
      src: cite(
        'policy-controller/k8s/index/src/inbound/index.rs:1767',
        'settings.default_policy.unwrap_or(config.default_policy)',
      ),
    },
    {
      name: 'the pod annotation beats the cluster default',
      pod: { annotations: { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' } },
      source: 'annotation',
      policy: 'all-authenticated',
      strict: true,
      plaintext: [],
      src: cite(
        'policy-controller/k8s/index/src/inbound/workload.rs:189',
        'ann.get("config.linkerd.io/default-inbound-policy")',
      ),
    },
    {
      name: 'an invalid annotation falls back to the cluster default',
      pod: { annotations: { 'config.linkerd.io/default-inbound-policy': 'strict' } },
      source: 'cluster-default',
      policy: 'all-unauthenticated',
      strict: false,
      plaintext: ['default/all-unauthenticated'],
      src: cite('policy-controller/k8s/index/src/inbound/workload.rs:165', 'Invalid default policy annotation value'),
    },
    {
      name: 'audit admits plaintext',
      cluster: { ...CLUSTER, defaultPolicy: 'audit' },
      source: 'cluster-default',
      policy: 'audit',
      strict: false,
      plaintext: ['default/audit'],
      src: 'policy-controller/k8s/index/src/defaults.rs:100',
    },
    {
      name: 'deny admits nothing',
      cluster: { ...CLUSTER, defaultPolicy: 'deny' },
      source: 'cluster-default',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite('policy-controller/k8s/index/src/defaults.rs:90', 'if let DefaultPolicy::Allow {'),
    },
    {
      name: 'require-identity ports turn all-unauthenticated into all-authenticated',
      pod: { annotations: { 'config.linkerd.io/proxy-require-identity-inbound-ports': '8080' } },
      source: 'cluster-default',
      policy: 'all-authenticated',
      strict: true,
      plaintext: [],
      src: cite(
        'policy-controller/k8s/index/src/inbound/index.rs:1768',
        'if settings.require_id_ports.contains(&port)',
      ),
    },
    {
      name: 'require-identity does not tighten audit',
      pod: { annotations: { 'config.linkerd.io/proxy-require-identity-inbound-ports': '8080' } },
      cluster: { ...CLUSTER, defaultPolicy: 'audit' },
      source: 'cluster-default',
      policy: 'audit',
      strict: false,
      plaintext: ['default/audit'],
      src: cite('policy-controller/k8s/index/src/inbound/index.rs:1769', 'if let DefaultPolicy::Allow {'),
    },
    {
      name: 'a Server selecting pod and port wins; accessPolicy absent is deny (CRD default)',
      objects: objs({ servers: [server('web', { podSelector: { matchLabels: { app: 'web' } }, port: 8080 })] }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite('charts/linkerd-crds/templates/policy/server.yaml:241', 'default: deny'),
    },
    {
      name: 'a Server selects by port name',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 'http', accessPolicy: 'all-unauthenticated' })],
      }),
      source: 'server',
      server: 'web',
      policy: 'all-unauthenticated',
      strict: false,
      plaintext: ['Server/web'],
      src: cite('policy-controller/k8s/index/src/inbound/index.rs:1883', 'if let Some(p) = server.access_policy'),
    },
    {
      name: 'a Server on another port does not apply',
      port: 9090,
      objects: objs({ servers: [server('web', { podSelector: {}, port: 8080 })] }),
      source: 'cluster-default',
      policy: 'all-unauthenticated',
      strict: false,
      plaintext: ['default/all-unauthenticated'],
      src: cite(
        'policy-controller/k8s/index/src/inbound/index.rs:1288',
        'self.set_default_server(port, &policy.cluster_info)',
      ),
    },
    {
      name: 'an unknown accessPolicy is dropped (authorizes nothing)',
      objects: objs({ servers: [server('web', { podSelector: {}, port: 8080, accessPolicy: 'allow' })] }),
      source: 'server',
      server: 'web',
      strict: true,
      plaintext: [],
      src: cite(
        'policy-controller/k8s/index/src/inbound/server.rs:25',
        'srv.spec.access_policy.and_then(|p| p.parse().ok())',
      ),
    },
    {
      name: 'the oldest Server wins',
      objects: objs({
        servers: [
          server('b-new', { podSelector: {}, port: 8080, accessPolicy: 'all-authenticated' }, '2026-02-01T00:00:00Z'),
          server('z-old', { podSelector: {}, port: 8080, accessPolicy: 'all-unauthenticated' }, '2026-01-01T00:00:00Z'),
        ],
      }),
      source: 'server',
      server: 'z-old',
      policy: 'all-unauthenticated',
      strict: false,
      plaintext: ['Server/z-old'],
      src: cite('policy-controller/k8s/index/src/inbound/index.rs:1249', 'asrv.created_at'),
    },
    {
      name: 'a ServerAuthorization with client.unauthenticated admits plaintext',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        serverAuthorizations: [
          { metadata: meta('open'), spec: { server: { name: 'web' }, client: { unauthenticated: true } } },
        ],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: false,
      plaintext: ['ServerAuthorization/open'],
      src: cite(
        'policy-controller/k8s/index/src/inbound/server_authorization.rs:79',
        'let authentication = if client.unauthenticated {',
      ),
    },
    {
      name: 'a ServerAuthorization selecting the Server by label',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        serverAuthorizations: [
          {
            metadata: meta('tls'),
            spec: {
              server: { selector: { matchLabels: { tier: 'front' } } },
              client: { meshTLS: { unauthenticatedTLS: true } },
            },
          },
        ],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: false,
      plaintext: [],
      src: cite('policy-controller/k8s/index/src/inbound/server_authorization.rs:97', 'if mtls.unauthenticated_tls {'),
    },
    {
      name: 'a ServerAuthorization that authorizes no clients is ignored',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        serverAuthorizations: [{ metadata: meta('empty'), spec: { server: { name: 'web' }, client: { meshTLS: {} } } }],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite(
        'policy-controller/k8s/index/src/inbound/server_authorization.rs:116',
        'authorization authorizes no clients',
      ),
    },
    {
      name: 'an AuthorizationPolicy with only a NetworkAuthentication admits plaintext',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        authorizationPolicies: [
          {
            metadata: meta('lb'),
            spec: {
              targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web' },
              requiredAuthenticationRefs: [
                { group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'nodes' },
              ],
            },
          },
        ],
        networkAuthentications: [{ metadata: meta('nodes'), spec: { networks: [{ cidr: '10.0.0.0/8' }] } }],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: false,
      plaintext: ['AuthorizationPolicy/lb'],
      src: cite(
        'policy-controller/k8s/index/src/inbound/index.rs:2123',
        '.unwrap_or(ClientAuthentication::Unauthenticated)',
      ),
    },
    {
      name: 'an AuthorizationPolicy with empty refs on the Namespace admits plaintext from anywhere',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        authorizationPolicies: [
          {
            metadata: meta('all'),
            spec: { targetRef: { kind: 'Namespace', name: 'shop' }, requiredAuthenticationRefs: [] },
          },
        ],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: false,
      plaintext: ['AuthorizationPolicy/all'],
      src: cite(
        'policy-controller/k8s/index/src/inbound/index.rs:1850',
        'authorization_policy::Target::Namespace => {}',
      ),
    },
    {
      name: 'an AuthorizationPolicy with a MeshTLSAuthentication is authenticated',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        authorizationPolicies: [
          {
            metadata: meta('ids'),
            spec: {
              targetRef: { group: 'policy.linkerd.io', kind: 'server', name: 'web' },
              requiredAuthenticationRefs: [
                { group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'front' },
              ],
            },
          },
        ],
        meshTLSAuthentications: [{ metadata: meta('front'), spec: { identities: ['*'] } }],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite('policy-controller/k8s/api/src/policy.rs:47', 'kind.eq_ignore_ascii_case(&T::kind(&dt))'),
    },
    {
      name: 'an AuthorizationPolicy naming a missing MeshTLSAuthentication is ignored',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        authorizationPolicies: [
          {
            metadata: meta('ids'),
            spec: {
              targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web' },
              requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'gone' }],
            },
          },
        ],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite('policy-controller/k8s/index/src/inbound/index.rs:1873', 'Illegal AuthorizationPolicy; ignoring'),
    },
    {
      name: 'a ServiceAccount ref is authenticated',
      objects: objs({
        servers: [server('web', { podSelector: {}, port: 8080 })],
        authorizationPolicies: [
          {
            metadata: meta('sa'),
            spec: {
              targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web' },
              requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: 'front' }],
            },
          },
        ],
      }),
      source: 'server',
      server: 'web',
      policy: 'deny',
      strict: true,
      plaintext: [],
      src: cite('policy-controller/k8s/index/src/inbound/index.rs:2075', 'AuthenticationTarget::ServiceAccount {'),
    },
  ];
  for (const r of rows) {
    const pod = { ...POD, ...r.pod };
    const p = inboundPolicy(pod, r.port ?? 8080, r.objects ?? NO_POLICY_OBJECTS, r.cluster ?? CLUSTER);
    t.equal(p.source, r.source, `${r.name}: source (${r.src})`);
    t.equal(p.policy, r.policy, `${r.name}: policy`);
    t.equal(p.server, r.server, `${r.name}: server`);
    t.equal(p.strict, r.strict, `${r.name}: strict`);
    t.same(
      plaintextAuthorizations(p).map((a) => `${a.ref.kind}/${a.ref.name}`),
      r.plaintext,
      `${r.name}: authorizations admitting plaintext`,
    );
  }
});

t.test(
  'probe paths stay open under every policy unless the Server has routes (index.rs default_inbound_http_routes)',
  async (t) => {
    cite(
      'policy-controller/k8s/index/src/inbound/index.rs:2284',
      'authentication: ClientAuthentication::Unauthenticated',
    );
    cite('policy-controller/k8s/index/src/inbound/workload.rs:103', 'probe.path.as_deref().unwrap_or("/")');
    t.same(
      [...httpProbePaths(POD.spec)],
      [[8080, ['/ready']]],
      'named port resolved in the same container, case-insensitively; query dropped',
    );
    t.same(
      inboundPolicy(POD, 8080, NO_POLICY_OBJECTS, { defaultPolicy: 'deny', probeNetworks: ['0.0.0.0/0'] }).probePaths,
      ['/ready'],
      'deny still lets probes in',
    );
    t.same(
      inboundPolicy(POD, 8080, NO_POLICY_OBJECTS, { defaultPolicy: 'deny', probeNetworks: [] }).probePaths,
      [],
      'no probe networks, no probe route',
    );
    const withRoute = objs({
      servers: [server('web', { podSelector: {}, port: 8080 })],
      routes: [
        {
          kind: 'HTTPRoute',
          metadata: meta('r'),
          spec: { parentRefs: [{ group: 'policy.linkerd.io', kind: 'Server', name: 'web' }] },
        },
      ],
    });
    cite('policy-controller/k8s/index/src/inbound/index.rs:2014', 'if !routes.is_empty() {');
    t.same(
      inboundPolicy(POD, 8080, withRoute, CLUSTER).probePaths,
      [],
      'a Server with routes needs its own probe authorization',
    );
    t.same(
      [
        ...httpProbePaths({
          containers: [{ livenessProbe: { tcpSocket: { port: 8080 } } }, { livenessProbe: { grpc: { port: 9090 } } }],
        }),
      ],
      [],
      'TCP and gRPC probes get no probe route',
    );
  },
);

t.test('label selectors (policy-controller/k8s/api/src/labels.rs)', async (t) => {
  cite('policy-controller/k8s/api/src/labels.rs:185', 'Illegal match expression');
  const L = { app: 'web', tier: 'front' };
  t.equal(selectorMatches({}, L), true, 'empty selects all');
  t.equal(
    selectorMatches(
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] },
      L,
    ),
    true,
  );
  t.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, L), false);
  t.equal(
    selectorMatches({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] }, L),
    true,
    'NotIn holds when the key is absent',
  );
  t.equal(
    selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists', values: [] }] }, L),
    false,
    'Exists with values is illegal',
  );
  t.equal(
    selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In' }] }, L),
    false,
    'In without values is illegal',
  );
  t.equal(selectorMatches('app=web', L), false, 'a selector that is not an object matches nothing');
});

const linkerdSrc = process.env['MESHLOCK_LINKERD_SRC'];
t.test(
  'the cited lines say what the rows rely on',
  {
    skip: linkerdSrc
      ? false
      : 'set MESHLOCK_LINKERD_SRC to a git directory of linkerd/linkerd2 (edge-26.8.3) to check the citations',
  },
  async (t) => {
    const dir = linkerdSrc as string;
    const files = new Map<string, string[]>();
    for (const { src, says } of cited) {
      const [file, line] = src.split(':') as [string, string];
      if (!files.has(file))
        files.set(
          file,
          execFileSync('git', ['--git-dir', dir, 'show', `HEAD:${file}`], { encoding: 'utf8' }).split('\n'),
        );
      const n = Number(line);
      const near = (files.get(file) ?? []).slice(Math.max(0, n - 3), n + 2).join('\n');
      t.ok(near.includes(says), `${src} says ${says}`);
    }
  },
);
