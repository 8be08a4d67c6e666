// Label selectors as Linkerd's policy controller matches them.
import { asMap, field, isObj, type AnnotationsLike } from './read.js';

/**
 * policy-controller/k8s/api/src/labels.rs Selector::matches: every matchExpression and every
 * matchLabels entry must hold (an empty or absent selector selects everything). An expression
 * whose operator and values do not fit (In/NotIn without values, Exists/DoesNotExist with values,
 * an unknown operator) is illegal and matches nothing. A selector that is not an object matches nothing.
 */
export function selectorMatches(selector: unknown, labels: AnnotationsLike): boolean {
  if (selector === undefined || selector === null) return true;
  if (!isObj(selector)) return false;
  const l = asMap(labels);
  const exprs = field(selector, 'matchExpressions');
  if (exprs !== undefined) {
    if (!Array.isArray(exprs)) return false;
    for (const e of exprs) if (!expressionMatches(e, l)) return false;
  }
  const ml = field(selector, 'matchLabels');
  if (ml !== undefined) {
    if (!isObj(ml)) return false;
    for (const [k, v] of Object.entries(ml)) if (l.get(k) !== v) return false;
  }
  return true;
}

function expressionMatches(e: unknown, labels: ReadonlyMap<string, string>): boolean {
  const key = field(e, 'key');
  const op = field(e, 'operator');
  const values = field(e, 'values');
  if (typeof key !== 'string') return false;
  const list = Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : undefined;
  if (values !== undefined && list === undefined) return false;
  switch (op) {
    case 'In':
      return list !== undefined && labels.has(key) && list.includes(labels.get(key) as string);
    case 'NotIn':
      return list !== undefined && (!labels.has(key) || !list.includes(labels.get(key) as string));
    case 'Exists':
      return values === undefined && labels.has(key);
    case 'DoesNotExist':
      return values === undefined && !labels.has(key);
    default:
      return false;
  }
}
