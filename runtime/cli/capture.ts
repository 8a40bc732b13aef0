// `signalk-edge doctor --capture DIR`: copies what board detection and doctor read — the
// device-tree model, /proc/cpuinfo, the CAN interfaces and the serial devices — into DIR, laid out
// like a folder of test/fixtures/boards/, so a board's files become a detection fixture with one
// command (docs/hil.md).

import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBoardFacts } from '../board/resolve.js';
import { detectBoard } from '../board/detect.js';
import { loadAllProfiles } from '../board/profile.js';

export interface CaptureRoots {
  proc: string;
  /** /sys/class/net */
  net: string;
  dev: string;
}

const DEFAULT_ROOTS: CaptureRoots = { proc: '/proc', net: '/sys/class/net', dev: '/dev' };
/** ARPHRD_CAN: the `type` of a CAN network interface in sysfs. */
const ARPHRD_CAN = '280';
const SERIAL_NAME = /^tty(USB|ACM|AMA|S|mxc|O|LP|XRUSB)\d+$/;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** `name state` per CAN interface. */
function canInterfaces(net: string): string[] {
  if (!existsSync(net)) return [];
  return readdirSync(net)
    .filter((i) => read(join(net, i, 'type')) === ARPHRD_CAN)
    .sort()
    .map((i) => `${i} ${read(join(net, i, 'operstate')) ?? 'unknown'}`);
}

/** Serial devices by kernel name, then the stable by-id/by-path links with their targets. */
function serialDevices(dev: string): string[] {
  const names = existsSync(dev)
    ? readdirSync(dev)
        .filter((n) => SERIAL_NAME.test(n))
        .sort()
        .map((n) => join(dev, n))
    : [];
  const links = ['by-id', 'by-path'].flatMap((sub) => {
    const dir = join(dev, 'serial', sub);
    return existsSync(dir)
      ? readdirSync(dir)
          .sort()
          .map((n) => `${join(dir, n)} -> ${readlinkSync(join(dir, n))}`)
      : [];
  });
  return [...names, ...links];
}

export interface CaptureResult {
  files: string[];
  board: string;
  reason: string;
}

export function captureBoard(dir: string, roots: CaptureRoots = DEFAULT_ROOTS): CaptureResult {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  // Byte for byte, as detection reads them (the model is NUL-terminated). Read, not copied: /proc
  // files report a size of 0, so a file copy would leave them empty.
  for (const [from, to] of [
    [join(roots.proc, 'device-tree', 'model'), 'model'],
    [join(roots.proc, 'cpuinfo'), 'cpuinfo'],
  ] as const) {
    if (!existsSync(from)) continue;
    writeFileSync(join(dir, to), readFileSync(from));
    files.push(to);
  }
  writeFileSync(
    join(dir, 'can'),
    canInterfaces(roots.net)
      .map((l) => `${l}\n`)
      .join(''),
  );
  writeFileSync(
    join(dir, 'serial'),
    serialDevices(roots.dev)
      .map((l) => `${l}\n`)
      .join(''),
  );
  files.push('can', 'serial');
  const detection = detectBoard(readBoardFacts(roots.proc), loadAllProfiles());
  return { files, board: detection.board, reason: detection.reason };
}
