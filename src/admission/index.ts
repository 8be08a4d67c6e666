export * from './errors.js';
export * from './schema.js';
export { parseJsonBody } from './parse.js';
export { decodeReview, describeSchemaErrors, type Decoded } from './decode.js';
export { inputFromRequest } from './input.js';
export { AUDIT_KEYS, encodePatch, failureResponse, mutateResponse, validateResponse } from './respond.js';
export { admit, type Admitted, type DecisionRecord, type Webhook } from './review.js';
