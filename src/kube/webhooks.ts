// Writing the CA bundle into meshlock's own webhook configurations. A JSON Patch with a `test` of
// each webhook's name before replacing its caBundle: if someone re-ordered the webhooks between our
// read and our patch, the apiserver refuses the patch instead of us writing into the wrong entry.
import {
  AdmissionregistrationV1Api,
  type AdmissionregistrationV1WebhookClientConfig,
  type KubeConfig,
  type V1ValidatingWebhook,
} from '@kubernetes/client-node';
import { statusOf } from './secrets.js';
import { MeshlockError } from '../errors.js';

export type WebhookKind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

export interface WebhookConfigurationRef {
  readonly kind: WebhookKind;
  readonly name: string;
}

export interface JsonPatchOp {
  readonly op: 'test' | 'add' | 'replace';
  readonly path: string;
  readonly value: unknown;
}

export interface CaBundlePatch {
  readonly target: WebhookConfigurationRef;
  readonly ops: JsonPatchOp[];
  /** Webhook entries whose caBundle already held this bundle. */
  readonly unchanged: number;
}

export class WebhookConfigurationError extends MeshlockError {
  constructor(message: string) {
    super('MESHLOCK_ERR_WEBHOOK_CONFIGURATION', message);
  }
}

/** What the caBundle patch reads of a webhook: client-node's name and clientConfig.caBundle. */
type WebhookLike = Pick<V1ValidatingWebhook, 'name'> & {
  clientConfig?: Pick<AdmissionregistrationV1WebhookClientConfig, 'caBundle'>;
};

/** The patch that sets every webhook's caBundle to `caPem` (pure; empty when nothing changes). */
export function caBundlePatch(
  target: WebhookConfigurationRef,
  webhooks: readonly WebhookLike[],
  caPem: string,
): CaBundlePatch {
  const caBundle = Buffer.from(caPem, 'utf8').toString('base64');
  const ops: JsonPatchOp[] = [];
  let unchanged = 0;
  webhooks.forEach((w, i) => {
    if (w.clientConfig?.caBundle === caBundle) {
      unchanged++;
      return;
    }
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name });
    // `add` sets a member whether or not it exists yet (RFC 6902 §4.1).
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle });
  });
  return { target, ops, unchanged };
}

export interface WebhookClient {
  read(target: WebhookConfigurationRef): Promise<WebhookLike[]>;
  patch(target: WebhookConfigurationRef, ops: JsonPatchOp[]): Promise<void>;
}

export function kubeWebhookClient(kc: KubeConfig): WebhookClient {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async read(target) {
      try {
        const cfg =
          target.kind === 'ValidatingWebhookConfiguration'
            ? await api.readValidatingWebhookConfiguration({ name: target.name })
            : await api.readMutatingWebhookConfiguration({ name: target.name });
        return (cfg.webhooks ?? []).map((w) => ({
          name: w.name,
          clientConfig: { ...(w.clientConfig.caBundle ? { caBundle: w.clientConfig.caBundle } : {}) },
        }));
      } catch (err) {
        throw describe('read', target, err);
      }
    },
    async patch(target, ops) {
      try {
        // client-node sends the first content type the API lists, application/json-patch+json.
        if (target.kind === 'ValidatingWebhookConfiguration')
          await api.patchValidatingWebhookConfiguration({ name: target.name, body: ops });
        else await api.patchMutatingWebhookConfiguration({ name: target.name, body: ops });
      } catch (err) {
        throw describe('patch', target, err);
      }
    },
  };
}

function describe(verb: string, target: WebhookConfigurationRef, err: unknown): WebhookConfigurationError {
  const status = statusOf(err);
  if (status === 404) {
    return new WebhookConfigurationError(
      `${target.kind} "${target.name}" not found: install meshlock's manifests first (kubectl apply -k deploy/)`,
    );
  }
  if (status === 403) {
    return new WebhookConfigurationError(
      `forbidden to ${verb} ${target.kind} "${target.name}": the caller needs get and patch on it`,
    );
  }
  if (status === 422 || status === 409) {
    return new WebhookConfigurationError(
      `${target.kind} "${target.name}" changed while its caBundle was being written; run again`,
    );
  }
  return new WebhookConfigurationError(
    `cannot ${verb} ${target.kind} "${target.name}": ${status ? `HTTP ${status}` : (err as Error).message}`,
  );
}

/**
 * Reads each configuration and writes the bundle into every webhook of it. With `dryRun` only
 * computes the patches. All configurations are read before any is patched, so a missing one fails
 * the whole call before anything changed.
 */
export async function injectCaBundle(
  client: WebhookClient,
  targets: readonly WebhookConfigurationRef[],
  caPem: string,
  opts: { dryRun?: boolean } = {},
): Promise<CaBundlePatch[]> {
  const patches: CaBundlePatch[] = [];
  for (const target of targets) {
    const webhooks = await client.read(target);
    if (webhooks.length === 0)
      throw new WebhookConfigurationError(`${target.kind} "${target.name}" has no webhooks to write a caBundle into`);
    patches.push(caBundlePatch(target, webhooks, caPem));
  }
  if (!opts.dryRun) {
    for (const p of patches) if (p.ops.length > 0) await client.patch(p.target, p.ops);
  }
  return patches;
}

/**
 * meshlock's own configurations, as deploy/ names them (a test keeps the two in step). The mutating
 * one starts with "00-" because the apiserver calls mutating webhook configurations in order of
 * their names, and meshlock's injection label must be in place before Istio's
 * `istio-sidecar-injector` / `istio-revision-tag-*` look at the pod.
 */
export const MESHLOCK_WEBHOOK_CONFIGURATIONS: readonly WebhookConfigurationRef[] = [
  { kind: 'ValidatingWebhookConfiguration', name: 'meshlock' },
  { kind: 'MutatingWebhookConfiguration', name: '00-meshlock' },
];
