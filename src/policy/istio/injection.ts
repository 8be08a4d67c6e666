// Sidecar injection: does Istio's injector give this pod a sidecar, and which of its rules decides.
import { ISTIO_IGNORED_NAMESPACES } from './enrolment.js';
import {
  get,
  has,
  LABEL_INJECTION,
  LABEL_POD_INJECT,
  LABEL_REV,
  PROXY_CONTAINER,
  type Labels,
  type NamespaceFacts,
  type PodFacts,
} from './names.js';

export type { NamespaceFacts, PodFacts } from './names.js';

/**
 * Which rule decided, in Istio's terms:
 * - `hostNetwork`: injectRequired skips host-network pods;
 * - `system-namespace`: injectRequired skips IgnoredNamespaces;
 * - `namespace-label`: a namespace webhook (istio-injection / istio.io/rev) selects the pod, or none does;
 * - `pod-label` / `pod-annotation`: `sidecar.istio.io/inject` `true` or `false` (the label wins over the annotation);
 * - `object-selector`: in a namespace with neither label, the object webhooks select on the pod's labels;
 * - `invalid-value`: any other value of `sidecar.istio.io/inject` falls back to the namespace's default;
 * - `namespace-unknown`: the namespace's labels are not known, so neither is the answer.
 */
export type InjectionRule =
  | 'hostNetwork'
  | 'system-namespace'
  | 'namespace-label'
  | 'pod-label'
  | 'pod-annotation'
  | 'object-selector'
  | 'invalid-value'
  | 'namespace-unknown';

export interface InjectionDecision {
  /** undefined when the namespace's labels are unknown and the pod alone does not decide. */
  readonly injected: boolean | undefined;
  readonly rule: InjectionRule;
  /** The revision whose injector injects it. */
  readonly revision?: string;
  /** The reason in one clause, naming the label, value and Istio behaviour. */
  readonly because: string;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/**
 * The value injectRequired switches on (pkg/kube/inject/inject.go): the annotation, replaced by the
 * label when the label is present ("The label is the new API; if both are present we prefer the label"),
 * even when the label is empty.
 */
export function injectValue(pod: PodFacts): { from: 'label' | 'annotation' | 'none'; value: string } {
  if (has(pod.labels, LABEL_POD_INJECT)) return { from: 'label', value: text(get(pod.labels, LABEL_POD_INJECT)) };
  if (has(pod.annotations, LABEL_POD_INJECT))
    return { from: 'annotation', value: text(get(pod.annotations, LABEL_POD_INJECT)) };
  return { from: 'none', value: '' };
}

/**
 * Which default injector webhook the apiserver calls for the pod (istio-discovery chart,
 * templates/mutatingwebhook.yaml; `enableNamespacesByDefault` is false by default, so the `auto.`
 * webhook is not installed). Every objectSelector requires the pod LABEL `sidecar.istio.io/inject`
 * NotIn [false] or In [true]: they read labels, never annotations.
 */
function selectingWebhook(
  name: string,
  ns: Labels,
  pod: PodFacts,
):
  | { selected: true; rule: 'namespace-label' | 'object-selector'; revision: string; because: string }
  | { selected: false; rule: InjectionRule; because: string } {
  const injection = get(ns, LABEL_INJECTION);
  const nsRev = get(ns, LABEL_REV);
  if (has(ns, LABEL_INJECTION)) {
    // namespace.sidecar-injector.istio.io: istio-injection In [enabled]; every other webhook needs it absent.
    if (injection === 'enabled')
      return {
        selected: true,
        rule: 'namespace-label',
        revision: 'default',
        because: `namespace label ${LABEL_INJECTION}=enabled selects the injector`,
      };
    return {
      selected: false,
      rule: 'namespace-label',
      because: `namespace label ${LABEL_INJECTION}=${text(injection)} selects no injector webhook`,
    };
  }
  if (has(ns, LABEL_REV)) {
    // rev.namespace.sidecar-injector.istio.io: istio.io/rev In [<revision>], istio-injection DoesNotExist.
    if (typeof nsRev === 'string' && nsRev !== '')
      return {
        selected: true,
        rule: 'namespace-label',
        revision: nsRev,
        because: `namespace label ${LABEL_REV}=${nsRev} selects the injector of revision ${nsRev}`,
      };
    return {
      selected: false,
      rule: 'namespace-label',
      because: `namespace label ${LABEL_REV}=${text(nsRev)} names no revision`,
    };
  }
  // Neither namespace label: only the object webhooks can select the pod.
  const podRev = get(pod.labels, LABEL_REV);
  if (has(pod.labels, LABEL_REV)) {
    // rev.object.sidecar-injector.istio.io: pod label istio.io/rev In [<revision>].
    if (typeof podRev === 'string' && podRev !== '')
      return {
        selected: true,
        rule: 'object-selector',
        revision: podRev,
        because: `pod label ${LABEL_REV}=${podRev} selects the object webhook of revision ${podRev} (the namespace has neither ${LABEL_INJECTION} nor ${LABEL_REV})`,
      };
    return {
      selected: false,
      rule: 'object-selector',
      because: `pod label ${LABEL_REV}=${text(podRev)} names no revision and the namespace has neither ${LABEL_INJECTION} nor ${LABEL_REV}`,
    };
  }
  // object.sidecar-injector.istio.io: pod label sidecar.istio.io/inject In [true], istio.io/rev DoesNotExist.
  if (get(pod.labels, LABEL_POD_INJECT) === 'true')
    return {
      selected: true,
      rule: 'object-selector',
      revision: 'default',
      because: `pod label ${LABEL_POD_INJECT}=true selects the object webhook (the namespace has neither ${LABEL_INJECTION} nor ${LABEL_REV})`,
    };
  if (get(pod.annotations, LABEL_POD_INJECT) === 'true') {
    return {
      selected: false,
      rule: 'object-selector',
      because: `the namespace has neither ${LABEL_INJECTION} nor ${LABEL_REV}, and the object webhook selects on the label ${LABEL_POD_INJECT}=true, not the annotation`,
    };
  }
  return {
    selected: false,
    rule: 'namespace-label',
    because: `namespace ${name} is not enrolled for injection (neither ${LABEL_INJECTION}=enabled nor ${LABEL_REV}) and the pod has no ${LABEL_POD_INJECT}=true or ${LABEL_REV} label`,
  };
}

/**
 * Whether Istio's injector gives the pod a sidecar: one of the default webhooks must select it, then
 * pkg/kube/inject/inject.go `injectRequired` must agree, with the default injector config
 * (`policy: enabled`, empty `neverInjectSelector` and `alwaysInjectSelector`: istio-discovery chart
 * values.yaml `global.proxy.autoInject` and `sidecarInjectorWebhook`). injectRequired's own skips
 * (hostNetwork, IgnoredNamespaces) hold whatever the selectors say, so they are reported first.
 */
export function sidecarInjection(ns: NamespaceFacts, pod: PodFacts): InjectionDecision {
  if (pod.hostNetwork === true)
    return {
      injected: false,
      rule: 'hostNetwork',
      because: "hostNetwork pod: Istio never injects it (its iptables rules would change the node's routing)",
    };
  if (ISTIO_IGNORED_NAMESPACES.has(ns.name))
    return {
      injected: false,
      rule: 'system-namespace',
      because: `system namespace ${ns.name}: Istio never injects its pods`,
    };
  // Every webhook's objectSelector excludes the label value false (NotIn [false] or In [true]).
  if (get(pod.labels, LABEL_POD_INJECT) === 'false')
    return { injected: false, rule: 'pod-label', because: `pod label ${LABEL_POD_INJECT}=false disables injection` };
  if (ns.labels === undefined)
    return {
      injected: undefined,
      rule: 'namespace-unknown',
      because: `the labels of namespace ${ns.name} are not known`,
    };
  const hook = selectingWebhook(ns.name, ns.labels, pod);
  if (!hook.selected) return { injected: false, rule: hook.rule, because: hook.because };
  const v = injectValue(pod);
  const where = `pod ${v.from} ${LABEL_POD_INJECT}=${v.value}`;
  switch (v.value) {
    case 'true':
      return {
        injected: true,
        rule: hook.rule === 'object-selector' ? 'object-selector' : v.from === 'label' ? 'pod-label' : 'pod-annotation',
        revision: hook.revision,
        because: hook.rule === 'object-selector' ? hook.because : `${where} enables injection`,
      };
    case 'false':
      return {
        injected: false,
        rule: v.from === 'label' ? 'pod-label' : 'pod-annotation',
        because: `${where} disables injection`,
      };
    case '':
      // useDefault: the injector's policy, `enabled` by default.
      return { injected: true, rule: hook.rule, revision: hook.revision, because: hook.because };
    default:
      // "Invalid value ... Only 'true' and 'false' are accepted. Falling back to default injection policy."
      return {
        injected: true,
        rule: 'invalid-value',
        revision: hook.revision,
        because: `${where} is not true or false, so Istio falls back to the default: ${hook.because}`,
      };
  }
}

interface ContainerLike {
  readonly name?: unknown;
  readonly restartPolicy?: unknown;
}

function list(v: unknown): readonly ContainerLike[] {
  return Array.isArray(v) ? v.filter((c): c is ContainerLike => typeof c === 'object' && c !== null) : [];
}

/**
 * The pod runs Istio's proxy: a container named `istio-proxy`, or an init container of that name that
 * keeps running (`restartPolicy: Always`, a native sidecar). pkg/kube/inject/app_probe.go `FindSidecar`
 * looks in both lists; an init container without `restartPolicy: Always` exits before the app starts.
 */
export function runsIstioProxy(spec: unknown): boolean {
  if (typeof spec !== 'object' || spec === null) return false;
  const s = spec as { containers?: unknown; initContainers?: unknown };
  if (list(s.containers).some((c) => c.name === PROXY_CONTAINER)) return true;
  return list(s.initContainers).some((c) => c.name === PROXY_CONTAINER && c.restartPolicy === 'Always');
}
