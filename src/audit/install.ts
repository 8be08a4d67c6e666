// meshlock's own installation, which no webhook can guard (the apiserver never sends webhook
// configurations to webhooks): both configurations present and as deploy/ installs them, failing
// closed, covering every namespace but the system ones, and trusting a CA that signed the serving
// certificate, with time left. Pure: objects and the clock in, findings out.
//
// The serving certificate is read from its Secret rather than by connecting to the service: the
// machine running the audit usually has no route to a ClusterIP, while the Secret is exactly what
// the server mounts. When the Secret cannot be read, the bundle's own validity is still checked.
import { X509Certificate } from 'node:crypto';
import type { V1ValidatingWebhook } from '@kubernetes/client-node';
import type { ResolvedConfig } from '../config/index.js';
import { controlsFor } from '../policy/controls.js';
import { labelsOf, nameOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import type { ReportFinding } from './model.js';
import { selectorMatches } from '../policy/index.js';

export const CERT_WARNING_DAYS = 30;
const DAY = 86_400_000;

// client-node's model of a webhook (validating and mutating ones share these fields); every field
// optional, as objects read from files or a dump may lack any of them.
type Webhook = Partial<V1ValidatingWebhook>;

export interface InstallResult {
  readonly findings: ReportFinding[];
  readonly notes: string[];
}

function webhooksOf(cfg: KObj): Webhook[] {
  return Array.isArray(cfg.webhooks) ? (cfg.webhooks as Webhook[]) : [];
}

/** meshlock's configurations: those whose webhooks call a service in meshlock's namespace, or named for it. */
export function meshlockConfigurations(list: readonly KObj[], config: ResolvedConfig): KObj[] {
  return list.filter(
    (c) =>
      nameOf(c).includes('meshlock') ||
      webhooksOf(c).some((w) => w.clientConfig?.service?.namespace === config.meshlockNamespace),
  );
}

function ruleKey(w: Webhook): string {
  const norm = (w.rules ?? []).map((r) =>
    [
      [...(r.operations ?? [])].sort().join(','),
      [...(r.apiGroups ?? [])].sort().join(','),
      [...(r.resources ?? [])].sort().join(','),
    ].join('|'),
  );
  return norm.sort().join(';');
}

function parseBundle(b64: string | undefined): X509Certificate[] {
  if (!b64) return [];
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const out: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      out.push(new X509Certificate(b));
    } catch {
      // An unparseable block is reported through the empty-bundle check below.
    }
  }
  return out;
}

export interface InstallExpectations {
  /** Webhook configurations as deploy/ installs them (from `kubectl kustomize deploy/`), when given. */
  readonly mutating?: readonly KObj[];
  readonly validating?: readonly KObj[];
}

export function checkInstallation(
  inv: Inventory,
  config: ResolvedConfig,
  now: Date,
  expected: InstallExpectations = {},
): InstallResult {
  const findings: ReportFinding[] = [];
  const notes: string[] = [];
  const add = (
    rule: string,
    kind: string,
    name: string,
    message: string,
    fix: string,
    severity: 'error' | 'warning' = 'error',
  ): void => {
    findings.push({
      rule,
      severity,
      mode: 'audit',
      namespace: '',
      kind,
      name,
      message,
      fix,
      controls: controlsFor(rule),
    });
  };
  const t = now.getTime();
  const sets = [
    {
      kind: 'MutatingWebhookConfiguration',
      found: meshlockConfigurations(inv.mutatingWebhooks, config),
      expected: expected.mutating,
    },
    {
      kind: 'ValidatingWebhookConfiguration',
      found: meshlockConfigurations(inv.validatingWebhooks, config),
      expected: expected.validating,
    },
  ];
  const systemNs = config.systemNamespaces;
  for (const s of sets) {
    if (s.found.length === 0) {
      add(
        'install-webhook-missing',
        s.kind,
        'meshlock',
        `no ${s.kind} of meshlock is installed: nothing is ${s.kind.startsWith('Mutating') ? 'labelled for injection' : 'enforced'}`,
        'kubectl apply -k deploy/',
      );
      continue;
    }
    notes.push(`${s.kind}: ${s.found.map(nameOf).join(', ')}`);
    if (s.expected) {
      const want = new Map(s.expected.map((c) => [nameOf(c), c]));
      for (const [name, exp] of want) {
        const got = s.found.find((c) => nameOf(c) === name);
        if (!got) {
          add(
            'install-webhook-mismatch',
            s.kind,
            name,
            `${s.kind} ${name} from deploy/ is not installed (found: ${s.found.map(nameOf).join(', ')})`,
            'kubectl apply -k deploy/',
          );
          continue;
        }
        const gotHooks = new Map(webhooksOf(got).map((w) => [w.name, w]));
        for (const ew of webhooksOf(exp)) {
          const gw = gotHooks.get(ew.name);
          if (!gw)
            add(
              'install-webhook-mismatch',
              s.kind,
              name,
              `webhook ${ew.name} is missing from ${name}`,
              'kubectl apply -k deploy/',
            );
          else if (ruleKey(gw) !== ruleKey(ew))
            add(
              'install-webhook-mismatch',
              s.kind,
              name,
              `webhook ${ew.name} rules differ from deploy/ (installed ${ruleKey(gw) || 'none'}; expected ${ruleKey(ew)})`,
              'kubectl apply -k deploy/',
            );
        }
      }
    }
    for (const cfg of s.found) {
      const cname = nameOf(cfg);
      for (const w of webhooksOf(cfg)) {
        // In admissionregistration.k8s.io/v1 an absent failurePolicy means Fail.
        const fp = w.failurePolicy ?? 'Fail';
        if (fp !== 'Fail')
          add(
            'install-failure-policy',
            s.kind,
            cname,
            `webhook ${w.name} has failurePolicy ${fp}: while meshlock is down, every request is admitted unchecked`,
            'set failurePolicy: Fail',
          );
        // The apiserver labels every namespace with kubernetes.io/metadata.name, which selectors use.
        const uncovered = inv.namespaces
          .map((n) => ({ name: nameOf(n), labels: { ...labelsOf(n), 'kubernetes.io/metadata.name': nameOf(n) } }))
          .filter((n) => !systemNs.has(n.name) && !selectorMatches(w.namespaceSelector, n.labels))
          .map((n) => n.name);
        if (uncovered.length > 0) {
          add(
            'install-namespace-uncovered',
            s.kind,
            cname,
            `webhook ${w.name} skips ${uncovered.length} non-system namespace${uncovered.length === 1 ? '' : 's'}: ${uncovered.slice(0, 10).join(', ')}${uncovered.length > 10 ? ', ...' : ''}`,
            'select namespaces only by kubernetes.io/metadata.name NotIn the system namespaces',
          );
        }
        checkBundle(inv, w, s.kind, cname, t, add, notes);
      }
    }
  }
  return { findings, notes };
}

function checkBundle(
  inv: Inventory,
  w: Webhook,
  kind: string,
  cname: string,
  t: number,
  add: (rule: string, kind: string, name: string, message: string, fix: string, severity?: 'error' | 'warning') => void,
  notes: string[],
): void {
  const cas = parseBundle(w.clientConfig?.caBundle);
  const fix = 'meshlock certs renew && meshlock certs inject';
  if (cas.length === 0) {
    add(
      'install-ca-bundle',
      kind,
      cname,
      `webhook ${w.name} has no readable caBundle: the apiserver cannot verify meshlock`,
      fix,
    );
    return;
  }
  const valid = cas.filter((c) => Date.parse(c.validTo) > t && Date.parse(c.validFrom) <= t);
  if (valid.length === 0) {
    add(
      'install-ca-bundle',
      kind,
      cname,
      `every CA in the caBundle of webhook ${w.name} is expired or not yet valid`,
      fix,
    );
    return;
  }
  const latest = Math.max(...valid.map((c) => Date.parse(c.validTo)));
  if (latest - t < CERT_WARNING_DAYS * 86_400_000) {
    add(
      'install-ca-bundle',
      kind,
      cname,
      `the caBundle of webhook ${w.name} expires on ${new Date(latest).toISOString().slice(0, 10)}, within ${CERT_WARNING_DAYS} days`,
      fix,
      'warning',
    );
  }
  const svc = w.clientConfig?.service;
  if (!svc?.name || !svc.namespace) return;
  const host = `${svc.name}.${svc.namespace}.svc`;
  const serving = inv.secrets
    .filter((s) => namespaceOf(s) === svc.namespace && typeof s.data?.['tls.crt'] === 'string')
    .flatMap((s) =>
      parseBundle(s.data?.['tls.crt'])
        .slice(0, 1)
        .map((cert) => ({ secret: nameOf(s), cert })),
    )
    .find(({ cert }) => cert.checkHost(host) !== undefined);
  if (!serving) {
    notes.push(
      `webhook ${w.name}: no TLS Secret for ${host} readable in ${svc.namespace}; checked the caBundle's validity only`,
    );
    return;
  }
  const { cert, secret } = serving;
  const signed = cas.some((ca) => {
    try {
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
  if (!signed) {
    add(
      'install-ca-bundle',
      kind,
      cname,
      `the serving certificate in Secret ${svc.namespace}/${secret} is not signed by any CA in the caBundle of webhook ${w.name}: the apiserver will refuse the TLS handshake`,
      fix,
    );
    return;
  }
  const servingEnd = Date.parse(cert.validTo);
  if (servingEnd <= t)
    add(
      'install-ca-bundle',
      kind,
      cname,
      `the serving certificate in Secret ${svc.namespace}/${secret} expired on ${cert.validTo}`,
      fix,
    );
  else if (servingEnd - t < CERT_WARNING_DAYS * DAY)
    add(
      'install-ca-bundle',
      kind,
      cname,
      `the serving certificate in Secret ${svc.namespace}/${secret} expires on ${cert.validTo}, within ${CERT_WARNING_DAYS} days`,
      fix,
      'warning',
    );
  else
    notes.push(
      `webhook ${w.name}: serving certificate ${svc.namespace}/${secret} signed by the caBundle, valid until ${cert.validTo}`,
    );
}
