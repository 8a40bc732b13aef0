// Where grants live: the settings file's `grants` (fixed while running) and `<dataDir>/grants.json`,
// which `signalk-edge grant`/`revoke` edit (atomic write) and a running runtime re-reads when it
// changes, so a grant or revoke applies without a restart. Key `*` holds grants for every plugin.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../core/log.js';
import { watchFile } from '../plugins/file-watch.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { parseGrant, parseGrantList, type Grant } from './grant.js';

export type GrantLists = Record<string, string[]>;

export const GRANTS_FILE = 'grants.json';
/** Every plugin may use the data model as upstream allows; hardware and network need a grant. */
export function defaultGrants(): GrantLists {
  return { '*': ['dataRead', 'dataWrite', 'putHandlers'] };
}
/** How often a running runtime looks at the grants file (stat only). */
/** File changes settle (an editor's several writes, the CLI's rename) this long before the grants are read again. */
const WATCH_DEBOUNCE_MS = 100;

export class GrantsFileError extends Error {}

export function grantsFilePath(dataDir: string): string {
  return join(dataDir, GRANTS_FILE);
}

/** Validates `{ "<plugin id>" | "*": ["grant", ...] }` from untrusted JSON; the message names the bad entry. */
export function parseGrantLists(input: unknown, where: string): GrantLists {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new GrantsFileError(`${where}: must be an object of plugin id → list of grants`);
  // Plugin ids are data: without a prototype, `__proto__` is a key like any other and
  // `constructor` finds nothing that is not in the file.
  const out = Object.create(null) as GrantLists;
  for (const [id, list] of Object.entries(input)) {
    if (!Array.isArray(list) || list.some((g) => typeof g !== 'string'))
      throw new GrantsFileError(`${where}.${id}: must be a list of grant strings`);
    const parsed = parseGrantList(list as string[]);
    if (!parsed.ok) throw new GrantsFileError(`${where}.${id}[${parsed.index}]: ${parsed.reason}`);
    out[id] = [...(list as string[])];
  }
  return out;
}

/** The file's grants; empty when there is no file. A broken file throws GrantsFileError. */
export function readGrantsFile(dataDir: string): GrantLists {
  const file = grantsFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Object.create(null) as GrantLists;
    throw new GrantsFileError(`${file}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new GrantsFileError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const grants =
    typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>).grants
      : undefined;
  return parseGrantLists(grants ?? {}, `${file}: grants`);
}

function writeGrantsFile(dataDir: string, grants: GrantLists): void {
  const sorted = Object.fromEntries(
    Object.entries(grants)
      .filter(([, l]) => l.length > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileAtomic(grantsFilePath(dataDir), `${JSON.stringify({ version: 1, grants: sorted }, null, 2)}\n`);
}

/** Adds a grant to the file (validated). False when it was there already. */
export function addGrant(dataDir: string, pluginId: string, grant: string): boolean {
  const parsed = parseGrant(grant);
  if (!parsed.ok) throw new GrantsFileError(parsed.reason);
  const grants = readGrantsFile(dataDir);
  const list = grants[pluginId] ?? [];
  if (list.includes(grant)) return false;
  grants[pluginId] = [...list, grant];
  writeGrantsFile(dataDir, grants);
  return true;
}

/** Removes a grant from the file. False when the file did not hold it. */
export function removeGrant(dataDir: string, pluginId: string, grant: string): boolean {
  const grants = readGrantsFile(dataDir);
  const list = grants[pluginId] ?? [];
  if (!list.includes(grant)) return false;
  grants[pluginId] = list.filter((g) => g !== grant);
  writeGrantsFile(dataDir, grants);
  return true;
}

/** Settings grants and file grants together, as the runtime applies them. */
export class GrantTable {
  private fileGrants: GrantLists = {};
  private fileError: string | undefined;

  private readonly settingsGrants: GrantLists;
  private readonly settingsLabel: 'settings' | 'default';

  /** settingsGrants undefined: the settings file has no `grants`, so the defaults apply. */
  constructor(
    settingsGrants: GrantLists | undefined,
    private readonly dataDir: string,
  ) {
    this.settingsGrants = settingsGrants ?? defaultGrants();
    this.settingsLabel = settingsGrants ? 'settings' : 'default';
    this.reload();
  }

  /** Re-reads the file; a broken file keeps the previous grants (nothing granted or revoked by accident). */
  reload(): { changed: boolean; error?: string } {
    let next: GrantLists;
    try {
      next = readGrantsFile(this.dataDir);
    } catch (err) {
      this.fileError = (err as Error).message;
      return { changed: false, error: this.fileError };
    }
    this.fileError = undefined;
    const changed = JSON.stringify(next) !== JSON.stringify(this.fileGrants);
    this.fileGrants = next;
    return { changed };
  }

  get error(): string | undefined {
    return this.fileError;
  }

  /** Grant strings for a plugin with where each comes from. */
  listFor(
    pluginId: string,
  ): { grant: string; from: 'settings' | 'default' | 'grants file'; scope: 'plugin' | 'all plugins' }[] {
    const out: { grant: string; from: 'settings' | 'default' | 'grants file'; scope: 'plugin' | 'all plugins' }[] = [];
    for (const [from, lists] of [
      [this.settingsLabel, this.settingsGrants],
      ['grants file', this.fileGrants],
    ] as const) {
      for (const [key, scope] of [
        ['*', 'all plugins'],
        [pluginId, 'plugin'],
      ] as const) {
        for (const grant of Object.hasOwn(lists, key) ? lists[key]! : []) out.push({ grant, from, scope });
      }
    }
    return out;
  }

  /** Every (plugin id or `*`, grant) pair from settings and file. */
  all(): { pluginId: string; grant: string }[] {
    return [this.settingsGrants, this.fileGrants].flatMap((lists) =>
      Object.entries(lists).flatMap(([pluginId, list]) => list.map((grant) => ({ pluginId, grant }))),
    );
  }

  grantsFor(pluginId: string): Grant[] {
    const out: Grant[] = [];
    for (const { grant } of this.listFor(pluginId)) {
      const parsed = parseGrant(grant);
      if (parsed.ok) out.push(parsed.grant);
    }
    return out;
  }

  /** Watches the grants file (folder events, no polling); calls onChange after a change was read. Returns the stop function. */
  watch(onChange: () => void, onError: (message: string) => void): () => void {
    const file = grantsFilePath(this.dataDir);
    const listener = () => {
      const result = this.reload();
      if (result.error) onError(result.error);
      else if (result.changed) onChange();
    };
    // The folder's events are watched, so the folder must exist before any grant was written.
    try {
      mkdirSync(this.dataDir, { recursive: true });
    } catch (err) {
      onError(`cannot create ${this.dataDir} to watch ${GRANTS_FILE}: ${(err as Error).message}`);
    }
    // A deleted file counts: its grants are gone.
    return watchFile(file, WATCH_DEBOUNCE_MS, listener, createLogger('grants'), true);
  }
}
