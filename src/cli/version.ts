import { readFileSync } from 'node:fs';

// package.json sits one level above dist/ (and above src/ when run from sources).
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
