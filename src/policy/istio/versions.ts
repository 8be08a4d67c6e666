// Versions and revisions of Istio's proxies and control planes, as Istio writes them on objects.
// - The injector records the revision it injected for in the pod's `sidecar.istio.io/status`
//   annotation (pkg/kube/inject/inject.go, SidecarInjectionStatus.Revision) and, through the
//   injection template, in an `istio.io/rev` annotation
//   (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml).
// - The proxy image is `<hub>/<image>:<tag>[-<variant>]` (inject.go, ProxyImage, proxyImageURL and
//   imageURL): the version is the tag before any variant suffix.
// - istiod's Deployment is labelled `istio.io/rev` (absent for the default revision on older charts)
//   and runs its `discovery` container from `<hub>/pilot:<tag>`
//   (manifests/charts/istio-control/istio-discovery/templates/deployment.yaml).
import { ANNOTATION_STATUS, LABEL_REV, PROXY_CONTAINER, get, type Labels } from './names.js';

export interface IstioVersion {
  readonly major: number;
  readonly minor: number;
  /** As written in the tag, without a leading `v` or a variant (`1.28.0`). */
  readonly text: string;
}

/** The version in an image's tag; undefined for a digest-only or non-numeric tag (`latest`). */
export function imageVersion(image: unknown): IstioVersion | undefined {
  if (typeof image !== 'string') return undefined;
  const name = image.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  // A colon before the last slash is a registry port, not a tag.
  if (colon < 0 || name.indexOf('/', colon) >= 0) return undefined;
  const m = /^v?(\d+)\.(\d+)(\.\d+)?/.exec(name.slice(colon + 1));
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), text: m[0].replace(/^v/, '') };
}

interface ContainerLike {
  readonly name?: unknown;
  readonly image?: unknown;
  readonly restartPolicy?: unknown;
}

function list(v: unknown): readonly ContainerLike[] {
  return Array.isArray(v) ? v.filter((c): c is ContainerLike => typeof c === 'object' && c !== null) : [];
}

/** The image of the pod's running proxy (a container, or a native-sidecar init container); see injection.ts runsIstioProxy. */
export function proxyImage(spec: unknown): string | undefined {
  if (typeof spec !== 'object' || spec === null) return undefined;
  const s = spec as { containers?: unknown; initContainers?: unknown };
  const c =
    list(s.containers).find((x) => x.name === PROXY_CONTAINER) ??
    list(s.initContainers).find((x) => x.name === PROXY_CONTAINER && x.restartPolicy === 'Always');
  return typeof c?.image === 'string' ? c.image : undefined;
}

/** The revision an injected pod's proxy belongs to: the status annotation, then `istio.io/rev` (annotation, label), then "default". */
export function proxyRevision(annotations: Labels | undefined, labels: Labels | undefined): string {
  const status = get(annotations, ANNOTATION_STATUS);
  if (typeof status === 'string') {
    try {
      const rev = (JSON.parse(status) as { revision?: unknown } | null)?.revision;
      if (typeof rev === 'string' && rev) return rev;
    } catch {
      // An unreadable status says nothing about the revision.
    }
  }
  const fromAnnotation = get(annotations, LABEL_REV);
  if (typeof fromAnnotation === 'string' && fromAnnotation) return fromAnnotation;
  const fromLabel = get(labels, LABEL_REV);
  return typeof fromLabel === 'string' && fromLabel ? fromLabel : 'default';
}

/** The control plane's version from istiod's pod spec: its `discovery` container, else the first. */
export function istiodVersion(podSpec: unknown): IstioVersion | undefined {
  const cs = list((podSpec as { containers?: unknown } | undefined)?.containers);
  return imageVersion((cs.find((c) => c.name === 'discovery') ?? cs[0])?.image);
}

/** Minor versions a proxy is behind its control plane (negative: ahead); a different major counts as far apart. */
export function minorsBehind(controlPlane: IstioVersion, proxy: IstioVersion): number {
  if (controlPlane.major !== proxy.major) return controlPlane.major > proxy.major ? 99 : -99;
  return controlPlane.minor - proxy.minor;
}
