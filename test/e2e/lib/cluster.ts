// The control plane that test/e2e/cluster/up.sh started: read from the env file it wrote.
// run.sh exports MESHLOCK_E2E_ENV; without it there is no cluster, and the suite fails
// instead of skipping (a skipped e2e looks like a passing one in a summary).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ClusterEnv {
  dir: string;
  kubeconfig: string;
  kubectl: string;
  apiserverUrl: string;
  k8sVersion: string;
  caFile: string;
  token: string;
  auditLog: string;
  logDir: string;
  shared: string;
  /** Istio installed by up.sh (istiod on the host, the chart's configurations); false with MESHLOCK_E2E_ISTIO=0 */
  istio: boolean;
  /** istioctl of the same build as istiod (empty without Istio) */
  istioctl: string;
  /** istiod's pseudo-version of istio.io/istio and its stamped version */
  istioVersion: string;
  istioBuildVersion: string;
  /** istiod's self-monitoring endpoint (Prometheus metrics), empty without Istio */
  istiodMonitoringUrl: string;
}

function parseEnvFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
  }
  return vars;
}

let cached: ClusterEnv | undefined;

export function clusterEnv(): ClusterEnv {
  if (cached) return cached;
  const file = process.env.MESHLOCK_E2E_ENV;
  if (!file) {
    throw new Error(
      'MESHLOCK_E2E_ENV is not set: the e2e suite needs a running control plane. ' +
        'Run it with `npm run test:e2e` (or test/e2e/cluster/up.sh, then MESHLOCK_E2E_ENV=<dir>/env).',
    );
  }
  const vars = parseEnvFile(readFileSync(file, 'utf8'));
  const get = (key: string): string => {
    const v = vars.get(key);
    if (v === undefined || v === '') throw new Error(`${file} has no ${key}`);
    return v;
  };
  cached = {
    dir: get('MESHLOCK_E2E_DIR'),
    kubeconfig: get('KUBECONFIG'),
    kubectl: get('KUBECTL'),
    apiserverUrl: get('E2E_APISERVER_URL'),
    k8sVersion: get('E2E_K8S_VERSION'),
    caFile: get('E2E_CA_FILE'),
    token: get('E2E_TOKEN'),
    auditLog: get('E2E_AUDIT_LOG'),
    logDir: get('E2E_LOG_DIR'),
    shared: get('E2E_SHARED'),
    istio: vars.get('E2E_ISTIO') === '1',
    istioctl: vars.get('ISTIOCTL') ?? '',
    istioVersion: vars.get('E2E_ISTIO_VERSION') ?? '',
    istioBuildVersion: vars.get('E2E_ISTIO_BUILD_VERSION') ?? '',
    istiodMonitoringUrl: vars.get('E2E_ISTIOD_MONITORING_URL') ?? '',
  };
  return cached;
}
