// Which provider is the default (the one new resources are written to) per resource type, as
// upstream's `resourcesApi.defaultProviders` setting: the operator's choice from settings, changed
// at run time with POST /signalk/v2/api/resources/<type>/_providers/_default/<plugin id> and kept
// in <dataDir>/resources-api.json, which wins over settings. A choice whose plugin does not serve
// the type (yet) is kept; meanwhile the first registered provider is the default.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomic.js';
import { isRecord } from '../../core/json.js';
import { createLogger } from '../../core/log.js';

const log = createLogger('resources');
export const RESOURCE_DEFAULTS_FILE = 'resources-api.json';

function readChoices(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const d = isRecord(v) ? v.defaultProviders : undefined;
    if (!isRecord(d)) throw new Error('no defaultProviders object');
    return Object.fromEntries(Object.entries(d).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch (err) {
    log.error(`${file} unreadable (${(err as Error).message}); the defaults from settings apply`);
    return {};
  }
}

export class ResourceDefaults {
  private readonly file: string;
  private readonly chosen: Record<string, string>;

  /** `fromSettings`: settings `resourcesApi.defaultProviders`. */
  constructor(dataDir: string, fromSettings: Readonly<Record<string, string>> = {}) {
    this.file = join(dataDir, RESOURCE_DEFAULTS_FILE);
    this.chosen = { ...fromSettings, ...readChoices(this.file) };
  }

  /** The default among `providers` (registration order): the chosen one when it serves the type, else the first. */
  of(type: string, providers: readonly string[]): string | undefined {
    const choice = this.chosen[type];
    return choice !== undefined && providers.includes(choice) ? choice : providers[0];
  }

  /** Records the operator's choice; throws when it could not be saved (nothing changed then). */
  choose(type: string, pluginId: string): void {
    const next = { ...this.chosen, [type]: pluginId };
    writeFileAtomic(this.file, `${JSON.stringify({ defaultProviders: next }, null, 2)}\n`);
    this.chosen[type] = pluginId;
  }
}
