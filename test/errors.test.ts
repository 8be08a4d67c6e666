// One error catalogue (src/errors.ts): every error meshlock raises is a MeshlockError with a code from
// it, every code in it is raised somewhere, and errors from each layer carry their code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ERROR_CODES, MeshlockError } from '../src/errors.js';
import { ConfigError, parseConfigText } from '../src/config/index.js';
import { applyPatch, PatchError } from '../src/policy/index.js';
import { admit, MeshlockHttpError } from '../src/admission/index.js';
import { defaultConfig } from '../src/config/index.js';
import { loadKubeConfig } from '../src/kube/client.js';
import { repoRoot } from './lib/needs.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

t.test('every class that extends Error in src/ is the base class itself', async (t) => {
  const offenders = sources(join(repoRoot, 'src')).flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/class (\w+) extends Error\b/g)].map(
      (m) => `${f.slice(repoRoot.length + 1)}: ${m[1]}`,
    ),
  );
  t.same(offenders, ['src/errors.ts: MeshlockError'], 'only MeshlockError extends Error directly');
});

t.test('every catalogue code is raised somewhere outside the catalogue', async (t) => {
  const text = sources(join(repoRoot, 'src'))
    .filter((f) => !f.endsWith(`${join('src', 'errors.ts')}`))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  for (const code of Object.keys(ERROR_CODES)) t.ok(text.includes(`'${code}'`), `${code} is used`);
});

t.test("each layer's errors carry their catalogue code", async (t) => {
  let err: unknown;
  try {
    parseConfigText('mode: sometimes\n');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError && err instanceof MeshlockError, 'config: ConfigError is a MeshlockError');
  t.equal((err as MeshlockError).code, 'MESHLOCK_ERR_CONFIG');
  t.equal((err as MeshlockError).name, 'ConfigError', 'its name is its class');

  t.throws(() => applyPatch({}, [{ op: 'remove', path: '/metadata/labels/x' }]), PatchError);
  try {
    applyPatch({}, [{ op: 'remove', path: '/metadata/labels/x' }]);
    t.fail('the patch applied');
  } catch (e) {
    t.equal((e as MeshlockError).code, 'MESHLOCK_ERR_PATCH', 'policy: PatchError');
  }

  try {
    admit(
      'validate',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} },
      { config: defaultConfig(), now: new Date() },
    );
    t.fail('a review without a uid is answered');
  } catch (e) {
    t.ok(e instanceof MeshlockHttpError && e instanceof MeshlockError, 'admission: MeshlockHttpError');
    t.equal((e as MeshlockHttpError).code, 'MESHLOCK_ERR_MISSING_UID');
    t.equal((e as MeshlockHttpError).statusCode, 400);
  }

  try {
    loadKubeConfig({ kubeconfig: join(repoRoot, 'no-such-kubeconfig') });
    t.fail('a missing kubeconfig file loads');
  } catch (e) {
    t.ok(e instanceof MeshlockError, 'kube: a MeshlockError');
    t.equal((e as MeshlockError).code, 'MESHLOCK_ERR_KUBECONFIG');
  }
});
