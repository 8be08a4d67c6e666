// ARCHITECTURE.md's layering table is enforced by eslint.config.js; this runs ESLint on imports a
// file of each layer might write, so the rule itself cannot silently stop refusing them.
import { ESLint } from 'eslint';
import t from 'tap';
import { repoRoot } from './lib/needs.js';

const eslint = new ESLint({ cwd: repoRoot });

async function refused(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath: `${repoRoot}/${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const CASES: [file: string, code: string, allowed: boolean, why: string][] = [
  [
    'src/policy/x.ts',
    "import type { ResolvedConfig } from '../config/index.js'; export type C = ResolvedConfig;",
    true,
    'policy may use config types',
  ],
  [
    'src/policy/x.ts',
    "import { defaultConfig } from '../config/index.js'; defaultConfig();",
    false,
    'policy may not call config code',
  ],
  [
    'src/policy/x.ts',
    "import { x } from '../audit/build.js'; void x;",
    false,
    'policy imports nothing but config types',
  ],
  ['src/policy/istio/x.ts', "import { x } from '../scope.js'; void x;", false, 'policy/istio imports nothing of ours'],
  [
    'src/policy/istio/x.ts',
    "import type { ResolvedConfig } from '../../config/index.js'; export type C = ResolvedConfig;",
    false,
    'not even config types',
  ],
  ['src/policy/istio/x.ts', "import { x } from './y.js'; void x;", true, 'its own files'],
  ['src/admission/x.ts', "import { x } from '../server/app.js'; void x;", false, 'admission never imports server'],
  ['src/admission/x.ts', "import { x } from '../policy/index.js'; void x;", true, 'admission calls the engine'],
  ['src/server/x.ts', "import { x } from '../tls/index.js'; void x;", true, 'server uses tls'],
  ['src/server/x.ts', "import { x } from '../cli/serve.js'; void x;", false, 'nothing imports cli'],
  ['src/config/x.ts', "import { x } from '../policy/index.js'; void x;", false, 'config imports nothing of ours'],
  [
    'src/config/x.ts',
    "import { x } from '../watch/files.js'; void x;",
    true,
    'config reloads through the file watcher',
  ],
  ['src/server/x.ts', "import { x } from '../watch/files.js'; void x;", true, 'server watches the certificate files'],
  ['src/tls/x.ts', "import { x } from '../watch/files.js'; void x;", true, 'tls may use the file watcher'],
  ['src/watch/x.ts', "import { x } from '../config/index.js'; void x;", false, 'watch imports nothing of ours'],
  ['src/policy/x.ts', "import { x } from '../watch/files.js'; void x;", false, 'policy never watches files'],
  ['src/tls/x.ts', "import { x } from '../kube/secrets.js'; void x;", true, 'tls may use kube'],
  ['src/tls/x.ts', "import { x } from '../config/index.js'; void x;", false, 'tls imports nothing but kube'],
  ['src/kube/x.ts', "import { x } from '../tls/index.js'; void x;", false, 'kube imports nothing of ours'],
  ['src/audit/x/y.ts', "import { x } from '../../kube/list.js'; void x;", true, 'audit reads the cluster through kube'],
  ['src/audit/x.ts', "import { x } from '../server/app.js'; void x;", false, 'audit never imports server'],
  [
    'src/audit/x.ts',
    "import { x } from '../report/policyreport.js'; void x;",
    false,
    'audit never calls a renderer (the CLI hands one in)',
  ],
  ['src/check/x.ts', "import { x } from '../manifests/sources.js'; void x;", true, 'check reads manifests'],
  ['src/check/x.ts', "import { x } from '../kube/list.js'; void x;", false, 'check never reads a cluster'],
  ['src/check/x.ts', "import { x } from '../report/check.js'; void x;", false, 'check never renders'],
  [
    'src/report/x.ts',
    "import type { AuditReport } from '../audit/model.js'; export type R = AuditReport;",
    true,
    "report reads the audit's model types",
  ],
  [
    'src/report/x.ts',
    "import type { CheckReport } from '../check/check.js'; export type R = CheckReport;",
    true,
    "report reads the check's model types",
  ],
  [
    'src/report/x.ts',
    "import { buildReport } from '../audit/build.js'; void buildReport;",
    false,
    'report calls no audit code: every value it prints is in the model',
  ],
  [
    'src/report/x.ts',
    "import { CONTROLS } from '../policy/controls.js'; void CONTROLS;",
    false,
    'report reads the control catalogue from the model',
  ],
  ['src/report/x.ts', "import { x } from '../kube/reports.js'; void x;", false, 'report writes nothing to a cluster'],
  ['src/cli/x.ts', "import { x } from '../server/app.js'; void x;", true, 'cli may import everything'],
  [
    'src/kube/x.ts',
    "import { MeshlockError } from '../errors.js'; void MeshlockError;",
    true,
    'every layer raises errors from the one catalogue',
  ],
  [
    'src/policy/x.ts',
    "import { MeshlockError } from '../errors.js'; void MeshlockError;",
    true,
    'policy too (PatchError)',
  ],
  [
    'src/policy/istio/x.ts',
    "import { MeshlockError } from '../../errors.js'; void MeshlockError;",
    false,
    'the mesh models import nothing of ours, not even errors',
  ],
  [
    'src/errors.ts',
    "import { x } from './config/index.js'; void x;",
    false,
    'the error catalogue imports nothing of ours',
  ],
];

for (const [file, code, allowed, why] of CASES) {
  t.test(`${why} (${file}: ${code.split(';')[0]})`, async (t) => {
    const messages = await refused(file, code);
    if (allowed) t.same(messages, [], 'allowed');
    else t.match(messages[0] ?? '', /ARCHITECTURE\.md/, 'refused, citing ARCHITECTURE.md');
  });
}
