// Certificate authority and serving certificates. Key pairs come from node:crypto (OpenSSL generates
// a 2048-bit RSA key in milliseconds; node-forge's pure-JS generator takes seconds); node-forge builds
// and signs the X.509 structures. Inspection uses node:crypto's X509Certificate, which also reads
// certificates we did not make (an ECDSA certificate from cert-manager, say), which forge cannot.
import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyAndCertificate {
  /** PEM, one certificate. */
  readonly certPem: string;
  /** PEM, PKCS#8. */
  readonly keyPem: string;
}

export interface CaOptions {
  readonly commonName?: string;
  readonly days: number;
  readonly now?: Date;
}

export interface ServingOptions {
  readonly commonName: string;
  readonly dns: readonly string[];
  readonly ips: readonly string[];
  readonly days: number;
  readonly now?: Date;
}

// Clocks in a cluster drift; a certificate valid from "now" would be rejected by a peer a few
// seconds behind. Back-dating notBefore is what kubeadm and cert-manager do too.
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function newKeyPair(): { key: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pkcs1) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(key.n, key.e);
  return { key, pub, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

// RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, unique per issuer. 16 random octets
// with the top bit cleared keep it positive in DER; the next bit set keeps the first octet non-zero,
// since node-forge writes a leading 0x00 octet as is, which DER forbids (OpenSSL refused such a
// certificate with ERR_OSSL_ASN1_ILLEGAL_PADDING, about one issue in 128).
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number, now: Date): void {
  if (!Number.isFinite(days) || days <= 0)
    throw new RangeError(`certificate lifetime must be a positive number of days, got ${days}`);
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
}

// node-forge's typings call this field a class, but it is used as the ASN.1 string type.
const UTF8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class;

export function createCertificateAuthority(opts: CaOptions): KeyAndCertificate {
  const now = opts.now ?? new Date();
  const { key, pub, keyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serialNumber();
  validity(cert, opts.days, now);
  // A date in the name tells one CA from its successor when both sit in a rotation bundle. The name
  // is a UTF8String: node-forge writes PrintableString by default, which may not hold characters
  // such as `@` or `_`, and Go's crypto/x509 (the kube-apiserver) refuses such a CA outright
  // ("invalid PrintableString"), while openssl and Node accept it.
  const attrs = [
    {
      name: 'commonName',
      value: `${opts.commonName ?? 'meshlock-ca'}-${Math.floor(now.getTime() / 1000)}`,
      valueTagClass: UTF8,
    },
    { name: 'organizationName', value: 'meshlock', valueTagClass: UTF8 },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export function issueServingCertificate(ca: KeyAndCertificate, opts: ServingOptions): KeyAndCertificate {
  const now = opts.now ?? new Date();
  if (opts.dns.length === 0 && opts.ips.length === 0)
    throw new RangeError('a serving certificate needs at least one DNS name or IP address');
  for (const ip of opts.ips) if (isIP(ip) === 0) throw new RangeError(`not an IP address: ${ip}`);
  for (const name of opts.dns)
    if (!/^[A-Za-z0-9*]([A-Za-z0-9-.]*[A-Za-z0-9])?$/.test(name)) throw new RangeError(`not a DNS name: ${name}`);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(
    createPrivateKey(ca.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString(),
  );
  const { pub, keyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serialNumber();
  validity(cert, opts.days, now);
  // Never outlive the issuer: a client would reject the chain after the CA expires anyway.
  if (cert.validity.notAfter > caCert.validity.notAfter) cert.validity.notAfter = caCert.validity.notAfter;
  cert.setSubject([{ name: 'commonName', value: opts.commonName, valueTagClass: UTF8 }]);
  cert.setIssuer(caCert.subject.attributes);
  // Go's crypto/x509 (the apiserver) ignores the common name and matches only subjectAltName.
  const altNames = [...opts.dns.map((value) => ({ type: 2, value })), ...opts.ips.map((ip) => ({ type: 7, ip }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Every certificate of a PEM bundle, in order; throws on a bundle with none or with garbage. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

export function remainingMs(cert: X509Certificate, now: Date): number {
  return new Date(cert.validTo).getTime() - now.getTime();
}

export interface Wanted {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

/**
 * Why a serving key pair cannot be used as is (undefined when it can): unreadable, key not matching,
 * not yet or no longer valid (or within `minRemainingMs` of the end), not issued by any CA of
 * `caBundlePem`, or missing one of the wanted names.
 */
/** The first certificate of a PEM and its key, or why they cannot be read. */
function readPair(certPem: string, keyPem: string): { cert: X509Certificate; key: KeyObject } | string {
  try {
    return { cert: parseCertificates(certPem)[0]!, key: createPrivateKey(keyPem) };
  } catch (err) {
    return (err as Error).message;
  }
}

export function servingProblem(
  certPem: string,
  keyPem: string,
  caBundlePem: string,
  wanted: Wanted,
  now: Date,
  minRemainingMs = 0,
): string | undefined {
  const pair = readPair(certPem, keyPem);
  if (typeof pair === 'string') return `unreadable certificate or key: ${pair}`;
  const { cert, key } = pair;
  if (!cert.checkPrivateKey(key)) return 'the key does not belong to the certificate';
  if (new Date(cert.validFrom).getTime() > now.getTime()) return `not valid before ${cert.validFrom}`;
  if (remainingMs(cert, now) <= minRemainingMs) return `expires ${cert.validTo}`;
  let cas: X509Certificate[];
  try {
    cas = parseCertificates(caBundlePem);
  } catch (err) {
    return `unreadable CA bundle: ${(err as Error).message}`;
  }
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return 'not signed by the CA';
  for (const name of wanted.dns) {
    if (cert.checkHost(name, { wildcards: false, subject: 'never' }) === undefined)
      return `not valid for DNS name ${name}`;
  }
  for (const ip of wanted.ips) {
    if (cert.checkIP(ip) === undefined) return `not valid for IP address ${ip}`;
  }
  return undefined;
}

/** Why a CA key pair cannot sign new certificates (undefined when it can). */
export function caProblem(certPem: string, keyPem: string, now: Date, minRemainingMs = 0): string | undefined {
  const pair = readPair(certPem, keyPem);
  if (typeof pair === 'string') return `unreadable CA certificate or key: ${pair}`;
  const { cert, key } = pair;
  if (!cert.ca) return 'not a CA certificate';
  if (!cert.checkPrivateKey(key)) return 'the CA key does not belong to the CA certificate';
  if (key.asymmetricKeyType !== 'rsa') return 'only RSA CA keys can sign (node-forge)';
  if (remainingMs(cert, now) <= minRemainingMs) return `CA expires ${cert.validTo}`;
  return undefined;
}
