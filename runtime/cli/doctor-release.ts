// `signalk-edge doctor`, the release part: does this release fit this machine (release.json), and
// does every native addon load here? An addon that does not load disables a feature: named.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddons } from '../release/addons.js';
import { machineFacts, misfits } from '../release/fit.js';
import { MANIFEST_FILE, readManifest } from '../release/manifest.js';
import type { BoardProfile } from '../board/profile.js';
import type { Check } from './doctor.js';

/** Packages whose addon only speeds things up: the library falls back to JavaScript without it. */
const OPTIONAL = new Set(['bufferutil']);

export function checkRelease(root: string, profile: BoardProfile): Check[] {
  const checks: Check[] = [];
  if (existsSync(join(root, MANIFEST_FILE))) {
    try {
      const manifest = readManifest(root);
      const problems = misfits(manifest, machineFacts({ nodePath: process.execPath, profile }));
      checks.push(
        problems.length > 0
          ? {
              status: 'fail',
              topic: 'release',
              message: `${manifest.version} for ${manifest.target} does not fit: ${problems.join('; ')}`,
            }
          : {
              status: 'ok',
              topic: 'release',
              message: `${manifest.version} for ${manifest.target}, Node ABI ${manifest.node.abi}`,
            },
        ...manifest.omitted.map((o): Check => ({
          status: 'warn',
          topic: 'release',
          message: `left out of this release: ${o.feature} (${o.reason})`,
        })),
      );
    } catch (err) {
      checks.push({ status: 'fail', topic: 'release', message: `${MANIFEST_FILE}: ${(err as Error).message}` });
    }
  }
  for (const a of loadAddons(root)) {
    if (!a.error) checks.push({ status: 'ok', topic: 'addon', message: `${a.feature}: ${a.file} loads` });
    else
      checks.push({
        status: OPTIONAL.has(a.pkg) ? 'warn' : 'fail',
        topic: 'addon',
        message: `${a.feature} disabled: ${a.file ?? a.pkg} does not load here: ${a.error}`,
      });
  }
  return checks;
}
