// PeerAuthentication (security.istio.io v1beta1 and v1): how a workload ACCEPTS traffic.
import { edgePermittingPermissive } from './edges.js';
import { peerAuthenticationScope, workloadSelector } from './istio/index.js';
import { field, isObj, join, show } from './object.js';
import type { EngineContext, EngineInput, Violation } from './types.js';

type ModeRead = { kind: 'unset' } | { kind: 'value'; value: unknown };

function readMode(mtls: unknown): ModeRead {
  const mode = field(mtls, 'mode');
  return mode === undefined ? { kind: 'unset' } : { kind: 'value', value: mode };
}

/** A policy with a non-empty `selector.matchLabels`: the only kind whose portLevelMtls Istio applies. */
function hasWorkloadSelector(spec: unknown): boolean {
  return workloadSelector(spec) !== undefined;
}

function isMeshWide(namespace: string, spec: unknown, ctx: EngineContext): boolean {
  return peerAuthenticationScope(namespace, spec, ctx.config.rootNamespace) === 'mesh';
}

/** Mode of the policy as a string when it is exactly one of Istio's, else undefined. */
function effectiveModeName(spec: unknown): string | undefined {
  const mtls = field(spec, 'mtls');
  if (mtls === undefined) return 'UNSET';
  const m = readMode(mtls);
  if (m.kind === 'unset') return 'UNSET';
  return typeof m.value === 'string' ? m.value : undefined;
}

const FIX_STRICT = 'set spec.mtls.mode to STRICT (or remove it to inherit the namespace or mesh policy)';

function checkMode(spec: unknown, out: Violation[]): void {
  const mtls = field(spec, 'mtls');
  if (mtls === undefined) return;
  if (!isObj(mtls)) {
    out.push({
      rule: 'pa-mode',
      severity: 'error',
      path: '/spec/mtls',
      message: `spec.mtls is ${show(mtls)}, not an object`,
      fix: FIX_STRICT,
    });
    return;
  }
  const m = readMode(mtls);
  // Anything but STRICT or UNSET violates, including lower case and numbers: fail closed.
  if (m.kind === 'value' && m.value !== 'STRICT' && m.value !== 'UNSET') {
    out.push({
      rule: 'pa-mode',
      severity: 'error',
      path: '/spec/mtls/mode',
      message: `mTLS mode ${show(m.value)} accepts plaintext or is not a mode Istio knows`,
      fix: FIX_STRICT,
    });
  }
}

/** Whether an edge lets this port be PERMISSIVE (POLICY.md "Edges"). */
type EdgePermits = (port: number) => boolean;

function checkPortLevel(spec: unknown, out: Violation[], edgePermits: EdgePermits): void {
  const plm = field(spec, 'portLevelMtls');
  if (plm === undefined) return;
  const base = { rule: 'pa-port-mode' as const, severity: 'error' as const };
  if (!isObj(plm)) {
    out.push({
      ...base,
      path: '/spec/portLevelMtls',
      message: `spec.portLevelMtls is ${show(plm)}, not a map of ports`,
      fix: 'remove spec.portLevelMtls or make it a map of port numbers to {mode: STRICT}',
    });
    return;
  }
  const entries = Object.entries(plm);
  if (entries.length === 0) {
    out.push({
      ...base,
      path: '/spec/portLevelMtls',
      message: 'spec.portLevelMtls is empty',
      fix: 'remove spec.portLevelMtls',
    });
  }
  // Istio applies port-level modes only on a policy that selects workloads.
  if (!hasWorkloadSelector(spec)) {
    out.push({
      ...base,
      path: '/spec/portLevelMtls',
      message: 'spec.portLevelMtls has no effect without a non-empty spec.selector.matchLabels',
      fix: 'add spec.selector.matchLabels for the workload, or remove spec.portLevelMtls',
    });
  }
  for (const [port, setting] of entries) {
    const path = join('/spec/portLevelMtls', port);
    // Only the canonical decimal form counts: "080" or " 80" is read differently by different
    // parsers (Go's strconv accepts a leading zero, YAML 1.1 reads 0-prefixed numbers as octal), so
    // the port a reader sees is not certain. Fail closed and ask for the plain number.
    const n = /^[1-9][0-9]{0,4}$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) {
      out.push({
        ...base,
        path,
        message: `port ${show(port)} is not an integer between 1 and 65535`,
        fix: 'use a container port number between 1 and 65535 as the key',
      });
    }
    if (setting === null) continue;
    if (!isObj(setting)) {
      out.push({
        ...base,
        path,
        message: `port ${port} setting is ${show(setting)}, not an object`,
        fix: `set spec.portLevelMtls.${port}.mode to STRICT`,
      });
      continue;
    }
    const m = readMode(setting);
    // An edge permits exactly PERMISSIVE on its own ports; DISABLE never (it refuses mTLS callers).
    if (m.kind === 'value' && m.value === 'PERMISSIVE' && n >= 1 && n <= 65535 && edgePermits(n)) continue;
    if (m.kind === 'value' && m.value !== 'STRICT' && m.value !== 'UNSET') {
      out.push({
        ...base,
        path: `${path}/mode`,
        message: `port ${port} mTLS mode ${show(m.value)} accepts plaintext or is not a mode Istio knows`,
        fix: `set spec.portLevelMtls.${port}.mode to STRICT`,
      });
    }
  }
}

export function checkPeerAuthentication(input: EngineInput, ctx: EngineContext): Violation[] {
  const out: Violation[] = [];
  if (input.operation === 'DELETE') {
    // Deleting the mesh-wide STRICT policy drops the whole mesh back to Istio's default, PERMISSIVE.
    // The apiserver sends the deleted object as oldObject (Kubernetes 1.15+); offline callers may
    // put it in object. A root-namespace DELETE that carries neither could be the mesh-wide STRICT
    // policy: fail closed rather than let the mesh drop to PERMISSIVE unseen.
    const old = input.oldObject ?? input.object;
    if (!isObj(old)) {
      if (input.namespace === ctx.config.rootNamespace) {
        out.push({
          rule: 'pa-mesh-delete',
          severity: 'error',
          message: `the DELETE request carries no oldObject, so meshlock cannot tell whether ${input.name || 'it'} is the mesh-wide STRICT policy`,
          fix: 'send the request through a kube-apiserver that fills oldObject on DELETE (1.15 or later)',
        });
      }
      return out;
    }
    const spec = field(old, 'spec');
    if (isMeshWide(input.namespace, spec, ctx) && effectiveModeName(spec) === 'STRICT') {
      out.push({
        rule: 'pa-mesh-delete',
        severity: 'error',
        message: `deleting the mesh-wide STRICT policy in ${ctx.config.rootNamespace} would drop the mesh to PERMISSIVE`,
        fix: 'keep this policy; to replace it, apply the new mesh-wide policy over it instead of deleting it',
      });
    }
    return out;
  }
  const obj = input.object;
  const spec = field(obj, 'spec');
  if (spec !== undefined && !isObj(spec)) {
    out.push({
      rule: 'pa-mode',
      severity: 'error',
      path: '/spec',
      message: `spec is ${show(spec)}, not an object`,
      fix: 'write spec as an object with mtls.mode STRICT',
    });
    return out;
  }
  const selector = field(spec, 'selector');
  if (
    selector !== undefined &&
    (!isObj(selector) || (field(selector, 'matchLabels') !== undefined && !isObj(field(selector, 'matchLabels'))))
  ) {
    // A selector meshlock cannot read could select anything: refuse rather than guess its scope.
    out.push({
      rule: 'pa-mode',
      severity: 'error',
      path: '/spec/selector',
      message: `spec.selector is ${show(selector)}, not a label selector`,
      fix: 'write spec.selector.matchLabels as a map of labels',
    });
  }
  checkMode(spec, out);
  const now = ctx.now.getTime();
  checkPortLevel(
    spec,
    out,
    (port) => edgePermittingPermissive(ctx.config, input.namespace, spec, port, now) !== undefined,
  );
  const meshWide = isMeshWide(input.namespace, spec, ctx);
  if (meshWide && effectiveModeName(spec) !== 'STRICT') {
    out.push({
      rule: 'pa-mesh-strict',
      severity: 'error',
      path: '/spec/mtls/mode',
      message: `the mesh-wide policy (${ctx.config.rootNamespace}, no selector) must set STRICT explicitly: UNSET or absent means PERMISSIVE here`,
      fix: 'set spec.mtls.mode to STRICT',
    });
  }
  // Adding a selector to the mesh-wide STRICT policy turns it into a workload policy that Istio
  // ignores in the root namespace: the mesh drops to PERMISSIVE exactly as if it had been deleted.
  const oldSpec = field(input.oldObject, 'spec');
  if (
    input.operation === 'UPDATE' &&
    !meshWide &&
    isObj(input.oldObject) &&
    isMeshWide(input.namespace, oldSpec, ctx) &&
    effectiveModeName(oldSpec) === 'STRICT'
  ) {
    out.push({
      rule: 'pa-mesh-delete',
      severity: 'error',
      path: '/spec/selector',
      message: `adding a selector to the mesh-wide STRICT policy in ${ctx.config.rootNamespace} removes it and drops the mesh to PERMISSIVE`,
      fix: 'keep the mesh-wide policy without a selector; put workload policies in their own namespaces',
    });
  }
  if (peerAuthenticationScope(input.namespace, spec, ctx.config.rootNamespace) === 'ignored') {
    out.push({
      rule: 'pa-root-selector',
      severity: 'warning',
      path: '/spec/selector',
      message: `Istio ignores selector policies in the root namespace ${ctx.config.rootNamespace}`,
      fix: "move this policy to the workload's own namespace",
    });
  }
  return out;
}
