// DestinationRule (networking.istio.io v1alpha3, v1beta1, v1): how a CLIENT sends to a host.
import { isInMeshHost, isSystemServiceHost } from './istio/index.js';
import { field, isObj, show } from './object.js';
import type { EngineContext, EngineInput, Violation } from './types.js';

interface TlsBlock {
  readonly path: string;
  readonly value: unknown;
}

/** Every tls block Istio reads: trafficPolicy, its portLevelSettings, and the same under each subset. */
function collectTls(spec: unknown, out: Violation[]): TlsBlock[] {
  const blocks: TlsBlock[] = [];
  const malformed = (path: string, v: unknown): void => {
    out.push({
      rule: 'dr-tls-disable',
      severity: 'error',
      path,
      message: `${path.slice(1).replace(/\//g, '.')} is ${show(v)}, which meshlock cannot read`,
      fix: 'write it as Istio documents it',
    });
  };
  const fromPolicy = (tp: unknown, path: string): void => {
    if (tp === undefined) return;
    if (!isObj(tp)) return malformed(path, tp);
    const tls = field(tp, 'tls');
    if (tls !== undefined) blocks.push({ path: `${path}/tls`, value: tls });
    const pls = field(tp, 'portLevelSettings');
    if (pls === undefined) return;
    if (!Array.isArray(pls)) return malformed(`${path}/portLevelSettings`, pls);
    pls.forEach((p: unknown, i) => {
      const pt = field(p, 'tls');
      if (!isObj(p)) malformed(`${path}/portLevelSettings/${i}`, p);
      else if (pt !== undefined) blocks.push({ path: `${path}/portLevelSettings/${i}/tls`, value: pt });
    });
  };
  fromPolicy(field(spec, 'trafficPolicy'), '/spec/trafficPolicy');
  const subsets = field(spec, 'subsets');
  if (subsets !== undefined) {
    if (!Array.isArray(subsets)) malformed('/spec/subsets', subsets);
    else
      subsets.forEach((s: unknown, i) => {
        if (!isObj(s)) malformed(`/spec/subsets/${i}`, s);
        else fromPolicy(field(s, 'trafficPolicy'), `/spec/subsets/${i}/trafficPolicy`);
      });
  }
  return blocks;
}

export function checkDestinationRule(input: EngineInput, ctx: EngineContext): Violation[] {
  if (input.operation === 'DELETE') return [];
  const spec = field(input.object, 'spec');
  const host = field(spec, 'host');
  // Egress hosts are left alone: TLS origination to an external service is the normal case.
  if (!isInMeshHost(host, ctx.config)) return [];
  const out: Violation[] = [];
  if (spec !== undefined && !isObj(spec)) {
    out.push({
      rule: 'dr-tls-disable',
      severity: 'error',
      path: '/spec',
      message: `spec is ${show(spec)}, not an object`,
      fix: 'write spec as an object',
    });
    return out;
  }
  const hostText = typeof host === 'string' ? host : show(host);
  for (const block of collectTls(spec, out)) {
    const where = block.path.slice(1).replace(/\//g, '.');
    const mode = field(block.value, 'mode');
    if (mode === 'ISTIO_MUTUAL') continue;
    if (mode === 'SIMPLE' || mode === 'MUTUAL') {
      // TLS to a system namespace's service (istiod.istio-system.svc) replaces no mesh identity.
      if (isSystemServiceHost(host, ctx.config)) continue;
      out.push({
        rule: 'dr-tls-origination',
        severity: 'error',
        path: `${block.path}/mode`,
        message: `${where}.mode ${mode} towards in-mesh host ${hostText} replaces the mesh identities with other certificates`,
        fix: `set ${where}.mode to ISTIO_MUTUAL or remove the tls block`,
      });
      continue;
    }
    // `tls: {}` or a block with only sni/subjectAltNames has no mode, which Istio reads as DISABLE.
    const what =
      mode === undefined
        ? 'has no mode, which Istio reads as DISABLE'
        : mode === 'DISABLE'
          ? 'is DISABLE'
          : `is ${show(mode)}, not a mode Istio knows`;
    out.push({
      rule: 'dr-tls-disable',
      severity: 'error',
      path: isObj(block.value) ? `${block.path}/mode` : block.path,
      message: `${where}.mode ${what}: plaintext to in-mesh host ${hostText}`,
      fix: `set ${where}.mode to ISTIO_MUTUAL or remove the tls block`,
    });
  }
  return out;
}
