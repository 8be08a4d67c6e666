import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import {
  ensureDevCertificates,
  ensureCertificates,
  createCertificateAuthority,
  issueServingCertificate,
  servingProblem,
  caProblem,
} from '../src/tls/index.js';

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A real TLS handshake: the client trusts only `ca` and checks the certificate against `name`.
async function handshake(files: { certFile: string; keyFile: string }, ca: string, name: string): Promise<string> {
  const server = createServer({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }, (s) =>
    s.end('ok'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<string>((resolve, reject) => {
      const sock: TLSSocket = connect(
        isIP(name) ? { host: name, port, ca } : { host: '127.0.0.1', port, ca, servername: name },
      );
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
  } finally {
    server.close();
  }
}

t.test('dev certificates: a CA and a serving certificate for 127.0.0.1 and localhost, keys 0600', async (t) => {
  const dir = tmp(t);
  const files = await ensureDevCertificates(dir);
  t.same(files, { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), caFile: join(dir, 'ca.crt') });
  t.equal(statSync(files.keyFile).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  const ca = readFileSync(files.caFile, 'utf8');
  t.equal(await handshake(files, ca, 'localhost'), 'ok', 'a client trusting the CA accepts localhost');
  t.equal(await handshake(files, ca, '127.0.0.1'), 'ok', 'and the IP address 127.0.0.1');
  const leaf = new X509Certificate(readFileSync(files.certFile));
  t.match(leaf.subjectAltName, /DNS:localhost/);
  t.match(leaf.subjectAltName, /IP Address:127\.0\.0\.1/);
  t.equal(leaf.ca, false);
  t.ok(new X509Certificate(ca).ca);
});

t.test('a client that does not trust the CA refuses the certificate', async (t) => {
  const dir = tmp(t);
  const files = await ensureDevCertificates(dir);
  const other = createCertificateAuthority({ days: 1 }).certPem;
  await t.rejects(handshake(files, other, 'localhost'));
});

t.test('dev certificates are kept across restarts when still valid', async (t) => {
  const dir = tmp(t);
  const first = await ensureDevCertificates(dir);
  const cert = readFileSync(first.certFile, 'utf8');
  const ca = readFileSync(first.caFile, 'utf8');
  await ensureDevCertificates(dir);
  t.equal(readFileSync(first.certFile, 'utf8'), cert);
  t.equal(readFileSync(first.caFile, 'utf8'), ca);
});

t.test('dev certificates are re-issued for extra names, keeping the CA', async (t) => {
  const dir = tmp(t);
  const first = await ensureDevCertificates(dir);
  const ca = readFileSync(first.caFile, 'utf8');
  const cert = readFileSync(first.certFile, 'utf8');
  const files = await ensureDevCertificates(dir, { ips: ['10.1.2.3'], dns: ['host.docker.internal'] });
  t.not(readFileSync(files.certFile, 'utf8'), cert);
  t.equal(readFileSync(files.caFile, 'utf8'), ca, 'the CA a developer trusted stays');
  const leaf = new X509Certificate(readFileSync(files.certFile));
  t.ok(leaf.checkIP('10.1.2.3'));
  t.ok(leaf.checkHost('host.docker.internal'));
  t.ok(leaf.checkHost('localhost'));
});

t.test('an expired serving certificate is re-issued', async (t) => {
  const dir = tmp(t);
  const long = new Date(Date.now() - 400 * 24 * 3600 * 1000);
  ensureCertificates(dir, {
    commonName: 'localhost',
    dns: ['localhost'],
    ips: ['127.0.0.1'],
    days: 30,
    caDays: 3650,
    renewBeforeDays: 0,
    now: long,
  });
  const files = await ensureDevCertificates(dir);
  const leaf = new X509Certificate(readFileSync(files.certFile));
  t.ok(new Date(leaf.validTo).getTime() > Date.now());
});

t.test('garbage or a mismatched key is replaced, and the key mode is tightened', async (t) => {
  const dir = tmp(t);
  const files = await ensureDevCertificates(dir);
  writeFileSync(files.certFile, 'not a certificate');
  const again = await ensureDevCertificates(dir);
  t.equal(
    servingProblem(
      readFileSync(again.certFile, 'utf8'),
      readFileSync(again.keyFile, 'utf8'),
      readFileSync(again.caFile, 'utf8'),
      { dns: ['localhost'], ips: [] },
      new Date(),
    ),
    undefined,
  );

  const foreign = issueServingCertificate(createCertificateAuthority({ days: 2 }), {
    commonName: 'x',
    dns: ['localhost'],
    ips: [],
    days: 1,
  });
  writeFileSync(again.keyFile, foreign.keyPem, { mode: 0o644 });
  const third = await ensureDevCertificates(dir);
  t.equal(
    servingProblem(
      readFileSync(third.certFile, 'utf8'),
      readFileSync(third.keyFile, 'utf8'),
      readFileSync(third.caFile, 'utf8'),
      { dns: ['localhost'], ips: [] },
      new Date(),
    ),
    undefined,
  );
  t.equal(statSync(third.keyFile).mode & 0o777, 0o600);
});

t.test('servingProblem names what is wrong', async (t) => {
  const now = new Date();
  const ca = createCertificateAuthority({ days: 10, now });
  const s = issueServingCertificate(ca, {
    commonName: 'meshlock',
    dns: ['meshlock.meshlock.svc'],
    ips: ['127.0.0.1'],
    days: 5,
    now,
  });
  t.equal(
    servingProblem(s.certPem, s.keyPem, ca.certPem, { dns: ['meshlock.meshlock.svc'], ips: ['127.0.0.1'] }, now),
    undefined,
  );
  t.match(servingProblem(s.certPem, s.keyPem, ca.certPem, { dns: ['other.svc'], ips: [] }, now), /DNS name other\.svc/);
  t.match(
    servingProblem(s.certPem, s.keyPem, ca.certPem, { dns: [], ips: ['10.0.0.1'] }, now),
    /IP address 10\.0\.0\.1/,
  );
  t.match(servingProblem(s.certPem, s.keyPem, ca.certPem, { dns: [], ips: [] }, now, 6 * 24 * 3600 * 1000), /expires/);
  t.match(
    servingProblem(s.certPem, s.keyPem, createCertificateAuthority({ days: 1 }).certPem, { dns: [], ips: [] }, now),
    /not signed by the CA/,
  );
  t.match(servingProblem(s.certPem, ca.keyPem, ca.certPem, { dns: [], ips: [] }, now), /key does not belong/);
  t.match(servingProblem('junk', s.keyPem, ca.certPem, { dns: [], ips: [] }, now), /unreadable/);
  t.equal(caProblem(ca.certPem, ca.keyPem, now), undefined);
  t.match(caProblem(s.certPem, s.keyPem, now), /not a CA/);
  t.match(caProblem(ca.certPem, ca.keyPem, now, 11 * 24 * 3600 * 1000), /CA expires/);
});

t.test('a serving certificate never outlives its CA', async (t) => {
  const ca = createCertificateAuthority({ days: 10 });
  const s = issueServingCertificate(ca, { commonName: 'x', dns: ['x'], ips: [], days: 365 });
  t.equal(new X509Certificate(s.certPem).validTo, new X509Certificate(ca.certPem).validTo);
});

t.test('bad names and lifetimes are refused with a clear error', async (t) => {
  const ca = createCertificateAuthority({ days: 10 });
  t.throws(
    () => issueServingCertificate(ca, { commonName: 'x', dns: [], ips: ['300.1.1.1'], days: 1 }),
    /not an IP address: 300\.1\.1\.1/,
  );
  t.throws(
    () => issueServingCertificate(ca, { commonName: 'x', dns: ['bad name'], ips: [], days: 1 }),
    /not a DNS name/,
  );
  t.throws(() => issueServingCertificate(ca, { commonName: 'x', dns: [], ips: [], days: 1 }), /at least one/);
  t.throws(() => createCertificateAuthority({ days: 0 }), /positive number of days/);
});

t.test('a client asking for a name the certificate lacks refuses it', async (t) => {
  const dir = tmp(t);
  const files = await ensureDevCertificates(dir);
  await t.rejects(handshake(files, readFileSync(files.caFile, 'utf8'), 'meshlock.meshlock.svc'), /altnames|Hostname/i);
});

t.test('certificate names are UTF8Strings, which Go (the kube-apiserver) parses whatever they contain', async (t) => {
  // node-forge's default PrintableString cannot hold `@` or `_`; Go's x509 then refuses the whole CA.
  const dir = mkdtempSync(join(tmpdir(), 'meshlock-tls-utf8-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = await ensureDevCertificates(dir);
  for (const file of [files.caFile, files.certFile]) {
    const der = forge.util.decode64(readFileSync(file, 'utf8').replace(/-----[^-]+-----|\s/g, ''));
    const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(der));
    for (const attr of [...cert.subject.attributes, ...cert.issuer.attributes]) {
      t.equal(attr.valueTagClass, forge.asn1.Type.UTF8, `${file}: ${String(attr.name)} is a UTF8String`);
    }
  }
  const ca = new X509Certificate(readFileSync(files.caFile));
  t.notMatch(ca.subject, /@/, 'no character outside PrintableString in the CA name either');
});
