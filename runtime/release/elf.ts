// The ELF header of a native addon or a node binary: which machine and word size it was built
// for. Enough to tell an x86-64 file from an ARM one without the `file` command.

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface ElfIdent {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  /** e_machine: 62 x86-64, 183 AArch64, 40 ARM, 3 i386. */
  machine: number;
  /** A readable name for `machine`. */
  machineName: string;
}

const MACHINES: Record<number, string> = { 3: 'i386', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V' };

/** Parses the first 20 bytes of an ELF file; undefined when it is not ELF. */
export function parseElfHeader(head: Uint8Array): ElfIdent | undefined {
  if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  const cls = head[4];
  const data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const machine = view.getUint16(18, data === 1);
  return { bits: cls === 1 ? 32 : 64, machine, machineName: MACHINES[machine] ?? `machine ${machine}` };
}

export function readElfIdent(file: string): ElfIdent | undefined {
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(20);
    const n = readSync(fd, head, 0, head.length, 0);
    return parseElfHeader(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** Dotted versions compared number by number. */
function newer(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

/**
 * The newest glibc and libstdc++ symbol versions a shared object asks for, read from the version
 * names in its string table (`GLIBC_2.34`): the oldest C library a board's OS may have.
 */
export function libcNeeds(file: string): string {
  const text = readFileSync(file).toString('latin1');
  const out: string[] = [];
  for (const lib of ['GLIBC', 'GLIBCXX']) {
    let max = '';
    for (const m of text.matchAll(new RegExp(`\\b${lib}_(\\d+(?:\\.\\d+)+)\\b`, 'g'))) if (!max || newer(m[1]!, max)) max = m[1]!;
    if (max) out.push(`${lib} ${max}`);
  }
  return out.join(', ');
}
