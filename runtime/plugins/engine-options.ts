// What the engine needs from the settings for every plugin load: the AOT cache folder and the
// per-plugin memory budget (the board profile's `memory.perPluginMB`, else the engine default).

import { join } from 'node:path';
import type { Settings } from '../config/settings.js';
import { loadProfile } from '../board/profile.js';
import { DEFAULT_MEMORY_LIMIT_MB } from '../engine/prepare.js';
import { createLogger } from '../../core/log.js';
import type { HttpTransport } from '../abi/http-transport.js';

const log = createLogger('plugins');

export interface EngineOptions {
  cacheDir: string;
  memoryLimitMB: number;
  /** The HTTP client behind plugin fetches; node:http(s) when absent. */
  httpTransport?: HttpTransport | undefined;
}

export function engineOptions(settings: Settings): EngineOptions {
  const cacheDir = settings.cacheDir ?? join(settings.dataDir, 'cache');
  if (!settings.board) return { cacheDir, memoryLimitMB: DEFAULT_MEMORY_LIMIT_MB };
  try {
    return { cacheDir, memoryLimitMB: loadProfile(settings.board).memory.perPluginMB };
  } catch (err) {
    log.warn(`board ${settings.board}: ${(err as Error).message}; plugin memory cap ${DEFAULT_MEMORY_LIMIT_MB} MB`);
    return { cacheDir, memoryLimitMB: DEFAULT_MEMORY_LIMIT_MB };
  }
}
