// Namespace enrolment: which of Istio's own selectors pick a namespace's pods, by its labels alone.
import { labelledAmbient } from './ambient.js';
import { get, has, LABEL_DATAPLANE, LABEL_INJECTION, LABEL_REV, type Labels } from './names.js';

/** The three namespace labels that enrol a namespace (or, with another value, opt it out). */
export const ENROLMENT_LABELS = [LABEL_INJECTION, LABEL_REV, LABEL_DATAPLANE] as const;

/**
 * Namespaces whose pods the injector never injects, whatever their labels: pkg/kube/inject/initializer.go
 * `IgnoredNamespaces`, checked first thing by inject.go `injectRequired`.
 */
export const ISTIO_IGNORED_NAMESPACES: ReadonlySet<string> = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'local-path-storage',
]);

export interface NamespaceEnrolment {
  /** Pods get a sidecar or are captured by ztunnel unless the pod itself opts out. */
  readonly enrolled: boolean;
  /** The revision whose injector webhook selects the namespace (`default` for `istio-injection=enabled`). */
  readonly sidecarRevision?: string;
  /** The namespace label through which the injector selects it. */
  readonly sidecarBy?: typeof LABEL_INJECTION | typeof LABEL_REV;
  /** istio-cni's default enablement selector matches the namespace. */
  readonly ambient: boolean;
  /** `istio.io/rev` is set but ignored because `istio-injection` is set too. */
  readonly revisionIgnored?: string;
  /** The label that enrols it, as written (`istio-injection=enabled`, `istio.io/rev=canary`, `ambient`), or `not enrolled`. */
  readonly via: string;
}

/**
 * Sidecar side: the namespaceSelectors of the default injector webhooks (istio-discovery chart,
 * templates/mutatingwebhook.yaml): `namespace.sidecar-injector.istio.io` selects `istio-injection In
 * [enabled]`; `rev.namespace.sidecar-injector.istio.io` selects `istio.io/rev In [<revision>]` AND
 * `istio-injection DoesNotExist`, so `istio-injection` wins when both are set and any other value of it
 * (`disabled`, `Enabled`, empty) selects no webhook at all. Values compare exactly.
 *
 * Ambient side: the default `ambient.enablementSelectors` of the istio-cni chart (values.yaml), the
 * second of which is `namespaceSelector: {matchLabels: {istio.io/dataplane-mode: ambient}}`, evaluated
 * by cni/pkg/util/enablement_selector.go `CompiledEnablementSelectors.Matches`.
 */
export function namespaceEnrolment(labels: Labels): NamespaceEnrolment {
  const injection = get(labels, LABEL_INJECTION);
  const rev = get(labels, LABEL_REV);
  const ambient = labelledAmbient(labels);
  let sidecarRevision: string | undefined;
  let via: string | undefined;
  let sidecarBy: typeof LABEL_INJECTION | typeof LABEL_REV | undefined;
  if (injection === 'enabled') {
    sidecarRevision = 'default';
    sidecarBy = LABEL_INJECTION;
    via = `${LABEL_INJECTION}=enabled`;
  } else if (!has(labels, LABEL_INJECTION) && typeof rev === 'string' && rev !== '') {
    sidecarRevision = rev;
    sidecarBy = LABEL_REV;
    via = `${LABEL_REV}=${rev}`;
  }
  if (via === undefined && ambient) via = 'ambient';
  const ignored =
    has(labels, LABEL_INJECTION) && has(labels, LABEL_REV)
      ? typeof rev === 'string'
        ? rev
        : JSON.stringify(rev)
      : undefined;
  return {
    enrolled: sidecarRevision !== undefined || ambient,
    ...(sidecarRevision !== undefined ? { sidecarRevision } : {}),
    ...(sidecarBy !== undefined ? { sidecarBy } : {}),
    ambient,
    ...(ignored !== undefined ? { revisionIgnored: ignored } : {}),
    via: via ?? 'not enrolled',
  };
}
