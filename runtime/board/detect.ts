// Which board profile fits this computer, from the text of /proc/device-tree/model and
// /proc/cpuinfo. Pure: the caller reads the files (or recorded copies of them).

import { FALLBACK_BOARD, type BoardProfile } from './profile.js';

export interface BoardFacts {
  /** /proc/device-tree/model (NUL-terminated on real systems); absent on x86 and in some containers. */
  model?: string;
  /** /proc/cpuinfo. */
  cpuinfo?: string;
}

export interface Detection {
  board: string;
  /** What matched, for `doctor` and the installer's output. */
  reason: string;
}

/** The value of a `Key : value` line of /proc/cpuinfo (first occurrence), if any. */
export function cpuinfoField(cpuinfo: string, key: string): string | undefined {
  const re = new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm');
  const v = re.exec(cpuinfo)?.[1]?.trim();
  return v ? v : undefined;
}

/**
 * The Raspberry Pi board type from a new-style revision code (bit 23 set), e.g. c03114 → 0x11 (4B).
 * Old-style codes (Pi 1–3 era) carry no type field and give undefined.
 */
export function revisionType(revision: string): number | undefined {
  if (!/^[0-9a-fA-F]{1,8}$/.test(revision)) return undefined;
  const code = parseInt(revision, 16);
  if ((code & (1 << 23)) === 0) return undefined;
  return (code >> 4) & 0xff;
}

/**
 * Tries, in order: the device-tree model, cpuinfo's `Model` line (present on Raspberry Pi kernels,
 * useful where /proc/device-tree is hidden), then a Raspberry Pi revision code. The first profile
 * whose rules match wins; nothing matching gives the fallback profile.
 */
export function detectBoard(facts: BoardFacts, profiles: readonly BoardProfile[]): Detection {
  const candidates = profiles.filter((p) => p.detect);
  const models: [string, string][] = [];
  const dtModel = facts.model?.replace(/\0/g, '').trim();
  if (dtModel) models.push(['device-tree model', dtModel]);
  const cpuModel = facts.cpuinfo ? cpuinfoField(facts.cpuinfo, 'Model') : undefined;
  if (cpuModel) models.push(['cpuinfo Model', cpuModel]);

  for (const [where, model] of models) {
    for (const p of candidates) {
      if (p.detect!.model.some((re) => new RegExp(re).test(model)))
        return { board: p.id, reason: `${where} ${JSON.stringify(model)}` };
    }
  }
  const revision = facts.cpuinfo ? cpuinfoField(facts.cpuinfo, 'Revision') : undefined;
  const type = revision === undefined ? undefined : revisionType(revision);
  if (type !== undefined) {
    const p = candidates.find((c) => c.detect!.revisionTypes.includes(type));
    if (p) return { board: p.id, reason: `cpuinfo Revision ${revision} (board type 0x${type.toString(16)})` };
  }
  const seen = models.length ? models.map(([w, m]) => `${w} ${JSON.stringify(m)}`).join(', ') : 'no board model';
  return { board: FALLBACK_BOARD, reason: `no profile matched (${seen})` };
}
