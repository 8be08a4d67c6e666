// Inbound ports a sidecar does not capture: what the kube-apiserver or a load balancer can reach in
// plaintext whatever the PeerAuthentication says.
import { get, type Labels } from './names.js';

export const ANNOTATION_EXCLUDE_INBOUND_PORTS = 'traffic.sidecar.istio.io/excludeInboundPorts';

/**
 * The ports of `traffic.sidecar.istio.io/excludeInboundPorts`, read as the injector reads them
 * (pkg/kube/inject/validate.go `parsePorts`: comma-separated, each trimmed and parsed with Go's
 * strconv.ParseUint base 10, 16 bits). Undefined when absent or when any entry does not parse (the
 * injector then refuses the pod, so nothing is excluded).
 */
export function excludedInboundPorts(annotations: Labels | undefined): ReadonlySet<number> | undefined {
  const v = get(annotations, ANNOTATION_EXCLUDE_INBOUND_PORTS);
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const out = new Set<number>();
  for (const part of v.trim().split(',')) {
    const p = part.trim();
    if (!/^[0-9]{1,5}$/.test(p) || Number(p) > 65535) return undefined;
    out.add(Number(p));
  }
  return out;
}
