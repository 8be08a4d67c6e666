// Linkerd's own parsers, so a value means to meshlock what it means to Linkerd.

/** An inclusive port range. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

export interface PortList {
  readonly ranges: readonly PortRange[];
  /** Entries Linkerd logs as invalid and skips. */
  readonly invalid: readonly string[];
}

const DIGITS = /^[+-]?\d+$/;

/**
 * A comma-separated list of ports and `lo-hi` ranges, as the injector, the destination controller
 * and proxy-init read skip lists: pkg/util/parsing.go ParsePorts (GetPortRanges trims each entry
 * and one trailing comma) and pkg/util/portrange.go ParsePortRange (0..65535, lo <= hi). An invalid
 * entry is skipped, the others still apply.
 */
export function parsePortList(text: string): PortList {
  const ranges: PortRange[] = [];
  const invalid: string[] = [];
  if (text === '') return { ranges, invalid };
  const body = text.endsWith(',') ? text.slice(0, -1) : text;
  for (const raw of body.split(',')) {
    const entry = raw.trim();
    const bounds = entry.split('-');
    if (bounds.length > 2) {
      invalid.push(entry);
      continue;
    }
    const lo = DIGITS.test(bounds[0] ?? '') ? Number(bounds[0]) : NaN;
    const hi = bounds.length === 2 ? (DIGITS.test(bounds[1] ?? '') ? Number(bounds[1]) : NaN) : lo;
    if (!(lo >= 0 && lo <= 65535 && hi >= 0 && hi <= 65535 && hi >= lo)) {
      invalid.push(entry);
      continue;
    }
    ranges.push({ lo, hi });
  }
  return { ranges, invalid };
}

/**
 * The policy controller's port set (policy-controller/k8s/index/src/ports.rs parse_portset, read
 * through inbound/workload.rs ports_annotation): ports 1..65535, `lo-hi` ranges, blanks skipped;
 * ONE invalid entry makes the whole annotation the empty set.
 */
export function parsePortSet(text: string): ReadonlySet<number> | undefined {
  const out = new Set<number>();
  for (const spec of text.split(',')) {
    const dash = spec.indexOf('-');
    if (dash < 0) {
      if (spec.trim() === '') continue;
      const p = u16NonZero(spec.trim());
      if (p === undefined) return undefined;
      out.add(p);
      continue;
    }
    const lo = u16NonZero(spec.slice(0, dash).trim());
    const hi = u16NonZero(spec.slice(dash + 1).trim());
    if (lo === undefined || hi === undefined || lo > hi) return undefined;
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return out;
}

function u16NonZero(s: string): number | undefined {
  if (!/^\+?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.lo && port <= r.hi);
}

/** Go's strconv.ParseBool, which every boolean annotation goes through (pkg/inject/inject.go). */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits. */
export function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}
