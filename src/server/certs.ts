// The serving certificate: read at start, and swapped in place when its files change (a renewed
// Secret, cert-manager, `meshlock certs renew`) through setSecureContext, so neither a restart nor a
// failed request is needed. Connections already open keep the context they shook hands with; new ones
// get the new certificate.
import { readFileSync } from 'node:fs';
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { watchFiles, type FileWatchOptions, type Watcher } from '../watch/files.js';
import { MeshlockError } from '../errors.js';

export interface ServingPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * TLS 1.3 (its three AEAD suites), and TLS 1.2 with forward secrecy (ECDHE) and AEAD ciphers only:
 * no static RSA key exchange, no CBC, no SHA-1 MACs, no finite-field DHE. The Go client in the
 * kube-apiserver offers all of these (crypto/tls defaults), so nothing it sends is refused.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * TLS settings every context gets, the first and each reloaded one. SSL_OP_NO_RENEGOTIATION: a TLS 1.2
 * client's renegotiation request is refused (Node would otherwise allow three per ten minutes, each a
 * full handshake of server CPU); TLS 1.3 has no renegotiation at all.
 */
export const TLS_OPTIONS: SecureContextOptions = Object.freeze({
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
});

export class CertificateError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_CERTIFICATE', message);
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

export function watchServingPair(
  certFile: string,
  keyFile: string,
  handlers: CertWatchHandlers,
  opts: FileWatchOptions = {},
): Watcher {
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
