// Which compliance controls each finding supports. This file is the only place the mapping lives:
// check and audit attach it to their findings and models, and every report format reads it there.
import type { RuleId } from '../config/index.js';

export interface Control {
  readonly id: string;
  readonly framework: string;
  readonly title: string;
}

export const CONTROLS = {
  'PCI-DSS-4.0-4.2.1': {
    id: 'PCI-DSS-4.0-4.2.1',
    framework: 'PCI DSS v4.0',
    title: 'Requirement 4.2.1: strong cryptography protects data during transmission',
  },
  'HIPAA-164.312(e)(1)': {
    id: 'HIPAA-164.312(e)(1)',
    framework: 'HIPAA Security Rule',
    title: '45 CFR 164.312(e)(1): transmission security',
  },
  'NIST-800-53-SC-8': {
    id: 'NIST-800-53-SC-8',
    framework: 'NIST SP 800-53 Rev. 5',
    title: 'SC-8: transmission confidentiality and integrity',
  },
  'NIST-800-53-SC-8(1)': {
    id: 'NIST-800-53-SC-8(1)',
    framework: 'NIST SP 800-53 Rev. 5',
    title: 'SC-8(1): cryptographic protection',
  },
  'NIST-800-204A': {
    id: 'NIST-800-204A',
    framework: 'NIST SP 800-204A',
    title: 'Building secure microservices-based applications using service-mesh architecture',
  },
} as const satisfies Record<string, Control>;

export type ControlId = keyof typeof CONTROLS;

const ALL: readonly ControlId[] = [
  'PCI-DSS-4.0-4.2.1',
  'HIPAA-164.312(e)(1)',
  'NIST-800-53-SC-8',
  'NIST-800-53-SC-8(1)',
  'NIST-800-204A',
];
// Rules whose violation leaves traffic unencrypted or unauthenticated break every control; rules
// about keeping traffic inside the mesh (capture, injection) weaken the mesh architecture and the
// transmission-protection controls; the root-selector warning is a mesh configuration defect only.
const MESH_ONLY: readonly ControlId[] = ['NIST-800-204A'];
const TRANSMISSION: readonly ControlId[] = [
  'PCI-DSS-4.0-4.2.1',
  'HIPAA-164.312(e)(1)',
  'NIST-800-53-SC-8',
  'NIST-800-204A',
];

/** Findings of the audit that are not engine rules (effective state, installation). */
export const AUDIT_CHECK_IDS = [
  'workload-not-meshed',
  'workload-not-strict',
  'exemption-expired',
  'exemption-expiring',
  'install-webhook-missing',
  'install-webhook-mismatch',
  'install-failure-policy',
  'install-namespace-uncovered',
  'install-ca-bundle',
  'install-revision-unserved',
  'dataplane-revision-unserved',
  'dataplane-version-skew',
  'apiserver-backend-strict',
  'ld-proxy-version-skew',
  'ld-probe-paths-open',
] as const;
export type AuditCheckId = (typeof AUDIT_CHECK_IDS)[number];

export const RULE_CONTROLS: Readonly<Record<RuleId | AuditCheckId, readonly ControlId[]>> = {
  'pa-mode': ALL,
  'pa-port-mode': ALL,
  'pa-mesh-strict': ALL,
  'pa-mesh-delete': ALL,
  'pa-root-selector': MESH_ONLY,
  'dr-tls-disable': ALL,
  'dr-tls-origination': ['NIST-800-53-SC-8(1)', 'NIST-800-204A'],
  'ns-injection-disabled': TRANSMISSION,
  'ns-injection-missing': TRANSMISSION,
  'ns-injection-conflict': MESH_ONLY,
  'pod-injection-disabled': TRANSMISSION,
  'pod-host-network': TRANSMISSION,
  'pod-capture-bypass': ALL,
  'pod-outbound-bypass': TRANSMISSION,
  'pod-proxy-uid': TRANSMISSION,
  'pod-net-admin': TRANSMISSION,
  'pod-forged-status': TRANSMISSION,
  'ld-ns-inject': TRANSMISSION,
  'ld-ns-inject-missing': TRANSMISSION,
  'ld-ns-webhooks-off': TRANSMISSION,
  'ld-pod-inject': TRANSMISSION,
  'ld-pod-not-meshed': TRANSMISSION,
  'ld-selector-bypass': TRANSMISSION,
  'ld-forged-proxy': TRANSMISSION,
  'ld-host-network': TRANSMISSION,
  'ld-skip-inbound': ALL,
  'ld-skip-outbound': TRANSMISSION,
  'ld-proxy-uid': TRANSMISSION,
  'ld-net-admin': TRANSMISSION,
  'ld-inbound-policy': ALL,
  'ld-server-access': ALL,
  'ld-saz-unauth': ALL,
  'ld-authz-unauth': ALL,
  'ld-mesh-label': ALL,
  'ld-job-sidecar': MESH_ONLY,
  'malformed-object': MESH_ONLY,
  'workload-not-meshed': TRANSMISSION,
  'workload-not-strict': ALL,
  'exemption-expired': MESH_ONLY,
  'exemption-expiring': MESH_ONLY,
  'install-webhook-missing': ALL,
  'install-webhook-mismatch': ALL,
  'install-failure-policy': ALL,
  'install-namespace-uncovered': ALL,
  'install-ca-bundle': MESH_ONLY,
  'install-revision-unserved': TRANSMISSION,
  'dataplane-revision-unserved': TRANSMISSION,
  'dataplane-version-skew': MESH_ONLY,
  // The apiserver cannot reach a webhook or aggregated API: an outage, not a plaintext exposure.
  'apiserver-backend-strict': MESH_ONLY,
  'ld-proxy-version-skew': MESH_ONLY,
  'ld-probe-paths-open': MESH_ONLY,
};

/** Control ids for a rule or audit check; unknown ids map to the mesh architecture control. */
export function controlsFor(rule: string): readonly ControlId[] {
  return (RULE_CONTROLS as Record<string, readonly ControlId[] | undefined>)[rule] ?? MESH_ONLY;
}

/** Every rule and check id that has a mapping (RULE_CONTROLS is typed to hold each of them). */
export function mappedIds(): string[] {
  return Object.keys(RULE_CONTROLS);
}

/** The catalogue entries (id, framework, title) of the controls a rule supports. */
export function controlEntries(rule: string): readonly Control[] {
  return controlsFor(rule).map((id) => CONTROLS[id]);
}
