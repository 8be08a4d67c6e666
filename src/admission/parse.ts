// Reading a request body as JSON, shared by the server's body parser and `meshlock review` so both
// refuse the same bodies with the same codes.
import { MeshlockHttpError } from './errors.js';

// Keys that can reach Object.prototype when a parsed object is later merged with Object.assign
// (prototype poisoning). JSON may spell them with \u escapes; a cheap scan of the text decides
// whether the parsed tree needs walking at all.
const PROTO_KEY =
  /"(?:_|\\u005[fF]){2}(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[fF])(?:t|\\u0074)(?:o|\\u006[fF])(?:_|\\u005[fF]){2}"\s*:/;
const CONSTRUCTOR_KEY =
  /"(?:c|\\u0063)(?:o|\\u006[fF])(?:n|\\u006[eE])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[fF])(?:r|\\u0072)"\s*:/;

function poisoned(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(o, '__proto__')) return true;
    const c = Object.prototype.hasOwnProperty.call(o, 'constructor') ? o['constructor'] : undefined;
    if (typeof c === 'object' && c !== null && Object.prototype.hasOwnProperty.call(c, 'prototype')) return true;
    for (const k of Object.keys(o)) stack.push(o[k]);
  }
  return false;
}

/**
 * Where the JSON breaks, without quoting it: V8's messages quote the text around the error
 * ("Unexpected token 'x', "...body..." is not valid JSON"), and a body may hold secrets.
 */
function whereInvalid(err: Error): string {
  if (/end of JSON input|Unterminated/i.test(err.message)) return 'it ends before the JSON does';
  const at = /at position (\d+)/.exec(err.message);
  return at ? `syntax error at character ${at[1]}` : 'syntax error';
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new MeshlockHttpError('EMPTY_BODY');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MeshlockHttpError('INVALID_JSON', whereInvalid(err as Error));
  }
  if ((PROTO_KEY.test(text) || CONSTRUCTOR_KEY.test(text)) && poisoned(value)) {
    throw new MeshlockHttpError('INVALID_JSON', 'it contains a "__proto__" or "constructor.prototype" key');
  }
  return value;
}
