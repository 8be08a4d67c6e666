// One AdmissionReview in, one out: the single code path behind the server's /validate and /mutate
// and `meshlock review`, so the command answers exactly as the webhook would.
import { mutate, validate, type EngineContext, type PatchOp } from '../policy/index.js';
import { decodeReview } from './decode.js';
import { inputFromRequest } from './input.js';
import { failureResponse, mutateDecision, mutateResponse, validateDecision, validateResponse } from './respond.js';
import type { AdmissionReviewResponse, AdmissionResponse } from './schema.js';

export type Webhook = 'validate' | 'mutate';

/** What the server logs and counts about one decision. Never the object's contents. */
export interface DecisionRecord {
  readonly webhook: Webhook;
  readonly uid: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  /** validate: allowed | warned | denied | error; mutate: patched | allowed | error. */
  readonly decision: string;
  /** Rule ids found (validate) or mutation ids wanted (mutate). */
  readonly rules: readonly string[];
  /** Mode per rule, `rule=mode`, aligned with `rules`. */
  readonly modes: readonly string[];
  readonly dryRun: boolean;
  /** `preExisting`: an UPDATE kept this violation from oldObject (ratcheting), so it did not deny. */
  readonly findings: readonly { readonly rule: string; readonly mode: string; readonly preExisting?: boolean }[];
  readonly mutations: readonly { readonly id: string; readonly mode: string; readonly applied: boolean }[];
  /** dry-run: the patch operations meshlock would have returned (POLICY.md: the would-be patch is logged). */
  readonly wouldPatch?: readonly PatchOp[];
  /** Set when the review could not be evaluated. */
  readonly error?: string;
}

export interface Admitted {
  readonly review: AdmissionReviewResponse;
  readonly record: DecisionRecord;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Decides one review. Throws MeshlockHttpError when the body is not an AdmissionReview with a uid
 * (no response can be addressed); every other problem is answered, failing closed on /validate.
 */
export function admit(webhook: Webhook, body: unknown, ctx: EngineContext): Admitted {
  const decoded = decodeReview(body);
  if (!decoded.ok) {
    const { apiVersion, request } = decoded.envelope;
    const message = `meshlock cannot read this AdmissionReview: ${decoded.problem}`;
    return {
      review: wrap(apiVersion, failureResponse(request.uid, webhook, 400, message)),
      record: failureRecord(webhook, request.uid, decoded.problem),
    };
  }
  const { apiVersion, request } = decoded.review;
  const input = inputFromRequest(request);
  const base = {
    webhook,
    uid: request.uid,
    kind: input.kind,
    namespace: input.namespace,
    name: input.name,
    operation: input.operation,
    dryRun: request.dryRun === true,
  };
  try {
    if (webhook === 'validate') {
      const result = validate(input, ctx);
      const findings = result.findings.map((f) => ({
        rule: f.rule,
        mode: f.mode,
        preExisting: f.preExisting === true,
      }));
      return {
        review: wrap(apiVersion, validateResponse(request.uid, result)),
        record: {
          ...base,
          decision: validateDecision(result),
          rules: findings.map((f) => f.rule),
          modes: findings.map((f) => f.mode),
          findings,
          mutations: NONE,
        },
      };
    }
    const result = mutate(input, ctx);
    const mutations = result.mutations.map((m) => ({ id: m.id, mode: m.mode, applied: m.applied }));
    const wouldPatch = result.mutations.filter((m) => !m.applied).flatMap((m) => m.ops);
    return {
      review: wrap(apiVersion, mutateResponse(request.uid, result)),
      record: {
        ...base,
        decision: mutateDecision(result),
        rules: mutations.map((m) => m.id),
        modes: mutations.map((m) => m.mode),
        findings: NONE,
        mutations,
        ...(wouldPatch.length > 0 ? { wouldPatch } : {}),
      },
    };
  } catch (err) {
    // The engine is meant never to throw; if it does, the request is refused rather than let through.
    const reason = err instanceof Error ? err.message : String(err);
    const message = `meshlock could not evaluate ${input.kind} ${input.namespace}/${input.name}: ${reason}`;
    return {
      review: wrap(apiVersion, failureResponse(request.uid, webhook, 500, message)),
      record: { ...base, decision: 'error', rules: NONE, modes: NONE, findings: NONE, mutations: NONE, error: reason },
    };
  }
}

function wrap(apiVersion: AdmissionReviewResponse['apiVersion'], response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: 'AdmissionReview', response };
}

function failureRecord(webhook: Webhook, uid: string, problem: string): DecisionRecord {
  return {
    webhook,
    uid,
    kind: '',
    namespace: '',
    name: '',
    operation: '',
    decision: 'error',
    rules: NONE,
    modes: NONE,
    dryRun: false,
    findings: NONE,
    mutations: NONE,
    error: problem,
  };
}
