// Reloading the config when its file changes, on top of the generic file watcher (watch/files.ts):
// a changed file is read until it settles, validated, and handed over; an invalid one is reported
// and the running config stays.
import { ConfigError, configFromFileText, readConfigText } from './load.js';
import type { ResolvedConfig } from './resolve.js';
import { watchFiles, type FileWatchOptions, type Watcher } from '../watch/files.js';

export type { FileWatchOptions, Watcher };

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
export async function readSettled(
  file: string,
  opts: StableReadOptions = {},
): Promise<{ text: string; reads: number }> {
  const settleMs = opts.settleMs ?? 200;
  const maxReads = opts.maxReads ?? 25;
  let previous = readConfigText(file);
  for (let reads = 2; reads <= maxReads; reads++) {
    await new Promise((r) => setTimeout(r, settleMs));
    const text = readConfigText(file);
    if (text === previous) return { text, reads };
    previous = text;
  }
  throw new ConfigError(file, [
    { path: '/', message: `the file kept changing over ${maxReads} reads ${settleMs} ms apart; not applied` },
  ]);
}

/**
 * Reloads `file` when it changes: once two reads agree (readSettled), the text is validated and
 * handed over; meanwhile, and when it is invalid, the caller keeps its current config.
 */
export function watchConfig(
  file: string,
  handlers: ConfigWatchHandlers,
  opts: FileWatchOptions & StableReadOptions = {},
): Watcher {
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
          if (!closed)
            handlers.onInvalid(
              err instanceof ConfigError ? err : new ConfigError(file, [{ path: '/', message: String(err) }]),
            );
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
