// The one model of Linkerd 2: injection, enrolment, meshing, traffic redirection and inbound
// policy. Rules, mutations, `check` and `audit` ask it; nothing else re-derives a Linkerd fact.
export * from './names.js';
export * from './parse.js';
export * from './injection.js';
export * from './mesh.js';
export * from './iptables.js';
export * from './selectors.js';
export * from './authorizations.js';
export * from './inbound.js';
export { asMap, type AnnotationsLike } from './read.js';
