// meshlock's version, read from package.json by the audit (which stamps it on every report).
export { VERSION } from '../audit/version.js';
