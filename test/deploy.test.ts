// deploy/ rendered by the real `kubectl kustomize` (base and every overlay), then checked against
// POLICY.md: each rule's object family is reviewed by a webhook, system namespaces never are, the
// webhook settings are the ones POLICY.md and the issue ask for, and RBAC grants exactly the API
// access meshlock's code makes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { RULE_IDS, MUTATION_IDS, parseConfigText, resolveConfig } from '../src/config/index.js';
import { POD_TEMPLATE_PATHS } from '../src/policy/index.js';
import { MESHLOCK_WEBHOOK_CONFIGURATIONS } from '../src/kube/webhooks.js';
import { locate, skipFileUnless } from './lib/needs.js';

skipFileUnless(t, 'kubectl');

const repoRoot = resolve(import.meta.dirname, '..');
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [k: string]: unknown;
};
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

function render(dir: string): Obj[] {
  const out = execFileSync(locate('kubectl') as string, ['kustomize', join(repoRoot, dir)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

const VARIANTS = ['deploy', 'deploy/overlays/dry-run', 'deploy/overlays/cert-manager', 'deploy/overlays/linkerd'];
const rendered = new Map(VARIANTS.map((v) => [v, render(v)]));
const base = rendered.get('deploy')!;
const find = (objs: Obj[], kind: string, name?: string): Obj[] =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objs: Obj[], kind: string, name?: string): Any => {
  const found = find(objs, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
};

// ---------------------------------------------------------------------------------------------
// Structure: a minimal schema of each kind used (apiVersion/kind known, scope, required fields).
// Not the full OpenAPI validation the apiserver does; the e2e suite applies deploy/'s webhook
// configurations to a real kube-apiserver.
const KINDS: Record<string, { apiVersion: string; namespaced: boolean; required: string[] }> = {
  Namespace: { apiVersion: 'v1', namespaced: false, required: [] },
  ServiceAccount: { apiVersion: 'v1', namespaced: true, required: [] },
  ConfigMap: { apiVersion: 'v1', namespaced: true, required: ['data'] },
  Service: { apiVersion: 'v1', namespaced: true, required: ['spec.selector', 'spec.ports'] },
  Deployment: {
    apiVersion: 'apps/v1',
    namespaced: true,
    required: ['spec.selector.matchLabels', 'spec.template.metadata.labels', 'spec.template.spec.containers'],
  },
  PodDisruptionBudget: { apiVersion: 'policy/v1', namespaced: true, required: ['spec.selector'] },
  PriorityClass: { apiVersion: 'scheduling.k8s.io/v1', namespaced: false, required: ['value'] },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', namespaced: true, required: ['spec.podSelector'] },
  ClusterRole: { apiVersion: 'rbac.authorization.k8s.io/v1', namespaced: false, required: ['rules'] },
  Role: { apiVersion: 'rbac.authorization.k8s.io/v1', namespaced: true, required: ['rules'] },
  ClusterRoleBinding: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    namespaced: false,
    required: ['roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  },
  RoleBinding: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    namespaced: true,
    required: ['roleRef.apiGroup', 'roleRef.kind', 'roleRef.name', 'subjects'],
  },
  ValidatingWebhookConfiguration: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    namespaced: false,
    required: ['webhooks'],
  },
  MutatingWebhookConfiguration: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    namespaced: false,
    required: ['webhooks'],
  },
  Issuer: { apiVersion: 'cert-manager.io/v1', namespaced: true, required: ['spec'] },
  Certificate: {
    apiVersion: 'cert-manager.io/v1',
    namespaced: true,
    required: ['spec.secretName', 'spec.issuerRef.name', 'spec.dnsNames'],
  },
};
const get = (o: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

for (const [variant, objs] of rendered) {
  t.test(`${variant} renders objects of known kinds with their required fields`, async (t) => {
    t.ok(objs.length > 10);
    const ids = new Set<string>();
    for (const o of objs) {
      const k = KINDS[o.kind];
      t.ok(k, `${o.kind} is a known kind`);
      if (!k) continue;
      const id = `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
      t.notOk(ids.has(id), `${id} appears once`);
      ids.add(id);
      t.equal(o.apiVersion, k.apiVersion, `${id} apiVersion`);
      t.match(o.metadata.name, DNS_SUBDOMAIN, `${id} name is a DNS subdomain`);
      t.equal(o.metadata.namespace !== undefined, k.namespaced, `${id} ${k.namespaced ? 'has' : 'has no'} namespace`);
      for (const r of k.required) t.not(get(o, r), undefined, `${id} has ${r}`);
    }
    // Every reference resolves inside the install.
    for (const b of [...find(objs, 'RoleBinding'), ...find(objs, 'ClusterRoleBinding')] as Any[]) {
      t.equal(
        find(objs, b.roleRef.kind, b.roleRef.name).length,
        1,
        `${b.metadata.name} refers to an existing ${b.roleRef.kind}`,
      );
      for (const s of b.subjects)
        t.equal(find(objs, 'ServiceAccount', s.name).filter((sa) => sa.metadata.namespace === s.namespace).length, 1);
    }
    const deploy = one(objs, 'Deployment', 'meshlock');
    const spec = deploy.spec.template.spec;
    t.equal(find(objs, 'ServiceAccount', spec.serviceAccountName).length, 1);
    t.equal(find(objs, 'PriorityClass', spec.priorityClassName).length, 1);
    for (const v of spec.volumes) if (v.configMap) t.equal(find(objs, 'ConfigMap', v.configMap.name).length, 1);
    const svc = one(objs, 'Service', 'meshlock');
    for (const [k, v] of Object.entries(svc.spec.selector))
      t.equal(deploy.spec.template.metadata.labels[k], v, 'the Service selects the pods');
  });
}

// ---------------------------------------------------------------------------------------------
// Webhook coverage of POLICY.md.
interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: string[];
}
function webhooksOf(objs: Obj[], kind: string): Any[] {
  return find(objs, kind).flatMap((c: Any) => c.webhooks.map((w: Any) => ({ ...w, configuration: c.metadata.name })));
}
function reviewing(ws: Any[], group: string, resource: string, op: string, version: string): Any[] {
  return ws.filter((w) =>
    (w.rules as Rule[]).some(
      (r) =>
        r.apiGroups.includes(group) &&
        r.resources.includes(resource) &&
        r.operations.includes(op) &&
        r.apiVersions.includes(version),
    ),
  );
}
const validating = webhooksOf(base, 'ValidatingWebhookConfiguration');
const mutating = webhooksOf(base, 'MutatingWebhookConfiguration');

// Object families from the engine: PeerAuthentication, DestinationRule, Namespace, and every kind of
// POD_TEMPLATE_PATHS (keyed "<group>/<Kind>").
const podKinds = Object.keys(POD_TEMPLATE_PATHS).map((k) => {
  const [group = '', kind = ''] = k.split('/');
  return { group, kind, resource: `${kind.toLowerCase()}s` };
});
const FAMILY_OF_PREFIX: Record<string, string> = {
  pa: 'PeerAuthentication',
  dr: 'DestinationRule',
  ns: 'Namespace',
  pod: 'pod templates',
  job: 'Job and CronJob templates, Job-owned pods',
  ld: 'Linkerd (deploy/overlays/linkerd)',
};

t.test('every rule of POLICY.md belongs to an object family a webhook reviews', async (t) => {
  for (const id of [...RULE_IDS, ...MUTATION_IDS]) {
    if (id === 'malformed-object') continue; // any family's object
    t.ok(FAMILY_OF_PREFIX[id.split('-')[0]!], `${id} has a family`);
  }
  t.same(podKinds.map((k) => k.kind).sort(), [
    'CronJob',
    'DaemonSet',
    'Deployment',
    'Job',
    'Pod',
    'ReplicaSet',
    'ReplicationController',
    'StatefulSet',
  ]);
});

t.test(
  'PeerAuthentication CREATE, UPDATE and DELETE are validated in every namespace, v1 and v1beta1, failing closed',
  async (t) => {
    for (const version of ['v1', 'v1beta1']) {
      for (const op of ['CREATE', 'UPDATE', 'DELETE']) {
        const ws = reviewing(validating, 'security.istio.io', 'peerauthentications', op, version);
        t.equal(ws.length, 1, `${op} ${version}`);
        t.equal(
          ws[0]?.namespaceSelector,
          undefined,
          'no namespaceSelector: the root namespace and system namespaces included',
        );
        t.equal(ws[0]?.objectSelector, undefined);
        t.equal(ws[0]?.failurePolicy, 'Fail');
      }
    }
  },
);

t.test('DestinationRule CREATE and UPDATE are validated in every namespace, v1alpha3, v1beta1 and v1', async (t) => {
  for (const version of ['v1alpha3', 'v1beta1', 'v1']) {
    for (const op of ['CREATE', 'UPDATE']) {
      const ws = reviewing(validating, 'networking.istio.io', 'destinationrules', op, version);
      t.equal(ws.length, 1, `${op} ${version}`);
      t.equal(ws[0]?.namespaceSelector, undefined);
      t.equal(ws[0]?.failurePolicy, 'Fail');
    }
  }
});

t.test(
  'namespaces, pods and every pod-template kind are validated on CREATE and UPDATE; pods are mutated on CREATE only',
  async (t) => {
    const targets = [{ group: '', kind: 'Namespace', resource: 'namespaces' }, ...podKinds];
    for (const { group, kind, resource } of targets) {
      for (const op of ['CREATE', 'UPDATE']) {
        t.equal(reviewing(validating, group, resource, op, 'v1').length, 1, `${kind} ${op} validated`);
        // POLICY.md: a pod is mutated on CREATE only; a running or terminating pod is never patched.
        const mutated = kind === 'Pod' && op === 'UPDATE' ? 0 : 1;
        t.equal(
          reviewing(mutating, group, resource, op, 'v1').length,
          mutated,
          `${kind} ${op} ${mutated ? '' : 'not '}mutated`,
        );
      }
    }
  },
);

t.test('the mutating workload webhook leaves ambient namespaces out; the validating ones do not', async (t) => {
  const ambient = { 'kubernetes.io/metadata.name': 'team-a', 'istio.io/dataplane-mode': 'ambient' };
  for (const w of mutating.filter((x) => (x.rules as Rule[]).some((r) => r.resources.includes('pods')))) {
    t.notOk(selects(w.namespaceSelector, ambient), `${w.configuration}/${w.name} skips an ambient namespace`);
    t.ok(
      selects(w.namespaceSelector, { ...ambient, 'istio.io/dataplane-mode': 'none' }),
      'any other dataplane value is mutated',
    );
  }
  for (const w of validating.filter((x) => (x.rules as Rule[]).some((r) => r.resources.includes('pods')))) {
    t.ok(selects(w.namespaceSelector, ambient), `${w.configuration}/${w.name} still validates an ambient namespace`);
  }
});

// Label-selector semantics (k8s.io/apimachinery labels.Selector) for the operators used here.
function selects(sel: Any, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok =
      e.operator === 'In'
        ? has && e.values.includes(labels[e.key])
        : e.operator === 'NotIn'
          ? !has || !e.values.includes(labels[e.key])
          : e.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

for (const [variant, objs] of rendered) {
  t.test(
    `${variant}: no namespace or pod webhook matches a system namespace, the root namespace or meshlock's own`,
    async (t) => {
      const cm = one(objs, 'ConfigMap', 'meshlock-config');
      const ns = one(objs, 'Namespace').metadata.name;
      const config = resolveConfig(parseConfigText(cm.data['config.yaml'], 'config.yaml'), ns);
      const system = [...config.systemNamespaces];
      t.ok(system.includes('kube-system') && system.includes(ns) && system.includes('istio-system'));
      const scoped = [
        ...webhooksOf(objs, 'ValidatingWebhookConfiguration'),
        ...webhooksOf(objs, 'MutatingWebhookConfiguration'),
      ].filter((w) =>
        (w.rules as Rule[]).some((r) => r.resources.includes('namespaces') || r.resources.includes('pods')),
      );
      t.ok(scoped.length >= 4);
      for (const w of scoped) {
        for (const name of system) {
          t.notOk(
            selects(w.namespaceSelector, { 'kubernetes.io/metadata.name': name }),
            `${w.configuration}/${w.name} skips ${name}`,
          );
          // A tenant cannot opt out: extra labels on a namespace change nothing.
          t.ok(
            selects(w.namespaceSelector, {
              'kubernetes.io/metadata.name': `team-${name}`,
              'istio-injection': 'disabled',
              'meshlock.dev/ignore': 'true',
            }),
            'an ordinary namespace is reviewed whatever its labels',
          );
        }
        t.ok(
          selects(w.namespaceSelector, {}),
          'a namespace without the name label (generateName at admission) is reviewed',
        );
        const keys = [
          ...Object.keys(w.namespaceSelector?.matchLabels ?? {}),
          ...(w.namespaceSelector?.matchExpressions ?? []).map((e: Any) => e.key),
        ];
        // The only other key: the mutating workload webhook leaves ambient namespaces out, which only
        // moves a namespace to ztunnel's mTLS (the validating webhooks still review it).
        // With mesh linkerd (deploy/overlays/linkerd) that label means nothing, so it is not there either.
        const mutatesPods =
          variant !== 'deploy/overlays/linkerd' &&
          w.configuration === '00-meshlock' &&
          (w.rules as Rule[]).some((r) => r.resources.includes('pods'));
        t.same(
          keys,
          mutatesPods ? ['kubernetes.io/metadata.name', 'istio.io/dataplane-mode'] : ['kubernetes.io/metadata.name'],
          'selected by the immutable name label (and ambient mode for pod mutation)',
        );
        t.equal(w.objectSelector, undefined, 'no objectSelector: the requester controls object labels');
      }
    },
  );
}

t.test(
  'every webhook: sideEffects None, review versions v1 and v1beta1, matchPolicy Equivalent, timeout well under 30 s, fail closed',
  async (t) => {
    const svc = one(base, 'Service', 'meshlock');
    for (const w of [...validating, ...mutating]) {
      const at = `${w.configuration}/${w.name}`;
      t.equal(w.sideEffects, 'None', at);
      t.same(w.admissionReviewVersions, ['v1', 'v1beta1'], at);
      t.equal(w.matchPolicy, 'Equivalent', at);
      t.ok(w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10, `${at} timeout ${w.timeoutSeconds}s`);
      t.equal(w.failurePolicy, 'Fail', at);
      t.match(w.name, /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/, 'a fully qualified webhook name');
      const s = w.clientConfig.service;
      t.equal(s.name, svc.metadata.name);
      t.equal(s.namespace, svc.metadata.namespace);
      t.ok(
        svc.spec.ports.some((p: Any) => p.port === s.port),
        'the Service has the port',
      );
      t.equal(s.path, w.configuration === '00-meshlock' ? '/mutate' : '/validate');
      t.equal(w.clientConfig.caBundle, undefined, 'caBundle is injected, never committed');
    }
    for (const w of mutating) t.equal(w.reinvocationPolicy, 'IfNeeded', `${w.name} reinvocationPolicy`);
  },
);

t.test("meshlock's mutating configuration sorts before Istio's injector configurations", async (t) => {
  const [m] = find(base, 'MutatingWebhookConfiguration');
  const name = m!.metadata.name;
  // Byte order, as Go's sort.Strings in the apiserver.
  for (const istio of [
    'istio-sidecar-injector',
    'istio-revision-tag-default',
    'istio-sidecar-injector-canary',
    'istiod-default-validator',
  ]) {
    t.ok(Buffer.compare(Buffer.from(name), Buffer.from(istio)) < 0, `${name} < ${istio}`);
  }
  t.same(
    [...find(base, 'ValidatingWebhookConfiguration'), ...find(base, 'MutatingWebhookConfiguration')].map((o) => ({
      kind: o.kind,
      name: o.metadata.name,
    })),
    MESHLOCK_WEBHOOK_CONFIGURATIONS,
    'the names `certs inject` and the bootstrap patch are the ones deployed',
  );
});

// ---------------------------------------------------------------------------------------------
// Deployment hardening.
t.test(
  'the Deployment: 3 replicas spread, PDB, priority, probes over HTTPS, non-root, read-only, no capabilities',
  async (t) => {
    const d = one(base, 'Deployment', 'meshlock');
    const spec = d.spec.template.spec;
    const [c] = spec.containers;
    t.equal(d.spec.replicas, 3);
    t.ok(spec.topologySpreadConstraints?.length || spec.affinity?.podAntiAffinity);
    const pdb = one(base, 'PodDisruptionBudget');
    t.ok(selects(pdb.spec.selector, d.spec.template.metadata.labels), 'the PDB covers the pods');
    t.ok(spec.priorityClassName);
    t.equal(c.readinessProbe.httpGet.path, '/readyz');
    t.equal(c.livenessProbe.httpGet.path, '/healthz');
    for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
      t.equal(p.httpGet.scheme, 'HTTPS');
      t.equal(c.ports.find((x: Any) => x.name === p.httpGet.port)?.containerPort, 8443);
    }
    t.ok(c.ports.some((p: Any) => p.containerPort === 9090));
    t.equal(spec.securityContext.runAsNonRoot, true);
    t.ok(Number.isInteger(spec.securityContext.runAsUser) && spec.securityContext.runAsUser > 0);
    t.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
    t.equal(c.securityContext.readOnlyRootFilesystem, true);
    t.equal(c.securityContext.allowPrivilegeEscalation, false);
    t.same(c.securityContext.capabilities.drop, ['ALL']);
    t.notOk(c.securityContext.capabilities.add);
    for (const r of ['cpu', 'memory']) {
      t.ok(c.resources.requests[r], `request ${r}`);
      t.ok(c.resources.limits[r], `limit ${r}`);
    }
    t.same(c.env.find((e: Any) => e.name === 'POD_NAMESPACE')?.valueFrom, {
      fieldRef: { fieldPath: 'metadata.namespace' },
    });
    t.equal(c.args[0], 'serve');
    t.ok(c.args.includes('--self-manage-certs'));
    const arg = (flag: string) => c.args.find((a: string) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
    const mountOf = (file: string) => c.volumeMounts.find((m: Any) => file.startsWith(`${m.mountPath}/`));
    t.equal(
      spec.volumes.find((v: Any) => v.name === mountOf(arg('--config'))?.name)?.configMap?.name,
      'meshlock-config',
      '--config is the mounted ConfigMap',
    );
    t.ok(
      spec.volumes.find((v: Any) => v.name === mountOf(arg('--tls-cert'))?.name)?.emptyDir,
      'self-managed certificates go to a writable emptyDir',
    );
    t.ok(
      spec.volumes.some((v: Any) => v.secret?.secretName === 'meshlock-tls'),
      'the certificate Secret is mounted',
    );
    t.equal(
      d.spec.template.metadata.labels['sidecar.istio.io/inject'],
      'false',
      'meshlock itself stays out of the mesh',
    );
  },
);

t.test('the NetworkPolicy admits 8443 from anywhere and 9090 only from monitoring', async (t) => {
  const np = one(base, 'NetworkPolicy');
  const pod = one(base, 'Deployment').spec.template.metadata.labels;
  t.ok(selects(np.spec.podSelector, pod));
  const webhook = np.spec.ingress.find((r: Any) => r.ports.some((p: Any) => p.port === 8443));
  t.equal(webhook.from, undefined, 'any source: the apiserver address is not knowable');
  const metrics = np.spec.ingress.find((r: Any) => r.ports.some((p: Any) => p.port === 9090));
  t.same(metrics.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
});

// ---------------------------------------------------------------------------------------------
// Overlays.
t.test('the dry-run overlay puts every rule in dry-run, and both configs are valid', async (t) => {
  const baseCfg = parseConfigText(one(base, 'ConfigMap').data['config.yaml'], 'base');
  const dry = parseConfigText(
    one(rendered.get('deploy/overlays/dry-run')!, 'ConfigMap').data['config.yaml'],
    'dry-run',
  );
  t.equal(baseCfg.mode, 'enforce');
  t.equal(dry.mode, 'dry-run');
  t.same(dry.rules ?? {}, {}, 'no rule overrides the global mode');
  t.same(dry.namespaces ?? {}, {});
});

t.test(
  "the linkerd overlay: mesh linkerd, Linkerd policy kinds in every served version, Linkerd namespaces out of scope, mutation before Linkerd's injector",
  async (t) => {
    const objs = rendered.get('deploy/overlays/linkerd')!;
    const cm = one(objs, 'ConfigMap', 'meshlock-config');
    const config = resolveConfig(parseConfigText(cm.data['config.yaml'], 'linkerd'), 'meshlock');
    t.equal(config.mesh, 'linkerd');
    for (const ns of ['linkerd', 'linkerd-cni', 'cert-manager', 'kube-system', 'meshlock'])
      t.ok(config.systemNamespaces.has(ns), `${ns} is a system namespace`);
    const v = webhooksOf(objs, 'ValidatingWebhookConfiguration');
    const m = webhooksOf(objs, 'MutatingWebhookConfiguration');
    const served: Record<string, string[]> = {
      servers: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'],
      serverauthorizations: ['v1alpha1', 'v1beta1'],
      authorizationpolicies: ['v1alpha1'],
    };
    for (const [resource, versions] of Object.entries(served)) {
      for (const version of versions)
        for (const op of ['CREATE', 'UPDATE'])
          t.equal(
            reviewing(v, 'policy.linkerd.io', resource, op, version).length,
            1,
            `${resource} ${version} ${op} validated`,
          );
    }
    t.equal(
      reviewing(v, 'security.istio.io', 'peerauthentications', 'CREATE', 'v1').length,
      0,
      "Istio's kinds are not reviewed",
    );
    for (const { group, resource } of [{ group: '', resource: 'namespaces' }, ...podKinds]) {
      for (const op of ['CREATE', 'UPDATE']) {
        t.equal(reviewing(v, group, resource, op, 'v1').length, 1, `${resource} ${op} validated`);
        // Pods are mutated on CREATE only, as in the base.
        t.equal(
          reviewing(m, group, resource, op, 'v1').length,
          resource === 'pods' && op === 'UPDATE' ? 0 : 1,
          `${resource} ${op} mutated`,
        );
      }
    }
    for (const w of [...v, ...m]) {
      t.notOk(
        selects(w.namespaceSelector, { 'kubernetes.io/metadata.name': 'linkerd' }),
        `${w.name} skips the control plane`,
      );
      t.ok(
        selects(w.namespaceSelector, {
          'kubernetes.io/metadata.name': 'shop',
          'config.linkerd.io/admission-webhooks': 'disabled',
          'istio.io/dataplane-mode': 'ambient',
        }),
        `${w.name} reviews an ordinary namespace whatever its labels`,
      );
    }
    const name = find(objs, 'MutatingWebhookConfiguration')[0]!.metadata.name;
    // charts/linkerd-control-plane/templates/proxy-injector-rbac.yaml names Linkerd's configuration.
    t.ok(
      Buffer.compare(Buffer.from(name), Buffer.from('linkerd-proxy-injector-webhook-config')) < 0,
      `${name} is called before Linkerd's injector`,
    );
    // The audit's Linkerd reads (src/audit/collect.ts LINKERD_POLICIES, CONFIGMAPS), read-only, nothing more.
    const extra = grants(objs).filter((g) => !grants(base).some((b) => key(b) === key(g)));
    t.same(
      extra.map(key).sort(),
      [
        ...[
          'servers',
          'serverauthorizations',
          'authorizationpolicies',
          'meshtlsauthentications',
          'networkauthentications',
          'httproutes',
        ].flatMap((r) => ['get', 'list'].map((v) => `policy.linkerd.io|${r}|${v}||*`)),
        ...['httproutes', 'grpcroutes'].flatMap((r) =>
          ['get', 'list'].map((v) => `gateway.networking.k8s.io|${r}|${v}||*`),
        ),
        '|configmaps|get|linkerd-config|linkerd',
        '|configmaps|list|linkerd-config|linkerd',
      ].sort(),
      'the overlay adds read access to Linkerd policy kinds and linkerd-config only',
    );
  },
);

t.test(
  'the cert-manager overlay: Certificate for every service name, CA injected by annotation, no self-management',
  async (t) => {
    const objs = rendered.get('deploy/overlays/cert-manager')!;
    const cert = one(objs, 'Certificate');
    const issuer = one(objs, 'Issuer', cert.spec.issuerRef.name);
    t.ok(issuer.spec.selfSigned || issuer.spec.ca);
    t.same(cert.spec.dnsNames, [
      'meshlock',
      'meshlock.meshlock',
      'meshlock.meshlock.svc',
      'meshlock.meshlock.svc.cluster.local',
    ]);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      t.equal(
        one(objs, kind).metadata.annotations?.['cert-manager.io/inject-ca-from'],
        `${cert.metadata.namespace}/${cert.metadata.name}`,
        kind,
      );
    }
    const d = one(objs, 'Deployment');
    const c = d.spec.template.spec.containers[0];
    t.notOk(c.args.includes('--self-manage-certs'));
    const secretVol = d.spec.template.spec.volumes.find((v: Any) => v.secret?.secretName === cert.spec.secretName);
    t.ok(secretVol && secretVol.secret.optional === false, 'serves from the cert-manager Secret, which must exist');
    const mount = c.volumeMounts.find((m: Any) => m.name === secretVol.name).mountPath;
    t.ok(c.args.includes(`--tls-cert=${mount}/tls.crt`) && c.args.includes(`--tls-key=${mount}/tls.key`));
    t.equal(find(objs, 'Role').length, 0, 'no Secret write access');
    t.equal(find(objs, 'ClusterRole', 'meshlock-webhook-ca').length, 0, 'no webhook configuration patch access');
  },
);

// ---------------------------------------------------------------------------------------------
// RBAC against the code. ACCESS lists every API call meshlock makes, in one place; a client-node
// call found in src/ that is not listed fails, and so does a grant no entry needs.
interface Access {
  group: string;
  resource: string;
  verbs: string[];
  resourceNames?: string[];
  namespace?: string;
  methods: string[];
  by: string;
}
const ACCESS: Access[] = [
  {
    group: '',
    resource: 'secrets',
    verbs: ['get', 'update'],
    resourceNames: ['meshlock-tls'],
    namespace: 'meshlock',
    methods: ['readNamespacedSecret', 'replaceNamespacedSecret'],
    by: 'serve --self-manage-certs (src/kube/secrets.ts)',
  },
  {
    group: '',
    resource: 'secrets',
    verbs: ['create'],
    namespace: 'meshlock',
    methods: ['createNamespacedSecret'],
    by: 'serve --self-manage-certs (src/kube/secrets.ts); RBAC cannot restrict create by name',
  },
  {
    group: 'admissionregistration.k8s.io',
    resource: 'validatingwebhookconfigurations',
    verbs: ['get', 'patch'],
    resourceNames: ['meshlock'],
    methods: ['readValidatingWebhookConfiguration', 'patchValidatingWebhookConfiguration'],
    by: 'caBundle injection (src/kube/webhooks.ts)',
  },
  {
    group: 'admissionregistration.k8s.io',
    resource: 'mutatingwebhookconfigurations',
    verbs: ['get', 'patch'],
    resourceNames: ['00-meshlock'],
    methods: ['readMutatingWebhookConfiguration', 'patchMutatingWebhookConfiguration'],
    by: 'caBundle injection (src/kube/webhooks.ts)',
  },
  // The audit's cluster source reads the families of POLICY.md and the webhook configurations,
  // and writes PolicyReports.
  ...[
    ['', 'namespaces'],
    ['', 'pods'],
    ['', 'replicationcontrollers'],
    ['apps', 'deployments'],
    ['apps', 'statefulsets'],
    ['apps', 'daemonsets'],
    ['apps', 'replicasets'],
    ['batch', 'jobs'],
    ['batch', 'cronjobs'],
    ['security.istio.io', 'peerauthentications'],
    ['networking.istio.io', 'destinationrules'],
    ['admissionregistration.k8s.io', 'validatingwebhookconfigurations'],
    ['admissionregistration.k8s.io', 'mutatingwebhookconfigurations'],
    ['', 'services'],
    ['apiregistration.k8s.io', 'apiservices'],
  ].map(([group, resource]) => ({
    group: group!,
    resource: resource!,
    verbs: ['get', 'list'],
    methods: [],
    by: 'meshlock audit (cluster source)',
  })),
  ...['policyreports', 'clusterpolicyreports'].map((resource) => ({
    group: 'wgpolicyk8s.io',
    resource,
    verbs: ['get', 'create', 'update'],
    methods: [],
    by: 'meshlock audit --format policyreport (write)',
  })),
];

interface Grant {
  group: string;
  resource: string;
  verb: string;
  resourceNames: string;
  namespace: string;
}
const key = (g: Grant) => `${g.group}|${g.resource}|${g.verb}|${g.resourceNames}|${g.namespace}`;
function grants(objs: Obj[]): Grant[] {
  const out: Grant[] = [];
  for (const role of [...find(objs, 'ClusterRole'), ...find(objs, 'Role')] as Any[]) {
    for (const r of role.rules)
      for (const group of r.apiGroups)
        for (const resource of r.resources)
          for (const verb of r.verbs) {
            out.push({
              group,
              resource,
              verb,
              resourceNames: [...(r.resourceNames ?? [])].sort().join(','),
              namespace: role.metadata.namespace ?? '*',
            });
          }
  }
  return out;
}
const wanted = ACCESS.flatMap((a) =>
  a.verbs.map((verb) => ({
    group: a.group,
    resource: a.resource,
    verb,
    resourceNames: [...(a.resourceNames ?? [])].sort().join(','),
    namespace: a.namespace ?? '*',
  })),
);

t.test('RBAC grants exactly the verbs meshlock uses, nothing wider', async (t) => {
  const granted = grants(base);
  const want = new Set(wanted.map(key));
  for (const g of granted) {
    t.notOk(g.verb === '*' || g.resource === '*' || g.group === '*', `no wildcard in ${key(g)}`);
    t.ok(
      want.has(key(g)),
      `granted ${g.verb} ${g.resource}${g.resourceNames ? ` (${g.resourceNames})` : ''} in ${g.namespace} is used`,
    );
  }
  const have = new Set(granted.map(key));
  for (const w of wanted) t.ok(have.has(key(w)), `${w.verb} ${w.resource} is granted`);
  // Bound to meshlock's ServiceAccount only.
  for (const b of [...find(base, 'ClusterRoleBinding'), ...find(base, 'RoleBinding')] as Any[]) {
    t.same(b.subjects, [{ kind: 'ServiceAccount', name: 'meshlock', namespace: 'meshlock' }]);
  }
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

t.test('every Kubernetes API call in src/ is listed in the access table, and every listed call exists', async (t) => {
  const src = sourceFiles(join(repoRoot, 'src'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const calls = new Set(
    [...src.matchAll(/\.((?:read|list|create|replace|patch|delete|watch)(?:Namespaced|Cluster)?[A-Z]\w*)\(/g)].map(
      (m) => m[1]!,
    ),
  );
  const known = new Set(ACCESS.flatMap((a) => a.methods));
  for (const c of calls)
    if (
      /Secret|WebhookConfiguration|Namespace|Pod|Deployment|StatefulSet|DaemonSet|ReplicaSet|ReplicationController|Job|CustomObject|PolicyReport/.test(
        c,
      )
    )
      t.ok(known.has(c), `${c} is in the access table`);
  for (const m of known) t.ok(calls.has(m), `${m} is called in src/`);
});
