// Reading both tools' outputs into one shape, and comparing them, for bench/compare-kyverno.mjs.
// A decision is { deny: boolean, rules: string[], patched: boolean }, keyed by `Kind/namespace/name`
// (namespace empty for cluster-scoped kinds).

const CLUSTER_SCOPED = new Set(['Namespace']);

function key(kind, namespace, name) {
  return `${kind}/${CLUSTER_SCOPED.has(kind) ? '' : (namespace ?? '')}/${name ?? ''}`;
}

function entry(map, k) {
  let d = map.get(k);
  if (!d) {
    d = { deny: false, rules: [], patched: false };
    map.set(k, d);
  }
  return d;
}

/**
 * `kyverno apply --policy-report --output-format json` prints every mutated resource (YAML), then a
 * merged ClusterReport as one line of JSON glued to the last "Mutation has been applied
 * successfully." (and, for namespaced policies, PolicyReports after `---` lines). A result is one
 * policy rule on one resource: `fail` (or `error`) on any validate rule means admission would refuse
 * it (had the policies been in Enforce); `pass` on a mutate rule means Kyverno patched it (`skip`:
 * nothing to change).
 * @param {string} stdout
 * @param {Set<string>} mutateRules `policy/rule` names of mutate rules (autogen variants included)
 */
export function parseKyvernoReport(stdout, mutateRules = new Set()) {
  const decisions = new Map();
  const docs = [...stdout.matchAll(/\{"kind":"(?:Cluster)?(?:Policy)?Report".*$/gm)].map((m) => m[0]);
  if (docs.length === 0) throw new Error(`no policy report in kyverno's output: ${stdout.slice(-500)}`);
  for (const doc of docs) {
    const report = JSON.parse(doc);
    for (const r of report.results ?? []) {
      const ruleId = `${r.policy}/${r.rule}`;
      for (const res of r.resources ?? []) {
        const d = entry(decisions, key(res.kind, res.namespace, res.name));
        if (r.result === 'fail' || r.result === 'error') {
          d.deny = true;
          d.rules.push(r.result === 'error' ? `${ruleId}(error)` : ruleId);
        } else if (r.result === 'pass' && mutateRules.has(ruleId)) {
          d.patched = true;
        }
      }
    }
  }
  return decisions;
}

/** `policy/rule` names of the mutate rules in Kyverno policies, with the names autogen gives them. */
export function mutateRuleNames(policies) {
  const names = new Set();
  for (const p of policies) {
    for (const rule of p?.spec?.rules ?? []) {
      if (!rule.mutate) continue;
      for (const prefix of ['', 'autogen-', 'autogen-cronjob-']) names.add(`${p.metadata.name}/${prefix}${rule.name}`);
    }
  }
  return names;
}

/**
 * `meshlock check --output json`: `{ summary, results: [{ kind, namespace, name, decision, rules,
 * patch, findings, ... }], errors }`. An unreadable document is an error here: the benchmark's
 * input is generated, so any error is a bug in one of the two.
 */
export function parseCheckOutput(stdout) {
  const doc = JSON.parse(stdout);
  if (!Array.isArray(doc?.results)) throw new Error(`no results[] in meshlock check's JSON: ${stdout.slice(0, 500)}`);
  if (Array.isArray(doc.errors) && doc.errors.length > 0)
    throw new Error(`meshlock check could not read the set: ${JSON.stringify(doc.errors.slice(0, 3))}`);
  const decisions = new Map();
  for (const o of doc.results) {
    const d = entry(decisions, key(o.kind, o.namespace, o.name));
    if (o.decision === 'deny') d.deny = true;
    // The rules that deny; where nothing denies, every rule named (warnings).
    const denying = (o.findings ?? []).filter((f) => f.denies).map((f) => f.rule);
    d.rules.push(...(denying.length > 0 ? denying : (o.rules ?? [])));
    if (Array.isArray(o.patch) && o.patch.length > 0) d.patched = true;
  }
  return decisions;
}

/**
 * Compares per object (patches only on Namespaces: the only kind a Kyverno policy here mutates); every generated object must be in meshlock's output (check reports each
 * object), while Kyverno omits the objects no policy matches (those it lets through).
 */
export function compareDecisions(set, kyverno, meshlock) {
  const groups = new Map();
  const patchGroups = new Map();
  const out = {
    total: 0,
    agree: 0,
    disagree: 0,
    meshlockStricter: 0,
    kyvernoStricter: 0,
    missing: [],
    groups: [],
    mutationOnly: [],
    meshlockPatchedWorkloads: 0,
  };
  for (const [k, variant] of set.variants) {
    out.total++;
    const m = meshlock.get(k);
    if (!m) {
      out.missing.push(k);
      continue;
    }
    const kv = kyverno.get(k) ?? { deny: false, rules: [], patched: false };
    if (m.deny === kv.deny) {
      out.agree++;
      if (!CLUSTER_SCOPED.has(k.split('/')[0])) {
        if (m.patched) out.meshlockPatchedWorkloads++;
      } else if (m.patched !== kv.patched) {
        const g = patchGroups.get(variant) ?? {
          variant,
          count: 0,
          kyvernoPatched: kv.patched ? 'yes' : 'no',
          meshlockPatched: m.patched ? 'yes' : 'no',
          example: k,
        };
        g.count++;
        patchGroups.set(variant, g);
      }
      continue;
    }
    out.disagree++;
    const stricter = m.deny ? 'meshlock' : 'kyverno';
    if (m.deny) out.meshlockStricter++;
    else out.kyvernoStricter++;
    const gk = `${stricter}\0${variant}`;
    const g = groups.get(gk) ?? {
      stricter,
      variant,
      count: 0,
      meshlockRules: new Set(),
      kyvernoRules: new Set(),
      example: k,
    };
    g.count++;
    for (const r of m.rules) g.meshlockRules.add(r);
    for (const r of kv.rules) g.kyvernoRules.add(r);
    groups.set(gk, g);
  }
  out.groups = [...groups.values()]
    .map((g) => ({ ...g, meshlockRules: [...g.meshlockRules].sort(), kyvernoRules: [...g.kyvernoRules].sort() }))
    .sort((a, b) => a.stricter.localeCompare(b.stricter) || b.count - a.count);
  out.mutationOnly = [...patchGroups.values()].sort((a, b) => b.count - a.count);
  return out;
}

// Why each kind of case is decided differently. Keys are the generator's variants.
export const EXPLANATIONS = {
  'ns-injection-disabled':
    "Kyverno's mutate overwrites the explicit opt-out `istio-injection: disabled` with `enabled` and then passes it; POLICY.md refuses an opt-out instead of silently overwriting it (ns-injection-disabled).",
  'pa-mesh-unset':
    'a mesh-wide PeerAuthentication with UNSET leaves the mesh PERMISSIVE (pa-mesh-strict); Kyverno accepts UNSET everywhere.',
  'pa-port-level-permissive':
    'Kyverno reads only spec.mtls.mode; a port-level PERMISSIVE still accepts plaintext on that port (pa-port-mode).',
  'dr-simple-in-mesh':
    'TLS origination (SIMPLE) towards an in-mesh host replaces the mesh identity with other certificates (dr-tls-origination); Kyverno refuses only DISABLE.',
  'dr-mutual-in-mesh':
    'as SIMPLE: MUTUAL with its own certificates towards an in-mesh host bypasses ISTIO_MUTUAL (dr-tls-origination).',
  'dr-subset-disable-in-mesh':
    "Kyverno reads only spec.trafficPolicy.tls; a subset's trafficPolicy with DISABLE still sends plaintext (dr-tls-disable).",
  'dr-port-disable-in-mesh':
    'Kyverno reads only spec.trafficPolicy.tls; a portLevelSettings entry with DISABLE still sends plaintext (dr-tls-disable).',
  'dr-disable-egress':
    'Kyverno is stricter: DISABLE towards a host outside the mesh (payments.example.com) is egress, which POLICY.md leaves alone (no mesh identity exists there).',
  'pod-inject-false-label':
    'Kyverno checks only the annotation; the `sidecar.istio.io/inject` label is what current Istio reads first (pod-injection-disabled).',
  'deploy-inject-false-label': "as pod-inject-false-label, on the Deployment's pod template.",
  'cronjob-inject-false-label': "as pod-inject-false-label, on the CronJob's pod template.",
  'pod-inject-no':
    'Kyverno lets any value but `false` through; older Istio releases read `no` as false, so POLICY.md refuses every value but `true` (pod-injection-disabled).',
  'pod-host-network':
    'no Kyverno policy in the set covers hostNetwork pods, which Istio never injects (pod-host-network).',
  'deploy-host-network': "as pod-host-network, on the Deployment's pod template.",
  'cronjob-host-network': "as pod-host-network, on the CronJob's pod template.",
  'pod-exclude-inbound-ports':
    'no Kyverno policy in the set covers inbound capture bypass annotations (pod-capture-bypass).',
  'deploy-exclude-inbound-ports': "as pod-exclude-inbound-ports, on the Deployment's pod template.",
  'cronjob-exclude-inbound-ports': "as pod-exclude-inbound-ports, on the CronJob's pod template.",
  'pod-proxy-uid': "no Kyverno policy in the set covers containers running as the proxy's UID 1337 (pod-proxy-uid).",
  'deploy-proxy-uid': "as pod-proxy-uid, on the Deployment's pod template.",
  'cronjob-proxy-uid': "as pod-proxy-uid, on the CronJob's pod template.",
  'pod-net-admin':
    'no Kyverno policy in the set covers NET_ADMIN/NET_RAW, which can rewrite the redirection rules (pod-net-admin).',
  'system-inject-false':
    "Kyverno is stricter: istiod's own template opts out of injection; POLICY.md leaves system namespaces (the root namespace, kube-system) out of scope.",
  'patch:ns-revision':
    'Kyverno adds `istio-injection: enabled` to a namespace already enrolled through `istio.io/rev`, which makes Istio ignore the revision; meshlock leaves it.',
  'patch:ns-ambient':
    'Kyverno adds `istio-injection: enabled` to an ambient namespace, giving its pods sidecars; meshlock leaves it.',
  'patch:ns-injection-enabled':
    'Kyverno reports its mutate rule as applied even where the label is already there; nothing changes.',
  'patch:ns-enabled-and-revision': 'as ns-injection-enabled: the label is already there.',
  'patch:ns-injection-disabled': 'Kyverno overwrites the opt-out; meshlock refuses it instead (see above).',
  'patch:system-namespace':
    'Kyverno labels kube-system and istio-system for injection; meshlock leaves system namespaces alone.',
};
