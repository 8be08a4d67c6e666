// Reading an AdmissionReview body. Validators are compiled once at module load, never per request
// (STYLE.md §6). Three outcomes: not a review at all (HTTP 400: no uid to answer to), a review whose
// request meshlock cannot read (answered, and denied on /validate: fail closed), or a good review.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { MeshlockHttpError } from './errors.js';
import { AdmissionReviewSchema, EnvelopeSchema, type AdmissionReview, type Envelope } from './schema.js';

const ajv = new Ajv({ allErrors: false, strict: true });
const validateEnvelope: ValidateFunction<Envelope> = ajv.compile<Envelope>(EnvelopeSchema);
const validateReview: ValidateFunction<AdmissionReview> = ajv.compile<AdmissionReview>(AdmissionReviewSchema);

export type Decoded =
  | { readonly ok: true; readonly review: AdmissionReview }
  | { readonly ok: false; readonly envelope: Envelope; readonly problem: string };

/** One readable line per schema error: `/request/operation: must be equal to one of the allowed values`. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the schema';
  return errors
    .slice(0, 3)
    .map((e) => {
      const where = e.instancePath === '' ? '/' : e.instancePath;
      if (e.keyword === 'required') return `${where}: missing "${String(e.params['missingProperty'])}"`;
      if (e.keyword === 'const') return `${where}: must be ${JSON.stringify(e.params['allowedValue'])}`;
      return `${where}: ${e.message ?? e.keyword}`;
    })
    .join('; ');
}

function uidOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const req = (body as Record<string, unknown>)['request'];
  if (typeof req !== 'object' || req === null) return undefined;
  return (req as Record<string, unknown>)['uid'];
}

/**
 * Throws MeshlockHttpError (400) when no AdmissionReview response can be written for the body;
 * otherwise returns the review, or the envelope and what is wrong with its request.
 */
export function decodeReview(body: unknown): Decoded {
  if (body === undefined || body === null || body === '') throw new MeshlockHttpError('EMPTY_BODY');
  // A good review passes the full schema, which implies the envelope's: one validation on the usual path.
  if (validateReview(body)) return { ok: true, review: body };
  if (!validateEnvelope(body)) {
    const uid = uidOf(body);
    if (typeof uid !== 'string' || uid === '') {
      // Only say "no uid" when the rest looks like a review; otherwise name the first problem.
      const looksLikeReview =
        typeof body === 'object' && (body as Record<string, unknown>)['kind'] === 'AdmissionReview';
      if (looksLikeReview) throw new MeshlockHttpError('MISSING_UID');
    }
    throw new MeshlockHttpError('NOT_A_REVIEW', describeSchemaErrors(validateEnvelope.errors));
  }
  return { ok: false, envelope: body, problem: describeSchemaErrors(validateReview.errors) };
}
