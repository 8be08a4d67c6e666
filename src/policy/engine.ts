// The engine: the only place a policy decision is made. Pure: (input, config, clock) in, decision out.
import type { CompiledExemption, ExemptionTarget } from '../config/resolve.js';
import { controllerOf } from './owner.js';
import { checkDestinationRule } from './destination-rule.js';
import { denialMessage, warningText } from './messages.js';
import { checkNamespace, mutateNamespace } from './namespace.js';
import { edgePortsFor } from './edges.js';
import { field, isObj, show, stringMap } from './object.js';
import { checkAuthorizationPolicy, checkServer, checkServerAuthorization } from './ld-authorization.js';
import { linkerdNamespaceMutations, linkerdWorkloadMutations } from './ld-mutations.js';
import { checkLinkerdNamespace } from './ld-namespace.js';
import { checkLinkerdPodLike, type EdgePorts } from './ld-pod.js';
import { checkPeerAuthentication } from './peer-authentication.js';
import { workloadMutations } from './mutations.js';
import { applyPatch } from './patch.js';
import { checkPodLike, locateTemplate, POD_TEMPLATE_PATHS } from './pod.js';
import { at, preExisting } from './ratchet.js';
import { isSystemNamespace } from './scope.js';
import type {
  EngineContext,
  EngineInput,
  ExemptedViolation,
  Finding,
  MutationId,
  MutationOutcome,
  MutationResult,
  PatchOp,
  ValidationResult,
  Violation,
} from './types.js';

export type Family =
  | 'peer-authentication'
  | 'destination-rule'
  | 'namespace'
  | 'pod'
  | 'linkerd-server'
  | 'linkerd-server-authorization'
  | 'linkerd-authorization-policy';

/** Which rule family an object belongs to, by API group and kind; undefined when meshlock has no rule for it. */
export function familyOf(group: string, kind: string): Family | undefined {
  if (group === 'security.istio.io' && kind === 'PeerAuthentication') return 'peer-authentication';
  if (group === 'networking.istio.io' && kind === 'DestinationRule') return 'destination-rule';
  if (group === 'policy.linkerd.io' && kind === 'Server') return 'linkerd-server';
  if (group === 'policy.linkerd.io' && kind === 'ServerAuthorization') return 'linkerd-server-authorization';
  if (group === 'policy.linkerd.io' && kind === 'AuthorizationPolicy') return 'linkerd-authorization-policy';
  if (group === '' && kind === 'Namespace') return 'namespace';
  if (Object.hasOwn(POD_TEMPLATE_PATHS, `${group}/${kind}`)) return 'pod';
  return undefined;
}

/**
 * What exemptions are matched against: namespace, kind and name, and the controller owner reference
 * (a workload exemption covers the pods it makes). Never labels or annotations: the requester
 * controls those. An owner reference is written by the requester too, but only within the namespace
 * the exemption names, and the garbage collector deletes a pod whose owner does not exist.
 */
function target(input: EngineInput): ExemptionTarget {
  const owner = controllerOf(isObj(input.object) ? input.object : input.oldObject);
  return {
    namespace: input.namespace,
    kind: input.kind,
    name: input.name,
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
  };
}

/** The object is readable enough to run rules on: an object with object metadata (or a DELETE). */
function structural(input: EngineInput): Violation | undefined {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT') return undefined;
  const o = input.object;
  if (!isObj(o)) {
    return {
      rule: 'malformed-object',
      severity: 'error',
      message: `the ${input.operation} request carries ${show(o)} instead of an object`,
      fix: 'send the object',
    };
  }
  const meta = field(o, 'metadata');
  if (meta !== undefined && !isObj(meta)) {
    return {
      rule: 'malformed-object',
      severity: 'error',
      path: '/metadata',
      message: 'metadata is not an object',
      fix: 'write metadata as an object',
    };
  }
  return undefined;
}

/**
 * Raw violations of every rule for the object, before exemptions and modes. Fails closed: an object
 * the rules cannot read (a field of a type no rule expected) is a malformed-object violation, never
 * an exception that would make the webhook answer with an error instead of a decision.
 */
export function violationsOf(input: EngineInput, ctx: EngineContext): Violation[] {
  const family = familyOf(input.group, input.kind);
  if (family === undefined) return [];
  const broken = structural(input);
  if (broken) return [broken];
  try {
    return familyViolations(input, ctx, family);
  } catch (err) {
    return [
      {
        rule: 'malformed-object',
        severity: 'error',
        message: `meshlock cannot read this ${input.kind}: ${err instanceof Error ? err.message : 'unreadable value'}`,
        fix: 'give every field the type the Kubernetes API gives it (numbers for ids and ports, strings for names and labels)',
      },
    ];
  }
}

function familyViolations(input: EngineInput, ctx: EngineContext, family: Family): Violation[] {
  // System namespaces are out of scope for namespaces and pods; PeerAuthentication and
  // DestinationRule rules apply in every namespace, the root namespace included.
  const inScope = !isSystemNamespace(ctx.config, input.namespace);
  if (ctx.config.mesh === 'linkerd') return linkerdViolationsOf(input, ctx, family, inScope);
  switch (family) {
    case 'linkerd-server':
    case 'linkerd-server-authorization':
    case 'linkerd-authorization-policy':
      return [];
    case 'peer-authentication':
      return checkPeerAuthentication(input, ctx);
    case 'destination-rule':
      return checkDestinationRule(input, ctx);
    case 'namespace':
      return checkNamespace(input, ctx, inScope);
    case 'pod': {
      if (!inScope || input.operation === 'DELETE' || input.operation === 'CONNECT') return [];
      const located = locateTemplate(input);
      if (!located) return [];
      if (!located.ok) return [located.violation];
      const t = located.template;
      const labels = stringMap(t.meta, 'labels');
      const edges =
        ctx.config.edges.length > 0 && labels.ok
          ? edgePortsFor(ctx.config, input.namespace, labels.values, ctx.now.getTime())
          : undefined;
      return checkPodLike(t, edges ? new Set(edges.keys()) : undefined);
    }
  }
}

/**
 * The ports unexpired edges let a Linkerd workload relax (POLICY.md "Edges"). `exact`: the labels are
 * a Server's podSelector.matchLabels, which must equal the edge's selector, as a PeerAuthentication's must.
 */
function linkerdEdges(ctx: EngineContext): EdgePorts {
  return (namespace, labels, exact = false) => {
    if (ctx.config.edges.length === 0) return new Set();
    const ports = edgePortsFor(ctx.config, namespace, labels, ctx.now.getTime());
    return new Set(
      [...ports]
        .filter(([, e]) => !exact || Object.keys(e.source.selector.matchLabels).length === labels.size)
        .map(([p]) => p),
    );
  };
}

/**
 * docs/POLICY-LINKERD.md: with `mesh: linkerd` the Linkerd rules replace the Istio ones. Linkerd's
 * policy objects are judged outside system namespaces only: Linkerd's own control plane serves the
 * apiserver and runs all-unauthenticated by design.
 */
function linkerdViolationsOf(input: EngineInput, ctx: EngineContext, family: Family, inScope: boolean): Violation[] {
  const edges = linkerdEdges(ctx);
  switch (family) {
    case 'peer-authentication':
    case 'destination-rule':
      return [];
    case 'linkerd-server':
      return inScope ? checkServer(input, edges) : [];
    case 'linkerd-server-authorization':
      return inScope ? checkServerAuthorization(input) : [];
    case 'linkerd-authorization-policy':
      return inScope ? checkAuthorizationPolicy(input) : [];
    case 'namespace':
      return checkLinkerdNamespace(input, ctx, inScope);
    case 'pod': {
      if (!inScope || input.operation === 'DELETE' || input.operation === 'CONNECT') return [];
      const located = locateTemplate(input);
      if (!located) return [];
      if (!located.ok) return [located.violation];
      return checkLinkerdPodLike(input, ctx, located.template, edges);
    }
  }
}

/**
 * Applies exemptions and modes to raw violations: what is enforced, warned, or only recorded.
 * `preExisting[i]` marks violations an UPDATE kept from oldObject (ratcheting): they never deny.
 */
export function judge(
  input: EngineInput,
  ctx: EngineContext,
  violations: readonly Violation[],
  preExisting: readonly boolean[] = [],
): ValidationResult {
  const now = ctx.now.getTime();
  const findings: Finding[] = [];
  const exempted: ExemptedViolation[] = [];
  const t = target(input);
  for (const [i, v] of violations.entries()) {
    const matches = ctx.config.exemptionsFor(v.rule, t, now);
    const active = matches.find((m) => !m.expired);
    if (active) {
      exempted.push({ ...v, exemption: active.exemption });
      continue;
    }
    const mode = ctx.config.modeFor(v.rule, input.namespace);
    const expired = matches[0]?.exemption;
    const kept = preExisting[i] === true;
    findings.push({
      ...v,
      mode,
      // Warning-severity rules never deny, nor does a violation the UPDATE did not introduce.
      denies: mode === 'enforce' && v.severity === 'error' && !kept,
      ...(expired ? { expiredExemption: expired } : {}),
      ...(kept ? { preExisting: true } : {}),
    });
  }
  const denied = findings.filter((f) => f.denies);
  const warnings = findings.filter((f) => !f.denies && f.mode !== 'dry-run').map(warningText);
  const allowed = denied.length === 0;
  return {
    allowed,
    findings,
    exempted,
    warnings,
    ...(allowed ? {} : { message: denialMessage(input.kind, input.namespace, input.name, denied) }),
  };
}

/**
 * The validating decision. A CREATE is judged whole; an UPDATE (with `ratchet`, the default) is
 * denied only for what it introduces: oldObject's own violations are computed the same way and
 * those the update keeps, in fields it leaves alone, are allowed with a warning (POLICY.md).
 */
export function validate(input: EngineInput, ctx: EngineContext): ValidationResult {
  const violations = violationsOf(input, ctx);
  if (
    input.operation !== 'UPDATE' ||
    !ctx.config.ratchet ||
    violations.length === 0 ||
    !isObj(input.oldObject) ||
    !isObj(input.object)
  ) {
    return judge(input, ctx, violations);
  }
  const { oldObject, ...rest } = input;
  const before = violationsOf({ ...rest, object: oldObject }, ctx);
  return judge(input, ctx, violations, preExisting(violations, before, oldObject, input.object));
}

/**
 * The mutating decision: JSON Patch operations of every mutation that applies, in order. An object
 * the mutations cannot read is not patched; the validating webhook denies it as malformed-object.
 */
export function mutate(input: EngineInput, ctx: EngineContext): MutationResult {
  try {
    return mutations(input, ctx);
  } catch {
    return NO_MUTATION;
  }
}

function mutations(input: EngineInput, ctx: EngineContext): MutationResult {
  const family = familyOf(input.group, input.kind);
  if (family !== 'namespace' && family !== 'pod') return NO_MUTATION;
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return NO_MUTATION;
  if (!isObj(input.object) || isSystemNamespace(ctx.config, input.namespace)) return NO_MUTATION;
  let wanted: { id: MutationId; ops: (meta: unknown) => PatchOp[] }[];
  let metaPath: string;
  const linkerd = ctx.config.mesh === 'linkerd';
  if (family === 'namespace') {
    wanted = linkerd
      ? linkerdNamespaceMutations(input, ctx)
      : [{ id: 'ns-injection-label', ops: () => mutateNamespace(input, ctx) }];
    metaPath = '/metadata';
  } else {
    const located = locateTemplate(input);
    if (!located?.ok) return NO_MUTATION;
    wanted = linkerd
      ? linkerdWorkloadMutations(input, ctx, located.template)
      : workloadMutations(input, ctx, located.template);
    metaPath = `${located.template.base}/metadata`;
  }
  const t = target(input);
  const patch: PatchOp[] = [];
  const mutations: MutationOutcome[] = [];
  const exempted: { id: MutationId; exemption: CompiledExemption }[] = [];
  // Each mutation sees the metadata as the applied ones before it leave it, so two of them never both
  // add the same missing metadata map. Only the metadata is copied and patched (the mutations read
  // nothing else): copying the whole object for it cost more than the rest of the mutating answer.
  let meta: unknown = at(input.object, metaPath);
  const prefix = `${metaPath}/`;
  // The ops of the last applied mutation, applied to `meta` only when another mutation reads it: the
  // last one's never are (a namespace has one mutation), so a review's maps are not copied for nothing.
  let pending: readonly PatchOp[] = [];
  for (const { id, ops: opsFor } of wanted) {
    if (pending.length > 0) {
      meta = pending.every((op) => op.path.startsWith(prefix))
        ? applyPatch(
            meta,
            pending.map((op) => ({ ...op, path: op.path.slice(metaPath.length) })),
          )
        : at(applyPatch(input.object, patch), metaPath);
      pending = [];
    }
    const ops = opsFor(meta);
    if (ops.length === 0) continue;
    const exemption = ctx.config.activeExemption(id, t, ctx.now.getTime());
    if (exemption) {
      exempted.push({ id, exemption });
      continue;
    }
    const mode = ctx.config.modeFor(id, input.namespace);
    // dry-run: no patch is applied; the would-be patch is recorded for logs, metrics and reports.
    const applied = mode !== 'dry-run';
    mutations.push({ id, mode, ops, applied });
    if (!applied) continue;
    patch.push(...ops);
    pending = ops;
  }
  return patch.length === 0 && mutations.length === 0 && exempted.length === 0
    ? NO_MUTATION
    : { patch, mutations, exempted };
}

const NO_MUTATION: MutationResult = Object.freeze({ patch: [], mutations: [], exempted: [] });
