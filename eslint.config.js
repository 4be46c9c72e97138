// ESLint: typed TS + Svelte rules, Prettier owns formatting, and the import direction of ARCHITECTURE.md
// (components → state → engines/storage/imaging → core; workers → core) is enforced with no-restricted-imports.
import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message })) }],
  },
});

export default ts.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'public/models/',
      'tests/fixtures/generated/',
      'test-results/',
      'playwright-report/',
      'bench/out/',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  prettier,
  ...svelte.configs.prettier,
  {
    // __APP_VERSION__ is injected by vite.config.ts (`define`).
    languageOptions: { globals: { ...globals.browser, ...globals.node, __APP_VERSION__: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
  layer(
    ['src/lib/core/**'],
    [
      '**/engines/**',
      '**/storage/**',
      '**/imaging/**',
      '**/state/**',
      '**/components/**',
      '**/workers/**',
      'idb',
      'comlink',
      '@huggingface/*',
      '@mlc-ai/*',
      'onnxruntime-*',
      'svelte',
      'svelte/*',
    ],
    'core is pure: it imports nothing but itself.',
  ),
  layer(
    ['src/lib/components/**'],
    ['**/engines/**', '**/storage/**', 'idb', 'comlink'],
    'components are presentational: go through state.',
  ),
  layer(
    ['src/lib/engines/**', 'src/lib/storage/**', 'src/lib/imaging/**'],
    ['**/state/**', '**/components/**'],
    'imports point towards core.',
  ),
  {
    // State keeps immutable snapshots in $state.raw; Maps/Sets built inside its methods are scratch values or
    // frozen results, never mutated reactively, so Svelte's reactive collections would only add overhead.
    files: ['src/lib/state/**'],
    rules: { 'svelte/prefer-svelte-reactivity': 'off' },
  },
  layer(['src/lib/state/**'], ['**/components/**'], 'state never imports components.'),
  layer(
    ['workers/**'],
    [
      '**/src/lib/engines/**',
      '**/src/lib/storage/**',
      '**/src/lib/state/**',
      '**/src/lib/components/**',
      'svelte',
      'svelte/*',
    ],
    'workers depend on core and shared only.',
  ),
);
