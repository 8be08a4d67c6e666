// Loading cluster credentials: an explicit kubeconfig, $KUBECONFIG / ~/.kube/config, or the
// in-cluster service account, with an optional context, as kubectl resolves them.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { MeshlockError } from '../errors.js';

export interface KubeTarget {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then in-cluster. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

export class KubeConfigError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_KUBECONFIG', message);
  }
}

// The in-cluster service account token (client-node's SERVICEACCOUNT_TOKEN_PATH).
const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Why there is no kubeconfig to load, or undefined when there is one. Without this check client-node
 * falls back to an unauthenticated http://localhost:8080 and the first request fails with a message
 * about the connection, not the cause.
 */
function noKubeconfig(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = (env['KUBECONFIG'] ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.some((f) => existsSync(f))) return undefined;
  if (fromEnv.length === 0 && existsSync(join(homedir(), '.kube', 'config'))) return undefined;
  if (env['KUBERNETES_SERVICE_HOST'] && existsSync(SA_TOKEN)) return undefined;
  const where =
    fromEnv.length > 0
      ? `$KUBECONFIG (${fromEnv.join(delimiter)}) names no existing file`
      : `$KUBECONFIG is unset and ${join(homedir(), '.kube', 'config')} does not exist`;
  return `no cluster to talk to: ${where}, and this is not a pod in a cluster. Pass --kubeconfig FILE (and --context NAME), or read a dump with -f FILE`;
}

export function loadKubeConfig(target: KubeTarget = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig) {
      if (!existsSync(target.kubeconfig)) throw new KubeConfigError(`kubeconfig ${target.kubeconfig} does not exist`);
      kc.loadFromFile(target.kubeconfig);
    } else {
      const missing = noKubeconfig();
      if (missing) throw new KubeConfigError(missing);
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load kubeconfig: ${(err as Error).message}`);
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      throw new KubeConfigError(
        `context "${target.context}" not found in kubeconfig (have: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster())
    throw new KubeConfigError('no cluster in kubeconfig: pass --kubeconfig or --context, or run in a cluster');
  return kc;
}
