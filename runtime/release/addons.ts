// Native addons in an installed tree: which packages carry them, what each one's loss disables,
// and which file Node will actually load (a build/Release file, or the prebuild node-gyp-build picks).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';

/** What stops working when a package's addon does not load. */
const FEATURES: Record<string, string> = {
  socketcan: 'CAN (NMEA 2000 over SocketCAN: socketcan)',
  '@canboat/canboatjs': 'CAN (NMEA 2000 over SocketCAN: canboatjs CAN socket)',
  '@serialport/bindings-cpp': 'serial ports (NMEA 0183: serialport)',
  bufferutil: 'WebSocket frame masking in C (ws falls back to JavaScript)',
};

export function featureOf(pkg: string): string {
  return FEATURES[pkg] ?? `package ${pkg}`;
}

/** The package a path inside node_modules belongs to (`@scope/name` or `name`). */
export function packageOf(file: string): string {
  const parts = file.split(sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return file;
  return parts[i + 1]!.startsWith('@') ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1]!;
}

/** Every `.node` file under dir, relative to it, sorted. */
export function nodeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.node')) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Package folders under root/node_modules (nested ones too) that build a native addon (binding.gyp). */
export function addonPackages(root: string): string[] {
  const out: string[] = [];
  const scan = (nm: string): void => {
    if (!existsSync(nm)) return;
    for (const name of readdirSync(nm)) {
      if (name.startsWith('.')) continue;
      const dirs = name.startsWith('@') ? readdirSync(join(nm, name)).map((n) => join(nm, name, n)) : [join(nm, name)];
      for (const dir of dirs) {
        if (!statSync(dir).isDirectory()) continue;
        if (existsSync(join(dir, 'binding.gyp'))) out.push(dir);
        scan(join(dir, 'node_modules'));
      }
    }
  };
  scan(join(root, 'node_modules'));
  return out.sort();
}

export interface AddonLoad {
  pkg: string;
  feature: string;
  /** The file Node loads, relative to root; undefined when there is none for this machine. */
  file?: string;
  error?: string;
}

/** The addon file a package loads on this machine: the node-gyp-build choice, else build/Release. */
function loadedFiles(dir: string): string[] {
  if (existsSync(join(dir, 'prebuilds'))) {
    try {
      const gypBuild = createRequire(join(dir, 'package.json'))('node-gyp-build') as { path(dir: string): string };
      return [gypBuild.path(dir)];
    } catch {
      // no prebuild for this machine: a build/Release file, if any, is what loads
    }
  }
  const release = join(dir, 'build', 'Release');
  return existsSync(release) ? nodeFiles(release).filter((f) => !f.includes(sep)).map((f) => join(release, f)) : [];
}

/** Loads every addon the tree under root would load here: a failure names the feature it disables. */
export function loadAddons(root: string): AddonLoad[] {
  const req = createRequire(import.meta.url);
  return addonPackages(root).flatMap((dir): AddonLoad[] => {
    const pkg = packageOf(join(dir, 'x'));
    const feature = featureOf(pkg);
    const files = loadedFiles(dir);
    if (files.length === 0) return [{ pkg, feature, error: 'no addon file for this machine (left out of this release, or never built)' }];
    return files.map((file): AddonLoad => {
      try {
        req(file);
        return { pkg, feature, file: relative(root, file) };
      } catch (err) {
        return { pkg, feature, file: relative(root, file), error: (err as Error).message.split('\n')[0] };
      }
    });
  });
}
