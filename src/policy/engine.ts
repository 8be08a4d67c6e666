// The engine: the only place a policy decision is made. Pure: (input, config, clock) in, decision out.
import type { CompiledExemption } from '../config/resolve.js';
import { checkDestinationRule } from './destination-rule.js';
import { denialMessage, warningText } from './messages.js';
import { checkNamespace, mutateNamespace } from './namespace.js';
import { field, isObj, show } from './object.js';
import { checkPeerAuthentication } from './peer-authentication.js';
import { checkPodLike, locateTemplate, mutatePodLike, POD_TEMPLATE_PATHS } from './pod.js';
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

export type Family = 'peer-authentication' | 'destination-rule' | 'namespace' | 'pod';

/** Which rule family an object belongs to, by API group and kind; undefined when meshlock has no rule for it. */
export function familyOf(group: string, kind: string): Family | undefined {
  if (group === 'security.istio.io' && kind === 'PeerAuthentication') return 'peer-authentication';
  if (group === 'networking.istio.io' && kind === 'DestinationRule') return 'destination-rule';
  if (group === '' && kind === 'Namespace') return 'namespace';
  if (Object.hasOwn(POD_TEMPLATE_PATHS, `${group}/${kind}`)) return 'pod';
  return undefined;
}

function target(input: EngineInput): { namespace: string; kind: string; name: string } {
  return { namespace: input.namespace, kind: input.kind, name: input.name };
}

/** The object is readable enough to run rules on: an object with object metadata (or a DELETE). */
function structural(input: EngineInput): Violation | undefined {
  if (input.operation === 'DELETE' || input.operation === 'CONNECT') return undefined;
  const o = input.object;
  if (!isObj(o)) {
    return { rule: 'malformed-object', severity: 'error', message: `the ${input.operation} request carries ${show(o)} instead of an object`, fix: 'send the object' };
  }
  const meta = field(o, 'metadata');
  if (meta !== undefined && !isObj(meta)) {
    return { rule: 'malformed-object', severity: 'error', path: '/metadata', message: 'metadata is not an object', fix: 'write metadata as an object' };
  }
  return undefined;
}

/** Raw violations of every rule for the object, before exemptions and modes. */
export function violationsOf(input: EngineInput, ctx: EngineContext): Violation[] {
  const family = familyOf(input.group, input.kind);
  if (family === undefined) return [];
  const broken = structural(input);
  if (broken) return [broken];
  // System namespaces are out of scope for namespaces and pods; PeerAuthentication and
  // DestinationRule rules apply in every namespace, the root namespace included.
  const inScope = !isSystemNamespace(ctx.config, input.namespace);
  switch (family) {
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
      return checkPodLike(located.template);
    }
  }
}

/** Applies exemptions and modes to raw violations: what is enforced, warned, or only recorded. */
export function judge(input: EngineInput, ctx: EngineContext, violations: readonly Violation[]): ValidationResult {
  const now = ctx.now.getTime();
  const findings: Finding[] = [];
  const exempted: ExemptedViolation[] = [];
  const t = target(input);
  for (const v of violations) {
    const matches = ctx.config.exemptionsFor(v.rule, t, now);
    const active = matches.find((m) => !m.expired);
    if (active) {
      exempted.push({ ...v, exemption: active.exemption });
      continue;
    }
    const mode = ctx.config.modeFor(v.rule, input.namespace);
    const expired = matches[0]?.exemption;
    findings.push({
      ...v,
      mode,
      // Warning-severity rules never deny.
      denies: mode === 'enforce' && v.severity === 'error',
      ...(expired ? { expiredExemption: expired } : {}),
    });
  }
  const denied = findings.filter((f) => f.denies);
  const warnings = findings
    .filter((f) => !f.denies && f.mode !== 'dry-run')
    .map(warningText);
  const allowed = denied.length === 0;
  return {
    allowed,
    findings,
    exempted,
    warnings,
    ...(allowed ? {} : { message: denialMessage(input.kind, input.namespace, input.name, denied) }),
  };
}

/** The validating decision. */
export function validate(input: EngineInput, ctx: EngineContext): ValidationResult {
  return judge(input, ctx, violationsOf(input, ctx));
}

/** The mutating decision: JSON Patch operations of every mutation that applies. */
export function mutate(input: EngineInput, ctx: EngineContext): MutationResult {
  const family = familyOf(input.group, input.kind);
  if (family !== 'namespace' && family !== 'pod') return { patch: [], mutations: [], exempted: [] };
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return { patch: [], mutations: [], exempted: [] };
  if (!isObj(input.object) || isSystemNamespace(ctx.config, input.namespace)) return { patch: [], mutations: [], exempted: [] };
  let id: MutationId;
  let ops: PatchOp[];
  if (family === 'namespace') {
    id = 'ns-injection-label';
    ops = mutateNamespace(input, ctx);
  } else {
    id = 'pod-injection-label';
    const located = locateTemplate(input);
    ops = located?.ok ? mutatePodLike(input, ctx, located.template) : [];
  }
  if (ops.length === 0) return { patch: [], mutations: [], exempted: [] };
  const exemption: CompiledExemption | undefined = ctx.config.activeExemption(id, target(input), ctx.now.getTime());
  if (exemption) return { patch: [], mutations: [], exempted: [{ id, exemption }] };
  const mode = ctx.config.modeFor(id, input.namespace);
  // dry-run: no patch is applied; the would-be patch is recorded for logs, metrics and reports.
  const applied = mode !== 'dry-run';
  const outcome: MutationOutcome = { id, mode, ops, applied };
  return { patch: applied ? ops : [], mutations: [outcome], exempted: [] };
}
