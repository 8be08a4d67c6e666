import { readFileSync } from 'node:fs';

// package.json sits two levels above this file both in src/audit/ and in dist/audit/.
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
