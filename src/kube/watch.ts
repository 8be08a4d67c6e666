// Keeping a local copy of one resource type current, the way client-go's reflector does: list once
// (page by page), then watch from the list's resourceVersion; on 410 Gone (the apiserver no longer
// has history that old) list again; on any other error or a dropped connection back off
// exponentially with jitter and resume the watch from the last resourceVersion seen. Bookmarks keep
// that version fresh while nothing changes. Objects pass through `transform` before they are kept,
// so the store holds only what its reader needs.
import https from 'node:https';
import http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { collectionPath, KubeApiError, listWithVersion, messageOf, type ResourceType } from './list.js';
import { MeshlockError } from '../errors.js';

export type KubeObject = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
};

export type ReflectorState = 'starting' | 'synced' | 'missing' | 'forbidden' | 'failing' | 'stopped';

export type ReflectorChange = 'relisted' | 'added' | 'modified' | 'deleted' | 'state';

export interface ReflectorOptions {
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly fieldSelector?: string;
  readonly pageSize?: number;
  readonly transform?: (obj: Record<string, unknown>) => Record<string, unknown>;
  /** Called after the store changed (or the reflector's state did). */
  readonly onChange?: (change: ReflectorChange, reflector: Reflector) => void;
  /** First and largest pause after an error; default 500 ms and 30 s. */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** How long the apiserver keeps one watch open before the reflector opens the next; default 5 to 10 min. */
  readonly watchSeconds?: number;
  /** How often to look again for a type the cluster does not serve (an Istio CRD installed later); default 60 s. */
  readonly missingRetryMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  events: number;
  errors: number;
}

class WatchExpired extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_WATCH_EXPIRED', message);
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

export class Reflector {
  /** The current objects, keyed `namespace/name`. Read it; do not write it. */
  readonly store = new Map<string, KubeObject>();
  state: ReflectorState = 'starting';
  /** The version the apiserver serves this type at (after fallbacks), once listed. */
  apiVersion: string | undefined;
  lastError: string | undefined;
  readonly stats: ReflectorStats = { lists: 0, watches: 0, events: 0, errors: 0 };
  private resourceVersion: string | undefined;
  private stopped = false;
  private request: http.ClientRequest | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly kc: KubeConfig,
    readonly opts: ReflectorOptions,
  ) {}

  get name(): string {
    return `${this.opts.type.resource}${this.opts.namespace ? ` in ${this.opts.namespace}` : ''}`;
  }

  /** True once the type was listed (or found not served, or forbidden): the store says what there is to know. */
  get settled(): boolean {
    return this.state === 'synced' || this.state === 'missing' || this.state === 'forbidden' || this.stats.lists > 0;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.request?.destroy();
    this.wake?.();
    // A list in flight is not cancellable; do not let it hold up a shutdown.
    await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    this.state = 'stopped';
  }

  private setState(state: ReflectorState): void {
    if (this.state === state) return;
    this.state = state;
    this.opts.onChange?.('state', this);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const initial = this.opts.backoffMs?.initial ?? 500;
    const max = this.opts.backoffMs?.max ?? 30_000;
    let backoff = initial;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) {
          const listing = await this.relist();
          if (!listing) {
            await this.sleep(this.opts.missingRetryMs ?? 60_000);
            continue;
          }
        }
        const started = Date.now();
        const events = await this.watchOnce();
        backoff = initial;
        // A watch the server ends at once with nothing in it (a proxy that closes every stream)
        // must not become a busy loop.
        if (events === 0 && Date.now() - started < 1000) await this.sleep(initial);
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof WatchExpired) {
          this.opts.log?.('info', 'watch expired (410 Gone): listing again', { resource: this.name });
          this.resourceVersion = undefined;
          continue;
        }
        this.stats.errors++;
        this.lastError = (err as Error).message;
        const status = (err as { status?: number }).status;
        if (status === 410) this.resourceVersion = undefined;
        this.setState(status === 403 ? 'forbidden' : 'failing');
        this.opts.log?.('warn', 'list or watch failed, backing off', {
          resource: this.name,
          error: this.lastError,
          retryMs: backoff,
        });
        await this.sleep(backoff * (0.8 + Math.random() * 0.4));
        backoff = Math.min(backoff * 2, max);
      }
    }
  }

  private async relist(): Promise<boolean> {
    const listing = await listWithVersion(this.kc, this.opts.type, {
      ...(this.opts.namespace ? { namespace: this.opts.namespace } : {}),
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
      limit: this.opts.pageSize ?? 500,
      ...(this.opts.transform ? { transform: this.opts.transform } : {}),
    });
    this.stats.lists++;
    this.store.clear();
    if (!listing) {
      this.apiVersion = undefined;
      this.setState('missing');
      this.opts.onChange?.('relisted', this);
      return false;
    }
    for (const o of listing.items) this.store.set(keyOf(o as KubeObject), o as KubeObject);
    this.apiVersion = listing.apiVersion;
    this.resourceVersion = listing.resourceVersion;
    this.lastError = undefined;
    this.setState('synced');
    this.opts.onChange?.('relisted', this);
    return true;
  }

  /** One watch request, until the server ends it. Resolves with the number of events seen. */
  private async watchOnce(): Promise<number> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError('no current cluster in kubeconfig', 0);
    const apiVersion = this.apiVersion ?? this.opts.type.apiVersion;
    const seconds = this.opts.watchSeconds ?? Math.round(300 + Math.random() * 300);
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(seconds) });
    if (this.resourceVersion) q.set('resourceVersion', this.resourceVersion);
    if (this.opts.fieldSelector) q.set('fieldSelector', this.opts.fieldSelector);
    const path = `${collectionPath(apiVersion, this.opts.type.resource, this.opts.type.namespaced ? this.opts.namespace : undefined)}?${q}`;
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    const reqOpts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(reqOpts);
    if (this.stopped) return 0;
    this.stats.watches++;
    return new Promise<number>((resolve, reject) => {
      let events = 0;
      let settled = false;
      // An event that ends the watch (410 Gone, an ERROR) wins over the connection error its destroy causes.
      let failure: Error | undefined;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        this.request = undefined;
        if (failure ?? err) reject(failure ?? err);
        else resolve(events);
      };
      const req = (url.protocol === 'http:' ? http : https).request(url, reqOpts, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            if (status === 410) finish(new WatchExpired('the watch history expired (410 Gone)'));
            else finish(new KubeApiError(`watching ${this.name}: HTTP ${status} ${messageOf(json)}`.trim(), status));
          });
          res.on('error', (e) => finish(e));
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (!line.trim()) continue;
            try {
              events++;
              this.apply(JSON.parse(line) as { type?: string; object?: KubeObject });
            } catch (err) {
              failure = err as Error;
              req.destroy(failure);
              finish();
              return;
            }
          }
        });
        res.on('end', () =>
          finish(buffered.trim() ? new Error(`watch of ${this.name}: stream ended inside an event`) : undefined),
        );
        res.on('error', (e) => finish(e));
        res.on('close', () => finish(settled ? undefined : new Error(`watch of ${this.name}: connection closed`)));
      });
      // The server ends the watch after `seconds`; silence well past that means a dead connection.
      req.setTimeout((seconds + 30) * 1000, () =>
        req.destroy(new Error(`watch of ${this.name}: no data for ${seconds + 30} s`)),
      );
      req.on('error', (e) => finish(e));
      this.request = req;
      req.end();
    });
  }

  private apply(ev: { type?: string; object?: KubeObject }): void {
    const obj = ev.object;
    if (ev.type === 'ERROR') {
      const code = (obj as { code?: number } | undefined)?.code;
      if (code === 410) throw new WatchExpired('the watch history expired (410 Gone)');
      throw new KubeApiError(`watching ${this.name}: ${messageOf(obj) || 'error event'}`, code ?? 0);
    }
    if (!obj || typeof obj !== 'object') return;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (ev.type === 'BOOKMARK') return;
    this.stats.events++;
    const full = { apiVersion: this.apiVersion ?? this.opts.type.apiVersion, kind: this.opts.type.kind, ...obj };
    const kept = (this.opts.transform ? this.opts.transform(full) : full) as KubeObject;
    const key = keyOf(kept);
    if (ev.type === 'DELETED') {
      this.store.delete(key);
      this.opts.onChange?.('deleted', this);
    } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      this.store.set(key, kept);
      this.opts.onChange?.(ev.type === 'ADDED' ? 'added' : 'modified', this);
    }
  }
}
