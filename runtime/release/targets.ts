// The machines a release is built for. One tarball per target: native addons are machine code,
// so an x86-64 build machine's addons do not load on a Raspberry Pi or a Cerbo GX.

import type { ElfIdent } from './elf.js';

export const TARGET_IDS = ['linux-arm64', 'linux-armv7', 'linux-x64'] as const;
export type TargetId = (typeof TARGET_IDS)[number];

export interface Target {
  id: TargetId;
  /** process.arch of a Node that runs it; node-gyp's --arch. */
  nodeArch: 'arm64' | 'arm' | 'x64';
  /** ELF e_machine and class every .node file must have. */
  elfMachine: number;
  elfBits: 32 | 64;
  /** Debian cross-compiler prefix (`<prefix>-g++`); empty where the build machine is the target. */
  crossPrefix: string;
  /** The boards it is for, as docs name them. */
  boards: string;
}

export const TARGETS: Record<TargetId, Target> = {
  'linux-arm64': { id: 'linux-arm64', nodeArch: 'arm64', elfMachine: 183, elfBits: 64, crossPrefix: 'aarch64-linux-gnu', boards: 'Raspberry Pi 3/4/5 with a 64-bit OS' },
  'linux-armv7': { id: 'linux-armv7', nodeArch: 'arm', elfMachine: 40, elfBits: 32, crossPrefix: 'arm-linux-gnueabihf', boards: 'Cerbo GX (Venus OS), Raspberry Pi 2/3/4 with a 32-bit OS' },
  'linux-x64': { id: 'linux-x64', nodeArch: 'x64', elfMachine: 62, elfBits: 64, crossPrefix: 'x86_64-linux-gnu', boards: 'x86-64 computers' },
};

export function isTargetId(v: unknown): v is TargetId {
  return typeof v === 'string' && (TARGET_IDS as readonly string[]).includes(v);
}

export function elfFits(target: Target, elf: ElfIdent): boolean {
  return elf.machine === target.elfMachine && elf.bits === target.elfBits;
}

/** The target of an ELF binary (a node executable): undefined for machines no release is built for. */
export function targetOfElf(elf: ElfIdent): Target | undefined {
  return Object.values(TARGETS).find((t) => elfFits(t, elf));
}

/**
 * The target of the Node running this code. 32-bit ARM below v7 (Pi Zero/1, armv6) has none:
 * Debian's armhf cross compiler emits ARMv7 code.
 */
export function targetOfProcess(arch = process.arch, armVersion = String((process.config.variables as Record<string, unknown>).arm_version ?? '7')): Target | undefined {
  if (arch === 'arm' && Number(armVersion) < 7) return undefined;
  return Object.values(TARGETS).find((t) => t.nodeArch === arch);
}

/** NODE_MODULE_VERSION by Node major, for an image whose node cannot be run here. */
export const NODE_ABI_BY_MAJOR: Record<number, number> = { 18: 108, 20: 115, 21: 120, 22: 127, 23: 131, 24: 137 };
