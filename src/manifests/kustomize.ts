// A folder with a kustomization is what `kubectl apply -k` would apply, not its raw files: patches,
// name prefixes, namespaces and generators change the objects. It is rendered with the user's own
// `kubectl kustomize` (the kustomize kubectl embeds), as `kubectl apply -k` would render it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// kustomize's own list of file names (sigs.k8s.io/kustomize/api/konfig RecognizedKustomizationFileNames).
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

export function kustomizationIn(dir: string): string | undefined {
  return KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
}

/** kubectl from $KUBECTL or PATH, or undefined. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env['KUBECTL']) return env['KUBECTL'];
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  return undefined;
}

export type Rendered = { text: string; file: string } | { error: string } | { skip: string } | undefined;

/**
 * For a folder holding a kustomization: its rendered objects, a render error, or (without kubectl)
 * a note that its files are read as they are. Undefined for anything else.
 */
export function renderKustomization(dir: string, kubectl = findKubectl()): Rendered {
  const file = kustomizationIn(dir);
  if (!file) return undefined;
  if (!kubectl) {
    return {
      skip: `has a kustomization but kubectl is not on PATH: its files are read as they are, patches not applied (render first: kubectl kustomize ${dir} | meshlock check -f -)`,
    };
  }
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  if (r.error) return { error: `kubectl kustomize: ${r.error.message}` };
  if (r.status !== 0) return { error: `kubectl kustomize failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` };
  return { text: r.stdout, file };
}
