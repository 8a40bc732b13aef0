// Does a release fit the machine it is being installed on (or the image under --root)? Target
// from the node binary that will run it (its ELF header in an image, process.arch when live),
// Node ABI from that node (live) or from the image's package database.

import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { BoardProfile } from '../board/profile.js';
import { readElfIdent } from './elf.js';
import type { ReleaseManifest } from './manifest.js';
import { NODE_ABI_BY_MAJOR, targetOfElf, targetOfProcess, TARGETS, type Target } from './targets.js';

export interface MachineFacts {
  target?: Target;
  /** How the target was found, or why it could not be. */
  targetHow: string;
  abi?: number;
  abiHow: string;
}

/** A path inside root, with absolute symlinks resolved inside root too (as a chroot would). */
function insideRoot(root: string, path: string): string {
  let p = join(root, path);
  for (let i = 0; i < 16 && existsSync(p) && lstatSync(p).isSymbolicLink(); i++) {
    const link = readlinkSync(p);
    p = link.startsWith('/') ? join(root, link) : resolve(dirname(p), link);
  }
  return p;
}

/** The major version of the image's nodejs package (Debian/Raspberry Pi OS dpkg, Venus OS opkg). */
function packagedNodeMajor(root: string): { major: number; from: string } | undefined {
  for (const db of ['/var/lib/dpkg/status', '/usr/lib/opkg/status', '/var/lib/opkg/status']) {
    const file = join(root, db);
    if (!existsSync(file)) continue;
    const stanza = readFileSync(file, 'utf8').split(/\n\n+/).find((s) => /^Package: nodejs$/m.test(s));
    const version = stanza && /^Version: (?:\d+:)?(\d+)\./m.exec(stanza);
    if (version) return { major: Number(version[1]), from: db };
  }
  return undefined;
}

export function machineFacts(opts: { root?: string; nodePath: string; profile: BoardProfile }): MachineFacts {
  if (!opts.root) {
    const target = targetOfProcess();
    return {
      target,
      targetHow: target ? `this machine's node (${process.arch})` : `this machine's node is ${process.arch}${process.arch === 'arm' ? ' below ARMv7' : ''}, for which no release is built`,
      abi: Number(process.versions.modules),
      abiHow: `node ${process.versions.node}`,
    };
  }
  const facts: MachineFacts = { targetHow: '', abiHow: '' };
  const node = insideRoot(opts.root, opts.nodePath);
  const elf = existsSync(node) ? readElfIdent(node) : undefined;
  if (elf) {
    facts.target = targetOfElf(elf);
    facts.targetHow = facts.target ? `the image's ${opts.nodePath} (${elf.machineName}, ${elf.bits}-bit)` : `the image's ${opts.nodePath} is ${elf.machineName} ${elf.bits}-bit, for which no release is built`;
  } else if (opts.profile.targets.length === 1) {
    facts.target = TARGETS[opts.profile.targets[0]!];
    facts.targetHow = `board ${opts.profile.id} (the image has no ${opts.nodePath})`;
  } else {
    facts.targetHow = `the image has no ${opts.nodePath} and board ${opts.profile.id} comes as ${opts.profile.targets.join(' or ') || 'any target'}: install Node.js in the image first`;
  }
  const pkg = packagedNodeMajor(opts.root);
  const abi = pkg && NODE_ABI_BY_MAJOR[pkg.major];
  if (pkg && abi) {
    facts.abi = abi;
    facts.abiHow = `nodejs ${pkg.major}.x in the image's ${pkg.from}`;
  } else {
    facts.abiHow = pkg ? `nodejs ${pkg.major}.x in the image's ${pkg.from}, an ABI this installer does not know` : 'no nodejs package recorded in the image';
  }
  return facts;
}

/** Why the release does not fit; empty when it does. An ABI that cannot be read is not a refusal. */
export function misfits(manifest: ReleaseManifest, facts: MachineFacts): string[] {
  const out: string[] = [];
  if (!facts.target) out.push(`cannot tell the machine's target: ${facts.targetHow}`);
  else if (facts.target.id !== manifest.target) out.push(`this tarball is for ${manifest.target}, the machine is ${facts.target.id} (${facts.targetHow})`);
  if (facts.abi !== undefined && facts.abi !== manifest.node.abi) out.push(`its addons are for Node ABI ${manifest.node.abi} (Node ${manifest.node.version.split('.')[0]}), the machine's is ${facts.abi} (${facts.abiHow})`);
  return out;
}

/** The tarball to use instead, as release.sh names it. */
export function tarballFor(manifest: ReleaseManifest, facts: MachineFacts): string {
  const target = facts.target?.id ?? '<target>';
  return `${manifest.name}-${manifest.version}-${target}.tar.gz (scripts/release.sh --target ${target}${facts.abi !== undefined && facts.abi !== manifest.node.abi ? `, built with the machine's Node major version` : ''})`;
}
