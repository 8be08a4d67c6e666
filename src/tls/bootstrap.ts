// In-cluster certificate self-management (`meshlock serve --self-manage-certs`). The Secret is the
// single source of truth: every replica reads it, and only when it is missing or unusable issues a
// new one and tries to store it. Writes are conditional (create fails if it exists, update names the
// resourceVersion read), so when several replicas start together exactly one write wins, the others
// get a conflict, re-read, and adopt the winner's certificate: all converge on one certificate.
import { X509Certificate } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeSecretStore, SecretConflictError, type SecretStore } from '../kube/secrets.js';
import {
  injectCaBundle,
  kubeWebhookClient,
  MESHLOCK_WEBHOOK_CONFIGURATIONS,
  type WebhookClient,
  type WebhookConfigurationRef,
} from '../kube/webhooks.js';
import {
  caProblem,
  createCertificateAuthority,
  issueServingCertificate,
  parseCertificates,
  servingProblem,
  type KeyAndCertificate,
} from './pki.js';
import { serviceNames } from './names.js';
import { pathsIn, type CertificatePaths } from './layout.js';
import { CERT_MODE, KEY_MODE, writeAtomic } from './files.js';
import { MeshlockError } from '../errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface BootstrapOptions {
  readonly namespace: string;
  readonly secretName: string;
  readonly service: string;
  /** Default: meshlock's two configurations from deploy/. Empty: inject nothing. */
  readonly webhookConfigurations?: readonly WebhookConfigurationRef[];
  /** Where the server reads its files (an emptyDir in the Deployment). */
  readonly dir: string;
  readonly days?: number;
  readonly caDays?: number;
  /** Re-issue the serving certificate within this many days of its end (default 30). */
  readonly renewBeforeDays?: number;
  readonly now?: () => Date;
}

export interface BootstrapDeps {
  readonly secrets: SecretStore;
  readonly webhooks: WebhookClient;
}

export interface BootstrapResult {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** True when this call's write won; false when it adopted a certificate already stored. */
  readonly issued: boolean;
  /** SHA-256 fingerprint of the serving certificate in use. */
  readonly fingerprint: string;
}

export class BootstrapError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_CERT_BOOTSTRAP', message);
  }
}

const MAX_ROUNDS = 8;

export async function bootstrapCertificates(kc: KubeConfig, opts: BootstrapOptions): Promise<BootstrapResult> {
  return bootstrapWith(
    {
      secrets: kubeSecretStore(kc, { namespace: opts.namespace, name: opts.secretName }),
      webhooks: kubeWebhookClient(kc),
    },
    opts,
  );
}

export async function bootstrapWith(deps: BootstrapDeps, opts: BootstrapOptions): Promise<BootstrapResult> {
  const now = opts.now ?? (() => new Date());
  const wanted = { dns: serviceNames(opts.service, opts.namespace), ips: [] };
  const minRemaining = (opts.renewBeforeDays ?? 30) * DAY_MS;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const current = await deps.secrets.read();
    const data = current?.data ?? {};
    const tlsCrt = data['tls.crt'];
    const tlsKey = data['tls.key'];
    const caCrt = data['ca.crt'];
    if (
      tlsCrt !== undefined &&
      tlsKey !== undefined &&
      caCrt !== undefined &&
      servingProblem(tlsCrt, tlsKey, caCrt, wanted, now(), minRemaining) === undefined
    ) {
      return finish(deps, opts, { 'tls.crt': tlsCrt, 'tls.key': tlsKey, 'ca.crt': caCrt }, false);
    }
    const next = reissue(data, wanted.dns, opts, now(), minRemaining);
    try {
      const written = current
        ? await deps.secrets.update(next, current.resourceVersion)
        : await deps.secrets.create(next);
      return finish(deps, opts, written.data, true);
    } catch (err) {
      // Another replica wrote first: read again and use its certificate if it is good.
      if (err instanceof SecretConflictError) continue;
      throw err;
    }
  }
  throw new BootstrapError(
    `Secret ${opts.namespace}/${opts.secretName} kept changing under us for ${MAX_ROUNDS} rounds; giving up`,
  );
}

// Keeps the stored CA when it can still sign for long enough; otherwise a new CA whose bundle also
// carries the old one while it is valid, so clients that only know the old CA keep working until
// the new bundle reaches them.
function reissue(
  data: Readonly<Record<string, string>>,
  dns: string[],
  opts: BootstrapOptions,
  now: Date,
  minRemaining: number,
): Record<string, string> {
  const oldCa =
    data['ca.crt'] !== undefined && data['ca.key'] !== undefined
      ? { certPem: firstPem(data['ca.crt']), keyPem: data['ca.key'] }
      : undefined;
  const caDays = opts.caDays ?? 3650;
  const keep =
    oldCa &&
    caProblem(oldCa.certPem, oldCa.keyPem, now, Math.max(minRemaining, (opts.days ?? 365) * DAY_MS)) === undefined;
  const ca: KeyAndCertificate = keep ? oldCa : createCertificateAuthority({ days: caDays, now });
  const bundle = keep ? data['ca.crt']! : [ca.certPem, ...stillValid(data['ca.crt'], now)].join('');
  const serving = issueServingCertificate(ca, {
    commonName: dns[dns.length - 2] ?? opts.service,
    dns,
    ips: [],
    days: opts.days ?? 365,
    now,
  });
  return { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem, 'ca.crt': bundle, 'ca.key': ca.keyPem };
}

function firstPem(bundle: string): string {
  return parseCertificates(bundle)[0]!.toString();
}

function stillValid(bundle: string | undefined, now: Date): string[] {
  if (bundle === undefined) return [];
  try {
    return parseCertificates(bundle)
      .filter((c) => new Date(c.validTo).getTime() > now.getTime())
      .map((c) => c.toString());
  } catch {
    return [];
  }
}

async function finish(
  deps: BootstrapDeps,
  opts: BootstrapOptions,
  data: Readonly<Record<string, string>>,
  issued: boolean,
): Promise<BootstrapResult> {
  const paths: CertificatePaths = pathsIn(opts.dir);
  writeAtomic(paths.keyFile, data['tls.key']!, KEY_MODE);
  writeAtomic(paths.certFile, data['tls.crt']!, CERT_MODE);
  writeAtomic(paths.caFile, data['ca.crt']!, CERT_MODE);
  // Injected on every start, not only by the writer: it repairs a configuration re-applied by
  // `kubectl apply -k deploy/` (which has no caBundle) and is a no-op when already in place.
  await injectCaBundle(deps.webhooks, opts.webhookConfigurations ?? MESHLOCK_WEBHOOK_CONFIGURATIONS, data['ca.crt']!);
  return {
    certFile: paths.certFile,
    keyFile: paths.keyFile,
    caFile: paths.caFile,
    issued,
    fingerprint: new X509Certificate(data['tls.crt']!).fingerprint256,
  };
}
