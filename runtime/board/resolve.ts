// The board this process runs on: `--board` if given, else the settings' `board`, else detected
// from this machine's /proc.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectBoard, type BoardFacts } from './detect.js';
import { loadAllProfiles, loadProfile, BOARDS_DIR, type BoardProfile } from './profile.js';

export interface ResolvedBoard {
  profile: BoardProfile;
  how: 'override' | 'settings' | 'detected';
  reason: string;
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The detection inputs of the machine whose /proc is mounted at `procDir`. */
export function readBoardFacts(procDir = '/proc'): BoardFacts {
  return {
    model: readOptional(join(procDir, 'device-tree', 'model')),
    cpuinfo: readOptional(join(procDir, 'cpuinfo')),
  };
}

export function resolveBoard(
  opts: { override?: string; settingsBoard?: string; procDir?: string; boardsDir?: string } = {},
): ResolvedBoard {
  const dir = opts.boardsDir ?? BOARDS_DIR;
  if (opts.override) return { profile: loadProfile(opts.override, dir), how: 'override', reason: '--board' };
  if (opts.settingsBoard)
    return { profile: loadProfile(opts.settingsBoard, dir), how: 'settings', reason: 'settings "board"' };
  const detection = detectBoard(readBoardFacts(opts.procDir), loadAllProfiles(dir));
  return { profile: loadProfile(detection.board, dir), how: 'detected', reason: detection.reason };
}
