// Certificates for running meshlock on a workstation (`meshlock serve --dev`, `npm start`): a CA
// and a serving certificate for 127.0.0.1 and localhost, re-made only when missing or unusable so
// that a CA a developer has trusted keeps working across restarts.
import { ensureCertificates } from './issue.js';

export interface DevCertificateOptions {
  readonly ips?: readonly string[];
  readonly dns?: readonly string[];
}

export async function ensureDevCertificates(
  dir: string,
  opts: DevCertificateOptions = {},
): Promise<{ certFile: string; keyFile: string; caFile: string }> {
  const result = ensureCertificates(dir, {
    commonName: 'localhost',
    dns: unique(['localhost', ...(opts.dns ?? [])]),
    ips: unique(['127.0.0.1', '::1', ...(opts.ips ?? [])]),
    days: 365,
    caDays: 3650,
    renewBeforeDays: 1,
  });
  return { certFile: result.certFile, keyFile: result.keyFile, caFile: result.caFile };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
