// Which objects the namespace-bound rules look at.
import type { ResolvedConfig } from '../config/resolve.js';

/**
 * Namespace-bound rules skip system namespaces (the configured ones, the root namespace and
 * meshlock's own). Exemptions are applied by the engine, per rule, on top of this. Whether Istio
 * itself serves a namespace is istio/enrolment.ts's question, not this one.
 */
export function isSystemNamespace(config: ResolvedConfig, namespace: string): boolean {
  return config.systemNamespaces.has(namespace);
}
