// The one source pipeline and the table of source types, on their own: a codec stand-in shows
// what the pipeline counts and publishes; the table's entries show they agree with their keys.

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Delta, DeltaSink } from '../../core/delta.js';
import { Reader, SettingsError } from '../../core/settings-reader.js';
import type { Codec, DecodeResult } from '../../hal/codecs/codec.js';
import { createDevices } from '../../hal/devices.js';
import type { DriverState } from '../../hal/driver.js';
import { SourcePipeline } from '../../hal/sources/pipeline.js';
import { PipelineSource, type SourceDriver } from '../../hal/sources/source.js';
import { createSource, parseSources, SOURCE_TYPES } from '../../hal/sources/table.js';

/** Decodes `d:<value>` to a delta, `s:<reason>` to a skip, `e:<reason>` to an error, `p` to pending. */
const codec: Codec<string> = {
  decode(input: string): DecodeResult {
    const [kind, arg = ''] = input.split(':');
    if (kind === 'd') return { kind: 'delta', delta: { updates: [{ values: [{ path: 'x', value: Number(arg) }] }] } };
    if (kind === 's') return { kind: 'skip', reason: arg, detail: input };
    if (kind === 'e') return { kind: 'error', reason: arg, detail: `bad ${input}` };
    return { kind: 'pending' };
  },
};

function recordingSink(): DeltaSink & { published: Delta[] } {
  const published: Delta[] = [];
  return { published, publishTrusted: (delta) => published.push(delta) };
}

test('the pipeline publishes deltas and counts every input, skips and errors by reason', (t) => {
  const sink = recordingSink();
  const pipeline = new SourcePipeline('p', codec, sink);
  for (const input of ['d:1', 's:unsupported', 'e:checksum', 'p', 'd:2', 'e:checksum', 's:empty']) pipeline.push(input);
  pipeline.error('overlong', 'line longer than 512 bytes');
  t.deepEqual(
    sink.published.map((d) => d.updates[0].values?.[0].value),
    [1, 2],
  );
  t.is(pipeline.inputs, 7, 'a framing error is not an input');
  t.is(pipeline.deltas, 2);
  t.deepEqual(pipeline.skipped, { unsupported: 1, empty: 1 });
  t.deepEqual(pipeline.errors, { checksum: 2, overlong: 1 });
  t.is(pipeline.lastError, 'overlong: line longer than 512 bytes');
});

test("a source's status: the driver's state, its drops among the errors, its trouble before the last bad input", async (t) => {
  const pipeline = new SourcePipeline('src', codec, recordingSink());
  let state: DriverState = 'stopped';
  let lastError: string | undefined;
  const driver: SourceDriver = {
    get state() {
      return state;
    },
    get lastError() {
      return lastError;
    },
    dropped: { checksum: 1, 'standard-id': 3 },
    open: () => {
      state = 'open';
    },
    close: async () => {
      state = 'stopped';
    },
  };
  const source = new PipelineSource('src', 'test', pipeline, driver);
  source.start();
  pipeline.push('d:1');
  pipeline.push('e:checksum');
  t.like(source.status(), {
    id: 'src',
    type: 'test',
    state: 'open',
    lines: 2,
    deltas: 1,
    errors: { checksum: 2, 'standard-id': 3 },
    lastError: 'checksum: bad e:checksum',
  });
  lastError = 'device unplugged; retry in 500 ms';
  t.is(source.status().lastError, 'device unplugged; retry in 500 ms');
  await source.stop();
  t.is(source.status().state, 'stopped');
});

test('every entry of the table parses settings of its own type, and the type list in errors is the table', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'source-table-'));
  writeFileSync(join(dir, 'log.txt'), '');
  const r = new Reader(join(dir, 'settings.json'));
  // The least each type needs; a type added to the table without an example here fails the test.
  const minimal: Record<string, Record<string, unknown>> = {
    serial: { device: '/dev/ttyUSB0' },
    replay: { file: 'log.txt' },
    udp: { port: 10110 },
    tcp: { host: '127.0.0.1', port: 10110 },
    can: { interface: 'can0' },
    actisense: { interface: 'ngt1', device: '/dev/ttyUSB1' },
    'actisense-ascii': { interface: 'w2k', transport: 'tcp', host: '127.0.0.1', port: 60001 },
    'ydwg-raw': { interface: 'ydwg', transport: 'udp', port: 1456 },
    ikonvert: { interface: 'ik', device: '/dev/ttyUSB2' },
    'n2k-replay': { interface: 'log', file: 'log.txt' },
  };
  const names: string[] = Object.keys(SOURCE_TYPES);
  t.deepEqual(
    Object.keys(minimal).filter((n) => !names.includes(n)),
    [],
    'no example for a type the table no longer has',
  );
  for (const name of names) {
    t.truthy(minimal[name], `an example of ${name}`);
    const [parsed] = parseSources(r, [{ id: `a-${name}`, type: name, ...minimal[name] }], dir);
    t.is<string, string>(parsed.type, name);
    t.is(parsed.id, `a-${name}`);
    const source = await createSource(parsed, recordingSink(), createDevices());
    t.like(source.status(), { id: `a-${name}`, type: name, state: 'stopped', lines: 0, deltas: 0 });
  }
  const err = t.throws(() => parseSources(r, [{ id: 'x', type: 'nmea' }], dir), { instanceOf: SettingsError });
  t.is(err?.message, `${join(dir, 'settings.json')}: sources[0].type: must be one of ${names.join(', ')}, got "nmea"`);
});
