// `signalk-edge compile`: fills the AOT cache for every installed plugin, so the first boot after an
// install loads prepared modules. Progress goes to stderr (a redrawn line on a terminal, one line
// per plugin otherwise); the summary names each failure and its cause.

import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/settings.js';
import { prepareCached } from '../engine/aot-cache.js';
import { discoverPlugins } from '../plugins/discovery.js';
import { engineOptions } from '../plugins/engine-options.js';

export interface CompileSummary {
  compiled: string[];
  cached: string[];
  failed: { id: string; cause: string }[];
}

const BAR_WIDTH = 24;

function progressLine(done: number, total: number, label: string): string {
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} ${label}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function compilePlugins(
  settings: Settings,
  out: NodeJS.WriteStream = process.stderr,
): Promise<CompileSummary> {
  const engine = engineOptions(settings);
  const found = discoverPlugins(settings.plugins.dirs);
  const summary: CompileSummary = { compiled: [], cached: [], failed: [] };
  const show = (done: number, label: string): void => {
    const line = progressLine(done, found.length, label);
    if (out.isTTY) out.write(`\r\x1b[2K${line}${done === found.length ? '\n' : ''}`);
    else out.write(`${line}\n`);
  };
  for (const [i, p] of found.entries()) {
    if (!p.ok) {
      summary.failed.push({ id: p.broken.id, cause: p.broken.error });
      show(i + 1, `${p.broken.id}: failed`);
      continue;
    }
    const { id, wasmPath } = p.manifest;
    try {
      const result = prepareCached(id, await readFile(wasmPath), engine);
      if (result.writeError) throw new Error(result.writeError);
      (result.cache === 'hit' ? summary.cached : summary.compiled).push(id);
      show(i + 1, `${id}: ${result.cache === 'hit' ? 'cached already' : 'compiled'}`);
    } catch (err) {
      summary.failed.push({ id, cause: message(err) });
      show(i + 1, `${id}: failed`);
    }
  }
  return summary;
}

export function formatSummary(s: CompileSummary, cacheDir: string): string {
  const lines = [
    `${s.compiled.length} compiled, ${s.cached.length} cached already, ${s.failed.length} failed (cache: ${cacheDir})`,
  ];
  for (const f of s.failed) lines.push(`  failed ${f.id}: ${f.cause}`);
  return lines.join('\n');
}
