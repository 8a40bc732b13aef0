// release.json, at the top of every release tarball: the target it was built for, the Node ABI
// of the build machine, and every native addon with its ELF machine, so install.sh can refuse a
// tarball that will not run and a reader can see what is inside without an ARM board.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from '../../core/settings-reader.js';
import { featureOf, nodeFiles, packageOf } from './addons.js';
import { libcNeeds, readElfIdent } from './elf.js';
import { elfFits, TARGET_IDS, TARGETS, type TargetId } from './targets.js';

export const MANIFEST_FILE = 'release.json';

export interface AddonEntry {
  file: string;
  package: string;
  machine: string;
  bits: number;
  /** prebuild: shipped by the package; built: compiled for the target by release.sh. */
  from: 'prebuild' | 'built';
  /** The newest C library symbol versions it asks for, e.g. `GLIBC 2.34, GLIBCXX 3.4.21`. */
  needs: string;
}

export interface OmittedAddon {
  package: string;
  feature: string;
  reason: string;
}

export interface ReleaseManifest {
  name: string;
  version: string;
  target: TargetId;
  node: { abi: number; version: string };
  addons: AddonEntry[];
  omitted: OmittedAddon[];
}

export function parseManifest(input: unknown, file: string): ReleaseManifest {
  const r = new Reader(file);
  const o = r.obj(input, '');
  const target = r.oneOf(o.target, 'target', TARGET_IDS);
  const node = r.obj(o.node, 'node');
  const list = (v: unknown, key: string): Record<string, unknown>[] => {
    if (!Array.isArray(v)) return r.fail(key, 'must be an array');
    return (v as unknown[]).map((e, i) => r.obj(e, `${key}[${i}]`));
  };
  return {
    name: r.str(o.name, 'name'),
    version: r.str(o.version, 'version'),
    target,
    node: { abi: r.int(node.abi, 'node.abi', 1, 10_000), version: r.str(node.version, 'node.version') },
    addons: list(o.addons, 'addons').map((a, i) => ({
      file: r.str(a.file, `addons[${i}].file`),
      package: r.str(a.package, `addons[${i}].package`),
      machine: r.str(a.machine, `addons[${i}].machine`),
      bits: r.int(a.bits, `addons[${i}].bits`, 32, 64),
      from: r.oneOf(a.from, `addons[${i}].from`, ['prebuild', 'built'] as const),
      needs: typeof a.needs === 'string' ? a.needs : '',
    })),
    omitted: list(o.omitted, 'omitted').map((a, i) => ({
      package: r.str(a.package, `omitted[${i}].package`),
      feature: r.str(a.feature, `omitted[${i}].feature`),
      reason: r.str(a.reason, `omitted[${i}].reason`),
    })),
  };
}

export function readManifest(releaseDir: string): ReleaseManifest {
  const file = join(releaseDir, MANIFEST_FILE);
  return parseManifest(JSON.parse(readFileSync(file, 'utf8')), file);
}

/**
 * The manifest of a staged release folder, and the .node files whose ELF machine or class is not
 * the target's (a release with any of those must not be written).
 */
export function buildManifest(dir: string, target: TargetId, omitted: { package: string; reason: string }[]): { manifest: ReleaseManifest; wrong: string[] } {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
  const wrong: string[] = [];
  const addons = nodeFiles(dir).map((file): AddonEntry => {
    const elf = readElfIdent(join(dir, file));
    const machine = elf ? elf.machineName : 'not ELF';
    if (!elf || !elfFits(TARGETS[target], elf)) wrong.push(`${file}: ${machine}${elf ? ` ${elf.bits}-bit` : ''}`);
    return { file, package: packageOf(file), machine, bits: elf?.bits ?? 0, from: file.includes('/prebuilds/') ? 'prebuild' : 'built', needs: elf ? libcNeeds(join(dir, file)) : '' };
  });
  return {
    manifest: {
      name: pkg.name,
      version: pkg.version,
      target,
      node: { abi: Number(process.versions.modules), version: process.versions.node },
      addons,
      omitted: omitted.map((o) => ({ package: o.package, feature: featureOf(o.package), reason: o.reason })),
    },
    wrong,
  };
}
