// Writing certificate material to disk. Each file is replaced atomically (write a sibling, then
// rename) so a server watching the directory never reads half a PEM; private keys are 0600 from
// the moment they exist, never chmod-ed after the fact.
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

export function writeAtomic(file: string, content: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  // The umask may have narrowed the mode of a new file; make it exactly what was asked.
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

export function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Narrows a key file that someone left readable by others back to 0600. */
export function tightenKeyMode(file: string): void {
  if ((statSync(file).mode & 0o777) !== KEY_MODE) chmodSync(file, KEY_MODE);
}
