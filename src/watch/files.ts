// Noticing that files changed. A ConfigMap or Secret mounted in a pod is updated by swapping a
// `..data` symlink in its directory, so watching the file itself misses the change: the directory is
// watched, and the files are also polled because fs.watch is not reliable on every filesystem
// (network volumes, some container runtimes). Used for the config file and the serving certificate.
import { createHash } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface FileWatchOptions {
  /** Polling interval in ms, the fallback for missed fs events. Default 10 s. */
  readonly intervalMs?: number;
  /** Quiet time after an fs event before the files are read, so a multi-step swap settles. Default 100 ms. */
  readonly debounceMs?: number;
}

export interface Watcher {
  close(): void;
}

function fingerprint(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    try {
      h.update(readFileSync(f));
    } catch (err) {
      h.update(`\u0000missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    h.update('\u0000');
  }
  return h.digest('hex');
}

/**
 * Calls `onChange` whenever the content of any of `files` differs from what it was at the previous
 * call (or at start). Content, not mtime: a symlink swap can keep mtimes, and a touch changes nothing.
 */
export function watchFiles(files: readonly string[], onChange: () => void, opts: FileWatchOptions = {}): Watcher {
  const paths = files.map((f) => resolve(f));
  let last = fingerprint(paths);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    if (closed) return;
    const now = fingerprint(paths);
    if (now === last) return;
    last = now;
    onChange();
  };
  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      check();
    }, opts.debounceMs ?? 100);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      // A watched directory that disappears (volume remount) leaves polling in charge.
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // Not watchable here: polling alone.
    }
  }
  const poll = setInterval(check, opts.intervalMs ?? 10_000);
  poll.unref();
  return {
    close(): void {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
