// `meshlock certs init|inject|renew`: thin over src/tls (issuing, renewing) and src/kube/webhooks.ts
// (writing the CA bundle into meshlock's webhook configurations).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidArgumentError, Option, type Command } from 'commander';
// The tls modules one by one, not tls/index.js: its bootstrap part pulls in the Kubernetes client,
// which init and renew never need (a second of start-up per run).
import { ensureCertificates } from '../tls/issue.js';
import { pathsIn } from '../tls/layout.js';
import { serviceNames } from '../tls/names.js';
import { parseCertificates } from '../tls/pki.js';
import { renewCertificates } from '../tls/renew.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

/** "30d", "12h" or a bare number of days, as days. */
export function durationDays(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([dh]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration like 30d or 72h');
  const n = Number(m[1]);
  return m[2] === 'h' ? n / 24 : n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function ipArg(value: string, previous: string[]): string[] {
  if (isIP(value) === 0) throw new InvalidArgumentError(`not an IP address: ${value}`);
  return collect(value, previous);
}

function fail(err: unknown): void {
  const e = err as Error & { code?: string };
  process.stderr.write(`meshlock certs: ${e.message}${e.code ? ` (${e.code})` : ''}\n`);
  process.exitCode = 1;
}

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('serving certificates for the webhook: init, inject, renew');

  certs
    .command('init')
    .description(
      'create a CA and a serving certificate for the webhook Service (keys written 0600); keeps valid existing files unless --force',
    )
    .option('--service <name>', 'Service name', 'meshlock')
    .option('-n, --namespace <ns>', 'namespace of the Service', 'meshlock')
    .option('--cluster-domain <domain>', 'cluster DNS domain', 'cluster.local')
    .option('--out <dir>', 'output directory', 'certs')
    .addOption(new Option('--days <n>', 'serving certificate lifetime in days').default(365).argParser(positiveInt))
    .addOption(new Option('--ca-days <n>', 'CA lifetime in days').default(3650).argParser(positiveInt))
    .option('--ip <address>', 'extra IP SAN, e.g. 127.0.0.1 for a local run (repeatable)', ipArg, [])
    .option('--dns <name>', 'extra DNS SAN (repeatable)', collect, [])
    .option('--force', 'issue a new CA and certificate even if the existing ones are valid')
    .action(
      (o: {
        service: string;
        namespace: string;
        clusterDomain: string;
        out: string;
        days: number;
        caDays: number;
        ip: string[];
        dns: string[];
        force?: boolean;
      }) => {
        try {
          const dns = [...new Set([...serviceNames(o.service, o.namespace, o.clusterDomain), ...o.dns])];
          const r = ensureCertificates(o.out, {
            commonName: `${o.service}.${o.namespace}.svc`,
            dns,
            ips: o.ip,
            days: o.days,
            caDays: o.caDays,
            renewBeforeDays: 0,
            force: o.force ?? false,
          });
          const what = r.caIssued
            ? 'created CA and serving certificate'
            : r.servingIssued
              ? `created serving certificate (${r.reason})`
              : 'existing CA and serving certificate are valid; nothing changed';
          process.stdout.write(
            `${what}\n  CA:          ${r.caFile}\n  certificate: ${r.certFile}\n  key:         ${r.keyFile}\n  names:       ${[...dns, ...o.ip].join(', ')}\n`,
          );
        } catch (err) {
          fail(err);
        }
      },
    );

  certs
    .command('inject')
    .description("write the CA bundle into the caBundle of every webhook of meshlock's webhook configurations")
    .option('--ca <file>', 'CA bundle (PEM)', pathsIn('certs').caFile)
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('--print', 'only print the JSON patches; change nothing')
    .action(async (o: { ca: string; kubeconfig?: string; context?: string; print?: boolean }) => {
      try {
        let ca: string;
        try {
          ca = readFileSync(o.ca, 'utf8');
          parseCertificates(ca);
        } catch (err) {
          throw new Error(
            `cannot read the CA bundle ${o.ca}: ${(err as Error).message} (run meshlock certs init first)`,
            { cause: err },
          );
        }
        // The Kubernetes client is loaded only here: init and renew never talk to a cluster.
        const { loadKubeConfig } = await import('../kube/client.js');
        const { injectCaBundle, kubeWebhookClient, MESHLOCK_WEBHOOK_CONFIGURATIONS } =
          await import('../kube/webhooks.js');
        const kc = loadKubeConfig({
          ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
          ...(o.context ? { context: o.context } : {}),
        });
        const patches = await injectCaBundle(kubeWebhookClient(kc), MESHLOCK_WEBHOOK_CONFIGURATIONS, ca, {
          dryRun: o.print ?? false,
        });
        for (const p of patches) {
          if (o.print) {
            process.stdout.write(
              `# ${p.target.kind} ${p.target.name} (application/json-patch+json)\n${JSON.stringify(p.ops, null, 2)}\n`,
            );
          } else {
            const changed = p.ops.length / 2;
            process.stdout.write(
              `${p.target.kind} ${p.target.name}: ${changed} webhook(s) updated, ${p.unchanged} already up to date\n`,
            );
          }
        }
      } catch (err) {
        fail(err);
      }
    });

  certs
    .command('renew')
    .description(
      're-issue the serving certificate within --before of its end (keeping the CA); rotate a CA near its end, keeping the old one in the bundle',
    )
    .option('--dir <dir>', 'certificate directory', 'certs')
    .addOption(
      new Option('--before <duration>', 'renew when this close to expiry (30d, 72h)')
        .default(30, '30d')
        .argParser(durationDays),
    )
    .addOption(new Option('--days <n>', 'new serving certificate lifetime in days').default(365).argParser(positiveInt))
    .addOption(new Option('--ca-days <n>', 'new CA lifetime in days').default(3650).argParser(positiveInt))
    .action((o: { dir: string; before: number; days: number; caDays: number }) => {
      try {
        const r = renewCertificates(o.dir, { beforeDays: o.before, days: o.days, caDays: o.caDays });
        if (r.caRotated)
          process.stdout.write(`CA rotated: ${r.caFile} now holds the new and the old CA; run meshlock certs inject\n`);
        process.stdout.write(
          r.servingRenewed
            ? `serving certificate renewed (${r.reason}); valid until ${r.notAfter}\n`
            : `serving certificate valid until ${r.notAfter}; nothing to do\n`,
        );
      } catch (err) {
        fail(err);
      }
    });
}
