export * from './names.js';
export * from './selectors.js';
export * from './enrolment.js';
export * from './injection.js';
export * from './ambient.js';
export * from './membership.js';
export * from './peer-authentication.js';
export * from './hosts.js';
