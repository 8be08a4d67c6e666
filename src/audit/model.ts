// The audit report: what every renderer reads. Plain data, JSON-serialisable as is.
import type { ControlId } from '../policy/controls.js';
import type { MtlsMode } from '../policy/index.js';
import type { Dataplane, IstioDecision } from './workloads.js';
import type { LinkerdWorkloadDetail } from './linkerd.js';

export type FindingSeverity = 'error' | 'warning';

export interface ReportFinding {
  readonly rule: string;
  readonly severity: FindingSeverity;
  /** The mode the engine enforces the rule in for this namespace (engine rules), or `audit`. */
  readonly mode: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly message: string;
  readonly fix?: string;
  readonly controls: readonly ControlId[];
  /** File and line when the object came from a dump. */
  readonly file?: string;
  readonly line?: number;
  /** Findings this one causes (a workload out of the mesh because of it), folded in rather than counted again. */
  readonly effects?: readonly FindingEffect[];
  /** Set on a finding an active exemption lifts (it is then listed under `exempted`, not `findings`). */
  readonly exemption?: ExemptionRef;
}

export interface ExemptionRef {
  readonly index: number;
  readonly reason: string;
  readonly owner?: string;
  readonly expires?: string;
}

/** A secondary finding, listed under its root cause. */
export interface FindingEffect {
  readonly rule: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly message: string;
}

/** A finding an active exemption lifted: shown as exempted, never counted as an error. */
export interface ExemptedFinding extends ReportFinding {
  readonly exemption: ExemptionRef;
}

export interface WorkloadRow {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly pods: number;
  readonly meshed: boolean;
  readonly dataplane: Dataplane;
  readonly reason?: string;
  /**
   * Which rule of Istio decided injection and ztunnel capture (of the first pod that is not meshed,
   * else of the first pod), named as in Istio's code: namespace-label, pod-label, pod-annotation,
   * object-selector, invalid-value, hostNetwork, system-namespace, sidecar-status, ...
   */
  readonly istio?: IstioDecision;
  /** With `mesh: linkerd`: the injector's reasons, the proxy version, each port's effective inbound policy. */
  readonly linkerd?: LinkerdWorkloadDetail;
  /** The weakest mode over every port: what a plaintext client can reach. DISABLE when not meshed. */
  readonly effectiveMtls: MtlsMode;
  /** What the PeerAuthentications alone say, whether or not a proxy enforces it. */
  readonly policyMtls: MtlsMode;
  /** The mode of every port without a port-level setting (what the PeerAuthentications say). */
  readonly defaultMtls: MtlsMode;
  /** Port -> mode where a port-level policy differs from the workload mode. */
  readonly ports: Readonly<Record<string, MtlsMode>>;
  /** The workload's mTLS as a reader should see it: every port's mode, or "no mTLS: not meshed (reason)". */
  readonly mtls: string;
  /** Port -> reason of the `edges` entry that permits its PERMISSIVE (not counted against strictness). */
  readonly edges?: Readonly<Record<string, string>>;
  /** PeerAuthentications that decided the mode, `namespace/name`. */
  readonly policies: readonly string[];
  readonly strict: boolean;
}

export interface NamespaceRow {
  readonly namespace: string;
  /** How the namespace joins the mesh: `istio-injection=enabled`, `istio.io/rev=canary`, `ambient`, or `not enrolled`. */
  readonly enrolment: string;
  readonly workloads: number;
  readonly meshed: number;
  readonly strict: number;
  readonly coveragePercent: number;
  readonly findings: number;
}

export type ExemptionStatus = 'active' | 'expiring' | 'expired';

export interface ExemptionRow {
  readonly index: number;
  readonly namespace: string;
  readonly kind?: string;
  readonly name?: string;
  readonly rules?: readonly string[];
  readonly reason: string;
  readonly owner?: string;
  readonly expires?: string;
  readonly status: ExemptionStatus;
  /** Violations the exemption lifted in this audit. */
  readonly used: number;
}

export interface DestinationRuleRow {
  readonly namespace: string;
  readonly name: string;
  readonly host: string;
  readonly rule: string;
  readonly message: string;
}

export interface AuditSummary {
  readonly workloads: number;
  readonly meshed: number;
  readonly strict: number;
  /** Share of workloads whose every port is effectively STRICT, in percent (one decimal). */
  readonly coveragePercent: number;
  readonly meshedPercent: number;
  readonly pods: number;
  readonly namespaces: number;
  readonly findings: { readonly error: number; readonly warning: number; readonly total: number };
}

export interface AuditReport {
  readonly apiVersion: 'meshlock.dev/v1alpha1';
  readonly kind: 'AuditReport';
  readonly generatedAt: string;
  readonly tool: { readonly name: 'meshlock'; readonly version: string };
  readonly source: {
    readonly type: 'cluster' | 'file';
    readonly name: string;
    readonly namespaces?: readonly string[];
  };
  readonly config: {
    readonly mode: string;
    readonly dataplane: string;
    readonly rootNamespace: string;
    readonly mesh?: 'istio' | 'linkerd';
    readonly linkerd?: {
      readonly controlPlaneNamespace: string;
      readonly defaultInboundPolicy: string;
      readonly defaultFrom: string;
      readonly version?: string;
    };
  };
  /** PASS when no error-severity finding stands outside an active exemption. */
  readonly verdict: { readonly result: 'PASS' | 'FAIL'; readonly errors: number; readonly summary: string };
  /** What was audited, for the record: the cluster, its Istio control planes, the tool and the time. */
  readonly identity: {
    readonly context?: string;
    readonly server?: string;
    readonly source: string;
    readonly istio: readonly { readonly revision: string; readonly version?: string }[];
    readonly meshlockVersion: string;
    readonly generatedAt: string;
  };
  readonly summary: AuditSummary;
  readonly namespaces: readonly NamespaceRow[];
  readonly workloads: readonly WorkloadRow[];
  /** One per root cause, outside active exemptions. */
  readonly findings: readonly ReportFinding[];
  readonly destinationRules: readonly DestinationRuleRow[];
  readonly exemptions: readonly ExemptionRow[];
  /** What exemptions lifted in this audit (engine violations and workload findings), for the record. */
  readonly exempted: readonly ExemptedFinding[];
  readonly revisions: {
    readonly served: readonly string[];
    readonly unserved: readonly { namespace: string; revision: string }[];
  };
  /** Installation checks ran (live cluster only). */
  readonly installation?: { readonly checked: boolean; readonly notes: readonly string[] };
  readonly controls: readonly {
    id: ControlId;
    framework: string;
    title: string;
    rules: readonly string[];
    findings: number;
  }[];
}
