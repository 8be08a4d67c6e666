// Every row of POLICY.md's rule table through `kubectl apply` against the real apiserver,
// with meshlock enforcing: the violating object is refused with meshlock's message, the
// compliant one is created.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { clusterEnv } from './lib/cluster.js';
import { apply, describeRun, getJson, kubectl, uniqueName, type Manifest } from './lib/kubectl.js';
import { proxyOf, sidecarStatus, type PodLike } from './lib/controllers.js';
import { install } from './lib/meshlock.js';
import {
  assertAllowed,
  assertDenied,
  cronJob,
  deployment,
  destinationRule,
  namespace,
  peerAuth,
  pod,
} from './lib/objects.js';

const ROOT = 'istio-system';
// dr-tls-origination is named explicitly: POLICY.md's config example puts it in warn.
const ml = await install({ mode: 'enforce', rules: { 'dr-tls-origination': 'enforce' } });
t.teardown(() => ml.uninstall());

async function freshNamespace(prefix = 'shop'): Promise<string> {
  const ns = uniqueName(prefix);
  const r = await apply(namespace(ns));
  if (r.code !== 0) throw new Error(`creating namespace ${ns}: ${describeRun(r)}`);
  return ns;
}

const name = (o: Manifest): string => String((o.metadata as { name: string }).name);

async function denied(tt: Test, o: Manifest, rules: string[], msg = '') {
  assertDenied(tt, await apply(o), String(o.kind), name(o), rules, msg);
}
async function allowed(tt: Test, o: Manifest, warn: string[] = [], msg = '') {
  assertAllowed(tt, await apply(o), `${msg ? msg + ': ' : ''}${String(o.kind)} ${name(o)}`, warn);
}

// --- PeerAuthentication ------------------------------------------------------------------

for (const version of ['v1beta1', 'v1'] as const) {
  t.test(`pa-mode: a namespace-wide PERMISSIVE or DISABLE PeerAuthentication (${version}) is refused`, async (t) => {
    const ns = await freshNamespace();
    await denied(t, peerAuth(ns, 'permissive', { mtls: { mode: 'PERMISSIVE' } }, version), ['pa-mode']);
    await denied(t, peerAuth(ns, 'disable', { mtls: { mode: 'DISABLE' } }, version), ['pa-mode']);
    const r = await kubectl(['get', 'peerauthentications', '-n', ns, '-o', 'name']);
    t.equal(r.stdout.trim(), '', 'nothing was stored');
  });

  t.test(`pa-mode: STRICT, UNSET and absent modes (${version}) are created`, async (t) => {
    const ns = await freshNamespace();
    await allowed(t, peerAuth(ns, 'strict', { mtls: { mode: 'STRICT' } }, version));
    await allowed(t, peerAuth(ns, 'unset', { mtls: { mode: 'UNSET' } }, version));
    await allowed(t, peerAuth(ns, 'absent', { selector: { matchLabels: { app: 'a' } } }, version));
  });
}

t.test('pa-port-mode: a port-level PERMISSIVE on a workload policy is refused, STRICT is created', async (t) => {
  const ns = await freshNamespace();
  const selector = { matchLabels: { app: 'reviews' } };
  await denied(
    t,
    peerAuth(ns, 'port-permissive', {
      selector,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8080: { mode: 'PERMISSIVE' } },
    }),
    ['pa-port-mode'],
  );
  await denied(t, peerAuth(ns, 'port-disable', { selector, portLevelMtls: { 9090: { mode: 'DISABLE' } } }, 'v1beta1'), [
    'pa-port-mode',
  ]);
  await allowed(
    t,
    peerAuth(ns, 'port-strict', { selector, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'STRICT' } } }),
  );
});

t.test('pa-port-mode: portLevelMtls without a selector never reaches the store', async (t) => {
  // Istio's CRD carries its own CEL rule ("portLevelMtls requires selector"), which the
  // apiserver checks before validating webhooks run: the refusal may be the CRD's.
  const ns = await freshNamespace();
  const r = await apply(
    peerAuth(ns, 'no-selector', { mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'STRICT' } } }),
  );
  t.not(r.code, 0, 'refused', { output: describeRun(r) });
  t.match(r.stderr, /portLevelMtls requires selector|\[pa-port-mode\]/, 'by the CRD or by meshlock', {
    output: describeRun(r),
  });
});

t.test('pa-mesh-strict: a mesh-wide policy without an explicit STRICT is refused', async (t) => {
  await denied(t, peerAuth(ROOT, 'mesh-absent', {}), ['pa-mesh-strict']);
  await denied(t, peerAuth(ROOT, 'mesh-unset', { mtls: { mode: 'UNSET' } }, 'v1beta1'), ['pa-mesh-strict']);
  await denied(t, peerAuth(ROOT, 'mesh-empty-selector', { selector: { matchLabels: {} }, mtls: {} }), [
    'pa-mesh-strict',
  ]);
});

t.test(
  'pa-mesh-delete: deleting the mesh-wide STRICT policy is refused; deleting a namespace policy is not',
  async (t) => {
    await allowed(t, peerAuth(ROOT, 'default', { mtls: { mode: 'STRICT' } }), [], 'the mesh-wide STRICT policy');
    const del = await kubectl(['delete', 'peerauthentication', 'default', '-n', ROOT]);
    assertDenied(t, del, 'PeerAuthentication', 'default', ['pa-mesh-delete'], 'kubectl delete');
    const still = await kubectl(['get', 'peerauthentication', 'default', '-n', ROOT]);
    t.equal(still.code, 0, 'the mesh-wide policy is still there', { output: describeRun(still) });

    const ns = await freshNamespace();
    await allowed(t, peerAuth(ns, 'default', { mtls: { mode: 'STRICT' } }));
    const ok = await kubectl(['delete', 'peerauthentication', 'default', '-n', ns]);
    t.equal(ok.code, 0, 'a namespace-wide policy can be deleted', { output: describeRun(ok) });
  },
);

t.test('pa-root-selector: a selector policy in the root namespace is allowed with a warning', async (t) => {
  await allowed(
    t,
    peerAuth(ROOT, 'root-selector', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'STRICT' } }),
    ['pa-root-selector'],
  );
});

// --- DestinationRule ---------------------------------------------------------------------

for (const version of ['v1alpha3', 'v1beta1', 'v1']) {
  t.test(`dr-tls-disable: tls DISABLE or no mode towards an in-mesh host is refused (${version})`, async (t) => {
    const ns = await freshNamespace();
    await denied(
      t,
      destinationRule(ns, 'top', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } }, version),
      ['dr-tls-disable'],
    );
    await denied(
      t,
      destinationRule(
        ns,
        'port',
        {
          host: `reviews.${ns}.svc.cluster.local`,
          trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'DISABLE' } }] },
        },
        version,
      ),
      ['dr-tls-disable'],
    );
    await denied(
      t,
      destinationRule(
        ns,
        'subset',
        {
          host: '*.cluster.local',
          subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { tls: { sni: 'reviews' } } }],
        },
        version,
      ),
      ['dr-tls-disable'],
      'a tls block with only sni',
    );
  });
}

t.test('dr-tls-disable: DISABLE towards an egress host, and ISTIO_MUTUAL in the mesh, are created', async (t) => {
  const ns = await freshNamespace();
  await allowed(
    t,
    destinationRule(ns, 'egress', { host: 'api.example.com', trafficPolicy: { tls: { mode: 'DISABLE' } } }),
  );
  await allowed(
    t,
    destinationRule(ns, 'mutual', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }),
  );
  await allowed(
    t,
    destinationRule(ns, 'no-tls', {
      host: 'ratings',
      trafficPolicy: { connectionPool: { tcp: { maxConnections: 10 } } },
    }),
  );
});

t.test('dr-tls-origination: SIMPLE or MUTUAL towards an in-mesh host is refused, towards egress created', async (t) => {
  const ns = await freshNamespace();
  await denied(
    t,
    destinationRule(ns, 'simple', { host: 'reviews.shop.svc', trafficPolicy: { tls: { mode: 'SIMPLE' } } }),
    ['dr-tls-origination'],
  );
  await denied(
    t,
    destinationRule(ns, 'mutual', {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'MUTUAL', clientCertificate: '/etc/c.pem', privateKey: '/etc/k.pem' } },
    }),
    ['dr-tls-origination'],
  );
  await allowed(
    t,
    destinationRule(ns, 'egress-simple', { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE' } } }),
  );
});

// --- Namespace ---------------------------------------------------------------------------

t.test('ns-injection-disabled: a namespace that opts out of injection is refused', async (t) => {
  await denied(t, namespace(uniqueName('optout'), { 'istio-injection': 'disabled' }), ['ns-injection-disabled']);
  await denied(
    t,
    namespace(uniqueName('optout'), { 'istio-injection': 'Enabled' }),
    ['ns-injection-disabled'],
    'wrong case',
  );
  await denied(t, namespace(uniqueName('optout'), { 'istio.io/dataplane-mode': 'none' }), ['ns-injection-disabled']);
});

t.test('enrolled namespaces are created', async (t) => {
  await allowed(t, namespace(uniqueName('enabled'), { 'istio-injection': 'enabled' }));
  await allowed(t, namespace(uniqueName('rev'), { 'istio.io/rev': 'canary' }));
  await allowed(t, namespace(uniqueName('ambient'), { 'istio.io/dataplane-mode': 'ambient' }));
});

t.test(
  'ns-injection-conflict: istio-injection=enabled with istio.io/rev, or with ambient, is allowed with a warning',
  async (t) => {
    await allowed(t, namespace(uniqueName('conflict'), { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' }), [
      'ns-injection-conflict',
    ]);
    await allowed(
      t,
      namespace(uniqueName('conflict'), { 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'ambient' }),
      ['ns-injection-conflict'],
    );
  },
);

// --- Pods and pod templates ----------------------------------------------------------------

t.test('pod rules: each violating pod is refused with its rule', async (t) => {
  const ns = await freshNamespace();
  const cases: [string, Manifest, string][] = [
    [
      'inject-label-false',
      pod(ns, 'inject-label-false', { labels: { 'sidecar.istio.io/inject': 'false' } }),
      'pod-injection-disabled',
    ],
    [
      'inject-label-no',
      pod(ns, 'inject-label-no', { labels: { 'sidecar.istio.io/inject': 'no' } }),
      'pod-injection-disabled',
    ],
    [
      'inject-annotation',
      pod(ns, 'inject-annotation', { annotations: { 'sidecar.istio.io/inject': 'false' } }),
      'pod-injection-disabled',
    ],
    ['host-network', pod(ns, 'host-network', { spec: { hostNetwork: true } }), 'pod-host-network'],
    [
      'exclude-inbound',
      pod(ns, 'exclude-inbound', { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '8080' } }),
      'pod-capture-bypass',
    ],
    [
      'include-inbound',
      pod(ns, 'include-inbound', { annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '9080' } }),
      'pod-capture-bypass',
    ],
    [
      'exclude-interfaces',
      pod(ns, 'exclude-interfaces', { annotations: { 'traffic.sidecar.istio.io/excludeInterfaces': 'eth1' } }),
      'pod-capture-bypass',
    ],
    [
      'interception-none',
      pod(ns, 'interception-none', { annotations: { 'sidecar.istio.io/interceptionMode': 'NONE' } }),
      'pod-capture-bypass',
    ],
    [
      'proxy-config-none',
      pod(ns, 'proxy-config-none', { annotations: { 'proxy.istio.io/config': 'interceptionMode: NONE\n' } }),
      'pod-capture-bypass',
    ],
    [
      'dataplane-none',
      pod(ns, 'dataplane-none', { labels: { 'istio.io/dataplane-mode': 'none' } }),
      'pod-capture-bypass',
    ],
    ['uid-1337', pod(ns, 'uid-1337', { container: { securityContext: { runAsUser: 1337 } } }), 'pod-proxy-uid'],
    ['pod-uid-1337', pod(ns, 'pod-uid-1337', { spec: { securityContext: { runAsUser: 1337 } } }), 'pod-proxy-uid'],
    [
      'net-admin',
      pod(ns, 'net-admin', { container: { securityContext: { capabilities: { add: ['NET_ADMIN'] } } } }),
      'pod-net-admin',
    ],
    [
      'net-raw',
      pod(ns, 'net-raw', { container: { securityContext: { capabilities: { add: ['NET_RAW'] } } } }),
      'pod-net-admin',
    ],
    ['privileged', pod(ns, 'privileged', { container: { securityContext: { privileged: true } } }), 'pod-net-admin'],
    // With Istio's real injector the pod is injected anyway (next test): only the stand-in-free
    // run (MESHLOCK_E2E_ISTIO=0) stores it as sent.
    ...(clusterEnv().istio
      ? []
      : ([
          [
            'forged-status',
            pod(ns, 'forged-status', { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }),
            'pod-forged-status',
          ],
        ] as [string, Manifest, string][])),
  ];
  for (const [label, o, rule] of cases) await denied(t, o, [rule], label);
  const r = await kubectl(['get', 'pods', '-n', ns, '-o', 'name']);
  t.equal(r.stdout.trim(), '', 'no violating pod was stored');
});

t.test(
  "a pod whose status annotation claims injection gets Istio's real proxy anyway",
  { skip: clusterEnv().istio ? false : 'Istio is not installed (MESHLOCK_E2E_ISTIO=0)' },
  async (t) => {
    // Istio's webhook does not skip a pod that already carries sidecar.istio.io/status: it injects
    // and writes its own status (pkg/kube/inject/webhook.go reapplyOverwrittenContainers reads the
    // old status only to know which containers to replace). So by the time meshlock's validating
    // webhook sees the pod it has istio-proxy, and pod-forged-status has nothing to deny.
    const ns = await freshNamespace();
    const r = await apply(
      pod(ns, 'forged-status', { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }),
    );
    t.equal(r.code, 0, 'created', { output: describeRun(r) });
    if (r.code !== 0) return;
    const stored = (await getJson(['pod', 'forged-status', '-n', ns])) as PodLike;
    t.not(proxyOf(stored).kind, 'none', 'istio-proxy injected');
    t.not(
      stored.metadata.annotations?.['sidecar.istio.io/status'],
      '{"containers":["istio-proxy"]}',
      'the injector replaced the forged status with its own',
    );
    t.ok(sidecarStatus(stored)?.revision, "the status is the injector's (it names a revision)", {
      status: sidecarStatus(stored),
    });
  },
);

t.test('pod-outbound-bypass: an outbound exclusion is allowed with a warning', async (t) => {
  const ns = await freshNamespace();
  await allowed(t, pod(ns, 'outbound', { annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' } }), [
    'pod-outbound-bypass',
  ]);
});

t.test('a compliant pod is created', async (t) => {
  const ns = await freshNamespace();
  await allowed(t, pod(ns, 'plain'));
  await allowed(t, pod(ns, 'inject-true', { labels: { 'sidecar.istio.io/inject': 'true' } }));
  await allowed(t, pod(ns, 'include-all', { annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '*' } }));
});

t.test('pod templates: a Deployment or CronJob with a violating template is refused at apply', async (t) => {
  const ns = await freshNamespace();
  await denied(t, deployment(ns, 'hostnet', { spec: { hostNetwork: true } }), ['pod-host-network']);
  await denied(t, deployment(ns, 'no-inject', { labels: { 'sidecar.istio.io/inject': 'false' } }), [
    'pod-injection-disabled',
  ]);
  await denied(t, cronJob(ns, 'no-inject', { annotations: { 'sidecar.istio.io/inject': 'false' } }), [
    'pod-injection-disabled',
  ]);
  await denied(
    t,
    cronJob(ns, 'net-admin', { container: { securityContext: { capabilities: { add: ['NET_ADMIN'] } } } }),
    ['pod-net-admin'],
  );
  await denied(
    t,
    deployment(ns, 'forged', { annotations: { 'sidecar.istio.io/status': '{}' } }),
    ['pod-forged-status'],
    'a template claiming to be injected',
  );
});

t.test('pod templates: a compliant Deployment and CronJob are created', async (t) => {
  const ns = await freshNamespace();
  await allowed(t, deployment(ns, 'web'));
  await allowed(t, cronJob(ns, 'report'));
});

t.test('system namespaces are out of scope for namespace and pod rules', async (t) => {
  const r = await apply(pod('kube-system', uniqueName('hostnet'), { spec: { hostNetwork: true } }));
  t.equal(r.code, 0, 'a hostNetwork pod in kube-system is created', { output: describeRun(r) });
});

t.test("the apiserver's audit log records meshlock's auditAnnotations", async (t) => {
  const ns = await freshNamespace();
  const pa = peerAuth(ns, 'audited', { mtls: { mode: 'PERMISSIVE' } });
  assertDenied(t, await apply(pa), 'PeerAuthentication', 'audited', ['pa-mode']);
  const events = readFileSync(clusterEnv().auditLog, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"audited"') && l.includes(ns))
    .map((l) => JSON.parse(l) as { objectRef?: { name?: string }; annotations?: Record<string, string> });
  const annotations = events.flatMap((e) => Object.entries(e.annotations ?? {}));
  t.ok(
    annotations.some(([k, v]) => /\/violations$/.test(k) && v.includes('pa-mode')),
    'an audit event carries <webhook>/violations naming pa-mode',
    { annotations },
  );
});
