// Citations of Istio's source in the vocabulary tests: each table row names the file, line and text
// of the Istio code that decides it. With ISTIO_SOURCE set to a git directory of istio/istio (a bare
// clone is enough), every citation is checked against that source: the cited line must hold the
// cited text at the cited tag or commit. Without it the check is skipped, saying so.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Cite {
  /** A tag (`1.27.0`) or a full commit of istio/istio. */
  readonly ref: string;
  readonly file: string;
  readonly line: number;
  /** Text the line holds (a substring, whitespace as in the source). */
  readonly text: string;
}

export const ISTIO_1_27 = '1.27.0';
/** istio/istio main as of 2026-08-22, after the hostNetwork filter returned to the ambient enablement selector. */
export const ISTIO_MAIN = '86c9f01fd735fb01d8192f5bcaf0d424afb7f14c';

export const cite = (ref: string, file: string, line: number, text: string): Cite => ({ ref, file, line, text });

export function istioSource(): { dir?: string; why?: string } {
  const dir = process.env['ISTIO_SOURCE'];
  if (!dir)
    return {
      why: 'ISTIO_SOURCE is not set (a git directory of istio/istio): citations of Istio lines are not checked',
    };
  if (!existsSync(dir)) return { why: `ISTIO_SOURCE=${dir} does not exist` };
  return { dir };
}

const cache = new Map<string, string[]>();

/** The cited line's text, or an error saying what differs. */
export function checkCite(dir: string, c: Cite): string | undefined {
  const key = `${c.ref}:${c.file}`;
  let lines = cache.get(key);
  if (!lines) {
    try {
      lines = execFileSync('git', ['--git-dir', dir, 'show', key], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      }).split('\n');
    } catch (e) {
      return `cannot read ${key}: ${(e as Error).message.split('\n')[0]}`;
    }
    cache.set(key, lines);
  }
  const got = lines[c.line - 1];
  if (got === undefined) return `${key} has ${lines.length} lines, not ${c.line}`;
  return got.includes(c.text)
    ? undefined
    : `${key}:${c.line} is ${JSON.stringify(got.trim())}, not ${JSON.stringify(c.text)}`;
}
