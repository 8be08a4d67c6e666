// `meshlock serve --self-manage-certs`: the certificate comes from the Secret (bootstrap.ts) at start,
// and is checked again periodically. The files it writes are the ones --tls-cert/--tls-key name, so
// the server's file watcher picks up a renewal.
import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/client.js';
import { bootstrapCertificates } from './bootstrap.js';

/** How often the renewal loop re-runs the bootstrap. */
export const RENEW_CHECK_MS = 12 * 60 * 60 * 1000;

export interface SelfManageOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly namespace: string;
  readonly secretName: string;
  readonly service: string;
  /** Default: the ambient kubeconfig (in a pod, its ServiceAccount). */
  readonly kubeConfig?: KubeConfig;
}

export interface SelfManagedCertificates {
  /**
   * Re-runs the bootstrap every `everyMs` (default RENEW_CHECK_MS) without keeping the process
   * alive: a no-op while the Secret is good, a re-issue near expiry, and a repair of a caBundle that
   * a re-apply of the manifests cleared. A failed round goes to `onError`; the next round tries again.
   * Returns a function that stops the loop.
   */
  startRenewal(onError: (err: unknown) => void, everyMs?: number): () => void;
}

/**
 * Bootstraps the serving certificate into <dir>/tls.crt and <dir>/tls.key (the dir of `certFile`
 * and `keyFile`, which must name those two files) from the cluster (by default the ambient kubeconfig's).
 * Throws when the paths are wrong, no cluster is reachable or the bootstrap fails.
 */
export async function selfManageCertificates(opts: SelfManageOptions): Promise<SelfManagedCertificates> {
  const dir = dirname(opts.certFile);
  if (dirname(opts.keyFile) !== dir || !opts.certFile.endsWith('/tls.crt') || !opts.keyFile.endsWith('/tls.key')) {
    throw new Error('--self-manage-certs writes <dir>/tls.crt and <dir>/tls.key: point --tls-cert and --tls-key there');
  }
  const kc = opts.kubeConfig ?? loadKubeConfig();
  const boot = (): Promise<unknown> =>
    bootstrapCertificates(kc, { namespace: opts.namespace, secretName: opts.secretName, service: opts.service, dir });
  await boot();
  return {
    startRenewal(onError, everyMs = RENEW_CHECK_MS): () => void {
      const timer = setInterval(() => void boot().catch(onError), everyMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
