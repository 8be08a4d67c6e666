// Loading cluster credentials: an explicit kubeconfig, $KUBECONFIG / ~/.kube/config, or the
// in-cluster service account, with an optional context, as kubectl resolves them.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeTarget {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then in-cluster. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

export class KubeConfigError extends Error {
  readonly code = 'MESHLOCK_ERR_KUBECONFIG';
}

export function loadKubeConfig(target: KubeTarget = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig) {
      if (!existsSync(target.kubeconfig)) throw new KubeConfigError(`kubeconfig ${target.kubeconfig} does not exist`);
      kc.loadFromFile(target.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load kubeconfig: ${(err as Error).message}`);
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      throw new KubeConfigError(`context "${target.context}" not found in kubeconfig (have: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError('no cluster in kubeconfig: pass --kubeconfig or --context, or run in a cluster');
  return kc;
}
