import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ARCHITECTURE.md's layering table as a lint rule: which src/ folders each folder may import.
// `types` lists folders whose types (import type) only may be used. Folders not listed for a layer
// are refused; cli/ may import everything and nothing may import cli/. watch/ (the generic file
// watcher, used for the config and the certificates) imports nothing of ours. src/errors.ts (the
// error catalogue and base class) is not a layer: every layer but the mesh models may import it.
const LAYERS = {
  policy: { may: [], types: ['config'] },
  config: { may: ['watch'] },
  watch: { may: [] },
  admission: { may: ['policy', 'config'] },
  server: { may: ['admission', 'tls', 'config', 'watch'] },
  tls: { may: ['kube', 'watch'] },
  kube: { may: [] },
  manifests: { may: [] },
  check: { may: ['policy', 'config', 'manifests'] },
  audit: { may: ['policy', 'config', 'kube', 'manifests'] },
  // Renderers read the models they render and nothing else: every value they print is in the model.
  report: { may: [], types: ['audit', 'check', 'policy', 'config'] },
};
const FOLDERS = [
  'policy',
  'config',
  'watch',
  'admission',
  'server',
  'tls',
  'kube',
  'manifests',
  'check',
  'audit',
  'report',
  'cli',
];
// How a file in src/<layer>/ (or deeper, up to three levels) spells a path into src/<folder>/.
const into = (folder) => ['../', '../../', '../../../'].flatMap((up) => [`${up}${folder}/*`, `${up}${folder}/**`]);

function layering() {
  const configs = Object.entries(LAYERS).map(([layer, { may, types = [] }]) => {
    const refused = FOLDERS.filter((f) => f !== layer && !may.includes(f) && !types.includes(f));
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                group: refused.flatMap(into),
                message: `ARCHITECTURE.md: ${layer}/ may import ${[...may, ...types.map((t) => `${t}/ types`)].join(', ') || 'nothing of ours'}`,
              },
              ...types.map((t) => ({
                group: into(t),
                allowTypeImports: true,
                message: `ARCHITECTURE.md: ${layer}/ may import only the types of ${t}/`,
              })),
            ],
          },
        ],
      },
    };
  });
  // The models of a mesh: nothing of ours at all (one level up is policy/ itself).
  for (const mesh of ['istio', 'linkerd']) {
    configs.push({
      files: [`src/policy/${mesh}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                group: ['../*', '../../*', '../../../*'],
                message: `ARCHITECTURE.md: policy/${mesh} imports nothing of ours`,
              },
            ],
          },
        ],
      },
    });
  }
  // src/errors.ts, the one error catalogue every layer may import, imports nothing of ours.
  configs.push({
    files: ['src/errors.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['./*'], message: 'ARCHITECTURE.md: src/errors.ts imports nothing of ours' }] },
      ],
    },
  });
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'test/e2e/cluster/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layering(),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
      },
    },
  },
);
