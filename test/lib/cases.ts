// Golden cases (test/cases/<rule-id>/*.yaml): one request and the decision POLICY.md expects for
// it. The same cases run through the engine, `meshlock review` and the HTTPS server, so a case
// holds everything an AdmissionReview needs and nothing engine-specific.
//
// File format (every key but `request.object`/`request.oldObject` optional):
//
//   name: a sentence from POLICY.md           # defaults to the file name
//   config: |                                 # config file text; absent = every default
//     mode: warn
//   now: 2027-06-30T12:00:00Z                 # the clock; absent = DEFAULT_NOW (then the case
//                                             # must not depend on the clock: fixedClock is false)
//   request:
//     operation: CREATE                       # CREATE | UPDATE | DELETE | CONNECT
//     kind: {group: apps, version: v1, kind: Deployment}   # absent = from object.apiVersion/kind
//     namespace: shop                         # absent = metadata.namespace, else `shop`
//     name: web                               # absent = metadata.name (or generateName)
//     dryRun: false
//     object: {...}                           # null or absent on DELETE
//     oldObject: {...}                        # UPDATE, DELETE
//   expect:
//     allowed: true                           # validating decision
//     denied: [rule-id, ...]                  # rules that deny (set)
//     warned: [rule-id, ...]                  # rules returned as admission warnings (set)
//     dryRun: [rule-id, ...]                  # rules only recorded in dry-run mode (set)
//     exempted: [rule-id, ...]                # rules lifted by an active exemption (set)
//     preExisting: [rule-id, ...]             # UPDATE: violations oldObject already had (ratcheting), warned as
//                                             # `<rule id> (pre-existing): ...` outside dry-run (set)
//     expiredExemption: [rule-id, ...]        # findings that name an expired exemption (set)
//     message: "..."                          # exact denial message, when given
//     patch: [...]                            # exact JSON Patch of the mutating decision ([] default)
//     wouldPatch: [...]                       # dry-run: the recorded, unapplied operations
//     mutationExempted: [mutation-id, ...]    # mutations an exemption prevented (set)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseConfigText, resolveConfig, type ResolvedConfig } from '../../src/config/index.js';
import { inputFromObject, type EngineInput, type Operation, type PatchOp } from '../../src/policy/index.js';

export const CASES_DIR = fileURLToPath(new URL('../cases/', import.meta.url));

/** The clock of cases that do not set `now`. Cases without `now` must decide the same at any date. */
export const DEFAULT_NOW = new Date('2026-06-01T00:00:00Z');

/** Namespace of objects that name none (as in the conformance corpus). */
export const DEFAULT_NAMESPACE = 'shop';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** The fields of an AdmissionRequest a case fixes (uid and userInfo are the caller's). */
export interface CaseRequest {
  readonly operation: Operation;
  readonly kind: GroupVersionKind;
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  /**
   * As the apiserver fills `request.namespace`: empty for a CREATE of a cluster-scoped object (a
   * Namespace), the namespace's own name for its UPDATE and DELETE (the URL names it).
   */
  readonly namespace: string;
  readonly name: string;
  readonly dryRun: boolean;
  readonly object: unknown;
  readonly oldObject: unknown;
}

export interface Expected {
  readonly allowed: boolean;
  readonly denied: readonly string[];
  readonly warned: readonly string[];
  readonly dryRun: readonly string[];
  readonly exempted: readonly string[];
  readonly preExisting: readonly string[];
  readonly expiredExemption: readonly string[];
  readonly message?: string;
  readonly patch: readonly PatchOp[];
  readonly wouldPatch?: readonly PatchOp[];
  readonly mutationExempted: readonly string[];
}

export interface GoldenCase {
  /** `<folder>/<file without .yaml>`, unique. */
  readonly id: string;
  /** The rule or mutation id (or cross-cutting topic) the folder is named for. */
  readonly folder: string;
  readonly file: string;
  readonly name: string;
  /** The engine input, namespace resolved as the admission layer must (object's own name for a Namespace). */
  readonly input: EngineInput;
  readonly request: CaseRequest;
  /** Config file text ('' = every default), to write to disk for `--config`. */
  readonly configText: string;
  readonly config: ResolvedConfig;
  readonly now: Date;
  /** True when the case sets `now`: run it only where the clock can be fixed. */
  readonly fixedClock: boolean;
  readonly expect: Expected;
}

const CASE_KEYS = new Set(['name', 'config', 'now', 'request', 'expect']);
const REQUEST_KEYS = new Set(['operation', 'kind', 'namespace', 'name', 'dryRun', 'object', 'oldObject']);
const EXPECT_KEYS = new Set([
  'allowed',
  'denied',
  'warned',
  'dryRun',
  'exempted',
  'preExisting',
  'expiredExemption',
  'message',
  'patch',
  'wouldPatch',
  'mutationExempted',
]);
const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

export class CaseError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CaseError';
  }
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(file: string, where: string, o: Rec, allowed: Set<string>): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new CaseError(file, `unknown key ${where}${k}`);
}

function idList(file: string, v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new CaseError(file, `expect.${key} must be a list of ids`);
  return [...new Set(v as string[])].sort();
}

function patchList(file: string, v: unknown, key: string): PatchOp[] {
  if (v === undefined || v === null) return [];
  if (
    !Array.isArray(v) ||
    !v.every((op) => isRec(op) && typeof op['op'] === 'string' && typeof op['path'] === 'string')
  ) {
    throw new CaseError(file, `expect.${key} must be a list of JSON Patch operations`);
  }
  return v as PatchOp[];
}

/** `security.istio.io/v1` -> group and version; `v1` -> core group. */
function splitApiVersion(apiVersion: unknown): { group: string; version: string } {
  if (typeof apiVersion !== 'string' || apiVersion === '') return { group: '', version: 'v1' };
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Every kind meshlock reads pluralises by lower case + `s`. */
export function resourceOf(kind: string): string {
  return `${kind.toLowerCase()}s`;
}

export function parseCase(file: string, text: string, folder: string): GoldenCase {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new CaseError(file, `not valid YAML: ${(err as Error).message}`);
  }
  if (!isRec(doc)) throw new CaseError(file, 'a case is a map');
  checkKeys(file, '', doc, CASE_KEYS);
  const req = doc['request'];
  const exp = doc['expect'];
  if (!isRec(req)) throw new CaseError(file, 'request must be a map');
  if (!isRec(exp)) throw new CaseError(file, 'expect must be a map');
  checkKeys(file, 'request.', req, REQUEST_KEYS);
  checkKeys(file, 'expect.', exp, EXPECT_KEYS);

  const operation = (req['operation'] ?? 'CREATE') as Operation;
  if (!OPERATIONS.has(operation))
    throw new CaseError(file, `request.operation ${String(operation)} is not one of ${[...OPERATIONS].join(', ')}`);
  const object = req['object'] ?? null;
  const oldObject = req['oldObject'] ?? null;
  const subject = object ?? oldObject;
  const derived = inputFromObject(subject, DEFAULT_NAMESPACE, operation);

  let gvk: GroupVersionKind;
  if (req['kind'] !== undefined) {
    const k = req['kind'];
    if (!isRec(k) || typeof k['kind'] !== 'string')
      throw new CaseError(file, 'request.kind must be {group, version, kind}');
    gvk = {
      group: typeof k['group'] === 'string' ? k['group'] : '',
      version: typeof k['version'] === 'string' ? k['version'] : 'v1',
      kind: k['kind'],
    };
  } else {
    const av = splitApiVersion(isRec(subject) ? subject['apiVersion'] : undefined);
    if (derived.kind === '') throw new CaseError(file, 'request.kind is required when the object has no kind');
    gvk = { ...av, kind: derived.kind };
  }
  const name = typeof req['name'] === 'string' ? req['name'] : derived.name;
  const clusterScoped = gvk.group === '' && gvk.kind === 'Namespace';
  const namespace = clusterScoped ? name : typeof req['namespace'] === 'string' ? req['namespace'] : derived.namespace;

  const configText = typeof doc['config'] === 'string' ? doc['config'] : '';
  if (doc['config'] !== undefined && typeof doc['config'] !== 'string')
    throw new CaseError(file, 'config must be the text of a config file (use `config: |`)');
  let config: ResolvedConfig;
  try {
    // meshlock's own namespace is fixed so cases do not depend on the POD_NAMESPACE of the runner.
    const parsed = parseConfigText(configText, file);
    config = resolveConfig(parsed, parsed.meshlockNamespace ?? 'meshlock');
  } catch (err) {
    throw new CaseError(file, (err as Error).message);
  }
  const nowRaw = doc['now'];
  const now = nowRaw === undefined ? DEFAULT_NOW : new Date(nowRaw instanceof Date ? nowRaw.getTime() : String(nowRaw));
  if (Number.isNaN(now.getTime())) throw new CaseError(file, `now ${String(nowRaw)} is not a date`);

  if (typeof exp['allowed'] !== 'boolean') throw new CaseError(file, 'expect.allowed (true or false) is required');
  if (exp['message'] !== undefined && typeof exp['message'] !== 'string')
    throw new CaseError(file, 'expect.message must be text');
  const expect: Expected = {
    allowed: exp['allowed'],
    denied: idList(file, exp['denied'], 'denied'),
    warned: idList(file, exp['warned'], 'warned'),
    dryRun: idList(file, exp['dryRun'], 'dryRun'),
    exempted: idList(file, exp['exempted'], 'exempted'),
    preExisting: idList(file, exp['preExisting'], 'preExisting'),
    expiredExemption: idList(file, exp['expiredExemption'], 'expiredExemption'),
    ...(typeof exp['message'] === 'string' ? { message: exp['message'].replace(/\n$/, '') } : {}),
    patch: patchList(file, exp['patch'], 'patch'),
    ...(exp['wouldPatch'] !== undefined ? { wouldPatch: patchList(file, exp['wouldPatch'], 'wouldPatch') } : {}),
    mutationExempted: idList(file, exp['mutationExempted'], 'mutationExempted'),
  };
  if (expect.allowed !== (expect.denied.length === 0))
    throw new CaseError(file, 'expect.allowed must be false exactly when expect.denied names a rule');

  const base = path.basename(file).replace(/\.ya?ml$/, '');
  return {
    id: `${folder}/${base}`,
    folder,
    file,
    name: typeof doc['name'] === 'string' ? doc['name'] : base.replace(/-/g, ' '),
    input: {
      operation,
      kind: gvk.kind,
      group: gvk.group,
      namespace,
      name,
      object,
      ...(oldObject !== null ? { oldObject } : {}),
    },
    request: {
      operation,
      kind: gvk,
      resource: { group: gvk.group, version: gvk.version, resource: resourceOf(gvk.kind) },
      namespace: clusterScoped ? (operation === 'CREATE' ? '' : name) : namespace,
      name,
      dryRun: req['dryRun'] === true,
      object,
      oldObject,
    },
    configText,
    config,
    now,
    fixedClock: nowRaw !== undefined,
    expect,
  };
}

/** The rule a warning names (`<rule id>: ...` or `<rule id> (pre-existing): ...`), and whether it is pre-existing. */
export function warningRule(w: string): { rule: string; preExisting: boolean } {
  const head = w.slice(0, w.indexOf(':'));
  const pre = head.endsWith(' (pre-existing)');
  return { rule: pre ? head.slice(0, -' (pre-existing)'.length) : head, preExisting: pre };
}

/** Every case under `dir` (default test/cases), sorted by id. Throws CaseError on a malformed file. */
export function loadCases(dir: string = CASES_DIR): GoldenCase[] {
  const out: GoldenCase[] = [];
  for (const folder of readdirSync(dir).sort()) {
    const full = path.join(dir, folder);
    if (!statSync(full).isDirectory()) continue;
    for (const f of readdirSync(full).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      const file = path.join(full, f);
      out.push(parseCase(file, readFileSync(file, 'utf8'), folder));
    }
  }
  return out;
}

/**
 * The AdmissionReview the apiserver would send for a case (`admission.k8s.io/v1` or `v1beta1`).
 * `uid` defaults to one derived from the case id, so runs are reproducible.
 */
export function admissionReview(
  c: GoldenCase,
  apiVersion: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1' = 'admission.k8s.io/v1',
  uid = `case-${c.id.replace(/[^a-z0-9-]/gi, '-')}`,
): Rec {
  const r = c.request;
  return {
    apiVersion,
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: r.kind,
      resource: r.resource,
      requestKind: r.kind,
      requestResource: r.resource,
      ...(r.name !== '' ? { name: r.name } : {}),
      ...(r.namespace !== '' ? { namespace: r.namespace } : {}),
      operation: r.operation,
      userInfo: { username: 'golden-case', groups: ['system:authenticated'] },
      object: r.object,
      oldObject: r.oldObject,
      dryRun: r.dryRun,
      options: null,
    },
  };
}
