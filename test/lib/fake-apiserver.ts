// A stand-in kube-apiserver over plain HTTP speaking the parts of the API the watching audit uses:
// paged lists with a resourceVersion, watches from a resourceVersion (ADDED/MODIFIED/DELETED,
// bookmarks, a 410 Gone ERROR event once history is compacted), create/get/replace/delete of
// single objects. Every request is recorded, and open watch connections can be cut.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Event {
  rv: number;
  collection: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

export interface FakeApiserver {
  readonly url: string;
  readonly requests: { method: string; path: string }[];
  /** Collections served, `<apiVersion>/<resource>`; others answer 404. */
  readonly served: Set<string>;
  /** Resources that answer 403. */
  readonly forbidden: Set<string>;
  put(apiVersion: string, resource: string, obj: Obj): void;
  remove(apiVersion: string, resource: string, namespace: string | undefined, name: string): void;
  get(apiVersion: string, resource: string, namespace: string | undefined, name: string): Obj | undefined;
  list(apiVersion: string, resource: string): Obj[];
  /** Forget history: watches from an older resourceVersion get 410 Gone. */
  compact(): void;
  /** Destroy every open connection (the apiserver went away). */
  cutConnections(): void;
  close(): Promise<void>;
  kubeconfig(): string;
}

export async function startFakeApiserver(served: readonly string[]): Promise<FakeApiserver> {
  let rv = 100;
  let compactedAt = 0;
  const store = new Map<string, Map<string, Obj>>(); // collection -> ns/name -> obj
  const events: Event[] = [];
  const watchers = new Set<{ collection: string; namespace?: string; res: http.ServerResponse }>();
  const sockets = new Set<Socket>();
  const requests: { method: string; path: string }[] = [];
  const servedSet = new Set(served);
  const forbidden = new Set<string>();

  const coll = (apiVersion: string, resource: string): string => `${apiVersion}/${resource}`;
  const keyOf = (o: Obj): string => `${o['metadata']?.['namespace'] ?? ''}/${o['metadata']?.['name']}`;
  const emit = (collection: string, type: Event['type'], object: Obj): void => {
    const ev = { rv, collection, type, object };
    events.push(ev);
    for (const w of watchers) {
      if (w.collection !== collection) continue;
      if (w.namespace && object['metadata']?.['namespace'] !== w.namespace) continue;
      w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  };
  const put = (apiVersion: string, resource: string, obj: Obj): Obj => {
    const c = coll(apiVersion, resource);
    const m = store.get(c) ?? new Map<string, Obj>();
    store.set(c, m);
    const existed = m.has(keyOf(obj));
    rv++;
    const stored = { ...obj, metadata: { ...obj['metadata'], resourceVersion: String(rv) } };
    m.set(keyOf(stored), stored);
    emit(c, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  };
  const remove = (apiVersion: string, resource: string, namespace: string | undefined, name: string): boolean => {
    const c = coll(apiVersion, resource);
    const m = store.get(c);
    const k = `${namespace ?? ''}/${name}`;
    const o = m?.get(k);
    if (!o || !m) return false;
    m.delete(k);
    rv++;
    emit(c, 'DELETED', { ...o, metadata: { ...o['metadata'], resourceVersion: String(rv) } });
    return true;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}` });
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const seg = url.pathname.split('/').filter(Boolean);
    let apiVersion: string;
    let rest: string[];
    if (seg[0] === 'api') [apiVersion, rest] = [seg[1] ?? '', seg.slice(2)];
    else if (seg[0] === 'apis') [apiVersion, rest] = [`${seg[1]}/${seg[2]}`, seg.slice(3)];
    else return send(404, { message: 'not found' });
    let namespace: string | undefined;
    let resource: string;
    let name: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3)
      [namespace, resource, name] = [rest[1], rest[2] as string, rest[3]];
    else [resource, name] = [rest[0] as string, rest[1]];
    const c = coll(apiVersion, resource);
    if (forbidden.has(resource)) return send(403, { kind: 'Status', code: 403, message: `${resource} is forbidden` });
    if (!servedSet.has(c))
      return send(404, {
        kind: 'Status',
        code: 404,
        message: `the server could not find the requested resource (${c})`,
      });
    const objects = [...(store.get(c)?.values() ?? [])].filter(
      (o) => !namespace || o['metadata']?.['namespace'] === namespace,
    );
    if (req.method === 'GET' && !name && url.searchParams.get('watch') === 'true') {
      const from = Number(url.searchParams.get('resourceVersion') ?? 0);
      if (from < compactedAt) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: ${from} (${compactedAt})` } })}\n`,
        );
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      for (const ev of events) {
        if (ev.rv <= from || ev.collection !== c) continue;
        if (namespace && ev.object['metadata']?.['namespace'] !== namespace) continue;
        res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
      }
      res.write(
        `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'x', metadata: { resourceVersion: String(rv) } } })}\n`,
      );
      const w = { collection: c, ...(namespace ? { namespace } : {}), res };
      watchers.add(w);
      const seconds = Number(url.searchParams.get('timeoutSeconds') ?? 300);
      const timer = setTimeout(() => res.end(), seconds * 1000);
      res.on('close', () => {
        clearTimeout(timer);
        watchers.delete(w);
      });
      return;
    }
    if (req.method === 'GET' && !name) {
      const limit = Number(url.searchParams.get('limit') ?? 0) || objects.length;
      const start = Number(url.searchParams.get('continue') ?? 0);
      const page = objects.slice(start, start + limit).map(({ apiVersion: _a, kind: _k, ...o }) => o);
      const label = url.searchParams.get('labelSelector');
      const filtered = label
        ? page.filter((o) =>
            label.split(',').every((kv) => {
              const [k, v] = kv.split('=');
              return o['metadata']?.['labels']?.[k as string] === v;
            }),
          )
        : page;
      const next = start + limit < objects.length ? String(start + limit) : undefined;
      return send(200, {
        kind: 'List',
        metadata: { resourceVersion: String(rv), ...(next ? { continue: next } : {}) },
        items: filtered,
      });
    }
    const chunks: Buffer[] = [];
    req.on('data', (ch: Buffer) => chunks.push(ch));
    req.on('end', () => {
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj) : undefined;
      const existing = name ? store.get(c)?.get(`${namespace ?? ''}/${name}`) : undefined;
      if (req.method === 'POST' && body) {
        if (store.get(c)?.has(keyOf({ ...body, metadata: { ...body['metadata'], namespace } })))
          return send(409, { code: 409, message: 'already exists' });
        const ns = namespace ? store.get('v1/namespaces')?.get(`/${namespace}`) : undefined;
        if (ns?.['metadata']?.['deletionTimestamp'])
          return send(403, {
            code: 403,
            message: `unable to create new content in namespace ${namespace} because it is being terminated`,
          });
        return send(
          201,
          put(apiVersion, resource, {
            ...body,
            metadata: { ...body['metadata'], ...(namespace ? { namespace } : {}) },
          }),
        );
      }
      if (req.method === 'GET') return existing ? send(200, existing) : send(404, { code: 404, message: 'not found' });
      if (req.method === 'PUT' && body)
        return existing ? send(200, put(apiVersion, resource, body)) : send(404, { code: 404, message: 'not found' });
      if (req.method === 'DELETE')
        return remove(apiVersion, resource, namespace, name ?? '')
          ? send(200, { kind: 'Status', status: 'Success' })
          : send(404, { code: 404, message: 'not found' });
      return send(405, { message: 'method not allowed' });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    served: servedSet,
    forbidden,
    put: (a, r, o) => void put(a, r, o),
    remove: (a, r, ns, n) => void remove(a, r, ns, n),
    get: (a, r, ns, n) => store.get(coll(a, r))?.get(`${ns ?? ''}/${n}`),
    list: (a, r) => [...(store.get(coll(a, r))?.values() ?? [])],
    compact: () => {
      compactedAt = rv;
      events.length = 0;
    },
    cutConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    kubeconfig: () =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token: 'x' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
        'current-context': 'fake',
      }),
  };
}
