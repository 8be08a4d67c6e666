// Label selectors as Kubernetes and Istio evaluate them.
import { entries, get, has, type Labels } from './names.js';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/**
 * Kubernetes label selector semantics (apimachinery metav1.LabelSelectorAsSelector, used by the
 * injector webhooks' namespaceSelector/objectSelector and istio-cni's CompiledEnablementSelectors):
 * every matchLabels entry and every expression must hold; an absent or empty selector matches
 * everything; `NotIn` and `DoesNotExist` hold for an absent key. An operator Kubernetes does not know
 * makes the selector invalid, and an invalid selector matches nothing here.
 */
export function selectorMatches(sel: LabelSelector | undefined, labels: Labels | undefined): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (get(labels, k) !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const present = has(labels, e.key);
    const v = get(labels, e.key);
    const listed = typeof v === 'string' && (e.values ?? []).includes(v);
    switch (e.operator) {
      case 'In':
        if (!present || !listed) return false;
        break;
      case 'NotIn':
        if (present && listed) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Istio's `labels.Instance.SubsetOf` (pkg/config/labels/instance.go), how a PeerAuthentication's
 * `selector.matchLabels` selects a workload (pilot/pkg/model/authentication.go getConfigsForWorkload):
 * every entry present with the same value. An empty selector is a subset of anything.
 */
export function subsetOf(matchLabels: Readonly<Record<string, string>>, labels: Labels | undefined): boolean {
  for (const [k, v] of Object.entries(matchLabels)) if (get(labels, k) !== v) return false;
  return true;
}

/** Labels as a plain string record (non-string values dropped: Kubernetes label values are strings). */
export function stringLabels(labels: Labels | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}
