// `meshlock certs renew`: re-issue the serving certificate near its end, keeping the CA; when the CA
// itself is near its end, a new CA signs the new certificate and the bundle file carries the new CA
// and every old one still valid, so clients given the new bundle trust certificates of both.
import { X509Certificate } from 'node:crypto';
import {
  caProblem,
  createCertificateAuthority,
  issueServingCertificate,
  parseCertificates,
  servingProblem,
} from './pki.js';
import { CERT_MODE, KEY_MODE, readIfExists, writeAtomic } from './files.js';
import { writeServing } from './issue.js';
import { pathsIn, type CertificatePaths } from './layout.js';
import { MeshlockError } from '../errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RenewOptions {
  readonly beforeDays: number;
  readonly days: number;
  readonly caDays: number;
  readonly now?: Date;
}

export interface RenewResult extends CertificatePaths {
  readonly caRotated: boolean;
  readonly servingRenewed: boolean;
  readonly reason?: string;
  readonly notAfter: string;
}

export class RenewError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_CERT_RENEW', message);
  }
}

export function renewCertificates(dir: string, opts: RenewOptions): RenewResult {
  const now = opts.now ?? new Date();
  const paths = pathsIn(dir);
  const bundle = readIfExists(paths.caFile);
  const caKey = readIfExists(paths.caKeyFile);
  const certPem = readIfExists(paths.certFile);
  const keyPem = readIfExists(paths.keyFile);
  if (bundle === undefined || caKey === undefined || certPem === undefined || keyPem === undefined) {
    throw new RenewError(`${dir} lacks ca.crt, ca.key, tls.crt or tls.key: run meshlock certs init first`);
  }
  let current: X509Certificate;
  try {
    current = parseCertificates(certPem)[0]!;
  } catch (err) {
    throw new RenewError(`${paths.certFile}: ${(err as Error).message}; run meshlock certs init --force`);
  }
  const names = sansOf(current);
  const before = opts.beforeDays * DAY_MS;
  let ca = { certPem: parseCertificates(bundle)[0]!.toString(), keyPem: caKey };
  let caRotated = false;
  // A CA within the renewal margin of its end is replaced now, while the old one still works.
  const caReason = caProblem(ca.certPem, ca.keyPem, now, before);
  if (caReason !== undefined) {
    const fresh = createCertificateAuthority({ days: opts.caDays, now });
    const keep = parseCertificates(bundle)
      .filter((c) => new Date(c.validTo).getTime() > now.getTime())
      .map((c) => c.toString());
    writeAtomic(paths.caKeyFile, fresh.keyPem, KEY_MODE);
    writeAtomic(paths.caFile, [fresh.certPem, ...keep].join(''), CERT_MODE);
    ca = fresh;
    caRotated = true;
  }
  const reason = caRotated ? `CA rotated (${caReason})` : servingProblem(certPem, keyPem, bundle, names, now, before);
  if (reason === undefined) return { ...paths, caRotated, servingRenewed: false, notAfter: current.validTo };
  const cn = current.subject.match(/CN=([^\n]+)/)?.[1] ?? names.dns[0] ?? 'meshlock';
  const issued = issueServingCertificate(ca, { commonName: cn, ...names, days: opts.days, now });
  writeServing(paths, issued);
  return { ...paths, caRotated, servingRenewed: true, reason, notAfter: new X509Certificate(issued.certPem).validTo };
}

function sansOf(cert: X509Certificate): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ips.push(part.slice(11));
  }
  return { dns, ips };
}
