// Lint: typescript-eslint's recommended rules on the project's TypeScript (docs/decisions/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.cache/',
      'test-output/',
      'release/',
      'test/native/build/',
      '**/*.wasm',
      // AssemblyScript sources: decorators on declarations (`@external`) do not parse as TypeScript; asc checks them.
      '**/assembly/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    rules: {
      // `let x` declared before a teardown that closes it, assigned once after: the read comes first on purpose.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        // `typeof import('pkg')` types the lazily required CommonJS field libraries (hal/lazy-module.ts).
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // A rest sibling leaves keys out of a copy (`const { token: _token, ...rest }`).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
);
