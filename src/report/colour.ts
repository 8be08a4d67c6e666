// ANSI colour only when writing to a terminal (and NO_COLOR is unset).
export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const wrap =
  (code: number, reset: number) =>
  (s: string): string =>
    `\u001b[${code}m${s}\u001b[${reset}m`;

export function paint(enabled: boolean): Paint {
  if (!enabled) {
    const id = (s: string): string => s;
    return { red: id, yellow: id, green: id, bold: id, dim: id };
  }
  return { red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), bold: wrap(1, 22), dim: wrap(2, 22) };
}
