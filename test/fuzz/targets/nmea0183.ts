// Target 1: bytes from a serial line → LineFramer (in random chunk splits) → NMEA 0183 codec →
// bus → model. Inputs: real sentences of the demo passage and the bad-input fixture, mutated, with
// the checksum recomputed half the time so mutated fields reach the parser; sentences synthesised
// for every type the parser library knows (AIS included); random bytes.
// Properties: nothing throws; framed lines are printable and within the cap; the same bytes give
// the same lines and framing errors whatever the chunking; a codec delta is accepted by the bus
// and applied by the model; the codec's JSON encoding of it is JSON.stringify's text.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@signalk/nmea0183-signalk';
import { DEMO_LOG, PROJECT_ROOT } from '../../../runtime/config/settings.js';
import { Nmea0183Codec } from '../../../hal/codecs/nmea0183/codec.js';
import { withChecksum } from '../../../hal/codecs/nmea0183/sentence.js';
import { DEFAULT_MAX_LINE, LineFramer } from '../../../hal/framing.js';
import { expect, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { concat, latin1, mutateBytes } from '../mutate.js';
import { hashString, Rng } from '../rng.js';
import { Downstream } from './pipeline.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures');

function seedLines(): string[] {
  const files = [
    DEMO_LOG,
    join(FIXTURES, 'bad-input.nmea'),
    join(FIXTURES, 'client-passage.nmea'),
    join(FIXTURES, 'stamped.nmea'),
  ];
  return files.flatMap((f) => readFileSync(f, 'latin1').split(/\r?\n/)).filter((l) => l !== '');
}

const TALKERS = ['GP', 'GN', 'II', 'IN', 'SD', 'WI', 'HC', 'AI', 'EC', 'VW', 'YX', 'TI', 'ST', 'P'];
const LETTERS = ['A', 'V', 'N', 'S', 'E', 'W', 'T', 'M', 'R', 'K', 'f', 'F', 'C', 'P', 'D', 'B', 'L', 'U'];
const AIS_CHARS = '0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw';

function field(rng: Rng): string {
  switch (rng.int(11)) {
    case 0:
      return '';
    case 1:
      return String(rng.range(-999, 99999));
    case 2:
      return (rng.float() * 10 ** rng.range(0, 6) * (rng.chance(0.2) ? -1 : 1)).toFixed(rng.int(5));
    case 3:
      return rng.pick(LETTERS);
    case 4: // hhmmss.ss, sometimes out of range
      return `${String(rng.int(30)).padStart(2, '0')}${String(rng.int(70)).padStart(2, '0')}${String(rng.int(70)).padStart(2, '0')}.${rng.int(100)}`;
    case 5: // ddmmyy
      return `${String(rng.int(40)).padStart(2, '0')}${String(rng.int(15)).padStart(2, '0')}${String(rng.int(100)).padStart(2, '0')}`;
    case 6: // latitude / longitude
      return `${rng.int(200)}${(rng.float() * 70).toFixed(4)}`;
    case 7:
      return Array.from({ length: rng.logScale(60) }, () => AIS_CHARS[rng.int(AIS_CHARS.length)]).join('');
    case 8:
      return rng.pick(['NaN', 'Infinity', '-0', '1e308', '0x1F', '.', '-', '+', '9'.repeat(rng.logScale(400))]);
    case 9:
      return String(rng.range(0, 9));
    default:
      return String.fromCharCode(...Array.from({ length: rng.logScale(8) }, () => rng.range(0x20, 0x7e))).replace(
        /[*$!,\\]/g,
        '',
      );
  }
}

/** A sentence of a type the library parses, fields random, checksum right. */
function synthesize(rng: Rng, types: readonly string[]): string {
  const type = rng.pick(types);
  let header: string;
  if (type === 'VDM' || type === 'VDO') {
    const total = rng.range(1, 3);
    const body = [
      `!AI${type}`,
      String(total),
      String(rng.range(1, total)),
      rng.chance(0.5) ? String(rng.int(10)) : '',
      rng.pick(['A', 'B', '']),
      field(rng),
      String(rng.int(6)),
    ];
    return withChecksum(body.join(','));
  }
  if (type.startsWith('P')) header = `$${type}`;
  else header = `$${rng.pick(TALKERS)}${type}`;
  const fields = Array.from({ length: rng.logScale(25) - 1 }, () => field(rng));
  return withChecksum([header, ...fields].join(','));
}

/** A mutated real line: its checksum recomputed half the time, so the damage reaches the parser. */
function mutateLine(rng: Rng, line: string): string {
  const dict = [
    latin1(','),
    latin1('*'),
    latin1('$'),
    latin1('!'),
    latin1('\\'),
    latin1('.'),
    latin1('-'),
    latin1(',,,,'),
    latin1('NaN'),
  ];
  const damaged = Buffer.from(mutateBytes(rng, latin1(line), dict, 3)).toString('latin1');
  if (rng.chance(0.5)) {
    const star = damaged.lastIndexOf('*');
    const body = star > 0 ? damaged.slice(0, star) : damaged;
    if (body.startsWith('$') || body.startsWith('!')) return withChecksum(body);
  }
  return damaged;
}

function generate(rng: Rng, seeds: readonly string[], types: readonly string[]): Uint8Array {
  const ending = (): string => rng.pick(['\r\n', '\r\n', '\n', '\r', '', '\n\r', '\r\r\n']);
  switch (rng.int(10)) {
    case 0: // random bytes, printable-heavy half the time
      return rng.chance(0.5)
        ? rng.bytes(rng.logScale(700))
        : latin1(
            String.fromCharCode(
              ...Array.from({ length: rng.logScale(700) }, () =>
                rng.chance(0.9) ? rng.range(0x20, 0x7e) : rng.int(256),
              ),
            ),
          );
    case 1:
    case 2:
    case 3: {
      const n = rng.logScale(8);
      return latin1(Array.from({ length: n }, () => synthesize(rng, types) + ending()).join(''));
    }
    case 4: // a tag block in front
      return latin1(
        `\\s:${rng.pick(['GPS', '', 'x'.repeat(rng.logScale(600))])},c:${rng.int(2 ** 31)}*${rng.int(100)}\\${rng.pick(seeds)}${ending()}`,
      );
    case 5: // a long line without an end, then a good one
      return concat(
        latin1('$GPRMC,'.repeat(rng.logScale(200))),
        rng.chance(0.5) ? latin1(`\r\n${rng.pick(seeds)}\r\n`) : new Uint8Array(0),
      );
    default: {
      const n = rng.logScale(8);
      return latin1(
        Array.from(
          { length: n },
          () => (rng.chance(0.7) ? mutateLine(rng, rng.pick(seeds)) : rng.pick(seeds)) + ending(),
        ).join(''),
      );
    }
  }
}

type Framed = { line: string } | { error: string };

export const target: TargetModule = {
  name: 'nmea0183',
  covers: 'serial bytes → LineFramer (chunked and whole) → NMEA 0183 codec → bus → model',
  async create(): Promise<FuzzTarget> {
    const seeds = seedLines();
    const types = Object.keys(new Parser().hooks);
    const down = new Downstream();
    const codec = new Nmea0183Codec('fuzz');
    // Two framers see the same stream: one in the input's random chunks, one whole.
    const chunked: Framed[] = [];
    const whole: Framed[] = [];
    const chunkedFramer = new LineFramer({
      line: (line) => chunked.push({ line }),
      error: (reason) => chunked.push({ error: reason }),
    });
    const wholeFramer = new LineFramer({
      line: (line) => whole.push({ line }),
      error: (reason) => whole.push({ error: reason }),
    });
    let inputs = 0;
    return {
      generate: (rng) => generate(rng, seeds, types),
      run(input) {
        chunked.length = 0;
        whole.length = 0;
        // Chunk boundaries come from the input itself, so a finding reproduces from its bytes.
        const split = new Rng(hashString(Buffer.from(input).toString('latin1')));
        for (let at = 0; at < input.length;) {
          const n = split.logScale(64);
          chunkedFramer.push(input.subarray(at, at + n));
          at += n;
        }
        wholeFramer.push(input);
        expect(
          JSON.stringify(chunked) === JSON.stringify(whole),
          () =>
            `chunking changed the framing: ${JSON.stringify(chunked).slice(0, 300)} vs ${JSON.stringify(whole).slice(0, 300)}`,
        );
        const labels: string[] = [];
        for (const item of chunked) {
          if ('error' in item) {
            labels.push(`framing:${item.error}`);
            continue;
          }
          const { line } = item;
          expect(
            line.length <= DEFAULT_MAX_LINE,
            () => `framed line of ${line.length} characters, over the ${DEFAULT_MAX_LINE} cap`,
          );
          expect(
            /^[\x20-\x7e]+$/.test(line),
            () => `framed line holds non-printable characters: ${JSON.stringify(line.slice(0, 100))}`,
          );
          const result = codec.decode(line);
          if (result.kind === 'delta') {
            // The codec's own encoding is what plugins and clients receive: JSON.stringify's text.
            const expected = JSON.stringify(result.delta);
            const encoded = codec.encoder.encode(result.delta);
            expect(
              encoded === expected,
              () => `the codec's JSON ${JSON.stringify(encoded.slice(0, 300))} differs from JSON.stringify's`,
            );
            down.publish(result.delta, 'source fuzz');
            labels.push('delta');
          } else {
            labels.push(`${result.kind}:${result.reason}:${normalize(result.detail).slice(0, 50)}`);
          }
        }
        // Every 10,000 inputs: encoding the whole model costs more as it grows.
        if (++inputs % 10_000 === 0) down.checkSnapshot();
        return labels;
      },
      async close() {
        down.checkSnapshot();
      },
    };
  },
};
