export { ensureDevCertificates, type DevCertificateOptions } from './dev.js';
export { ensureCertificates, writeServing, type EnsureOptions, type EnsureResult } from './issue.js';
export {
  createCertificateAuthority,
  issueServingCertificate,
  parseCertificates,
  servingProblem,
  caProblem,
  remainingMs,
  type KeyAndCertificate,
  type Wanted,
} from './pki.js';
export { pathsIn, type CertificatePaths } from './layout.js';
export { writeAtomic, readIfExists, KEY_MODE, CERT_MODE } from './files.js';
export { serviceNames } from './names.js';
export {
  bootstrapCertificates,
  bootstrapWith,
  BootstrapError,
  type BootstrapOptions,
  type BootstrapResult,
  type BootstrapDeps,
} from './bootstrap.js';
export { renewCertificates, RenewError, type RenewOptions, type RenewResult } from './renew.js';
export {
  selfManageCertificates,
  RENEW_CHECK_MS,
  type SelfManageOptions,
  type SelfManagedCertificates,
} from './self-manage.js';
