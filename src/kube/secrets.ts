// The certificate Secret, read and written with optimistic concurrency: every write names the
// resourceVersion it read, so of several replicas racing only one write lands and the others learn
// it (409) and re-read instead of overwriting each other.
import { CoreV1Api, ApiException, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { MeshlockError } from '../errors.js';

export interface StoredSecret {
  readonly resourceVersion: string;
  /** Decoded values of `data`. */
  readonly data: Readonly<Record<string, string>>;
}

export class SecretConflictError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_SECRET_CONFLICT', message);
  }
}

export class SecretAccessError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_SECRET_ACCESS', message);
  }
}

export interface SecretStore {
  read(): Promise<StoredSecret | undefined>;
  /** Throws SecretConflictError when another writer created it first. */
  create(data: Record<string, string>): Promise<StoredSecret>;
  /** Throws SecretConflictError when the Secret changed since `resourceVersion` was read. */
  update(data: Record<string, string>, resourceVersion: string): Promise<StoredSecret>;
}

export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
}

// kubernetes.io/tls lets kubectl and cert-manager tooling read it; it requires tls.crt and tls.key,
// and allows extra keys (ca.crt, ca.key).
const SECRET_TYPE = 'kubernetes.io/tls';

export function kubeSecretStore(kc: KubeConfig, ref: SecretRef): SecretStore {
  const api = kc.makeApiClient(CoreV1Api);
  const body = (data: Record<string, string>, resourceVersion?: string): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPE,
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/name': 'meshlock', 'app.kubernetes.io/component': 'serving-certificate' },
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  });
  const where = `Secret ${ref.namespace}/${ref.name}`;
  return {
    async read() {
      try {
        return stored(await api.readNamespacedSecret({ name: ref.name, namespace: ref.namespace }), where);
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw accessError('read', where, err);
      }
    },
    async create(data) {
      try {
        return stored(await api.createNamespacedSecret({ namespace: ref.namespace, body: body(data) }), where);
      } catch (err) {
        if (statusOf(err) === 409) throw new SecretConflictError(`${where} was created by another writer`);
        throw accessError('create', where, err);
      }
    },
    async update(data, resourceVersion) {
      try {
        return stored(
          await api.replaceNamespacedSecret({
            name: ref.name,
            namespace: ref.namespace,
            body: body(data, resourceVersion),
          }),
          where,
        );
      } catch (err) {
        // 409 Conflict: resourceVersion moved on. 404: deleted meanwhile; re-reading sorts out both.
        if (statusOf(err) === 409 || statusOf(err) === 404)
          throw new SecretConflictError(`${where} changed since it was read`);
        throw accessError('update', where, err);
      }
    },
  };
}

function stored(secret: V1Secret, where: string): StoredSecret {
  const resourceVersion = secret.metadata?.resourceVersion;
  if (!resourceVersion) throw new SecretAccessError(`${where} came back without a resourceVersion`);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  return { resourceVersion, data };
}

export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code =
    (err as { code?: unknown; statusCode?: unknown } | null)?.code ??
    (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function accessError(verb: string, where: string, err: unknown): SecretAccessError {
  const status = statusOf(err);
  const hint = status === 403 ? ' (forbidden: check the Role that lets meshlock get/create/update its own Secret)' : '';
  return new SecretAccessError(
    `cannot ${verb} ${where}${status ? `: HTTP ${status}` : `: ${(err as Error).message}`}${hint}`,
  );
}
