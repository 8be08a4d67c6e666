// The serving certificate: read at start, and swapped in place when its files change (a renewed
// Secret, cert-manager, `meshlock certs renew`) through setSecureContext, so neither a restart nor a
// failed request is needed. Connections already open keep the context they shook hands with; new ones
// get the new certificate.
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { watchFiles, type FileWatchOptions, type Watcher } from '../config/watch.js';

export interface ServingPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** TLS settings every context gets, the first and each reloaded one. */
export const TLS_OPTIONS: SecureContextOptions = Object.freeze({ minVersion: 'TLSv1.2' });

export class CertificateError extends Error {
  readonly code = 'MESHLOCK_ERR_CERTIFICATE';
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** Reads the pair and proves it usable (PEM parses, key matches certificate) before anyone serves it. */
export function readServingPair(certFile: string, keyFile: string): ServingPair {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certFile);
    key = readFileSync(keyFile);
  } catch (err) {
    throw new CertificateError(`cannot read the serving certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ ...TLS_OPTIONS, cert, key });
  } catch (err) {
    throw new CertificateError(`unusable serving certificate ${certFile} / ${keyFile}: ${(err as Error).message}`);
  }
  return { cert, key };
}

export interface CertWatchHandlers {
  readonly onReload: (pair: ServingPair) => void;
  /** A half-written or mismatched pair: the current certificate stays; the next change is tried again. */
  readonly onInvalid: (error: CertificateError) => void;
}

export function watchServingPair(certFile: string, keyFile: string, handlers: CertWatchHandlers, opts: FileWatchOptions = {}): Watcher {
  return watchFiles(
    [certFile, keyFile],
    () => {
      let pair: ServingPair;
      try {
        pair = readServingPair(certFile, keyFile);
      } catch (err) {
        handlers.onInvalid(err instanceof CertificateError ? err : new CertificateError(String(err)));
        return;
      }
      handlers.onReload(pair);
    },
    opts,
  );
}
