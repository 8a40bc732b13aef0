// Target 5: settings files → loadSettings (the file's bytes: read, JSON.parse) and parseSettings
// (unknown JSON of every shape). Inputs: complete valid settings covering every source type, MQTT
// and grants, mutated structurally; random JSON built from the settings' own key names; the text
// of either, damaged.
// Properties: only SettingsError escapes; what parses is plain data (no prototype reached through
// `__proto__` keys), encodes as JSON and keeps its documented ranges; the grant table built from
// it gives every plugin id its grants, ids like `constructor` included.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, parseSettings, SETTINGS_KEYS, type Settings } from '../../../runtime/config/settings.js';
import { VALID_BAUD_RATES } from '../../../hal/serial/settings.js';
import { SettingsError } from '../../../core/settings-reader.js';
import { GrantTable } from '../../../runtime/capabilities/store.js';
import { tempDir } from '../../helpers/temp.js';
import { expect, Finding, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { capText, concat, damageText, mutateJson, randomJson, toJsonText, utf8 } from '../mutate.js';
import type { Rng } from '../rng.js';

const KEYS = [
  ...SETTINGS_KEYS,
  'id',
  'type',
  'device',
  'baudRate',
  'file',
  'rate',
  'linesPerSecond',
  'loop',
  'interface',
  'driver',
  'address',
  'dirs',
  'watch',
  'restart',
  'baseMs',
  'maxMs',
  'maxCrashes',
  'stableMs',
  'callTimeoutMs',
  'url',
  'clientId',
  'username',
  'password',
  'publish',
  'subscribe',
  'topic',
  'path',
  'qos',
  'retain',
  'context',
  'serial',
  'replay',
  'udp',
  'tcp',
  'can',
  'candump',
  'socketcan',
  'realtime',
  'fast',
  '*',
  'dataRead',
  'serial:nmea1',
  'can:can0:129025',
  'mqtt:publish:boat/#',
];

function validSettings(): unknown[] {
  return [
    {
      port: 3000,
      host: '0.0.0.0',
      dataDir: 'data',
      selfUrn: 'urn:mrn:imo:mmsi:230000001',
      board: 'rpi4',
      cacheDir: 'cache',
      sources: [
        { id: 'nmea1', type: 'serial', device: '/dev/ttyUSB0', baudRate: 4800 },
        { id: 'log', type: 'replay', file: 'passage.nmea', rate: 'fast', linesPerSecond: 10, loop: false },
        { id: 'udp', type: 'udp', port: 10110, address: '0.0.0.0' },
        { id: 'tcp', type: 'tcp', host: '192.168.1.10', port: 10110 },
        { id: 'n2k', type: 'can', interface: 'can0' },
        {
          id: 'n2k-log',
          type: 'can',
          interface: 'vcan9',
          driver: 'candump',
          file: 'can.log',
          rate: 'realtime',
          loop: true,
        },
      ],
      plugins: {
        dirs: ['plugins'],
        watch: false,
        callTimeoutMs: 500,
        restart: { baseMs: 100, maxMs: 1000, maxCrashes: 3, stableMs: 0 },
      },
      grants: {
        '*': ['dataRead', 'dataWrite'],
        'my-plugin': ['serial:nmea1', 'can:can0:129025,130306', 'mqtt:subscribe:boat/+/temp', 'net:*:2000'],
      },
      mqtt: {
        url: 'mqtt://127.0.0.1:1883',
        clientId: 'edge',
        username: 'u',
        password: 'p',
        publish: [
          { path: 'environment.*', topic: 'signalk/{id}/{path}', qos: 1, retain: true, context: 'vessels.self' },
        ],
        subscribe: [{ topic: 'boat/+/temp', path: 'environment.inside.temperature', qos: 0 }],
      },
    },
    { sources: [{ id: 'demo', type: 'replay', file: 'passage.nmea' }] },
    {},
  ];
}

/** A settings file is small; bigger inputs only measure JSON.parse. */
const MAX_TEXT = 256 * 1024;
const MODE_PARSE = 0;
const MODE_FILE = 1;

function generate(rng: Rng, valid: readonly unknown[]): Uint8Array {
  let doc: unknown;
  if (rng.chance(0.25)) doc = randomJson(rng, KEYS);
  else {
    doc = rng.pick(valid);
    const rounds = rng.range(1, 3);
    for (let i = 0; i < rounds; i++) doc = mutateJson(rng, doc, KEYS);
  }
  let text = capText(toJsonText(doc), MAX_TEXT);
  if (rng.chance(0.15)) text = damageText(rng, text);
  return concat(Uint8Array.of(rng.chance(0.8) ? MODE_PARSE : MODE_FILE), utf8(text));
}

/** Whether every object in the result is a plain (or prototype-less) object or an array: no prototype swapped by a `__proto__` key. */
function plain(v: unknown, depth = 0): boolean {
  if (typeof v !== 'object' || v === null || depth > 64) return true;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  return Object.values(v).every((x) => plain(x, depth + 1));
}

function checkResult(s: Settings): void {
  expect(plain(s), () => 'parsed settings hold an object whose prototype the file chose (a __proto__ key)');
  JSON.stringify(s);
  expect(Number.isInteger(s.port) && s.port >= 0 && s.port <= 65535, () => `port ${s.port} accepted`);
  const ids = s.sources.map((x) => x.id);
  expect(new Set(ids).size === ids.length, () => `duplicate source ids accepted: ${ids.join(', ')}`);
  for (const src of s.sources) {
    expect(/^[A-Za-z0-9_-]{1,32}$/.test(src.id), () => `source id ${JSON.stringify(src.id)} accepted`);
    if (src.type === 'serial')
      expect(VALID_BAUD_RATES.includes(src.baudRate), () => `baud rate ${src.baudRate} accepted`);
  }
  for (const [id, list] of Object.entries(s.grants ?? {}))
    expect(
      Array.isArray(list) && list.every((g) => typeof g === 'string'),
      () => `grants for ${id} are not a list of strings`,
    );
}

/** What the runtime does with the grants: every plugin id named, and ids that are Object.prototype's own names, get their list. */
function checkGrants(s: Settings, dataDir: string): void {
  const table = new GrantTable(s.grants, dataDir);
  const ids = [...Object.keys(s.grants ?? {}), 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'a-plugin'];
  for (const id of ids) {
    let got: string[];
    try {
      got = table.listFor(id).map((g) => g.grant);
      table.grantsFor(id);
    } catch (err) {
      throw new Finding(
        'crash',
        `the grant table failed for plugin id ${JSON.stringify(id)}: ${(err as Error).name}: ${(err as Error).message}`,
      );
    }
    const own = s.grants && Object.prototype.hasOwnProperty.call(s.grants, id) ? s.grants[id]! : [];
    expect(
      own.every((g) => got.includes(g)),
      () => `plugin ${JSON.stringify(id)} does not get the grants the file gives it`,
    );
  }
}

export const target: TargetModule = {
  name: 'settings',
  covers: 'settings file bytes → loadSettings / unknown JSON → parseSettings',
  async create(): Promise<FuzzTarget> {
    const cleanups: (() => void)[] = [];
    const dir = tempDir({ teardown: (fn) => cleanups.push(fn) }, 'ske-fuzz-settings-');
    // The files the valid documents name, so they get past the existence checks.
    writeFileSync(join(dir, 'passage.nmea'), '$GPRMC\r\n');
    writeFileSync(join(dir, 'can.log'), '(1.0) can0 09F8017F#E8AC5119BEAB6DD5\n');
    const file = join(dir, 'settings.json');
    const valid = validSettings();
    return {
      generate: (rng) => generate(rng, valid),
      run(input) {
        const text = Buffer.from(input.subarray(1)).toString('utf8');
        let settings: Settings;
        try {
          if (input[0] === MODE_FILE) {
            writeFileSync(file, input.subarray(1));
            settings = loadSettings(file);
          } else {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              return ['not-json'];
            }
            settings = parseSettings(json, file);
          }
        } catch (err) {
          if (err instanceof SettingsError)
            return [`refused:${normalize(err.key)}:${normalize(err.message.slice(file.length + 2)).slice(0, 60)}`];
          throw new Finding(
            'crash',
            `parseSettings threw ${(err as Error).name}, not SettingsError: ${(err as Error).message}`,
          );
        }
        checkResult(settings);
        checkGrants(settings, dir);
        return ['accepted'];
      },
      async close() {
        for (const c of cleanups) c();
      },
    };
  },
};
