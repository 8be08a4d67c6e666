// Reading request bodies within a memory budget. Each body's bytes are counted against one budget
// shared by every request of the server, reserved up front from Content-Length (so a client that
// announces 8 MiB and stalls holds its reservation, not a surprise later) and as they arrive for a
// chunked body. A request that does not fit is refused at once with 503 and Retry-After; one past
// the per-body limit with 413, before its body is read when its Content-Length says so. The bytes
// are given back when the body has been parsed and the request answered (the handler runs
// synchronously inside `done`), or when the connection goes away first.
import type { IncomingMessage } from 'node:http';
import { MeshlockHttpError, parseJsonBody } from '../admission/index.js';

/** A body larger than this is large: it may not take the budget's last quarter. */
export const LARGE_BODY_BYTES = 1024 * 1024;

/**
 * Bytes of request bodies held at once, across all connections. Large bodies (over 1 MiB) may fill
 * only three quarters of it: the rest is kept for the reviews of everyday objects (a few KiB each),
 * so clients that stall large bodies cannot starve them.
 */
export class BodyBudget {
  private held = 0;
  private readonly largeCapacity: number;

  constructor(readonly capacity: number) {
    this.largeCapacity = Math.floor(capacity * 0.75);
  }

  get inUse(): number {
    return this.held;
  }

  /** Reserves `bytes` more for a body that holds `total` bytes with them. */
  tryTake(bytes: number, total = bytes): boolean {
    const cap = total > LARGE_BODY_BYTES ? this.largeCapacity : this.capacity;
    if (this.held + bytes > cap) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }
}

type Done = (err: Error | null, body?: unknown) => void;

/**
 * A fastify content-type parser (the stream form: fastify hands over the request and leaves the
 * reading to it) that reads the body as UTF-8 JSON within `limit` bytes and the shared `budget`.
 */
export function budgetedJsonParser(
  limit: number,
  budget: BodyBudget,
): (request: { headers: IncomingMessage['headers'] }, payload: IncomingMessage, done: Done) => void {
  return (request, payload, done) => {
    const header = request.headers['content-length'];
    const declared = header === undefined ? Number.NaN : Number(header);
    if (declared > limit) {
      done(new MeshlockHttpError('BODY_TOO_LARGE', String(limit)));
      return;
    }
    let reserved = 0;
    if (declared > 0) {
      if (!budget.tryTake(declared)) {
        done(new MeshlockHttpError('BUSY'));
        return;
      }
      reserved = declared;
    }
    let received = 0;
    const chunks: Buffer[] = [];
    let finished = false;

    const finish = (err: Error | null, body?: unknown): void => {
      if (finished) return;
      finished = true;
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onAbort);
      payload.removeListener('close', onAbort);
      chunks.length = 0;
      try {
        done(err, body);
      } finally {
        budget.give(reserved);
        reserved = 0;
      }
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit) {
        finish(new MeshlockHttpError('BODY_TOO_LARGE', String(limit)));
        return;
      }
      if (received > reserved) {
        // A chunked body (or one longer than announced, refused at the end): reserve as it comes.
        const more = received - reserved;
        if (!budget.tryTake(more, received)) {
          finish(new MeshlockHttpError('BUSY'));
          return;
        }
        reserved += more;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (!Number.isNaN(declared) && received !== declared) {
        finish(new MeshlockHttpError('INVALID_JSON', 'the Content-Length does not match the body'));
        return;
      }
      const text =
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, received).toString('utf8');
      chunks.length = 0;
      let value: unknown;
      try {
        value = parseJsonBody(text);
      } catch (err) {
        finish(err as Error);
        return;
      }
      finish(null, value);
    };
    // The client went away, or Node's request timeout cut the connection: nothing to answer, the
    // reservation is given back.
    const onAbort = (): void => finish(new MeshlockHttpError('TIMEOUT'));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onAbort);
    payload.on('close', onAbort);
    payload.resume();
  };
}
