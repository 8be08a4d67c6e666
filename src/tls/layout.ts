// File names in a certificate directory. They match the keys of a kubernetes.io/tls Secret
// (tls.crt, tls.key, ca.crt), so the same directory works as a mounted Secret.
import { join } from 'node:path';

export interface CertificatePaths {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Only in directories meshlock manages itself; cert-manager keeps its CA key elsewhere. */
  readonly caKeyFile: string;
}

export function pathsIn(dir: string): CertificatePaths {
  return {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    caFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
  };
}
