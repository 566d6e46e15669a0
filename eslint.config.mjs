// `pnpm lint` runs eslint (typescript-eslint's recommended rules, without type information so it
// stays fast) over the whole repository, then prettier --check (see .prettierignore for its scope).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'coverage/**',
      'docs/api/**',
      'test-artifacts/**',
      'bench/results/**',
      'bench/.prof/**',
      '.tmp/**',
      'compat/build/**',
      'packages/core/src/scripts/lua.generated.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names are deliberately unused (placeholders in callbacks, destructuring).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Findings in code that other work is rewriting as this config lands (Dec 2026): reported as
    // warnings, to become errors again once fixed (no-explicit-any in client.ts, a few
    // no-useless-assignment in dead-letters.ts, delayed.ts, wait-for.ts; an unused var in a fault test).
    files: ['packages/core/**', 'packages/faults/**', 'packages/model/**', 'bench/**', 'compat/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': 'warn',
      'no-useless-assignment': 'warn',
      'preserve-caught-error': 'warn',
      'prefer-const': 'warn',
    },
  },
  {
    // The demo's page runs in the browser, without a build step.
    files: ['examples/signup-fanout/public/**/*.js', 'packages/dashboard/public/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'script' },
  },
  {
    files: ['**/*.cjs', 'packages/cli/bin/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
