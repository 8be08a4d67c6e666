// The errors meshlock's admission path and server answer over HTTP: each catalogue code of
// src/errors.ts with its status code and message. Clients and tests match on `code`, never on wording.
import { MeshlockError, type ErrorCode } from '../errors.js';

export interface ErrorSpec {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly message: string;
}

function spec(code: ErrorCode, statusCode: number, message: string): ErrorSpec {
  return Object.freeze({ code, statusCode, message });
}

export const ERRORS = Object.freeze({
  INVALID_JSON: spec('MESHLOCK_ERR_INVALID_JSON', 400, 'the request body is not valid JSON: %s'),
  EMPTY_BODY: spec('MESHLOCK_ERR_EMPTY_BODY', 400, 'the request body is empty: send an AdmissionReview'),
  NOT_A_REVIEW: spec(
    'MESHLOCK_ERR_NOT_A_REVIEW',
    400,
    'the body is not an AdmissionReview (admission.k8s.io/v1 or v1beta1): %s',
  ),
  MISSING_UID: spec(
    'MESHLOCK_ERR_MISSING_UID',
    400,
    'the AdmissionReview has no request.uid, so no response can name it',
  ),
  BODY_TOO_LARGE: spec('MESHLOCK_ERR_BODY_TOO_LARGE', 413, 'the request body exceeds %s bytes'),
  NOT_FOUND: spec(
    'MESHLOCK_ERR_NOT_FOUND',
    404,
    'no route %s: meshlock serves POST /validate, POST /mutate, GET /healthz, GET /readyz',
  ),
  TIMEOUT: spec('MESHLOCK_ERR_TIMEOUT', 408, 'the request was not received in time'),
  BUSY: spec(
    'MESHLOCK_ERR_BUSY',
    503,
    'meshlock is reading as many request bodies as its memory allows: retry shortly',
  ),
  INTERNAL: spec('MESHLOCK_ERR_INTERNAL', 500, 'internal error: %s'),
});

export type ErrorName = keyof typeof ERRORS;

/** An error that becomes an HTTP answer `{ statusCode, code, error, message }`. */
export class MeshlockHttpError extends MeshlockError {
  readonly statusCode: number;
  constructor(name: ErrorName, ...args: string[]) {
    const s = ERRORS[name];
    let i = 0;
    super(
      s.code,
      s.message.replace(/%s/g, () => args[i++] ?? ''),
    );
    this.statusCode = s.statusCode;
  }

  toJSON(): { statusCode: number; code: string; error: string; message: string } {
    return { statusCode: this.statusCode, code: this.code, error: httpReason(this.statusCode), message: this.message };
  }
}

function httpReason(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 404:
      return 'Not Found';
    case 408:
      return 'Request Timeout';
    case 413:
      return 'Payload Too Large';
    case 503:
      return 'Service Unavailable';
    default:
      return 'Internal Server Error';
  }
}
