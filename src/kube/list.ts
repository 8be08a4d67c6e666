// Paged listing through the apiserver (`limit` + `continue`), so a large cluster never arrives in
// one response. Objects come back as plain JSON, exactly as `kubectl get -o json` shows them: the
// audit reads fields the typed client models would drop or convert (creationTimestamp as a string).
import https from 'node:https';
import http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshlockError } from '../errors.js';

export interface ResourceType {
  /** `v1`, `apps/v1`, `security.istio.io/v1`, ... */
  readonly apiVersion: string;
  /** Plural resource name in the URL. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Older versions to try when the apiserver does not serve `apiVersion` (404). */
  readonly fallbacks?: readonly string[];
}

export class KubeApiError extends MeshlockError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('MESHLOCK_ERR_KUBE_API', message);
  }
}

export interface ListOptions {
  readonly namespace?: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  readonly limit?: number;
  /** Called after each page with the number of objects received so far. */
  readonly onPage?: (received: number) => void;
  /** Applied to each object as its page arrives, so a page's full objects never pile up. */
  readonly transform?: (obj: Record<string, unknown>) => Record<string, unknown>;
}

/** A complete listing: the objects, the version the apiserver served, and the list's resourceVersion to watch from. */
export interface Listing {
  readonly items: Record<string, unknown>[];
  readonly apiVersion: string;
  readonly resourceVersion: string;
}

export async function requestJson(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError('no current cluster in kubeconfig', 0);
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  const opts: https.RequestOptions = { method, headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) (opts.headers as Record<string, string | number>)['Content-Type'] = 'application/json';
  if (payload) (opts.headers as Record<string, string | number>)['Content-Length'] = payload.length;
  const mod = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = { message: text.slice(0, 200) };
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new KubeApiError(`timeout: ${method} ${path}`, 0)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export function collectionPath(apiVersion: string, resource: string, namespace?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}` : `${base}/${resource}`;
}

export function messageOf(json: unknown): string {
  const m = (json as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : '';
}

/**
 * Every object of a resource type, page by page, with the list's resourceVersion (a watch resumes
 * from it). Returns `undefined` when the type is not served at all (an Istio CRD missing from the
 * cluster): the caller reports that instead of failing.
 */
export async function listWithVersion(
  kc: KubeConfig,
  type: ResourceType,
  opts: ListOptions = {},
): Promise<Listing | undefined> {
  const versions = [type.apiVersion, ...(type.fallbacks ?? [])];
  for (const apiVersion of versions) {
    const items: Record<string, unknown>[] = [];
    let cont: string | undefined;
    let missing = false;
    let resourceVersion = '';
    do {
      const q = new URLSearchParams({ limit: String(opts.limit ?? 500) });
      if (cont) q.set('continue', cont);
      if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
      if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
      const { status, json } = await requestJson(
        kc,
        'GET',
        `${collectionPath(apiVersion, type.resource, type.namespaced ? opts.namespace : undefined)}?${q}`,
      );
      if (status === 404 && items.length === 0) {
        missing = true;
        break;
      }
      if (status === 410)
        throw new KubeApiError(
          `listing ${type.resource} took too long: the continue token expired; run the audit again`,
          status,
        );
      if (status < 200 || status >= 300)
        throw new KubeApiError(
          `listing ${type.resource} (${apiVersion}): HTTP ${status} ${messageOf(json)}`.trim(),
          status,
        );
      const list = json as { items?: unknown[]; metadata?: { continue?: string; resourceVersion?: string } };
      // List items carry no apiVersion/kind; put them back so objects read like a dump's.
      for (const it of list.items ?? []) {
        if (typeof it !== 'object' || it === null) continue;
        const obj = { apiVersion, kind: type.kind, ...(it as object) };
        items.push(opts.transform ? opts.transform(obj) : obj);
      }
      cont = list.metadata?.continue || undefined;
      // Every page of one listing is a snapshot at the first page's resourceVersion.
      resourceVersion = list.metadata?.resourceVersion ?? resourceVersion;
      opts.onPage?.(items.length);
    } while (cont);
    if (!missing) return { items, apiVersion, resourceVersion };
  }
  return undefined;
}

/**
 * Every object of a resource type, page by page. Returns `undefined` when the type is not served at
 * all (an Istio CRD missing from the cluster): the caller reports that instead of failing.
 */
export async function listAll(
  kc: KubeConfig,
  type: ResourceType,
  opts: ListOptions = {},
): Promise<unknown[] | undefined> {
  return (await listWithVersion(kc, type, opts))?.items;
}
