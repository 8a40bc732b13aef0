// Sample logs of signalk-server's npm package (samples/), fetched for the tests on a clean clone
// with `npm pack` and cached in .cache/compat (scripts/upstream-package.ts). Where the npm registry
// cannot be reached, tests needing a sample are skipped with npm's reason; other failures fail.

import { basename, join } from 'node:path';
import { extractUpstream, RegistryError, UPSTREAM, UPSTREAM_CACHE } from '../../scripts/upstream-package.js';
import { requirement, type SystemTool } from './system-tool.js';

export interface UpstreamSample extends SystemTool {
  /** The sample's path in the cache (present when `missing` is undefined). */
  readonly file: string;
}

/** `path` inside the package (`samples/aava-n2k.data`); `caller` is the test file's import.meta.url. */
export async function upstreamSample(path: string, caller: string): Promise<UpstreamSample> {
  const dest = join(UPSTREAM_CACHE, 'samples');
  const file = join(dest, basename(path));
  let missing: string | undefined;
  try {
    await extractUpstream(path, dest, path.split('/').length, file);
  } catch (err) {
    // Only an unreachable registry is a reason to skip; anything else is a failure to see.
    if (!(err instanceof RegistryError)) throw err;
    missing = `needs ${path} of ${UPSTREAM} from the npm registry: ${err.message}`;
  }
  return { file, missing, test: requirement(missing, caller) };
}
