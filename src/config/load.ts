// Reading and validating the configuration file (YAML or JSON). An invalid file is refused with
// the path of every error; callers that already run keep their previous config.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type ConfigFile } from './schema.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import { MeshlockError } from '../errors.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv, formats: string[]) => Ajv;

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv, ['date', 'date-time']);
const validateConfig = ajv.compile<ConfigFile>(ConfigSchema);

export interface ConfigIssue {
  /** JSON pointer into the file, `/` for the whole document. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends MeshlockError {
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      'MESHLOCK_ERR_CONFIG',
      `invalid config ${source}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
    );
  }
}

function describe(err: ErrorObject): ConfigIssue {
  const path = err.instancePath === '' ? '/' : err.instancePath;
  switch (err.keyword) {
    case 'additionalProperties':
      return { path, message: `unknown key "${String(err.params['additionalProperty'])}"` };
    case 'pattern':
      // The exemption glob pattern (schema.ts) only limits the number of stars.
      if (String(err.params['pattern']).startsWith('^[^*]*')) return { path, message: 'a glob holds at most 8 "*"' };
      return { path, message: err.message ?? 'does not match the pattern' };
    case 'enum':
    case 'const':
      return { path, message: `${err.message ?? 'invalid value'}` };
    default:
      return { path, message: err.message ?? err.keyword };
  }
}

/** Validates an already parsed document. Throws ConfigError listing every problem. */
export function parseConfigObject(doc: unknown, source = '<config>'): ConfigFile {
  // An empty file (null) means every default.
  const value = doc ?? {};
  if (validateConfig(value)) return value;
  const errors = validateConfig.errors ?? [];
  // A union of literals produces one error per branch; keep the first per path to stay readable.
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const e of errors) {
    const issue = describe(e);
    const key = `${issue.path}\u0000${e.keyword === 'const' || e.keyword === 'anyOf' ? 'union' : issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(
      e.keyword === 'const'
        ? { path: issue.path, message: `must be one of the allowed values (${unionValues(errors, e.instancePath)})` }
        : issue,
    );
  }
  throw new ConfigError(
    source,
    issues.filter(
      (i, idx) =>
        !(i.message === 'must match a schema in anyOf' && issues.some((j, k) => k !== idx && j.path === i.path)),
    ),
  );
}

function unionValues(errors: readonly ErrorObject[], path: string): string {
  return errors
    .filter((e) => e.keyword === 'const' && e.instancePath === path)
    .map((e) => JSON.stringify(e.params['allowedValue']))
    .join(', ');
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseConfigText(text: string, source = '<config>'): ConfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(source, [{ path: '/', message: `not valid YAML or JSON: ${(err as Error).message}` }]);
  }
  return parseConfigObject(doc, source);
}

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '/', message: `cannot read: ${(err as Error).message}` }]);
  }
}

/**
 * A config file's text to config. A file with no document at all (empty, blanks or comments only) is
 * refused: it is what a half-written or truncated file looks like, and read as "every default" it
 * would drop every exemption and per-namespace mode. `{}` says "every default" on purpose.
 */
export function configFromFileText(text: string, file: string): ResolvedConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(file, [{ path: '/', message: `not valid YAML or JSON: ${(err as Error).message}` }]);
  }
  if (doc === null || doc === undefined) {
    throw new ConfigError(file, [
      { path: '/', message: 'the file holds no YAML document (empty, or comments only); write {} for every default' },
    ]);
  }
  return resolveConfig(parseConfigObject(doc, file));
}

export function loadConfigFile(file: string): ResolvedConfig {
  return configFromFileText(readConfigText(file), file);
}

/** The config used when no file is given: every default. */
export function defaultConfig(): ResolvedConfig {
  return resolveConfig({});
}
