// The one model of Istio (src/policy/istio), function by function, as tables. Every row cites the
// line of Istio's source that decides it (Istio 1.27.0, the oldest supported release, unless a row
// says otherwise); with ISTIO_SOURCE set, the citations themselves are checked against that source.
//
// Injection uses Istio's DEFAULT injector configuration: `global.proxy.autoInject: enabled`, empty
// `neverInjectSelector` and `alwaysInjectSelector`, `enableNamespacesByDefault: false` (istio-discovery
// values.yaml, cited below). So injectRequired's NeverInject/AlwaysInject loops and its
// `InjectionPolicyDisabled` branch are unreachable, and the `auto.` webhook is not installed; every
// other branch of injectRequired and every default webhook is reached by a row here.
import t from 'tap';
import {
  bypassesInboundCapture,
  composePeerAuthentication,
  isInMeshHost,
  isSystemServiceHost,
  namespaceEnrolment,
  peerAuthenticationScope,
  podMembership,
  readPeerAuthentication,
  runsIstioProxy,
  selectorMatches,
  sidecarInjection,
  subsetOf,
  workloadSelector,
  ztunnelCapture,
  type LabelSelector,
  type PeerAuthn,
} from '../src/policy/index.js';
import { checkCite, cite, istioSource, ISTIO_1_27, ISTIO_MAIN, type Cite } from './lib/istio-source.js';

const all: Cite[] = [];
const c = (file: string, line: number, text: string, ref = ISTIO_1_27): Cite => {
  const x = cite(ref, file, line, text);
  all.push(x);
  return x;
};
const where = (x: Cite): string => `${x.file}:${x.line}${x.ref === ISTIO_1_27 ? '' : ` @${x.ref.slice(0, 10)}`}`;

// Istio's files, as cited.
const INJECT = 'pkg/kube/inject/inject.go';
const INIT = 'pkg/kube/inject/initializer.go';
const PROBE = 'pkg/kube/inject/app_probe.go';
const WEBHOOK = 'manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml';
const DISCOVERY_VALUES = 'manifests/charts/istio-control/istio-discovery/values.yaml';
const CNI_VALUES = 'manifests/charts/istio-cni/values.yaml';
const ENABLEMENT = 'cni/pkg/util/enablement_selector.go';
const PODUTIL = 'cni/pkg/util/podutil.go';
const NET = 'cni/pkg/nodeagent/net.go';
const APPLIER = 'pilot/pkg/security/authn/policy_applier.go';
const AUTHN = 'pilot/pkg/model/authentication.go';
const CONFIG = 'pilot/pkg/model/config.go';
const LABELS = 'pkg/config/labels/instance.go';
const HOST = 'pkg/config/host/name.go';

// The default injector configuration the injection table assumes.
const DEFAULTS = [
  c(DISCOVERY_VALUES, 119, 'neverInjectSelector: []'),
  c(DISCOVERY_VALUES, 120, 'alwaysInjectSelector: []'),
  c(DISCOVERY_VALUES, 139, 'enableNamespacesByDefault: false'),
  c(DISCOVERY_VALUES, 322, 'autoInject: enabled'),
];

// injectRequired, 1.27.0.
const HOSTNET = c(INJECT, 207, 'if podSpec.HostNetwork {');
const IGNORED = c(INJECT, 213, 'if metadata.Namespace == namespace {');
const IGNORED_SET = c(INIT, 38, 'var IgnoredNamespaces = sets.New(');
const ANNOTATION_READ = c(INJECT, 223, 'objectSelector := annos[annotation.SidecarInject.Name]');
const LABEL_WINS = c(INJECT, 226, 'objectSelector = lbl');
const TRUE = c(INJECT, 229, 'case "true":');
const FALSE = c(INJECT, 231, 'case "false":');
const EMPTY = c(INJECT, 233, 'case "":');
const INVALID = c(INJECT, 236, 'Falling back to default injection policy.');
const POLICY_ENABLED = c(INJECT, 287, 'required = true');
// The default webhooks' selectors.
const NS_HOOK = c(WEBHOOK, 113, '"Prefix" "namespace."');
const NS_HOOK_IN = c(WEBHOOK, 117, 'operator: In');
const NS_HOOK_NOT_FALSE = c(WEBHOOK, 123, 'operator: NotIn');
const REV_NS_HOOK = c(WEBHOOK, 65, '"Prefix" "rev.namespace."');
const REV_NS_NO_INJECTION = c(WEBHOOK, 77, 'operator: DoesNotExist');
const REV_OBJ_HOOK = c(WEBHOOK, 86, '"Prefix" "rev.object."');
const REV_OBJ_NOT_FALSE = c(WEBHOOK, 96, 'operator: NotIn');
const REV_OBJ_REV_IN = c(WEBHOOK, 100, 'operator: In');
const OBJ_HOOK = c(WEBHOOK, 128, '"Prefix" "object."');
const OBJ_NS_NONE = c(WEBHOOK, 132, 'operator: DoesNotExist');
const OBJ_INJECT_IN = c(WEBHOOK, 138, 'operator: In');
const OBJ_NO_REV = c(WEBHOOK, 142, 'operator: DoesNotExist');

type L = Record<string, string>;
const ENABLED: L = { 'istio-injection': 'enabled' };
const AMBIENT: L = { 'istio.io/dataplane-mode': 'ambient' };

interface InjectionRow {
  readonly name: string;
  readonly ns?: string;
  readonly nsLabels: L | undefined;
  readonly labels?: L;
  readonly annotations?: L;
  readonly hostNetwork?: boolean;
  readonly injected: boolean | undefined;
  readonly rule: string;
  readonly revision?: string;
  readonly istio: readonly Cite[];
}

const INJECTION: InjectionRow[] = [
  {
    name: 'a hostNetwork pod is never injected, even in an enrolled namespace with inject=true',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'true' },
    hostNetwork: true,
    injected: false,
    rule: 'hostNetwork',
    istio: [HOSTNET],
  },
  {
    name: 'kube-system is never injected',
    ns: 'kube-system',
    nsLabels: ENABLED,
    injected: false,
    rule: 'system-namespace',
    istio: [IGNORED, IGNORED_SET],
  },
  {
    name: 'local-path-storage is never injected',
    ns: 'local-path-storage',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: false,
    rule: 'system-namespace',
    istio: [IGNORED, IGNORED_SET],
  },
  {
    name: 'kube-node-lease is never injected',
    ns: 'kube-node-lease',
    nsLabels: ENABLED,
    injected: false,
    rule: 'system-namespace',
    istio: [IGNORED, IGNORED_SET],
  },
  {
    name: 'istio-injection=enabled, no pod value: the policy default injects',
    nsLabels: ENABLED,
    injected: true,
    rule: 'namespace-label',
    revision: 'default',
    istio: [NS_HOOK, NS_HOOK_IN, EMPTY, POLICY_ENABLED],
  },
  {
    name: 'istio-injection=enabled, pod label true',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: true,
    rule: 'pod-label',
    revision: 'default',
    istio: [NS_HOOK, TRUE],
  },
  {
    name: 'istio-injection=enabled, pod label false: no webhook is called',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'false' },
    injected: false,
    rule: 'pod-label',
    istio: [NS_HOOK_NOT_FALSE],
  },
  {
    name: 'istio-injection=enabled, pod annotation false: the webhook is called, injectRequired refuses',
    nsLabels: ENABLED,
    annotations: { 'sidecar.istio.io/inject': 'false' },
    injected: false,
    rule: 'pod-annotation',
    istio: [ANNOTATION_READ, FALSE],
  },
  {
    name: 'istio-injection=enabled, pod annotation true',
    nsLabels: ENABLED,
    annotations: { 'sidecar.istio.io/inject': 'true' },
    injected: true,
    rule: 'pod-annotation',
    revision: 'default',
    istio: [ANNOTATION_READ, TRUE],
  },
  {
    name: 'an empty label wins over the annotation false: the namespace default applies',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': '' },
    annotations: { 'sidecar.istio.io/inject': 'false' },
    injected: true,
    rule: 'namespace-label',
    revision: 'default',
    istio: [LABEL_WINS, EMPTY, POLICY_ENABLED],
  },
  {
    name: 'the label true wins over the annotation false',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'true' },
    annotations: { 'sidecar.istio.io/inject': 'false' },
    injected: true,
    rule: 'pod-label',
    revision: 'default',
    istio: [LABEL_WINS, TRUE],
  },
  {
    name: 'the label yes is invalid: Istio falls back to the namespace default and injects',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'yes' },
    injected: true,
    rule: 'invalid-value',
    revision: 'default',
    istio: [INVALID, POLICY_ENABLED],
  },
  {
    name: 'the label no is invalid: injected all the same',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'no' },
    injected: true,
    rule: 'invalid-value',
    revision: 'default',
    istio: [INVALID, POLICY_ENABLED],
  },
  {
    name: 'the annotation random is invalid: injected',
    nsLabels: ENABLED,
    annotations: { 'sidecar.istio.io/inject': 'random' },
    injected: true,
    rule: 'invalid-value',
    revision: 'default',
    istio: [INVALID, POLICY_ENABLED],
  },
  {
    name: 'the label False (capital) passes NotIn [false] and is invalid: injected',
    nsLabels: ENABLED,
    labels: { 'sidecar.istio.io/inject': 'False' },
    injected: true,
    rule: 'invalid-value',
    revision: 'default',
    istio: [NS_HOOK_NOT_FALSE, INVALID],
  },
  {
    name: 'istio.io/rev=canary selects the canary injector',
    nsLabels: { 'istio.io/rev': 'canary' },
    injected: true,
    rule: 'namespace-label',
    revision: 'canary',
    istio: [REV_NS_HOOK, REV_NS_NO_INJECTION, EMPTY],
  },
  {
    name: 'istio-injection=enabled wins over istio.io/rev',
    nsLabels: { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' },
    injected: true,
    rule: 'namespace-label',
    revision: 'default',
    istio: [REV_NS_NO_INJECTION, NS_HOOK_IN],
  },
  {
    name: 'istio-injection=disabled selects no webhook, even for a pod labelled inject=true',
    nsLabels: { 'istio-injection': 'disabled' },
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: false,
    rule: 'namespace-label',
    istio: [NS_HOOK_IN, OBJ_NS_NONE],
  },
  {
    name: 'istio-injection=disabled with istio.io/rev: still no webhook',
    nsLabels: { 'istio-injection': 'disabled', 'istio.io/rev': 'canary' },
    injected: false,
    rule: 'namespace-label',
    istio: [REV_NS_NO_INJECTION],
  },
  {
    name: 'istio.io/rev with an empty value names no revision',
    nsLabels: { 'istio.io/rev': '' },
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: false,
    rule: 'namespace-label',
    istio: [REV_NS_HOOK, OBJ_NS_NONE],
  },
  {
    name: 'no namespace label, pod label inject=true: the object webhook injects',
    nsLabels: {},
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: true,
    rule: 'object-selector',
    revision: 'default',
    istio: [OBJ_HOOK, OBJ_NS_NONE, OBJ_INJECT_IN, OBJ_NO_REV, TRUE],
  },
  {
    name: 'no namespace label, pod label istio.io/rev=canary: the revision object webhook injects',
    nsLabels: {},
    labels: { 'istio.io/rev': 'canary' },
    injected: true,
    rule: 'object-selector',
    revision: 'canary',
    istio: [REV_OBJ_HOOK, REV_OBJ_REV_IN, EMPTY],
  },
  {
    name: 'no namespace label, pod istio.io/rev=canary and inject=false: not selected',
    nsLabels: {},
    labels: { 'istio.io/rev': 'canary', 'sidecar.istio.io/inject': 'false' },
    injected: false,
    rule: 'pod-label',
    istio: [REV_OBJ_NOT_FALSE],
  },
  {
    name: 'no namespace label, pod istio.io/rev=canary and annotation false: selected, then refused',
    nsLabels: {},
    labels: { 'istio.io/rev': 'canary' },
    annotations: { 'sidecar.istio.io/inject': 'false' },
    injected: false,
    rule: 'pod-annotation',
    istio: [REV_OBJ_HOOK, ANNOTATION_READ, FALSE],
  },
  {
    name: 'no namespace label, pod istio.io/rev=canary and label yes: selected, invalid, injected',
    nsLabels: {},
    labels: { 'istio.io/rev': 'canary', 'sidecar.istio.io/inject': 'yes' },
    injected: true,
    rule: 'invalid-value',
    revision: 'canary',
    istio: [REV_OBJ_NOT_FALSE, INVALID],
  },
  {
    name: 'no namespace label, pod annotation inject=true: object selectors read labels only',
    nsLabels: {},
    annotations: { 'sidecar.istio.io/inject': 'true' },
    injected: false,
    rule: 'object-selector',
    istio: [OBJ_INJECT_IN],
  },
  {
    name: 'no namespace label, pod label inject=yes: the object webhook wants exactly true',
    nsLabels: {},
    labels: { 'sidecar.istio.io/inject': 'yes' },
    injected: false,
    rule: 'namespace-label',
    istio: [OBJ_INJECT_IN],
  },
  {
    name: 'no namespace label, pod inject=true and istio.io/rev: only the revision webhook selects',
    nsLabels: {},
    labels: { 'sidecar.istio.io/inject': 'true', 'istio.io/rev': 'canary' },
    injected: true,
    rule: 'object-selector',
    revision: 'canary',
    istio: [OBJ_NO_REV, REV_OBJ_REV_IN],
  },
  {
    name: 'no label anywhere: nothing selects the pod',
    nsLabels: {},
    injected: false,
    rule: 'namespace-label',
    istio: [NS_HOOK_IN, OBJ_INJECT_IN],
  },
  {
    name: 'an ambient namespace has no injector label: a pod labelled inject=true gets a sidecar',
    nsLabels: AMBIENT,
    labels: { 'sidecar.istio.io/inject': 'true' },
    injected: true,
    rule: 'object-selector',
    revision: 'default',
    istio: [OBJ_HOOK, OBJ_NS_NONE],
  },
  {
    name: 'the namespace revision wins over a pod revision',
    nsLabels: { 'istio.io/rev': 'canary' },
    labels: { 'istio.io/rev': 'stable' },
    injected: true,
    rule: 'namespace-label',
    revision: 'canary',
    istio: [REV_NS_HOOK, c(WEBHOOK, 90, 'operator: DoesNotExist')],
  },
  {
    name: 'namespace labels unknown: no answer',
    nsLabels: undefined,
    injected: undefined,
    rule: 'namespace-unknown',
    istio: [],
  },
  {
    name: 'namespace labels unknown, pod label false: not injected whatever the namespace',
    nsLabels: undefined,
    labels: { 'sidecar.istio.io/inject': 'false' },
    injected: false,
    rule: 'pod-label',
    istio: [NS_HOOK_NOT_FALSE, REV_OBJ_NOT_FALSE],
  },
];

t.test('sidecarInjection: every branch of injectRequired and every default webhook', async (t) => {
  for (const r of INJECTION) {
    const d = sidecarInjection(
      { name: r.ns ?? 'shop', ...(r.nsLabels ? { labels: r.nsLabels } : {}) },
      {
        ...(r.labels ? { labels: r.labels } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
        ...(r.hostNetwork !== undefined ? { hostNetwork: r.hostNetwork } : {}),
      },
    );
    const cites = r.istio.map(where).join(', ') || 'no Istio line: the input lacks the namespace';
    t.same([d.injected, d.rule, d.revision], [r.injected, r.rule, r.revision], `${r.name} (${cites})`);
    t.ok(d.because.length > 0 && !d.because.includes('undefined'), `${r.name}: says why`);
  }
  t.ok(DEFAULTS.length === 4, 'rows assume the default injector configuration');
});

t.test('an invalid inject value is never described as disabling injection', async (t) => {
  for (const v of ['yes', 'no', 'random', 'False', '0']) {
    const d = sidecarInjection({ name: 'shop', labels: ENABLED }, { labels: { 'sidecar.istio.io/inject': v } });
    t.equal(d.injected, true, v);
    t.notMatch(d.because, /disables/, v);
    t.match(d.because, /falls back/, v);
  }
});

interface CaptureRow {
  readonly name: string;
  readonly nsLabels: L | undefined;
  readonly labels?: L;
  readonly annotations?: L;
  readonly hostNetwork?: boolean;
  readonly captured: boolean | undefined;
  readonly rule: string;
  readonly istio: readonly Cite[];
}

const POD_SELECTOR = c(CNI_VALUES, 55, 'matchLabels: {istio.io/dataplane-mode: ambient}');
const NOT_NONE = c(CNI_VALUES, 58, '{ key: istio.io/dataplane-mode, operator: NotIn, values: [none] }');
const NS_SELECTOR = c(CNI_VALUES, 60, 'matchLabels: {istio.io/dataplane-mode: ambient}');
const MATCHES = c(ENABLEMENT, 84, 'if podSelector.Matches(podls) && c.namespaceSelectors[i].Matches(namespacels) {');
const HAS_SIDECAR = c(ENABLEMENT, 77, 'if podHasSidecar(podAnnotations) {');
const STATUS = c(PODUTIL, 80, 'if _, f := podAnnotations[annotation.SidecarStatus.Name]; f {');
const HOSTNET_CNI = c(ENABLEMENT, 82, 'if pod.Spec.HostNetwork {', ISTIO_MAIN);
const FULLY_ENROLLED = c(
  PODUTIL,
  58,
  'return pod.GetAnnotations()[annotation.AmbientRedirection.Name] == constants.AmbientRedirectionEnabled',
);

const CAPTURE: CaptureRow[] = [
  {
    name: 'an ambient namespace captures a plain pod',
    nsLabels: AMBIENT,
    captured: true,
    rule: 'namespace-label',
    istio: [NS_SELECTOR, NOT_NONE, MATCHES],
  },
  {
    name: 'an ambient namespace: pod label none opts out',
    nsLabels: AMBIENT,
    labels: { 'istio.io/dataplane-mode': 'none' },
    captured: false,
    rule: 'pod-label',
    istio: [NOT_NONE],
  },
  {
    name: 'a pod labelled ambient is captured in any namespace',
    nsLabels: {},
    labels: { 'istio.io/dataplane-mode': 'ambient' },
    captured: true,
    rule: 'pod-label',
    istio: [POD_SELECTOR, MATCHES],
  },
  {
    name: 'a pod labelled ambient in a namespace labelled none is captured (the pod selector has no namespace selector)',
    nsLabels: { 'istio.io/dataplane-mode': 'none' },
    labels: { 'istio.io/dataplane-mode': 'ambient' },
    captured: true,
    rule: 'pod-label',
    istio: [POD_SELECTOR],
  },
  {
    name: 'sidecar.istio.io/status in an ambient namespace: never captured',
    nsLabels: AMBIENT,
    annotations: { 'sidecar.istio.io/status': '{}' },
    captured: false,
    rule: 'sidecar-status',
    istio: [HAS_SIDECAR, STATUS],
  },
  {
    name: 'sidecar.istio.io/status on a pod labelled ambient: never captured',
    nsLabels: {},
    labels: { 'istio.io/dataplane-mode': 'ambient' },
    annotations: { 'sidecar.istio.io/status': '' },
    captured: false,
    rule: 'sidecar-status',
    istio: [HAS_SIDECAR, STATUS],
  },
  {
    name: 'hostNetwork in an ambient namespace: never captured',
    nsLabels: AMBIENT,
    hostNetwork: true,
    captured: false,
    rule: 'hostNetwork',
    istio: [HOSTNET_CNI],
  },
  {
    name: 'hostNetwork on a pod labelled ambient: never captured',
    nsLabels: {},
    labels: { 'istio.io/dataplane-mode': 'ambient' },
    hostNetwork: true,
    captured: false,
    rule: 'hostNetwork',
    istio: [HOSTNET_CNI],
  },
  {
    name: 'an ambient namespace that also has istio-injection: a pod without a sidecar status is captured',
    nsLabels: { ...AMBIENT, ...ENABLED },
    captured: true,
    rule: 'namespace-label',
    istio: [NS_SELECTOR, MATCHES],
  },
  {
    name: 'no ambient label anywhere: not captured',
    nsLabels: ENABLED,
    captured: false,
    rule: 'namespace-label',
    istio: [MATCHES],
  },
  {
    name: 'values compare exactly: Ambient is not ambient',
    nsLabels: { 'istio.io/dataplane-mode': 'Ambient' },
    captured: false,
    rule: 'namespace-label',
    istio: [NS_SELECTOR],
  },
  {
    name: 'namespace labels unknown, pod redirected by istio-cni: captured',
    nsLabels: undefined,
    annotations: { 'ambient.istio.io/redirection': 'enabled' },
    captured: true,
    rule: 'redirection-annotation',
    istio: [FULLY_ENROLLED],
  },
  {
    name: 'namespace labels unknown, pending redirection: no answer',
    nsLabels: undefined,
    annotations: { 'ambient.istio.io/redirection': 'pending' },
    captured: undefined,
    rule: 'namespace-unknown',
    istio: [FULLY_ENROLLED],
  },
];

t.test('ztunnelCapture: every branch of the ambient enablement selector with its default selectors', async (t) => {
  for (const r of CAPTURE) {
    const d = ztunnelCapture(
      { name: 'shop', ...(r.nsLabels ? { labels: r.nsLabels } : {}) },
      {
        ...(r.labels ? { labels: r.labels } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
        ...(r.hostNetwork !== undefined ? { hostNetwork: r.hostNetwork } : {}),
      },
    );
    t.same([d.captured, d.rule], [r.captured, r.rule], `${r.name} (${r.istio.map(where).join(', ')})`);
  }
});

t.test('bypassesInboundCapture reads the annotation as Go strconv.ParseBool does', async (t) => {
  const cites = [
    c(NET, 33, 'util.CheckBooleanAnnotation(pod, annotation.AmbientBypassInboundCapture.Name)'),
    c(PODUTIL, 170, 'parsedVal, err := strconv.ParseBool(val)'),
  ]
    .map(where)
    .join(', ');
  for (const v of ['true', 'True', 'TRUE', 't', 'T', '1'])
    t.equal(bypassesInboundCapture({ 'ambient.istio.io/bypass-inbound-capture': v }), true, `${v} bypasses (${cites})`);
  for (const v of ['false', '0', 'f', 'yes', 'on', '', ' true'])
    t.equal(
      bypassesInboundCapture({ 'ambient.istio.io/bypass-inbound-capture': v }),
      false,
      `${JSON.stringify(v)} does not (${cites})`,
    );
  t.equal(bypassesInboundCapture(undefined), false, 'absent');
  t.equal(
    bypassesInboundCapture(new Map([['ambient.istio.io/bypass-inbound-capture', 'true']])),
    true,
    'a Map of annotations reads the same',
  );
});

t.test('namespaceEnrolment names the label that enrols a namespace', async (t) => {
  const rows: [L, boolean, string | undefined, boolean, string, Cite[]][] = [
    [ENABLED, true, 'default', false, 'istio-injection=enabled', [NS_HOOK_IN]],
    [{ 'istio.io/rev': 'canary' }, true, 'canary', false, 'istio.io/rev=canary', [REV_NS_HOOK]],
    [
      { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' },
      true,
      'default',
      false,
      'istio-injection=enabled',
      [REV_NS_NO_INJECTION],
    ],
    [
      { 'istio-injection': 'disabled', 'istio.io/rev': 'canary' },
      false,
      undefined,
      false,
      'not enrolled',
      [REV_NS_NO_INJECTION],
    ],
    [{ 'istio-injection': 'Enabled' }, false, undefined, false, 'not enrolled', [NS_HOOK_IN]],
    [{ 'istio.io/rev': '' }, false, undefined, false, 'not enrolled', [REV_NS_HOOK]],
    [AMBIENT, true, undefined, true, 'ambient', [NS_SELECTOR]],
    [{ ...AMBIENT, ...ENABLED }, true, 'default', true, 'istio-injection=enabled', [NS_HOOK_IN, NS_SELECTOR]],
    [{ 'istio.io/dataplane-mode': 'none' }, false, undefined, false, 'not enrolled', [NS_SELECTOR]],
    [{}, false, undefined, false, 'not enrolled', []],
  ];
  for (const [labels, enrolled, rev, ambient, via, cites] of rows) {
    const e = namespaceEnrolment(labels);
    t.same(
      [e.enrolled, e.sidecarRevision, e.ambient, e.via],
      [enrolled, rev, ambient, via],
      `${JSON.stringify(labels)} (${cites.map(where).join(', ')})`,
    );
  }
  t.equal(namespaceEnrolment({ 'istio-injection': 'enabled', 'istio.io/rev': 'canary' }).revisionIgnored, 'canary');
});

t.test('runsIstioProxy: an istio-proxy container, or a native sidecar init container', async (t) => {
  const cites = where(c(PROBE, 45, 'func FindSidecar(pod *corev1.Pod) *corev1.Container {'));
  t.equal(runsIstioProxy({ containers: [{ name: 'app' }, { name: 'istio-proxy' }] }), true, `a container (${cites})`);
  t.equal(
    runsIstioProxy({ initContainers: [{ name: 'istio-proxy', restartPolicy: 'Always' }] }),
    true,
    'a native sidecar',
  );
  t.equal(
    runsIstioProxy({ initContainers: [{ name: 'istio-proxy' }] }),
    false,
    'an init container that exits runs no proxy',
  );
  t.equal(runsIstioProxy({ containers: [{ name: 'app' }] }), false);
  t.equal(runsIstioProxy(undefined), false);
  t.equal(runsIstioProxy({ containers: 'istio-proxy' }), false, 'a malformed list holds no proxy');
});

t.test('podMembership: meshed by a proxy or by ztunnel, never by labels alone', async (t) => {
  const proxy = { containers: [{ name: 'app' }, { name: 'istio-proxy' }] };
  const plain = { containers: [{ name: 'app' }] };
  t.same(podMembership({ name: 'shop', labels: ENABLED }, { spec: proxy }).dataplane, 'sidecar');
  const stale = podMembership({ name: 'shop', labels: ENABLED }, { spec: plain });
  t.same(
    [stale.meshed, stale.injection.injected],
    [false, true],
    'an enrolled pod without a proxy is not meshed, but should be injected',
  );
  const forged = podMembership(
    { name: 'shop', labels: AMBIENT },
    { annotations: { 'sidecar.istio.io/status': '{}' }, spec: plain },
  );
  t.same(
    [forged.meshed, forged.capture.rule],
    [false, 'sidecar-status'],
    'a status annotation without a proxy is not meshed in an ambient namespace',
  );
  const host = podMembership(
    { name: 'shop', labels: AMBIENT },
    { hostNetwork: true, spec: { ...plain, hostNetwork: true } },
  );
  t.same([host.meshed, host.capture.rule], [false, 'hostNetwork'], 'nor is a hostNetwork pod');
});

interface PaRow {
  readonly name: string;
  readonly policies: readonly Omit<PeerAuthn, 'created'>[] & readonly { created?: number }[];
  readonly ns?: string;
  readonly labels?: L;
  readonly mode: string;
  readonly ports?: Record<string, string>;
  readonly from: readonly string[];
  readonly istio: readonly Cite[];
}

const START_PERMISSIVE = c(APPLIER, 370, 'Mode: model.MTLSPermissive,');
const NO_SELECTOR = c(APPLIER, 375, 'if spec.Selector == nil || len(spec.Selector.MatchLabels) == 0 {');
const ROOT = c(APPLIER, 377, 'if cfg.Namespace == rootNamespace {');
const MESH_OLDEST = c(APPLIER, 378, 'if meshCfg == nil || cfg.CreationTimestamp.Before(meshCfg.CreationTimestamp) {');
const NS_OLDEST = c(
  APPLIER,
  383,
  'if namespaceCfg == nil || cfg.CreationTimestamp.Before(namespaceCfg.CreationTimestamp) {',
);
const ROOT_SELECTOR_IGNORED = c(APPLIER, 388, '} else if cfg.Namespace != rootNamespace {');
const WL_OLDEST = c(
  APPLIER,
  390,
  'if workloadCfg == nil || cfg.CreationTimestamp.Before(workloadCfg.CreationTimestamp) {',
);
const MESH_SET = c(
  APPLIER,
  399,
  'if meshCfg != nil && !isMtlsModeUnset(meshCfg.Spec.(*v1beta1.PeerAuthentication).Mtls) {',
);
const NS_SET = c(
  APPLIER,
  404,
  'if namespaceCfg != nil && !isMtlsModeUnset(namespaceCfg.Spec.(*v1beta1.PeerAuthentication).Mtls) {',
);
const WL_SET = c(APPLIER, 415, 'if workloadPolicy != nil && !isMtlsModeUnset(workloadPolicy.Mtls) {');
const PORTS = c(APPLIER, 420, 'if workloadPolicy != nil && workloadPolicy.PortLevelMtls != nil {');
const PORT_INHERITS = c(APPLIER, 425, 'outputPolicy.PerPort[port] = outputPolicy.Mode');
const PORT_SET = c(APPLIER, 427, 'outputPolicy.PerPort[port] = model.ConvertToMutualTLSMode(mtls.Mode)');
const UNSET = c(APPLIER, 436, 'return mtls == nil || mtls.Mode == v1beta1.PeerAuthentication_MutualTLS_UNSET');
const SUBSET = c(AUTHN, 256, 'if selector.SubsetOf(workloadLabels) {');
const LOOKUP = c(AUTHN, 234, 'lookupInNamespaces := []string{namespace, rootNamespace}');
const TIE = c(CONFIG, 314, 'if r := cmp.Compare(configs[i].Name, configs[j].Name); r != 0 {');
const UNKNOWN = c(AUTHN, 77, 'return MTLSUnknown');

const T0 = Date.parse('2026-01-01T00:00:00Z');
const p = (namespace: string, name: string, mode: string | undefined, extra: Partial<PeerAuthn> = {}): PeerAuthn => ({
  namespace,
  name,
  created: T0,
  ...(mode !== undefined ? { mode } : {}),
  ...extra,
});
const APP = { app: 'web' };

const PA: PaRow[] = [
  { name: 'no policy at all: PERMISSIVE', policies: [], mode: 'PERMISSIVE', from: [], istio: [START_PERMISSIVE] },
  {
    name: 'mesh UNSET: PERMISSIVE',
    policies: [p('istio-system', 'default', 'UNSET')],
    mode: 'PERMISSIVE',
    from: [],
    istio: [MESH_SET, UNSET],
  },
  {
    name: 'mesh without mtls: PERMISSIVE',
    policies: [p('istio-system', 'default', undefined)],
    mode: 'PERMISSIVE',
    from: [],
    istio: [UNSET],
  },
  {
    name: 'mesh STRICT',
    policies: [p('istio-system', 'default', 'STRICT')],
    mode: 'STRICT',
    from: ['istio-system/default'],
    istio: [ROOT, MESH_SET],
  },
  {
    name: 'namespace UNSET inherits the mesh STRICT',
    policies: [p('istio-system', 'default', 'STRICT'), p('shop', 'ns', 'UNSET')],
    mode: 'STRICT',
    from: ['istio-system/default'],
    istio: [NS_SET, UNSET],
  },
  {
    name: 'namespace PERMISSIVE over mesh STRICT',
    policies: [p('istio-system', 'default', 'STRICT'), p('shop', 'ns', 'PERMISSIVE')],
    mode: 'PERMISSIVE',
    from: ['istio-system/default', 'shop/ns'],
    istio: [NS_SET],
  },
  {
    name: 'workload UNSET inherits the namespace',
    policies: [
      p('istio-system', 'default', 'PERMISSIVE'),
      p('shop', 'ns', 'STRICT'),
      p('shop', 'wl', 'UNSET', { selector: APP }),
    ],
    labels: APP,
    mode: 'STRICT',
    from: ['istio-system/default', 'shop/ns'],
    istio: [WL_SET, UNSET],
  },
  {
    name: 'workload DISABLE over namespace STRICT',
    policies: [p('shop', 'ns', 'STRICT'), p('shop', 'wl', 'DISABLE', { selector: APP })],
    labels: APP,
    mode: 'DISABLE',
    from: ['shop/ns', 'shop/wl'],
    istio: [WL_SET],
  },
  {
    name: 'a port-level PERMISSIVE over a STRICT workload',
    policies: [p('shop', 'wl', 'STRICT', { selector: APP, ports: { '8080': 'PERMISSIVE' } })],
    labels: APP,
    mode: 'STRICT',
    ports: { '8080': 'PERMISSIVE' },
    from: ['shop/wl'],
    istio: [PORTS, PORT_SET],
  },
  {
    name: 'an UNSET port inherits the workload mode resolved from above',
    policies: [
      p('istio-system', 'default', 'STRICT'),
      p('shop', 'wl', 'UNSET', { selector: APP, ports: { '8080': 'UNSET', '9090': 'DISABLE' } }),
    ],
    labels: APP,
    mode: 'STRICT',
    ports: { '9090': 'DISABLE' },
    from: ['istio-system/default', 'shop/wl'],
    istio: [PORT_INHERITS, PORT_SET],
  },
  {
    name: 'port over workload over namespace over mesh',
    policies: [
      p('istio-system', 'default', 'DISABLE'),
      p('shop', 'ns', 'PERMISSIVE'),
      p('shop', 'wl', 'STRICT', { selector: APP, ports: { '15000': 'DISABLE' } }),
    ],
    labels: APP,
    mode: 'STRICT',
    ports: { '15000': 'DISABLE' },
    from: ['istio-system/default', 'shop/ns', 'shop/wl'],
    istio: [MESH_SET, NS_SET, WL_SET, PORT_SET],
  },
  {
    name: 'oldest mesh policy wins',
    policies: [p('istio-system', 'new', 'PERMISSIVE', { created: T0 + 1000 }), p('istio-system', 'old', 'STRICT')],
    mode: 'STRICT',
    from: ['istio-system/old'],
    istio: [MESH_OLDEST],
  },
  {
    name: 'oldest namespace policy wins',
    policies: [p('shop', 'old', 'DISABLE'), p('shop', 'new', 'STRICT', { created: T0 + 1000 })],
    mode: 'DISABLE',
    from: ['shop/old'],
    istio: [NS_OLDEST],
  },
  {
    name: 'oldest matching workload policy wins',
    policies: [
      p('shop', 'b', 'STRICT', { selector: APP, created: T0 + 1000 }),
      p('shop', 'a', 'PERMISSIVE', { selector: { app: 'web' } }),
    ],
    labels: APP,
    mode: 'PERMISSIVE',
    from: ['shop/a'],
    istio: [WL_OLDEST],
  },
  {
    name: 'same creation time: the name decides',
    policies: [p('shop', 'zz', 'STRICT'), p('shop', 'aa', 'PERMISSIVE')],
    mode: 'PERMISSIVE',
    from: ['shop/aa'],
    istio: [TIE],
  },
  {
    name: 'a root-namespace selector policy is ignored',
    policies: [p('istio-system', 'default', 'STRICT'), p('istio-system', 'sel', 'DISABLE', { selector: APP })],
    labels: APP,
    mode: 'STRICT',
    from: ['istio-system/default'],
    istio: [ROOT_SELECTOR_IGNORED],
  },
  {
    name: 'a selector that does not match is ignored',
    policies: [p('shop', 'ns', 'STRICT'), p('shop', 'other', 'DISABLE', { selector: { app: 'db' } })],
    labels: APP,
    mode: 'STRICT',
    from: ['shop/ns'],
    istio: [SUBSET],
  },
  {
    name: 'a selector needs every label',
    policies: [p('shop', 'wl', 'DISABLE', { selector: { app: 'web', tier: 'x' } })],
    labels: APP,
    mode: 'PERMISSIVE',
    from: [],
    istio: [SUBSET],
  },
  {
    name: "another namespace's policies do not apply",
    policies: [p('other', 'ns', 'DISABLE'), p('other', 'wl', 'DISABLE', { selector: APP })],
    labels: APP,
    mode: 'PERMISSIVE',
    from: [],
    istio: [LOOKUP],
  },
  {
    name: 'a mode Istio does not know fails closed as DISABLE',
    policies: [p('shop', 'ns', 'strict')],
    mode: 'DISABLE',
    from: ['shop/ns'],
    istio: [UNKNOWN],
  },
];

t.test(
  'composePeerAuthentication: UNSET at every level, port > workload > namespace > mesh, oldest wins',
  async (t) => {
    for (const r of PA) {
      const e = composePeerAuthentication(r.policies as PeerAuthn[], 'istio-system', r.ns ?? 'shop', r.labels ?? {});
      t.same(
        [e.mode, e.ports, e.from],
        [r.mode, r.ports ?? {}, r.from],
        `${r.name} (${r.istio.map(where).join(', ')})`,
      );
    }
  },
);

t.test('reading PeerAuthentication objects: scope by selector and namespace', async (t) => {
  const obj = (ns: string, spec: unknown): unknown => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'x', namespace: ns, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec,
  });
  const cites = [NO_SELECTOR, ROOT, ROOT_SELECTOR_IGNORED].map(where).join(', ');
  const rows: [string, unknown, string][] = [
    ['istio-system', {}, 'mesh'],
    ['istio-system', { selector: {} }, 'mesh'],
    ['istio-system', { selector: { matchLabels: {} } }, 'mesh'],
    ['istio-system', { selector: { matchLabels: APP } }, 'ignored'],
    ['shop', { selector: { matchLabels: {} } }, 'namespace'],
    ['shop', {}, 'namespace'],
    ['shop', { selector: { matchLabels: APP } }, 'workload'],
  ];
  for (const [ns, spec, scope] of rows)
    t.equal(peerAuthenticationScope(ns, spec, 'istio-system'), scope, `${ns} ${JSON.stringify(spec)} (${cites})`);
  const ns = readPeerAuthentication(
    obj('shop', { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } }),
  );
  t.notOk(ns?.ports, `portLevelMtls of a namespace-wide policy is never read (${where(PORTS)})`);
  t.same(workloadSelector({ selector: { matchLabels: { a: 'b' } } }), { a: 'b' });
  t.equal(workloadSelector({ selector: { matchLabels: [] } }), undefined, 'a list is no selector');
});

t.test('selectors: Kubernetes label selectors and Istio subset matching', async (t) => {
  const labels = { app: 'web', tier: 'front' };
  const rows: [LabelSelector | undefined, boolean, string][] = [
    [undefined, true, 'no selector matches everything'],
    [{}, true, 'an empty selector matches everything'],
    [{ matchLabels: { app: 'web' } }, true, 'matchLabels'],
    [{ matchLabels: { app: 'db' } }, false, 'matchLabels, other value'],
    [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'db'] }] }, true, 'In'],
    [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false, 'In needs the key'],
    [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] }, true, 'NotIn'],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true, 'NotIn holds for an absent key'],
    [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false, 'NotIn, listed'],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true, 'Exists'],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false, 'DoesNotExist'],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true, 'DoesNotExist, absent'],
    [
      { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] },
      false,
      'an unknown operator matches nothing',
    ],
  ];
  for (const [sel, want, name] of rows) t.equal(selectorMatches(sel, labels), want, name);
  const subset = where(c(LABELS, 70, 'if v2, ok := that[k]; !ok || v1 != v2 {'));
  t.equal(subsetOf({}, labels), true, `an empty selector is a subset of anything (${subset})`);
  t.equal(subsetOf({ app: 'web' }, labels), true, subset);
  t.equal(subsetOf({ app: 'web', zone: 'a' }, labels), false, subset);
  t.equal(subsetOf({ app: 'web' }, new Map([['app', 'web']])), true, 'a Map of labels reads the same');
});

t.test('hosts: in the mesh, egress, and services of system namespaces', async (t) => {
  const ctx = {
    clusterDomain: 'cluster.local',
    systemNamespaces: new Set(['kube-system', 'istio-system', 'meshlock']),
  };
  const wildcard = where(c(HOST, 37, 'func (n Name) Matches(o Name) bool {'));
  const rows: [unknown, boolean, boolean][] = [
    ['reviews', true, false],
    ['reviews.shop.svc', true, false],
    ['reviews.shop.svc.cluster.local', true, false],
    ['reviews.shop.svc.cluster.local.', true, false],
    ['*.shop.svc.cluster.local', true, false],
    ['*', true, false],
    ['*.local', true, false],
    ['*.cluster.local', true, false],
    ['api.example.com', false, false],
    ['*.example.com', false, false],
    ['istiod.istio-system.svc', true, true],
    ['istiod.istio-system.svc.cluster.local', true, true],
    ['*.istio-system.svc.cluster.local', true, true],
    ['metrics.kube-system.svc', true, true],
    ['istiod.shop.svc.cluster.local', true, false],
    ['a.b.istio-system.svc', true, false],
    ['', true, false],
    [42, true, false],
  ];
  for (const [host, inMesh, system] of rows) {
    t.equal(isInMeshHost(host, ctx), inMesh, `${JSON.stringify(host)} in mesh (${wildcard})`);
    t.equal(isSystemServiceHost(host, ctx), system, `${JSON.stringify(host)} a system namespace's service`);
  }
});

const src = istioSource();
t.test(
  "every citation holds in Istio's source",
  { skip: src.dir ? false : (src.why ?? 'no Istio source') },
  async (t) => {
    if (!src.dir) return;
    for (const x of all) {
      const err = checkCite(src.dir, x);
      t.equal(err, undefined, `${where(x)}: ${x.text}`);
    }
  },
);
