// Where the decision log goes: stdout, in batches. One write per decision line cost more CPU than the
// policy itself, and sonic-boom's own batching (minLength) re-measures its growing buffer on every
// line; here a line costs an array push, and a batch becomes one string handed to sonic-boom, which
// does the writing (partial writes, EAGAIN on a full pipe, the synchronous flush at exit).
import { pino } from 'pino';

/** What the destination writes to: sonic-boom's interface, narrowed to what is used. */
export interface LogSink {
  write(text: string): boolean;
  flushSync(): void;
}

export interface BatchedDestinationOptions {
  /** A batch is handed on when it holds this many characters. Default 16 KiB. */
  readonly batchChars?: number;
  /** ...and at least this often, so a quiet server's lines are not held back. Default 250 ms. */
  readonly intervalMs?: number;
}

export class BatchedDestination {
  private lines: string[] = [];
  private chars = 0;
  private readonly batchChars: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sink: LogSink,
    opts: BatchedDestinationOptions = {},
  ) {
    this.batchChars = opts.batchChars ?? 16 * 1024;
    this.timer = setInterval(() => this.flush(), opts.intervalMs ?? 250);
    this.timer.unref();
  }

  /** pino calls this with one complete line (ending in a newline). */
  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= this.batchChars) this.flush();
    return true;
  }

  /** Hands the lines held so far to the sink (which writes asynchronously). */
  flush(cb?: (err?: Error) => void): void {
    if (this.lines.length > 0) {
      const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
      this.lines = [];
      this.chars = 0;
      this.sink.write(text);
    }
    cb?.();
  }

  /** Writes everything held, here and in the sink, before returning: for process exit. */
  flushSync(): void {
    this.flush();
    this.sink.flushSync();
  }

  /** Stops the periodic flush (tests). */
  close(): void {
    clearInterval(this.timer);
    this.flushSync();
  }
}

/** A batched destination on stdout, flushed synchronously when the process exits. */
export function stdoutDestination(opts: BatchedDestinationOptions = {}): BatchedDestination {
  const sonic = pino.destination({ dest: 1, sync: false });
  const destination = new BatchedDestination(sonic, opts);
  process.on('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // stdout is gone (closed pipe): nothing left to write to.
    }
  });
  return destination;
}
