// Texts the engine hands out: the denial message and admission warnings (POLICY.md).
import type { Finding } from './types.js';

export const WARNING_MAX = 120;

/** `- [<rule id>] <what is wrong>. Fix: <what to change>` */
export function violationLine(f: { rule: string; message: string; fix: string }): string {
  return `- [${f.rule}] ${f.message}. Fix: ${f.fix}`;
}

/** First line `meshlock denied <Kind> <namespace>/<name>: <N> violation(s)`, then one line per violation. */
export function denialMessage(kind: string, namespace: string, name: string, denied: readonly Finding[]): string {
  const n = denied.length;
  const head = `meshlock denied ${kind} ${namespace}/${name}: ${n} violation${n === 1 ? '' : 's'}`;
  return [head, ...denied.map(violationLine)].join('\n');
}

/**
 * A warning starts with the rule id and stays within 120 characters (kubectl prints each on a line).
 * A violation an UPDATE kept from oldObject reads `<rule id> (pre-existing): ...`.
 */
export function warningText(f: { rule: string; message: string; fix: string; preExisting?: boolean }): string {
  const head = f.preExisting === true ? `${f.rule} (pre-existing)` : f.rule;
  const full = `${head}: ${f.message}. Fix: ${f.fix}`;
  if (full.length <= WARNING_MAX) return full;
  const short = `${head}: ${f.message}`;
  if (short.length <= WARNING_MAX) return short;
  return `${short.slice(0, WARNING_MAX - 3)}...`;
}
