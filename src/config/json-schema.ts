// The config file's JSON Schema for editors and other tools, made from the same TypeBox definition
// that ajv validates with (schema.ts), so what an editor accepts is what meshlock accepts.
// The checked-in copy, schema/config.schema.json, is regenerated with `npm run schema`.
import { ConfigSchema } from './schema.js';

/** A plain JSON Schema (draft-07, what editors' YAML support reads best), TypeBox's symbols dropped. */
export function configJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ConfigSchema)) as Record<string, unknown>;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'meshlock configuration',
    description: 'The file given to meshlock serve, check, audit and review with --config (YAML or JSON).',
    ...plain,
  };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
