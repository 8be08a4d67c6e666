// SARIF 2.1.0, as code-scanning tools accept it: one run, a rule descriptor per rule id with its
// controls, a result per finding with a physical location (file and line of the object) when the
// object came from a file, and a logical location (namespace/kind/name) always.
import type { Entry, SarifTool } from './entries.js';

const SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const INFO_URI = 'https://github.com/meshlock/meshlock';

function artifactUri(e: Entry): string {
  if (e.file !== undefined) return e.file.replace(/\\/g, '/').replace(/^\.\//, '');
  // Objects read from a live cluster have no file: a stable pseudo-path names them.
  return `cluster/${e.namespace || '_cluster'}/${e.kind}/${e.name}`;
}

export function renderSarif(entries: readonly Entry[], tool: SarifTool): string {
  const ruleIds = [...new Set(entries.map((e) => e.rule))].sort();
  const rules = ruleIds.map((id) => {
    const sample = entries.find((e) => e.rule === id);
    const controls = sample?.controls ?? [];
    return {
      id,
      name: id,
      shortDescription: { text: id },
      helpUri: `${INFO_URI}#${id}`,
      properties: {
        controls: [...controls],
        controlTitles: controls.map((c) => tool.controlTitles.get(c) ?? c),
        tags: ['security', 'mtls', ...controls],
      },
    };
  });
  const results = entries.map((e) => ({
    ruleId: e.rule,
    ruleIndex: ruleIds.indexOf(e.rule),
    level: e.level,
    message: {
      text: `${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}: ${e.message}${e.fix ? `. Fix: ${e.fix}` : ''}`,
    },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: artifactUri(e) },
          region: { startLine: Math.max(1, e.line ?? 1) },
        },
        logicalLocations: [{ name: e.name, fullyQualifiedName: `${e.namespace}/${e.kind}/${e.name}`, kind: 'object' }],
      },
    ],
    ...(e.suppression
      ? { suppressions: [{ kind: 'external', status: 'accepted', justification: e.suppression }] }
      : {}),
    properties: {
      namespace: e.namespace,
      kind: e.kind,
      name: e.name,
      controls: [...e.controls],
      ...(e.mode ? { mode: e.mode } : {}),
    },
  }));
  const log = {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: tool.name, version: tool.version, informationUri: INFO_URI, rules } },
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
