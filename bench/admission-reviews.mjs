// Realistic AdmissionReviews for the benchmark: a pod as a ReplicaSet creates it (generateName,
// owner reference, managedFields, two containers with env, probes and volumes: ~5 KB, what the
// apiserver sends), and PeerAuthentications, one STRICT (allowed) and one PERMISSIVE (denied).

function review(uid, gvk, resource, namespace, name, object) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: gvk,
      resource: { group: gvk.group, version: gvk.version, resource },
      requestKind: gvk,
      requestResource: { group: gvk.group, version: gvk.version, resource },
      name,
      namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '2d1b6c1e-3f55-4d1a-9a0e-1b2c3d4e5f60',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

function pod(withInjectLabel) {
  const labels = {
    app: 'checkout',
    'pod-template-hash': '7d9c8b6f5d',
    'app.kubernetes.io/part-of': 'shop',
    version: 'v3',
  };
  if (withInjectLabel) labels['sidecar.istio.io/inject'] = 'true';
  const env = Array.from({ length: 12 }, (_, i) => ({
    name: `CHECKOUT_SETTING_${i}`,
    value: `value-${i}-${'x'.repeat(20)}`,
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-7d9c8b6f5d-',
      namespace: 'shop',
      labels,
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9102',
        'kubectl.kubernetes.io/restartedAt': '2026-05-30T10:11:12Z',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'checkout-7d9c8b6f5d',
          uid: '0b7a2c4e-9d1f-4e3a-8b6c-5d4e3f2a1b0c',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-06-01T08:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:generateName': {},
              'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:version': {} },
              'f:ownerReferences': { '.': {} },
            },
            'f:spec': { 'f:containers': {} },
          },
        },
      ],
    },
    spec: {
      serviceAccountName: 'checkout',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'checkout',
          image: 'registry.example.com/shop/checkout:3.14.1',
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9102, protocol: 'TCP' },
          ],
          env,
          resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/live', port: 8080 }, periodSeconds: 10, failureThreshold: 3 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/checkout' },
            {
              name: 'kube-api-access-abcde',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
        },
        {
          name: 'log-shipper',
          image: 'registry.example.com/platform/log-shipper:1.2.0',
          resources: { requests: { cpu: '50m', memory: '64Mi' } },
          volumeMounts: [
            {
              name: 'kube-api-access-abcde',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'checkout-config' } },
        {
          name: 'kube-api-access-abcde',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            ],
          },
        },
      ],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
}

function peerAuthentication(mode) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: 'shop', uid: '4f3e2d1c-0b9a-4877-a665-544332211000' },
    spec: { mtls: { mode } },
  };
}

const podGvk = { group: '', version: 'v1', kind: 'Pod' };
const paGvk = { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' };

/** The request mix, cycled: two pod reviews (validate, mutate), two PeerAuthentication reviews. */
export function reviews() {
  return [
    {
      path: '/validate',
      review: review('b0000000-0000-4000-8000-000000000001', podGvk, 'pods', 'shop', '', pod(true)),
    },
    { path: '/mutate', review: review('b0000000-0000-4000-8000-000000000002', podGvk, 'pods', 'shop', '', pod(false)) },
    {
      path: '/validate',
      review: review(
        'b0000000-0000-4000-8000-000000000003',
        paGvk,
        'peerauthentications',
        'shop',
        'default',
        peerAuthentication('STRICT'),
      ),
    },
    {
      path: '/validate',
      review: review(
        'b0000000-0000-4000-8000-000000000004',
        paGvk,
        'peerauthentications',
        'shop',
        'default',
        peerAuthentication('PERMISSIVE'),
      ),
    },
  ];
}
