// Making sure a directory holds a usable CA and serving certificate, issuing only what is missing
// or unusable. Shared by `meshlock certs init`, `certs renew` and the dev certificates.
import {
  createCertificateAuthority,
  issueServingCertificate,
  caProblem,
  servingProblem,
  type KeyAndCertificate,
} from './pki.js';
import { CERT_MODE, KEY_MODE, readIfExists, tightenKeyMode, writeAtomic } from './files.js';
import { pathsIn, type CertificatePaths } from './layout.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface EnsureOptions {
  readonly commonName: string;
  readonly dns: readonly string[];
  readonly ips: readonly string[];
  /** Lifetime of a new serving certificate. */
  readonly days: number;
  /** Lifetime of a new CA. */
  readonly caDays: number;
  /** Re-issue what expires within this many days. */
  readonly renewBeforeDays: number;
  /** Issue everything anew even when the existing files are fine. */
  readonly force?: boolean;
  readonly now?: Date;
}

export interface EnsureResult extends CertificatePaths {
  readonly caIssued: boolean;
  readonly servingIssued: boolean;
  /** Why the serving certificate was (re-)issued, when it was. */
  readonly reason?: string;
}

export function ensureCertificates(dir: string, opts: EnsureOptions): EnsureResult {
  const now = opts.now ?? new Date();
  const paths = pathsIn(dir);
  const minRemaining = opts.renewBeforeDays * DAY_MS;

  let ca = readPair(paths.caFile, paths.caKeyFile);
  let caIssued = false;
  const caReason = opts.force ? 'forced' : ca ? caProblem(ca.certPem, ca.keyPem, now, minRemaining) : 'missing';
  if (caReason !== undefined) {
    ca = createCertificateAuthority({ days: opts.caDays, now });
    writeAtomic(paths.caKeyFile, ca.keyPem, KEY_MODE);
    writeAtomic(paths.caFile, ca.certPem, CERT_MODE);
    caIssued = true;
  } else {
    tightenKeyMode(paths.caKeyFile);
  }

  const serving = readPair(paths.certFile, paths.keyFile);
  const wanted = { dns: opts.dns, ips: opts.ips };
  const reason = caIssued
    ? `new CA (${caReason})`
    : serving
      ? servingProblem(serving.certPem, serving.keyPem, ca!.certPem, wanted, now, minRemaining)
      : 'missing';
  if (reason !== undefined) {
    const issued = issueServingCertificate(ca!, { commonName: opts.commonName, ...wanted, days: opts.days, now });
    writeServing(paths, issued);
  } else {
    tightenKeyMode(paths.keyFile);
  }
  return { ...paths, caIssued, servingIssued: reason !== undefined, ...(reason !== undefined ? { reason } : {}) };
}

// The key goes first: a server reloading on the certificate's change then finds the matching key.
export function writeServing(paths: CertificatePaths, pair: KeyAndCertificate): void {
  writeAtomic(paths.keyFile, pair.keyPem, KEY_MODE);
  writeAtomic(paths.certFile, pair.certPem, CERT_MODE);
}

function readPair(certFile: string, keyFile: string): KeyAndCertificate | undefined {
  const certPem = readIfExists(certFile);
  const keyPem = readIfExists(keyFile);
  return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
}
