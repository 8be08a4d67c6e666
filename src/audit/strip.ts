// What a watching audit keeps of each object: the fields the rules, the mesh model and the
// installation checks read, and nothing else. Managed fields, last-applied annotations, status
// (but a pod's phase) and most of a pod spec (volumes, env, probes, scheduling) are dropped as
// objects arrive, so memory follows the number of objects, not their size. Secrets keep only their
// certificates: a private key is never held. Pure.

type Obj = Record<string, unknown>;

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Pod spec fields no rule reads (scheduling, storage, DNS); whatever else a pod spec has is kept. */
const POD_SPEC_DROP = new Set([
  'volumes',
  'affinity',
  'tolerations',
  'topologySpreadConstraints',
  'nodeSelector',
  'imagePullSecrets',
  'hostAliases',
  'dnsConfig',
  'readinessGates',
  'schedulingGates',
  'overhead',
  'resourceClaims',
  'resources',
  'nodeName',
  'dnsPolicy',
  'schedulerName',
  'serviceAccount',
  'serviceAccountName',
  'automountServiceAccountToken',
  'terminationGracePeriodSeconds',
  'priority',
  'priorityClassName',
  'preemptionPolicy',
  'enableServiceLinks',
  'hostname',
  'subdomain',
  'runtimeClassName',
]);

/** Container fields no rule reads; name, image, args, ports, securityContext, restartPolicy and the rest stay. */
const CONTAINER_DROP = new Set([
  'env',
  'envFrom',
  'volumeMounts',
  'volumeDevices',
  'resources',
  'resizePolicy',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'workingDir',
  'imagePullPolicy',
  'stdin',
  'stdinOnce',
  'tty',
]);

const SECRET_KEEP = new Set(['tls.crt', 'ca.crt']);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function without(o: Obj, drop: ReadonlySet<string>): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o)) if (!drop.has(k)) out[k] = o[k];
  return out;
}

const METADATA_DROP = new Set(['managedFields', 'resourceVersion', 'selfLink', 'generation', 'uid', 'finalizers']);

/** Owner references keep what walking up to the workload needs. */
function stripOwners(refs: unknown): unknown {
  return Array.isArray(refs)
    ? refs.map((r) =>
        isObj(r)
          ? {
              apiVersion: r['apiVersion'],
              kind: r['kind'],
              name: r['name'],
              ...(r['controller'] === true ? { controller: true } : {}),
            }
          : r,
      )
    : refs;
}

function stripMetadata(meta: unknown): unknown {
  if (!isObj(meta)) return meta;
  const out = without(meta, METADATA_DROP);
  if ('ownerReferences' in out) out['ownerReferences'] = stripOwners(out['ownerReferences']);
  const ann = meta['annotations'];
  if (isObj(ann) && LAST_APPLIED in ann) {
    const { [LAST_APPLIED]: _dropped, ...rest } = ann;
    out['annotations'] = rest;
  }
  return out;
}

function stripContainers(list: unknown): unknown {
  return Array.isArray(list) ? list.map((c) => (isObj(c) ? without(c, CONTAINER_DROP) : c)) : list;
}

function stripPodSpec(spec: unknown): unknown {
  if (!isObj(spec)) return spec;
  const out = without(spec, POD_SPEC_DROP);
  for (const k of ['containers', 'initContainers', 'ephemeralContainers'])
    if (k in out) out[k] = stripContainers(out[k]);
  return out;
}

function stripTemplate(tpl: unknown): unknown {
  if (!isObj(tpl)) return tpl;
  return { ...tpl, metadata: stripMetadata(tpl['metadata']), spec: stripPodSpec(tpl['spec']) };
}

/** A copy of `o` with only what the audit reads. Unknown shapes pass through with their metadata trimmed. */
export function stripForAudit(o: Obj): Obj {
  const kind = o['kind'];
  const out: Obj = { ...o, metadata: stripMetadata(o['metadata']) };
  delete out['status'];
  const status = o['status'];
  const spec = o['spec'];
  switch (kind) {
    case 'Pod':
      out['spec'] = stripPodSpec(spec);
      if (isObj(status) && typeof status['phase'] === 'string') out['status'] = { phase: status['phase'] };
      break;
    case 'Namespace':
      if (isObj(status) && typeof status['phase'] === 'string') out['status'] = { phase: status['phase'] };
      break;
    case 'CronJob':
      if (isObj(spec) && isObj(spec['jobTemplate'])) {
        const jt = spec['jobTemplate'];
        out['spec'] = {
          ...spec,
          jobTemplate: {
            ...jt,
            spec: isObj(jt['spec']) ? { ...jt['spec'], template: stripTemplate(jt['spec']['template']) } : jt['spec'],
          },
        };
      }
      break;
    case 'Secret': {
      const data = o['data'];
      out['data'] = isObj(data) ? Object.fromEntries(Object.entries(data).filter(([k]) => SECRET_KEEP.has(k))) : {};
      delete out['stringData'];
      break;
    }
    default:
      if (isObj(spec) && isObj(spec['template'])) out['spec'] = { ...spec, template: stripTemplate(spec['template']) };
  }
  return out;
}
