// The second phase: one row per workload (running pods outside system namespaces, grouped by the top
// of their owner chain) with its mesh membership and effective mTLS, per port. Pure.
import { edgePortsFor, effectiveMtls, isSystemNamespace, weakest, type MtlsMode } from '../policy/index.js';
import { running, type AuditFacts } from './facts.js';
import { labelsOf, namespaceOf, type Inventory, type KObj } from './inventory.js';
import { linkerdPodStatus, weakestMode, type LinkerdFacts, type LinkerdPodStatus } from './linkerd.js';
import type { WorkloadRow } from './model.js';
import { mtlsText } from './phases.js';
import { meshStatus, refKey, workloadOf, type MeshStatus, type WorkloadRef } from './workloads.js';

interface WorkloadAcc {
  ref: WorkloadRef;
  pods: KObj[];
  statuses: MeshStatus[];
  linkerd: LinkerdPodStatus[];
}

export function workloadRows(inv: Inventory, facts: AuditFacts): { workloads: WorkloadRow[]; pods: number } {
  const config = facts.ctx.config;
  const groups = new Map<string, WorkloadAcc>();
  let pods = 0;
  for (const pod of inv.pods) {
    const ns = namespaceOf(pod);
    if (!facts.wanted(ns) || isSystemNamespace(config, ns) || !running(pod)) continue;
    pods++;
    const ref = workloadOf(pod, facts.controllers);
    const key = refKey(ref);
    let acc = groups.get(key);
    if (!acc) groups.set(key, (acc = { ref, pods: [], statuses: [], linkerd: [] }));
    acc.pods.push(pod);
    const f = facts.factsOf(ns);
    if (facts.ld)
      acc.linkerd.push(
        linkerdPodStatus(
          pod,
          { labels: f.labels, annotations: facts.nsAnnotations.get(ns) ?? new Map(), known: f.known },
          facts.ld,
        ),
      );
    else acc.statuses.push(meshStatus(pod, f, facts.served.all));
  }
  const ld = facts.ld;
  const workloads = [...groups.values()].map((acc) => (ld ? linkerdRow(acc, ld) : istioRow(acc, facts)));
  workloads.sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name),
  );
  return { workloads, pods };
}

function linkerdRow(acc: WorkloadAcc, ld: LinkerdFacts): WorkloadRow {
  // The first pod that is not meshed speaks for the workload, else the first pod.
  const status = acc.linkerd.find((s) => !s.meshed) ?? (acc.linkerd[0] as LinkerdPodStatus);
  const ports = status.detail.ports;
  const effective: MtlsMode = status.meshed ? weakestMode(ports) : 'DISABLE';
  const deciders = [
    ...new Set(
      ports.map((p) =>
        p.source === 'server'
          ? `Server ${acc.ref.namespace}/${p.server}`
          : p.source === 'annotation'
            ? `annotation ${p.policy}`
            : p.source === 'cluster-default'
              ? `cluster default ${p.policy}`
              : `iptables skip (${p.skipped})`,
      ),
    ),
  ];
  return {
    namespace: acc.ref.namespace,
    kind: acc.ref.kind,
    name: acc.ref.name,
    pods: acc.pods.length,
    meshed: status.meshed,
    dataplane: status.meshed ? 'sidecar' : 'none',
    ...(status.reason ? { reason: status.reason } : {}),
    linkerd: status.detail,
    effectiveMtls: effective,
    policyMtls: effective,
    // Ports the pod does not declare get the proxy's default (its env, baked in at injection).
    defaultMtls:
      ld.cluster.defaultPolicy.endsWith('-authenticated') || ld.cluster.defaultPolicy === 'deny'
        ? 'STRICT'
        : 'PERMISSIVE',
    ports: Object.fromEntries(ports.map((p) => [String(p.port), p.mode])),
    mtls: status.meshed
      ? ports.length === 0
        ? 'no declared port'
        : ports
            .map(
              (p) =>
                `port ${p.port}: ${p.mode}${p.source === 'iptables-skip' ? ' (skipped by iptables)' : p.plaintext.length > 0 ? ` (plaintext via ${p.plaintext.join(', ')})` : ''}`,
            )
            .join('; ')
      : `no mTLS: not meshed (${status.reason ?? 'no proxy'})`,
    policies: deciders,
    strict: status.meshed && effective === 'STRICT',
  };
}

function istioRow(acc: WorkloadAcc, facts: AuditFacts): WorkloadRow {
  const config = facts.ctx.config;
  const labels = labelsOf(acc.pods[0] as KObj);
  const policy = effectiveMtls(facts.policies, acc.ref.namespace, labels);
  // POLICY.md "Edges": a port an unexpired edge names may be PERMISSIVE for the workloads it
  // selects. It is shown as such and not counted as a strictness failure; every other port is.
  const edgePorts =
    config.edges.length > 0
      ? edgePortsFor(config, acc.ref.namespace, new Map(Object.entries(labels)), facts.now)
      : undefined;
  const edges: Record<string, string> = {};
  for (const [port, m] of Object.entries(policy.ports)) {
    const e = edgePorts?.get(Number(port));
    if (e && m === 'PERMISSIVE') edges[port] = e.source.reason;
  }
  const hasEdges = Object.keys(edges).length > 0;
  const judged = weakest([
    policy.mode,
    ...Object.entries(policy.ports)
      .filter(([port]) => !Object.hasOwn(edges, port))
      .map(([, m]) => m),
  ]);
  const notMeshed = acc.statuses.find((s) => !s.meshed);
  const meshed = notMeshed === undefined;
  return {
    namespace: acc.ref.namespace,
    kind: acc.ref.kind,
    name: acc.ref.name,
    pods: acc.pods.length,
    meshed,
    dataplane: meshed ? (acc.statuses.some((s) => s.dataplane === 'sidecar') ? 'sidecar' : 'ambient') : 'none',
    ...(notMeshed?.reason ? { reason: notMeshed.reason } : {}),
    istio: (notMeshed ?? (acc.statuses[0] as MeshStatus)).istio,
    // Without a proxy nothing enforces the policy: the workload accepts plaintext.
    effectiveMtls: meshed ? judged : 'DISABLE',
    policyMtls: policy.weakest,
    defaultMtls: policy.mode,
    ports: policy.ports,
    ...(hasEdges ? { edges } : {}),
    mtls: mtlsText({
      meshed,
      ...(notMeshed?.reason ? { reason: notMeshed.reason } : {}),
      defaultMtls: policy.mode,
      ports: policy.ports,
      ...(hasEdges ? { edges } : {}),
    }),
    policies: policy.from,
    strict: meshed && judged === 'STRICT',
  };
}
