// CommonJS packages loaded with `require`, not an ESM `import`. Node 20 answers an `import` of a
// CommonJS file by scanning its source for export names (cjs-module-lexer, in JavaScript), and
// the HTTP stack's entry files (fastify, ws, @fastify/static) make that scan hot enough for V8 to
// optimise it with TurboFan at every start: 3-7 MB of RSS in compiler memory that a bare runtime
// keeps (docs/decisions/0102). `require` runs the file as CommonJS with no scan.

import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

/** Package `name`'s `module.exports`, typed by the caller as `T` (its type declarations' module type). */
export function requireCjs<T>(name: string): T {
  return requireFromHere(name) as T;
}
