// Field libraries loaded on first use, not at start: a runtime without a CAN source does not carry
// canboatjs, one without a broker not mqtt.js (each costs 15-40 MB of RSS). They are CommonJS, so a
// synchronous require at the first use needs no change to the (synchronous) callers. One require
// per package for the whole process: the same module instance everywhere, as a static import gives.

import { requireCjs } from '../core/require-cjs.js';

/** A getter for package `name`, loading it on the first call. */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireCjs<T>(name));
}
