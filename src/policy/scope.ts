// Which objects the namespace-bound rules look at, and what "enrolled in the mesh" means.
import type { ResolvedConfig } from '../config/resolve.js';

export const LABEL_INJECTION = 'istio-injection';
export const LABEL_REV = 'istio.io/rev';
export const LABEL_DATAPLANE = 'istio.io/dataplane-mode';
export const LABEL_POD_INJECT = 'sidecar.istio.io/inject';

/**
 * Namespace-bound rules skip system namespaces (the configured ones, the root namespace and
 * meshlock's own). Exemptions are applied by the engine, per rule, on top of this.
 */
export function isSystemNamespace(config: ResolvedConfig, namespace: string): boolean {
  return config.systemNamespaces.has(namespace);
}

/**
 * A namespace is enrolled when `istio-injection` is exactly `enabled`; or `istio-injection` is
 * absent and `istio.io/rev` names a revision (Istio's injector lets `istio-injection` win when both
 * are set); or `istio.io/dataplane-mode` is exactly `ambient` (ztunnel gives mTLS without a sidecar).
 * Values are compared exactly: Istio's namespace selectors do, so `Enabled` enrols nothing.
 */
export function isEnrolled(labels: ReadonlyMap<string, unknown>): boolean {
  const injection = labels.get(LABEL_INJECTION);
  if (injection === 'enabled') return true;
  const rev = labels.get(LABEL_REV);
  if (injection === undefined && typeof rev === 'string' && rev !== '') return true;
  return labels.get(LABEL_DATAPLANE) === 'ambient';
}
