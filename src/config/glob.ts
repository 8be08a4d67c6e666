// Exemption globs: `*` matches any run of characters (also none), `?` exactly one, everything else
// itself. Kubernetes names hold no `/`, so there is no path syntax. Matching never backtracks: a
// regular expression such as picomatch compiles `*-*-*-*-*-*-*-x` to, tries every split of the name
// between the stars, and a 253-character name then costs billions of steps (ReDoS in a webhook that
// fails closed is an outage). Here the glob is cut at its stars into literal segments; the first must
// start the name, the last must end it, and each middle one is taken at its leftmost place after the
// previous one. Leftmost is always right: a later place leaves less room for the segments after it,
// never more. Each name position is compared against at most one segment length, so the work is
// bounded by (name length + 1) * (glob length + 1) and, for the short segments globs have, close to
// linear in the name.

/** The most `*` a glob may hold (the config schema enforces it too). */
export const MAX_GLOB_STARS = 8;

export interface GlobCounter {
  /** Character comparisons made, for tests that bound the work. */
  steps: number;
}

export interface Glob {
  readonly source: string;
  matches(name: string, counter?: GlobCounter): boolean;
}

function segmentAt(name: string, at: number, seg: string, counter: GlobCounter | undefined): boolean {
  if (at + seg.length > name.length) return false;
  for (let i = 0; i < seg.length; i++) {
    if (counter) counter.steps++;
    const c = seg.charCodeAt(i);
    // `?` (0x3f) matches any one character.
    if (c !== 0x3f && c !== name.charCodeAt(at + i)) return false;
  }
  return true;
}

export function compileGlob(source: string): Glob {
  const segments = source.split('*');
  if (segments.length === 1) {
    return { source, matches: (name, counter) => name.length === source.length && segmentAt(name, 0, source, counter) };
  }
  const first = segments[0] as string;
  const last = segments[segments.length - 1] as string;
  const middle = segments.slice(1, -1).filter((s) => s !== '');
  const fixed = first.length + last.length;
  return {
    source,
    matches(name, counter) {
      if (name.length < fixed) return false;
      if (!segmentAt(name, 0, first, counter)) return false;
      const end = name.length - last.length;
      if (!segmentAt(name, end, last, counter)) return false;
      let at = first.length;
      for (const seg of middle) {
        let found = -1;
        for (let p = at; p + seg.length <= end; p++) {
          if (segmentAt(name, p, seg, counter)) {
            found = p;
            break;
          }
        }
        if (found < 0) return false;
        at = found + seg.length;
      }
      return true;
    },
  };
}
