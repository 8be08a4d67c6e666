// Every error meshlock raises, by stable code: one catalogue and one base class for every layer.
// Callers, tests and logs match on `code`, never on wording (as fastify's lib/errors.js does). Each
// layer's error class extends MeshlockError with its code; this file imports nothing.

export const ERROR_CODES = {
  // Configuration and input
  MESHLOCK_ERR_CONFIG: 'the config file is unreadable or invalid',
  MESHLOCK_ERR_AUDIT_INPUT: 'nothing to audit: no objects, no cluster, or an unreadable --deploy',
  MESHLOCK_ERR_PATCH: 'a JSON Patch does not apply to the object',
  // Admission requests (answered over HTTP with a status code: admission/errors.ts)
  MESHLOCK_ERR_INVALID_JSON: 'the request body is not valid JSON',
  MESHLOCK_ERR_EMPTY_BODY: 'the request body is empty',
  MESHLOCK_ERR_NOT_A_REVIEW: 'the body is not an AdmissionReview',
  MESHLOCK_ERR_MISSING_UID: 'the AdmissionReview has no request.uid',
  MESHLOCK_ERR_BODY_TOO_LARGE: 'the request body is too large',
  MESHLOCK_ERR_NOT_FOUND: 'no such route',
  MESHLOCK_ERR_TIMEOUT: 'the request was not received in time',
  MESHLOCK_ERR_BUSY: 'too many request bodies in flight',
  MESHLOCK_ERR_INTERNAL: 'internal error',
  // Certificates
  MESHLOCK_ERR_CERTIFICATE: 'the serving certificate or key is unusable',
  MESHLOCK_ERR_CERT_BOOTSTRAP: 'the certificates could not be created or shared through the Secret',
  MESHLOCK_ERR_CERT_RENEW: 'the certificates could not be renewed',
  // The cluster
  MESHLOCK_ERR_KUBECONFIG: 'no usable kubeconfig',
  MESHLOCK_ERR_KUBE_API: 'the Kubernetes API answered with an error',
  MESHLOCK_ERR_SECRET_CONFLICT: 'another writer created the Secret first',
  MESHLOCK_ERR_SECRET_ACCESS: 'the Secret cannot be read or written',
  MESHLOCK_ERR_WEBHOOK_CONFIGURATION: "meshlock's webhook configuration is missing or cannot be patched",
  MESHLOCK_ERR_WATCH_EXPIRED: 'a watch fell behind the apiserver history (410 Gone): list again',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MeshlockError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
