// `signalk-edge grant | revoke | grants`: edit and show the operator's grants. The grants file is
// written atomically; a running runtime re-reads it within a second, so no restart is needed.

import type { Settings } from '../config/settings.js';
import { resolveBoard } from '../board/resolve.js';
import { parseGrant } from '../capabilities/grant.js';
import { CapabilityPolicy } from '../capabilities/policy.js';
import {
  addGrant,
  defaultGrants,
  grantsFilePath,
  GrantTable,
  readGrantsFile,
  removeGrant,
} from '../capabilities/store.js';
import { discoverPlugins, type PluginManifest } from '../plugins/discovery.js';
import { CommandError } from './command-error.js';

export class GrantCommandError extends CommandError {}

function installed(settings: Settings): Map<string, PluginManifest> {
  const out = new Map<string, PluginManifest>();
  for (const found of discoverPlugins(settings.plugins.dirs)) if (found.ok) out.set(found.manifest.id, found.manifest);
  return out;
}

function table(settings: Settings): GrantTable {
  const t = new GrantTable(settings.grants, settings.dataDir);
  if (t.error) throw new GrantCommandError(t.error);
  return t;
}

function policyOf(settings: Settings, manifest: PluginManifest, grants: GrantTable): CapabilityPolicy {
  const aliases = resolveBoard({ settingsBoard: settings.board }).profile.devices;
  return new CapabilityPolicy({
    requestedFlags: manifest.requested,
    requests: manifest.requests,
    granted: grants.grantsFor(manifest.id),
    aliases,
  });
}

/** Adds grants; returns the lines to print (warnings included). */
export function grant(settings: Settings, pluginId: string, capabilities: string[]): string[] {
  if (capabilities.length === 0) throw new GrantCommandError('grant needs a plugin id and at least one capability');
  for (const c of capabilities) {
    const parsed = parseGrant(c);
    if (!parsed.ok) throw new GrantCommandError(`${c}: ${parsed.reason}`);
  }
  const plugins = installed(settings);
  const lines: string[] = [];
  if (pluginId !== '*' && !plugins.has(pluginId)) {
    lines.push(
      `warning: no installed plugin has the id ${pluginId} (installed: ${[...plugins.keys()].join(', ') || 'none'}); granted anyway`,
    );
  }
  for (const c of capabilities) {
    const added = addGrant(settings.dataDir, pluginId, c);
    lines.push(added ? `granted ${c} to ${pluginId}` : `${pluginId} already had ${c}`);
  }
  const manifest = plugins.get(pluginId);
  if (manifest) {
    const effective = policyOf(settings, manifest, table(settings)).describe().effective;
    lines.push(`in effect for ${pluginId}: ${effective.join(', ') || 'nothing'}`);
    lines.push(
      `(a running signalk-edge applies this within a second; grants file ${grantsFilePath(settings.dataDir)})`,
    );
  }
  return lines;
}

export function revoke(settings: Settings, pluginId: string, capabilities: string[]): string[] {
  if (capabilities.length === 0) throw new GrantCommandError('revoke needs a plugin id and at least one capability');
  const lines: string[] = [];
  for (const c of capabilities) {
    if (removeGrant(settings.dataDir, pluginId, c)) {
      lines.push(`revoked ${c} from ${pluginId}`);
      continue;
    }
    if (settings.grants?.[pluginId]?.includes(c)) {
      throw new GrantCommandError(
        `${c} is granted to ${pluginId} in the settings file, not the grants file: remove it from "grants" there`,
      );
    }
    if (!settings.grants && defaultGrants()[pluginId]?.includes(c)) {
      throw new GrantCommandError(
        `${c} is a default grant for every plugin: set "grants" in the settings file to change the defaults`,
      );
    }
    lines.push(`${pluginId} did not have ${c} in ${grantsFilePath(settings.dataDir)}`);
  }
  return lines;
}

/** Every installed plugin (or one) with what it requests, is granted (and where), and has in effect. */
export function listGrants(settings: Settings, only?: string): string[] {
  const plugins = installed(settings);
  const grants = table(settings);
  const lines: string[] = [];
  const ids = only ? [only] : [...plugins.keys()];
  if (only && !plugins.has(only)) throw new GrantCommandError(`no installed plugin has the id ${only}`);
  for (const id of ids) {
    const manifest = plugins.get(id)!;
    const d = policyOf(settings, manifest, grants).describe();
    lines.push(`${id}`);
    lines.push(`  requests:  ${d.requested.join(', ') || 'nothing'}`);
    const granted = grants
      .listFor(id)
      .map((g) => `${g.grant} (${g.from}${g.scope === 'all plugins' ? ', all plugins' : ''})`);
    lines.push(`  granted:   ${granted.join(', ') || 'nothing'}`);
    lines.push(`  in effect: ${d.effective.join(', ') || 'nothing'}`);
  }
  const stray = Object.keys(readGrantsFile(settings.dataDir)).filter((id) => id !== '*' && !plugins.has(id));
  if (!only && stray.length > 0) lines.push(`grants for plugins not installed: ${stray.join(', ')}`);
  return lines;
}
