// Noticing that files changed and reloading the config from them. A ConfigMap or Secret mounted in a
// pod is updated by swapping a `..data` symlink in its directory, so watching the file itself misses
// the change: the directory is watched, and the files are also polled because fs.watch is not
// reliable on every filesystem (network volumes, some container runtimes).
import { createHash } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, configFromFileText, readConfigText } from './load.js';
import type { ResolvedConfig } from './resolve.js';

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

export interface ConfigWatchHandlers {
  /** A changed file that is valid: the new config to serve with. */
  readonly onReload: (config: ResolvedConfig) => void;
  /** A changed file that is invalid (every issue with its path): the running config stays. */
  readonly onInvalid: (error: ConfigError) => void;
}

export interface StableReadOptions {
  /** Time between two reads of the file. Default 200 ms. */
  readonly settleMs?: number;
  /** Reads before giving up on a file that keeps changing. Default 25 (5 s). */
  readonly maxReads?: number;
}

/**
 * Reads `file` until two reads `settleMs` apart give the same text, and returns it; a writer still
 * at work (an editor saving in pieces, a copy in progress) is waited for instead of applied half
 * done. Throws ConfigError when the file cannot be read or does not settle within `maxReads`.
 */
export async function readSettled(file: string, opts: StableReadOptions = {}): Promise<{ text: string; reads: number }> {
  const settleMs = opts.settleMs ?? 200;
  const maxReads = opts.maxReads ?? 25;
  let previous = readConfigText(file);
  for (let reads = 2; reads <= maxReads; reads++) {
    await new Promise((r) => setTimeout(r, settleMs));
    const text = readConfigText(file);
    if (text === previous) return { text, reads };
    previous = text;
  }
  throw new ConfigError(file, [{ path: '/', message: `the file kept changing over ${maxReads} reads ${settleMs} ms apart; not applied` }]);
}

/**
 * Reloads `file` when it changes: once two reads agree (readSettled), the text is validated and
 * handed over; meanwhile, and when it is invalid, the caller keeps its current config.
 */
export function watchConfig(file: string, handlers: ConfigWatchHandlers, opts: FileWatchOptions & StableReadOptions = {}): Watcher {
  let closed = false;
  let running = false;
  let again = false;
  const reload = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let config: ResolvedConfig;
        try {
          const { text } = await readSettled(file, opts);
          config = configFromFileText(text, file);
        } catch (err) {
          if (!closed) handlers.onInvalid(err instanceof ConfigError ? err : new ConfigError(file, [{ path: '/', message: String(err) }]));
          continue;
        }
        if (!closed) handlers.onReload(config);
      } while (again && !closed);
    } finally {
      running = false;
    }
  };
  const watcher = watchFiles([file], () => void reload(), opts);
  return {
    close(): void {
      closed = true;
      watcher.close();
    },
  };
}
