// Linkerd 2: pods and pod templates (docs/POLICY-LINKERD.md (b)). Every Linkerd fact comes from
// the model in ./linkerd; this file only turns its answers into violations.
import { isJobLike } from './mutations.js';
import { field, idNumber, isObj, join, show, stringMap } from './object.js';
import { redirectionPowers, type Template } from './pod.js';
import {
  A,
  annotationsAtInjection,
  CNI_RESOURCE,
  CONTROL_PLANE_COMPONENT,
  CONTROL_PLANE_NS,
  existingSidecars,
  INIT_CONTAINER,
  INJECT,
  injectedBy,
  injectionVerdict,
  injectValueEnables,
  namespaceEnrolled,
  nativeSidecarSetting,
  outboundSkip,
  parsePortList,
  proxyContainer,
  PROXY_CONTAINER,
  REASON_TEXT,
  tcpPorts,
} from './linkerd/index.js';
import type { EngineContext, EngineInput, Violation } from './types.js';

/** Default inbound policies that require a mesh identity (or admit nothing). */
export const STRICT_DEFAULT_POLICIES: ReadonlySet<string> = new Set([
  'all-authenticated',
  'cluster-authenticated',
  'deny',
]);

/** The ports an edge lets this workload take out of strict mTLS (config `edges`). */
export type EdgePorts = (
  namespace: string,
  labels: ReadonlyMap<string, string>,
  exact?: boolean,
) => ReadonlySet<number>;

function textMap(m: ReadonlyMap<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of m) if (typeof v === 'string') out.set(k, v);
  return out;
}

/** Annotation rules shared by pods, templates and namespaces (a namespace's value reaches pods injected later). */
export function checkLinkerdAnnotations(
  ann: ReadonlyMap<string, string>,
  metaPath: string,
  ports: readonly number[],
  edge: ReadonlySet<number>,
  out: Violation[],
): void {
  const p = (k: string): string => join(`${metaPath}/annotations`, k);
  const skipIn = ann.get(A.skipInboundPorts);
  if (skipIn !== undefined && skipIn.trim() !== '') {
    const list = parsePortList(skipIn);
    const outside = list.ranges.filter((r) => !(r.lo === r.hi && edge.has(r.lo)));
    if (outside.length > 0 || list.invalid.length > 0) {
      out.push({
        rule: 'ld-skip-inbound',
        severity: 'error',
        path: p(A.skipInboundPorts),
        message: `annotation ${A.skipInboundPorts}=${show(skipIn)} lets inbound traffic skip the proxy, and meshed clients then send plaintext`,
        fix: `remove the annotation, or list only the ports of an edge in the meshlock config`,
      });
    }
  }
  const subnets = ann.get(A.skipSubnets);
  if (subnets !== undefined && subnets.trim() !== '') {
    out.push({
      rule: 'ld-skip-inbound',
      severity: 'error',
      path: p(A.skipSubnets),
      message: `annotation ${A.skipSubnets}=${show(subnets)} lets inbound traffic from those sources skip the proxy`,
      fix: `remove the ${A.skipSubnets} annotation`,
    });
  }
  for (const k of [A.adminPort, A.controlPort]) {
    const v = ann.get(k);
    if (v !== undefined && ports.includes(Number(v.trim()))) {
      out.push({
        rule: 'ld-skip-inbound',
        severity: 'error',
        path: p(k),
        message: `annotation ${k}=${show(v)} moves a proxy port onto an application port, which inbound redirection then skips`,
        fix: `remove the ${k} annotation`,
      });
    }
  }
  const skipOut = ann.get(A.skipOutboundPorts);
  if (skipOut !== undefined && skipOut.trim() !== '') {
    out.push({
      rule: 'ld-skip-outbound',
      severity: 'warning',
      path: p(A.skipOutboundPorts),
      message: `annotation ${A.skipOutboundPorts}=${show(skipOut)} lets outbound traffic skip the proxy`,
      fix: `remove the ${A.skipOutboundPorts} annotation`,
    });
  }
  const policy = ann.get(A.defaultInboundPolicy);
  if (policy !== undefined && !STRICT_DEFAULT_POLICIES.has(policy)) {
    out.push({
      rule: 'ld-inbound-policy',
      severity: 'error',
      path: p(A.defaultInboundPolicy),
      message: `annotation ${A.defaultInboundPolicy}=${show(policy)} ${['all-unauthenticated', 'cluster-unauthenticated', 'audit'].includes(policy) ? 'admits plaintext' : 'is not a policy, so Linkerd falls back to the cluster default'}`,
      fix: `set ${A.defaultInboundPolicy} to all-authenticated, cluster-authenticated or deny`,
    });
  }
  for (const k of [A.proxyUid, A.proxyGid]) {
    if (ann.has(k))
      out.push({
        rule: 'ld-proxy-uid',
        severity: 'warning',
        path: p(k),
        message: `annotation ${k}=${show(ann.get(k))} changes which user's traffic iptables never redirects`,
        fix: `remove the ${k} annotation`,
      });
  }
}

function checkContainers(t: Template, injected: ReadonlyMap<string, string>, out: Violation[]): void {
  const podSc = field(t.spec, 'securityContext');
  const { proxyUid, proxyGid } = outboundSkip(injected);
  for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
    const arr = field(t.spec, key);
    if (arr !== undefined && !Array.isArray(arr)) {
      out.push({
        rule: 'malformed-object',
        severity: 'error',
        path: `${t.base}/spec/${key}`,
        message: `spec.${key} is ${show(arr)}, not a list`,
        fix: 'write the containers as a list',
      });
      continue;
    }
    (arr ?? []).forEach((c: unknown, i: number) => {
      const path = `${t.base}/spec/${key}/${i}`;
      if (!isObj(c)) {
        out.push({
          rule: 'malformed-object',
          severity: 'error',
          path,
          message: `spec.${key}[${i}] is ${show(c)}, not a container`,
          fix: 'write each container as an object',
        });
        return;
      }
      const name = field(c, 'name');
      if (name === PROXY_CONTAINER || (key === 'initContainers' && name === INIT_CONTAINER)) return;
      const label = typeof name === 'string' ? name : show(name);
      const sc = field(c, 'securityContext');
      const uid = field(sc, 'runAsUser') ?? field(podSc, 'runAsUser');
      const gid = field(sc, 'runAsGroup') ?? field(podSc, 'runAsGroup');
      if (uid !== undefined && idNumber(uid) === proxyUid) {
        out.push({
          rule: 'ld-proxy-uid',
          severity: 'error',
          path:
            field(sc, 'runAsUser') !== undefined
              ? `${path}/securityContext/runAsUser`
              : `${t.base}/spec/securityContext/runAsUser`,
          message: `container ${label} runs as UID ${proxyUid}, the proxy's own, whose traffic is never redirected`,
          fix: 'run the container as another UID',
        });
      }
      if (proxyGid !== undefined && gid !== undefined && idNumber(gid) === proxyGid) {
        out.push({
          rule: 'ld-proxy-uid',
          severity: 'error',
          path:
            field(sc, 'runAsGroup') !== undefined
              ? `${path}/securityContext/runAsGroup`
              : `${t.base}/spec/securityContext/runAsGroup`,
          message: `container ${label} runs as GID ${proxyGid}, the proxy's own group, whose traffic is never redirected`,
          fix: 'run the container with another group',
        });
      }
      const powers = redirectionPowers(sc);
      if (powers !== undefined) {
        out.push({
          rule: 'ld-net-admin',
          severity: 'error',
          path: `${path}/securityContext`,
          message: `container ${label} ${powers} and can rewrite the traffic redirection rules`,
          fix: 'drop NET_ADMIN, NET_RAW and privileged from the container (the linkerd-cni plugin removes the need for them)',
        });
      }
    });
  }
}

/** The Linkerd rules of a pod or pod template. `edge` gives the ports an edge lets this workload relax. */
export function checkLinkerdPodLike(
  input: EngineInput,
  ctx: EngineContext,
  t: Template,
  edgePorts: EdgePorts,
): Violation[] {
  const out: Violation[] = [];
  if (t.meta !== undefined && !isObj(t.meta))
    return [
      {
        rule: 'malformed-object',
        severity: 'error',
        path: `${t.base}/metadata`,
        message: 'metadata is not an object',
        fix: 'write metadata as an object',
      },
    ];
  if (t.spec !== undefined && !isObj(t.spec))
    return [
      {
        rule: 'malformed-object',
        severity: 'error',
        path: `${t.base}/spec`,
        message: 'spec is not an object',
        fix: 'write spec as an object',
      },
    ];
  const labelsMap = stringMap(t.meta, 'labels');
  const annMap = stringMap(t.meta, 'annotations');
  if (!labelsMap.ok || !annMap.ok) {
    return [
      {
        rule: 'ld-pod-inject',
        severity: 'error',
        path: `${t.base}/metadata`,
        message: 'labels or annotations are not a map, so injection cannot be read',
        fix: 'write labels and annotations as maps of strings',
      },
    ];
  }
  const labels = textMap(labelsMap.values);
  const ann = textMap(annMap.values);
  const nsAnn = input.namespaceAnnotations ? textMap(input.namespaceAnnotations) : undefined;
  const meta = `${t.base}/metadata`;
  const isPod = !t.isTemplate;

  if (annMap.values.has(INJECT) && !injectValueEnables(ann.get(INJECT))) {
    const v = annMap.values.get(INJECT);
    out.push({
      rule: 'ld-pod-inject',
      severity: 'error',
      path: join(`${meta}/annotations`, INJECT),
      message: `annotation ${INJECT}=${show(v)} ${v === 'disabled' ? 'disables' : 'is not a value Linkerd accepts, so it disables'} proxy injection`,
      fix: `set ${INJECT} to "enabled" or remove the annotation`,
    });
  }
  for (const k of [CONTROL_PLANE_COMPONENT, CNI_RESOURCE]) {
    if (labels.has(k))
      out.push({
        rule: 'ld-selector-bypass',
        severity: 'error',
        path: join(`${meta}/labels`, k),
        message: `label ${k} keeps the pod away from Linkerd's injector webhook`,
        fix: `remove the ${k} label`,
      });
  }
  if (field(t.spec, 'hostNetwork') !== undefined && field(t.spec, 'hostNetwork') !== false) {
    out.push({
      rule: 'ld-host-network',
      severity: 'error',
      path: `${t.base}/spec/hostNetwork`,
      message: 'hostNetwork pods are never injected and bypass mTLS',
      fix: 'remove spec.hostNetwork',
    });
  }
  // The injector skips a pod that already has what looks like a proxy, so on a template, or on a pod
  // the proxy-injector did not write, such a container keeps the pod out of the mesh.
  const forged = existingSidecars(t.spec);
  if (forged.length > 0 && (t.isTemplate || injectedBy(ann) !== 'proxy-injector')) {
    const f = forged[0];
    out.push({
      rule: 'ld-forged-proxy',
      severity: 'error',
      path: f ? `${t.base}/spec/${f.list}/${f.index}` : `${t.base}/spec`,
      message: `${f?.list === 'initContainers' ? 'init container' : 'container'} ${f?.why ?? ''} makes Linkerd's injector skip the pod as already injected`,
      fix: 'remove the proxy container and let the injector add it (linkerd inject without --manual only adds the annotation)',
    });
  }
  const ports = tcpPorts(t.spec);
  const edge = edgePorts(input.namespace, labels);
  // What the pod is injected with: on a pod at admission the injector has already copied the
  // namespace's annotations; for a template, the namespace's are added when the caller knows them.
  const injected = annotationsAtInjection(t.isTemplate ? nsAnn : undefined, ann);
  checkLinkerdAnnotations(ann, meta, ports, edge, out);
  checkContainers(t, injected, out);

  if (isJobLike(input) && nativeSidecarSetting(injected).value === false) {
    const s = nativeSidecarSetting(injected);
    out.push({
      rule: 'ld-job-sidecar',
      severity: 'warning',
      path: join(`${meta}/annotations`, s.key ?? ''),
      message: `annotation ${s.key}=${show(s.raw)} runs the proxy as a classic sidecar, so the Job never completes`,
      fix: `remove the annotation or set it to "true"`,
    });
  }
  if (isPod && input.operation === 'CREATE' && input.source !== 'manifests' && !proxyContainer(t.spec)) {
    // After every mutating webhook the pod should carry the proxy: meshlock's own mutation asked for
    // it (or the namespace enrols). Linkerd's injector fails open (failurePolicy Ignore), so a pod
    // admitted while it is down, or skipped by it, would run outside the mesh.
    const wanted = injectValueEnables(ann.get(INJECT)) || (nsAnn !== undefined && namespaceEnrolled(nsAnn));
    if (wanted) {
      const verdict = injectionVerdict(nsAnn ?? {}, ann, t.spec);
      const why =
        verdict.reasons.length > 0
          ? `the injector skipped it: ${verdict.reasons.map((r) => REASON_TEXT[r]).join(', ')}`
          : "Linkerd's injector did not run (its webhook fails open)";
      out.push({
        rule: 'ld-pod-not-meshed',
        severity: 'error',
        path: `${t.base}/spec/containers`,
        message: `the pod is to be meshed but has no ${PROXY_CONTAINER} container: ${why}`,
        fix: 'make sure linkerd-proxy-injector is running and reachable, then create the pod again',
      });
    }
  }
  if (isPod && input.operation === 'UPDATE' && isObj(input.oldObject)) {
    const before = stringMap(field(input.oldObject, 'metadata'), 'labels').values.get(CONTROL_PLANE_NS);
    if (before !== undefined && labels.get(CONTROL_PLANE_NS) !== before) {
      out.push({
        rule: 'ld-mesh-label',
        severity: 'error',
        path: join(`${meta}/labels`, CONTROL_PLANE_NS),
        message: `the update ${labels.has(CONTROL_PLANE_NS) ? 'changes' : 'removes'} label ${CONTROL_PLANE_NS}, so Linkerd stops giving the pod an identity and meshed clients send it plaintext`,
        fix: `keep ${CONTROL_PLANE_NS}=${before}`,
      });
    }
  }
  return out;
}
